"""The view's records of executions rebuilt from a log group in AWS's Express format: events
written as AWS documents them (tests/local/stepfunctions/express_log_events.json), not by the
runtime's writer."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from infra.console.log_records import LogGroupRecords, details_key, name_of
from infra.console.source import Executions, UnknownExecutionError

AWS_EVENTS = json.loads(
    (Path(__file__).parents[1] / "local" / "stepfunctions" / "express_log_events.json").read_text()
)
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:TransactionStateMachine"
SUCCEEDED = AWS_EVENTS[0]["execution_arn"]
FAILED = AWS_EVENTS[-1]["execution_arn"]


class FakeLogs:
    """FilterLogEvents of one log group, two pages, with a line that is no execution event."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        self.reads = 0

    def get_paginator(self, operation: str) -> Any:
        assert operation == "filter_log_events"
        return self

    def paginate(self, logGroupName: str) -> list[dict[str, Any]]:
        assert logGroupName == "group"
        self.reads += 1
        events = [{"message": message} for message in self.messages]
        return [{"events": events[:2]}, {"events": events[2:]}]


@pytest.fixture
def logs() -> FakeLogs:
    shuffled = [json.dumps(event) for event in reversed(AWS_EVENTS)]
    return FakeLogs([*shuffled, "START RequestId: not an event", json.dumps({"id": "x"})])


@pytest.fixture
def records(logs) -> LogGroupRecords:
    return LogGroupRecords(logs, {MACHINE: "group"}, refresh_seconds=60)


def test_the_executions_are_listed_with_their_status(records):
    listed = {item["executionArn"]: item["status"] for item in records.listed(MACHINE, None)}

    assert listed == {SUCCEEDED: "SUCCEEDED", FAILED: "FAILED"}
    assert [item["executionArn"] for item in records.listed(MACHINE, "FAILED")] == [FAILED]


def test_an_execution_is_described_from_its_first_and_last_events(records):
    described = records.described(SUCCEEDED)

    assert described == {
        "executionArn": SUCCEEDED,
        "stateMachineArn": MACHINE,
        "name": "run-7",
        "status": "SUCCEEDED",
        "startDate": datetime.fromtimestamp(1764000000.123, UTC),
        "stopDate": datetime.fromtimestamp(1764000000.412, UTC),
        "input": '{"userId":"u7"}',
        "output": '{"balance":"110.00"}',
    }
    failed = records.described(FAILED)
    assert (failed["error"], failed["status"]) == ("InsufficientFundsError", "FAILED")
    assert "input" not in failed  # its ExecutionStarted is not in the group


def test_the_history_has_get_execution_historys_shape(records):
    history = records.history(SUCCEEDED)

    assert [event["id"] for event in history] == [1, 2, 6, 24]
    assert history[1] == {
        "id": 2,
        "previousEventId": 0,
        "type": "TaskStateEntered",
        "timestamp": datetime.fromtimestamp(1764000000.131, UTC),
        "stateEnteredEventDetails": AWS_EVENTS[1]["details"],
    }
    assert "executionSucceededEventDetails" in history[-1]


def test_an_express_execution_is_found_by_its_name(records):
    assert records.named(MACHINE, "run-7") == SUCCEEDED
    assert records.named(MACHINE, "run-9").endswith(":execution:TransactionStateMachine:run-9")
    with pytest.raises(UnknownExecutionError):
        records.described(records.named(MACHINE, "run-9"))
    with pytest.raises(UnknownExecutionError):
        records.history(records.named(MACHINE, "run-9"))


def test_the_group_is_read_once_within_the_refresh(records, logs):
    records.listed(MACHINE, None)
    records.described(SUCCEEDED)
    records.history(FAILED)

    assert logs.reads == 1


def test_the_view_reads_the_log_records_as_it_reads_step_functions(records):
    executions = Executions(None, [MACHINE], records=records)

    summaries, total = executions.summaries()

    assert total == 2
    assert [s.name for s in summaries] == ["run-8", "run-7"]  # newest first
    assert executions.describe_named("run-7")["status"] == "SUCCEEDED"
    assert summaries[0].http_status == 422  # InsufficientFundsError's answer
    # On AWS the API names each execution after its request id: the lookup finds it by name.
    assert executions.find_by_request_id("run-7") == SUCCEEDED
    with pytest.raises(UnknownExecutionError):
        executions.find_by_request_id("nobody")


@pytest.mark.parametrize(
    ("event_type", "key"),
    [("TaskStateEntered", "stateEnteredEventDetails"),
     ("FailStateEntered", "stateEnteredEventDetails"),
     ("ChoiceStateExited", "stateExitedEventDetails"),
     ("TaskScheduled", "taskScheduledEventDetails"),
     ("LambdaFunctionFailed", "lambdaFunctionFailedEventDetails"),
     ("ExecutionStarted", "executionStartedEventDetails")],
)  # fmt: skip
def test_each_event_types_details_are_named_as_get_execution_history_names_them(event_type, key):
    assert details_key(event_type) == key


def test_a_local_execution_arn_ends_in_its_name():
    assert name_of(MACHINE.replace(":stateMachine:", ":execution:") + ":r1") == "r1"
