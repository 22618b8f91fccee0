"""StartSyncExecution for runtimes that lack it, and the execution histories behind the local view.

moto does not route StartSyncExecution, so an execution is started under a unique name and
awaited; the answer has StartSyncExecution's shape. Only public Step Functions calls are used,
so the same code works against Step Functions Local.
"""

import math
import time
import uuid
from collections.abc import Callable
from typing import Any

TERMINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
# StartSyncExecution's answer (the API Reference's fields); `inputDetails` and `outputDetails`
# follow their field ("included": always true for API calls), and `billingDetails` ends it.
_SYNC_RESPONSE_FIELDS = (
    "executionArn",
    "stateMachineArn",
    "name",
    "startDate",
    "stopDate",
    "status",
    "error",
    "cause",
    "input",
    "output",
)
# Express billing ("AWS Step Functions pricing"): the duration rounded up to the next 100 ms,
# memory in 64 MB chunks. The runtime does not measure an execution's memory: the first chunk.
BILLED_DURATION_MS = 100
BILLED_MEMORY_MB = 64


# Given an execution's ARN, a function that reads its status now.
StatusReader = Callable[[str], Callable[[], str]]
# Given an execution's ARN, a function that waits at most the seconds it is given, and returns
# early when the execution ends.
EndWaiter = Callable[[str], Callable[[float], object]]


def start_sync_execution(
    client: Any,
    state_machine_arn: str,
    execution_input: str,
    name: str | None = None,
    *,
    deadline_seconds: float = 60.0,
    status_reader: StatusReader | None = None,
    end_waiter: EndWaiter | None = None,
    longest_poll: float = 0.1,
    describer: Callable[[str], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Start an execution and wait for its end; past `deadline_seconds` (well beyond the state
    machine's own timeout, so only a runtime that lost the execution gets there) it is stopped,
    so that a caller never waits forever.

    The status is polled with DescribeExecution unless `status_reader` offers a cheaper way, and
    between two polls the caller sleeps, with a delay doubling up to `longest_poll`, unless
    `end_waiter` offers a wait that the end cuts short (then every wait is `longest_poll`). The
    ended execution is read with DescribeExecution unless `describer` answers as it would.
    """
    arn = client.start_execution(
        stateMachineArn=state_machine_arn, name=name or uuid.uuid4().hex, input=execution_input
    )["executionArn"]
    status = (status_reader or _described(client))(arn)
    wait = end_waiter(arn) if end_waiter else time.sleep
    deadline = time.monotonic() + deadline_seconds
    delay = longest_poll if end_waiter else 0.001
    while status() not in TERMINAL_STATUSES:
        if time.monotonic() > deadline:
            cause = f"no end within {deadline_seconds} s"
            client.stop_execution(executionArn=arn, error="States.Timeout", cause=cause)
            break
        wait(delay)
        delay = min(delay * 2, longest_poll)
    return sync_answer((describer or _description(client))(arn))


def sync_answer(execution: dict[str, Any]) -> dict[str, Any]:
    """StartSyncExecution's answer for an ended execution as DescribeExecution answers it."""
    answer: dict[str, Any] = {}
    for key in _SYNC_RESPONSE_FIELDS:
        if key in execution:
            answer[key] = execution[key]
            if key in ("input", "output"):
                answer[f"{key}Details"] = {"included": True}
    started, stopped = execution.get("startDate"), execution.get("stopDate")
    if started is not None and stopped is not None:
        elapsed_ms = (stopped - started).total_seconds() * 1000
        billed_ms = max(1, math.ceil(elapsed_ms / BILLED_DURATION_MS)) * BILLED_DURATION_MS
        answer["billingDetails"] = {
            "billedMemoryUsedInMB": BILLED_MEMORY_MB,
            "billedDurationInMilliseconds": billed_ms,
        }
    return answer


def _description(client: Any) -> Callable[[str], dict[str, Any]]:
    return lambda arn: client.describe_execution(executionArn=arn)  # type: ignore[no-any-return]


def _described(client: Any) -> StatusReader:
    return lambda arn: lambda: client.describe_execution(executionArn=arn)["status"]


def history(client: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn}
    while True:
        page = client.get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def entered_states(client: Any, execution_arn: str) -> list[str]:
    """The names of the states the execution entered, in order."""
    return [
        event["stateEnteredEventDetails"]["name"]
        for event in history(client, execution_arn)
        if "stateEnteredEventDetails" in event
    ]
