"""StartSyncExecution for runtimes that lack it, and the execution histories behind the local view.

moto does not route StartSyncExecution, so an execution is started under a unique name and
awaited; the answer has StartSyncExecution's shape. Only public Step Functions calls are used,
so the same code works against Step Functions Local.
"""

import json
import time
import uuid
from typing import Any

TERMINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
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


def start_sync_execution(
    client: Any,
    state_machine_arn: str,
    execution_input: str,
    name: str | None = None,
    deadline_seconds: float = 60.0,
) -> dict[str, Any]:
    """Start an execution and wait for its end; past `deadline_seconds` (well beyond the state
    machine's own timeout, so only a runtime that lost the execution gets there) it is stopped,
    so that a caller never waits forever."""
    started = client.start_execution(
        stateMachineArn=state_machine_arn, name=name or uuid.uuid4().hex, input=execution_input
    )
    deadline = time.monotonic() + deadline_seconds
    delay = 0.002
    while True:
        execution = client.describe_execution(executionArn=started["executionArn"])
        if execution["status"] in TERMINAL_STATUSES:
            break
        if time.monotonic() > deadline:
            client.stop_execution(
                executionArn=started["executionArn"],
                error="States.Timeout",
                cause=f"no end within {deadline_seconds} s",
            )
            execution = client.describe_execution(executionArn=started["executionArn"])
            break
        time.sleep(delay)
        # Each poll is a whole API call, and its CPU is taken from the running executions.
        delay = min(delay * 2, 0.25)
    return {key: execution[key] for key in _SYNC_RESPONSE_FIELDS if key in execution}


def history(client: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn}
    while True:
        page = client.get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def executions_by_request_id(client: Any, state_machine_arn: str) -> dict[str, str]:
    """Execution ARNs by the API request id in their input (the x-amzn-RequestId a client saw)."""
    found: dict[str, str] = {}
    for page in client.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn):
        for listed in page["executions"]:
            arn = listed["executionArn"]
            execution_input = client.describe_execution(executionArn=arn).get("input") or "{}"
            request_id = json.loads(execution_input).get("requestId")
            if isinstance(request_id, str):
                found[request_id] = arn
    return found


def entered_states(client: Any, execution_arn: str) -> list[str]:
    """The names of the states the execution entered, in order."""
    return [
        event["stateEnteredEventDetails"]["name"]
        for event in history(client, execution_arn)
        if "stateEnteredEventDetails" in event
    ]
