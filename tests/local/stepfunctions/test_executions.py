"""The local StartSyncExecution: waits for the end, and never forever."""

from infra.local.stepfunctions.executions import start_sync_execution


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

    assert response == {"executionArn": "arn:execution", "status": "SUCCEEDED", "input": "{}"}
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
