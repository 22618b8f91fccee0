"""The local StartSyncExecution: waits for the end, and never forever."""

from datetime import UTC, datetime, timedelta

import pytest

from infra.local.stepfunctions.executions import start_sync_execution, sync_answer


class StuckStepFunctions:
    """An execution whose runtime thread died: RUNNING until someone stops it."""

    def __init__(self) -> None:
        self.status = "RUNNING"
        self.stopped_with: dict | None = None

    def start_execution(self, **kwargs):
        return {"executionArn": "arn:execution"}

    def describe_execution(self, executionArn):
        return {"executionArn": executionArn, "status": self.status, "input": "{}"}

    def stop_execution(self, **kwargs):
        self.stopped_with = kwargs
        self.status = "ABORTED"


def test_an_execution_that_never_ends_is_stopped_at_the_deadline():
    client = StuckStepFunctions()

    response = start_sync_execution(client, "arn:machine", "{}", deadline_seconds=0.05)

    assert response["status"] == "ABORTED"
    assert client.stopped_with is not None
    assert client.stopped_with["executionArn"] == "arn:execution"


def test_an_execution_that_ends_is_answered_in_the_sync_shape():
    client = StuckStepFunctions()
    client.status = "SUCCEEDED"

    response = start_sync_execution(client, "arn:machine", "{}", deadline_seconds=0.05)

    assert response == {
        "executionArn": "arn:execution",
        "status": "SUCCEEDED",
        "input": "{}",
        "inputDetails": {"included": True},
    }
    assert client.stopped_with is None


def test_an_end_waiter_is_waited_on_between_two_reads_of_the_status():
    # Given an execution that ends during the second wait
    client = StuckStepFunctions()
    waits: list[float] = []

    def end_waiter(execution_arn: str):
        assert execution_arn == "arn:execution"

        def wait(seconds: float) -> bool:
            waits.append(seconds)
            if len(waits) == 2:
                client.status = "SUCCEEDED"
            return len(waits) == 2

        return wait

    # When the caller waits with it instead of sleeping
    response = start_sync_execution(
        client, "arn:machine", "{}", end_waiter=end_waiter, longest_poll=0.25
    )

    # Then each wait is the longest poll (the end cuts it short), and the end is answered
    assert waits == [0.25, 0.25]
    assert response["status"] == "SUCCEEDED"


@pytest.mark.parametrize(
    ("elapsed_ms", "billed_ms"),
    [(0, 100), (42.5, 100), (100, 100), (100.5, 200), (1234, 1300)],
    ids=["instant", "under-100", "exactly-100", "just-over", "seconds"],
)
def test_the_answer_has_the_sync_fields_and_bills_as_express_does(elapsed_ms, billed_ms):
    started = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
    described = {
        "executionArn": "arn:execution",
        "stateMachineArn": "arn:machine",
        "name": "n",
        "status": "SUCCEEDED",
        "startDate": started,
        "stopDate": started + timedelta(milliseconds=elapsed_ms),
        "input": "{}",
        "output": "[]",
        "redriveCount": 0,  # DescribeExecution's own: not StartSyncExecution's
    }

    answer = sync_answer(described)

    # The fields of StartSyncExecution's response (AWS Step Functions API Reference), each
    # execution data's details beside it, none of DescribeExecution's own.
    assert list(answer) == [
        "executionArn", "stateMachineArn", "name", "startDate", "stopDate", "status", "input",
        "inputDetails", "output", "outputDetails", "billingDetails",
    ]  # fmt: skip
    assert answer["inputDetails"] == answer["outputDetails"] == {"included": True}
    assert answer["billingDetails"] == {
        "billedMemoryUsedInMB": 64,
        "billedDurationInMilliseconds": billed_ms,
    }
