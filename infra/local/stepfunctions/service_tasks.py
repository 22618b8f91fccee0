"""Step Functions' own DynamoDB integration on the runtime: fault points by state, and the
recorder told which state made each request.

A Lambda task's faults and its place in the execution view come from its Invoke
(infra/local/awslambda/functions.py). A task whose Resource is `arn:aws:states:::dynamodb:*`
(ReleaseLock) invokes nothing: moto's interpreter calls DynamoDB itself. So moto's
`StateTaskServiceDynamoDB` is wrapped: each call runs inside a recorder invocation named after
the state (the view shows its request and the item before and after it, as for a Lambda task),
and a fault armed for the state fails the call before its write or after it, answered as
DynamoDB answers a failure of its own (`InternalServerError`, which the task sees as
`DynamoDB.InternalServerError`).

moto 5.2.5's DynamoDB task also turns every error that is not a ClientError into
`DynamoDB.AmazonDynamoDBException`, a mocked one included: TestState's mock of
`DynamoDB.ConditionalCheckFailedException` failed as AmazonDynamoDBException. The error the
interpreter already named is kept, as its other tasks keep it
(tests/statemachine/test_retry_and_catch.py mocks DynamoDB errors of the releases).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from botocore.exceptions import ClientError
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)

from infra.local.awslambda.functions import FaultPoint

# A service call cannot hang past the task's timeout the way a function can (the call is the
# interpreter's own), so only the two points where a write's outcome is in question apply.
SERVICE_FAULT_POINTS = (FaultPoint.BEFORE, FaultPoint.AFTER)

Attribution = Callable[[str, bytes], AbstractContextManager[None]]


class ServiceTasks:
    """Fault points and recorder attribution for the DynamoDB tasks of every state machine."""

    def __init__(self, attribute: Attribution) -> None:
        self._attribute = attribute
        self._faults: dict[str, list[FaultPoint]] = {}
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()

    def inject_fault(self, state: str, point: FaultPoint, times: int = 1) -> None:
        """Make the next `times` calls of the task state `state` fail at `point`."""
        if point not in SERVICE_FAULT_POINTS:
            raise ValueError(f"a DynamoDB task fails {SERVICE_FAULT_POINTS}, not {point}")
        with self._lock:
            self._faults[state] = [point] * times

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def call(self, state: str, execution_id: str, send: Callable[[], Any]) -> Any:
        with self._lock:
            self.calls[state] += 1
            pending = self._faults.get(state)
            fault = pending.pop() if pending else None
        with self._attribute(state, json.dumps({"executionId": execution_id}).encode()):
            if fault is FaultPoint.BEFORE:
                raise _internal_server_error(f"{state}: injected fault before the write")
            response = send()
            if fault is FaultPoint.AFTER:
                raise _internal_server_error(f"{state}: injected fault after the write")
            return response


def _internal_server_error(message: str) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "InternalServerError", "Message": message},
            # every key botocore fills in; moto's task reads HTTPStatusCode and RequestId
            "ResponseMetadata": {
                "HTTPStatusCode": 500,
                "RequestId": "local",
                "HostId": "",
                "HTTPHeaders": {},
                "RetryAttempts": 0,
            },
        },
        "DynamoDB",
    )


_active: ServiceTasks | None = None


def serve(tasks: ServiceTasks | None) -> None:
    """The running runtime's tasks take the calls (None: moto's own, as before)."""
    global _active
    _active = tasks


def through_tasks(original: Callable[..., None]) -> Callable[..., None]:
    """Replaces moto's `StateTaskServiceDynamoDB._eval_service_task`: each call goes through
    the running runtime's tasks (faults, recorder)."""

    def eval_service_task(self: Any, env: Any, *args: Any, **kwargs: Any) -> None:
        tasks = _active
        if tasks is None:
            return original(self, env, *args, **kwargs)
        execution_id = env.states.context_object.context_object_data["Execution"]["Id"]
        return tasks.call(self.name, execution_id, lambda: original(self, env, *args, **kwargs))

    return eval_service_task


def keeping_named_errors(original: Callable[..., FailureEvent]) -> Callable[..., FailureEvent]:
    """Replaces moto's `StateTaskServiceDynamoDB._from_error`: an error the interpreter already
    named (a mocked one) keeps its name instead of becoming AmazonDynamoDBException."""

    def from_error(self: Any, env: Any, ex: Exception) -> FailureEvent:
        if isinstance(ex, FailureEventException):
            return ex.failure_event
        return original(self, env, ex)

    return from_error
