"""What the bench reads from an execution's history (tests/bench/histories.py): Lambda
invocations and their durations, and nothing for Step Functions' own DynamoDB tasks."""

from datetime import UTC, datetime, timedelta

from tests.bench.histories import trace_of

START = datetime(2026, 12, 7, tzinfo=UTC)


def at(ms: int) -> datetime:
    return START + timedelta(milliseconds=ms)


def task(state: str, resource_type: str, start: int, end: int) -> list[dict]:
    return [
        {"type": "TaskStateEntered", "timestamp": at(start),
         "stateEnteredEventDetails": {"name": state}},
        {"type": "TaskScheduled", "timestamp": at(start),
         "taskScheduledEventDetails": {"resourceType": resource_type, "resource": "x"}},
        {"type": "TaskStarted", "timestamp": at(start + 1)},
        {"type": "TaskSucceeded", "timestamp": at(end)},
    ]  # fmt: skip


def test_a_dynamodb_task_is_neither_a_lambda_invocation_nor_lambda_duration():
    events = [
        {"type": "ExecutionStarted", "timestamp": at(0)},
        *task("UpdateBalance", "lambda", 0, 41),
        *task("ReleaseLock", "dynamodb", 50, 80),
        {"type": "ExecutionSucceeded", "timestamp": at(90)},
    ]

    for number, event in enumerate(events, start=1):
        event["id"] = number
    trace = trace_of(events, "arn:aws:states:us-east-1:123456789012:execution:m:e")

    assert dict(trace.lambda_invocations) == {"UpdateBalance": 1}
    assert trace.task_ms == [40.0]
    assert trace.billed_lambda_ms == 40
