"""What an execution's history tells, read from outside the runtime (public Step Functions calls).

The lock wait is the time from AcquireLock's first TaskScheduled to the TaskSucceeded that took the
lock (or to the last TaskFailed when the retries ran out: a 429); each TaskScheduled of a Lambda
task is one Lambda invocation, so AcquireLock's count is 1 + its retries (a DynamoDB integration's
task, the releases, is none).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from infra.local.stepfunctions import logs
from infra.local.stepfunctions.executions import history
from tests.bench.cost import billed_express_ms, billed_lambda_ms

ACQUIRE_LOCK = "AcquireLock"
TRANSFER_LOCK_STATE = "AcquireLocks"  # the transfer machine's: both locks, in one task
# The events a state machine logs at Level ERROR (the rest only at Level ALL): the set the local
# runtime's log writer uses, from AWS's "Log levels" page.
ERROR_LEVEL_EVENTS = logs.ERROR_EVENT_TYPES
_TASK_END = {"TaskSucceeded", "TaskFailed", "TaskTimedOut"}
WAIT_BUCKETS = [
    (0.1, "<0.1 s"),
    (0.5, "0.1-0.5 s"),
    (1, "0.5-1 s"),
    (2, "1-2 s"),
    (4, "2-4 s"),
    (8, "4-8 s"),
    (math.inf, ">=8 s"),
]


@dataclass
class ExecutionTrace:
    arn: str
    status: str
    duration_ms: float
    lambda_invocations: Counter[str] = field(default_factory=Counter)
    task_ms: list[float] = field(default_factory=list)
    lock_attempts: int = 0
    lock_wait_ms: float | None = None
    lock_acquired: bool = False
    log_events: int = 0
    log_bytes: int = 0
    log_bytes_error: int = 0  # what Level ERROR logs of it

    @property
    def billed_express_ms(self) -> int:
        """Express duration is rounded up to the next 100 ms."""
        return billed_express_ms(self.duration_ms)

    @property
    def billed_lambda_ms(self) -> int:
        """Lambda duration is rounded up to the next millisecond, per invocation."""
        return sum(billed_lambda_ms(ms) for ms in self.task_ms)


def _ms(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() * 1000


def _log_record(event: dict[str, Any], arn: str) -> dict[str, Any]:
    """The shape of a Step Functions CloudWatch Logs record (Level ALL, execution data included)."""
    details: Any = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
    return {
        "id": str(event["id"]),
        "type": event["type"],
        "details": details,
        "previous_event_id": str(event.get("previousEventId", 0)),
        "event_timestamp": str(int(event["timestamp"].timestamp() * 1000)),
        "execution_arn": arn,
    }


def trace_of(
    events: list[dict[str, Any]], arn: str, lock_state: str = ACQUIRE_LOCK
) -> ExecutionTrace:
    first, last = events[0], events[-1]
    status = last["type"].removeprefix("Execution").upper()
    trace = ExecutionTrace(arn, status, _ms(first["timestamp"], last["timestamp"]))
    state = ""
    task_started: datetime | None = None
    is_lambda = False
    lock_first: datetime | None = None
    for event in events:
        kind = event["type"]
        trace.log_events += 1
        size = len(json.dumps(_log_record(event, arn), default=str).encode())
        trace.log_bytes += size
        if kind in ERROR_LEVEL_EVENTS:
            trace.log_bytes_error += size
        if "stateEnteredEventDetails" in event:
            state = event["stateEnteredEventDetails"]["name"]
        elif kind == "TaskScheduled":
            # A DynamoDB integration's task (the releases) is Step Functions' own call: no
            # Lambda invocation, no Lambda duration.
            is_lambda = event["taskScheduledEventDetails"]["resourceType"] == "lambda"
            if is_lambda:
                trace.lambda_invocations[state] += 1
            if state == lock_state:
                trace.lock_attempts += 1
                lock_first = lock_first or event["timestamp"]
        elif kind == "TaskStarted":
            task_started = event["timestamp"] if is_lambda else None
        elif kind in _TASK_END:
            if task_started is not None:
                trace.task_ms.append(_ms(task_started, event["timestamp"]))
                task_started = None
            if state == lock_state and lock_first is not None:
                trace.lock_wait_ms = _ms(lock_first, event["timestamp"])
                trace.lock_acquired = kind == "TaskSucceeded"
    return trace


def traces(client: Any, arns: list[str], lock_state: str = ACQUIRE_LOCK) -> list[ExecutionTrace]:
    return [trace_of(history(client, arn), arn, lock_state) for arn in arns]


def execution_arns(client: Any, state_machine_arn: str) -> set[str]:
    arns: set[str] = set()
    kwargs: dict[str, Any] = {"stateMachineArn": state_machine_arn, "maxResults": 1000}
    while True:
        page = client.list_executions(**kwargs)
        arns.update(execution["executionArn"] for execution in page["executions"])
        if not page.get("nextToken"):
            return arns
        kwargs["nextToken"] = page["nextToken"]


def lock_summary(found: list[ExecutionTrace]) -> dict[str, Any]:
    """The lock wait of the requests that got the lock, and how many attempts each request made."""
    from tests.bench.stats import summary_ms

    entered = [t for t in found if t.lock_attempts]
    acquired = [t.lock_wait_ms / 1000 for t in entered if t.lock_acquired and t.lock_wait_ms]
    gave_up = [t.lock_wait_ms / 1000 for t in entered if not t.lock_acquired and t.lock_wait_ms]
    attempts = Counter(t.lock_attempts for t in entered)
    invocations = sum(sum(t.lambda_invocations.values()) for t in found)
    buckets = {label: 0 for _, label in WAIT_BUCKETS}
    for seconds in acquired:
        label = next(label for upper, label in WAIT_BUCKETS if seconds < upper)
        buckets[label] += 1
    return {
        "waitBuckets": {**buckets, "gave up (429)": len(gave_up)},
        "waitMsAcquired": summary_ms(acquired),
        "waitMsGaveUp": summary_ms(gave_up),
        # Fairness: the longest any request waited, whether it got the lock or gave up.
        "longestWaitMs": round(max(acquired + gave_up) * 1000, 1) if acquired + gave_up else None,
        "attempts": {str(k): v for k, v in sorted(attempts.items())},
        "retries": sum((k - 1) * v for k, v in attempts.items()),
        "lambdaInvocationsPerRequest": round(invocations / len(found), 3) if found else None,
    }
