"""What the runtime keeps of Step Functions executions, and for how long.

What moto 5.2.5 does: every execution stays in its state machine's list for the life of the
process, with the interpreter's whole environment (states, components, the event history); two
threads per execution stay in a module-level list (`TMP_THREADS`); starting or describing an
execution searches that list from the start; and every Lambda task state builds a new boto3
client (`boto_client_for`), a fifth of the runtime's CPU in a profile of `make run`, through
boto3's default session, which is not safe to share between the threads that do it at once.

Why that is wrong for us: `make run` is a long-lived process, so memory and the time of each
request grow with every transaction (issue 11).

What this does instead: a finished execution keeps its event history (compressed) and drops the
interpreter; only the most recent `kept` executions are retained (older finished ones are forgotten:
DescribeExecution and GetExecutionHistory answer ExecutionDoesNotExist for them, as AWS does for
an Express execution, which it never keeps), their reference cycle cut so that they are freed
at once; an index by the `requestId` in each retained
execution's input answers the request-id lookup without a scan; finished threads leave
`TMP_THREADS`; a task's Lambda client is built once per region and reused (boto3 clients are
thread-safe).

Proven by tests/statemachine/test_retention.py. The patches are declared in
infra/local/patches.py.
"""

from __future__ import annotations

import contextlib
import functools
import pickle
import threading
import zlib
from collections.abc import Callable
from typing import Any

from botocore.client import BaseClient
from moto.core.models import botocore_stubber
from moto.stepfunctions.parser import utils as parser_utils
from moto.stepfunctions.parser.api import GetExecutionHistoryOutput, HistoryEventList
from moto.stepfunctions.parser.backend.execution import (
    Execution,
)
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

EXECUTIONS_KEPT = 1000
_HISTORY = "local_history"


class ExecutionRetention:
    """The executions the runtime retains: at most `kept` (running ones are never dropped)."""

    def __init__(self, kept: int = EXECUTIONS_KEPT) -> None:
        if kept < 1:
            raise ValueError(f"at least one execution must be kept, not {kept}")
        self.kept = kept
        self._by_request_id: dict[str, str] = {}
        self._lock = threading.Lock()

    def execution_arn(self, request_id: str) -> str | None:
        """The ARN of the retained execution started for this API request id, if any."""
        with self._lock:
            return self._by_request_id.get(request_id)

    def request_ids(self) -> dict[str, str]:
        """Execution ARNs by request id, for every retained execution that has one."""
        with self._lock:
            return dict(self._by_request_id)

    def admit(self, executions: list[Execution], execution: Execution) -> None:
        """Index a started execution and forget the oldest finished ones beyond `kept`."""
        with self._lock:
            request_id = _request_id(execution)
            if request_id is not None:
                self._by_request_id[request_id] = execution.exec_arn
            excess = len(executions) - self.kept
            forgotten = []
            for old in executions:
                if excess <= 0:
                    break
                if hasattr(old, _HISTORY):
                    forgotten.append(old)
                    excess -= 1
            for old in forgotten:
                executions.remove(old)  # one by one: moto appends without a lock
                # moto's execution, its worker and the worker's channel back to it are a reference
                # cycle: cut, the forgotten execution is freed as soon as it is dropped, not at a
                # full collection (nor never, once `make run` has frozen it: runtime.py).
                old.exec_worker = None
                old_request_id = _request_id(old)
                if self._by_request_id.get(old_request_id or "") == old.exec_arn:
                    del self._by_request_id[old_request_id or ""]
        _forget_finished_threads()


def _request_id(execution: Execution) -> str | None:
    data = execution.input_data
    request_id = data.get("requestId") if isinstance(data, dict) else None
    return request_id if isinstance(request_id, str) else None


def _forget_finished_threads() -> None:
    for thread in list(parser_utils.TMP_THREADS):
        if thread.ident is not None and not thread.is_alive():
            with contextlib.suppress(ValueError):  # another request removed it first
                parser_utils.TMP_THREADS.remove(thread)


_active: ExecutionRetention | None = None


def retain(retention: ExecutionRetention | None) -> None:
    """Make `retention` the one the patched backend applies (None: keep everything, as moto)."""
    global _active
    _active = retention


def release(execution: Execution) -> None:
    """Keep a finished execution's history (compressed) and drop its interpreter."""
    worker = execution.exec_worker
    if worker is not None and worker.env is not None:
        history = worker.env.event_manager.get_event_history()
        # Compressed: a thousand retained histories as parsed events were 36 MB, as this 3.
        setattr(execution, _HISTORY, zlib.compress(pickle.dumps(history)))
        worker.env = None


def history_output(to_history_output: Callable[[Execution], Any]) -> Callable[[Execution], Any]:
    @functools.wraps(to_history_output)
    def history_output(self: Execution) -> GetExecutionHistoryOutput:
        kept: bytes | None = getattr(self, _HISTORY, None)
        if kept is None:
            return to_history_output(self)
        history: HistoryEventList = pickle.loads(zlib.decompress(kept))  # pickled by the runtime
        return GetExecutionHistoryOutput(events=history)

    return history_output


def admitted(start_execution: Callable[..., Execution]) -> Callable[..., Execution]:
    @functools.wraps(start_execution)
    def start_execution_admitted(
        self: StepFunctionsParserBackend, state_machine_arn: str, *args: Any, **kwargs: Any
    ) -> Execution:
        execution = start_execution(self, state_machine_arn, *args, **kwargs)
        retention = _active
        if retention is not None:
            state_machine = self.describe_state_machine(state_machine_arn)
            retention.admit(state_machine.executions, execution)  # type: ignore[arg-type]
        return execution

    return start_execution_admitted


def built_once(boto_client_for: Callable[..., BaseClient]) -> Callable[..., BaseClient]:
    clients: dict[tuple[str, str, bool], BaseClient] = {}
    lock = threading.Lock()

    @functools.wraps(boto_client_for)
    def boto_client_built_once(
        region: str, service: str, state_credentials: Any = None
    ) -> BaseClient:
        # The task's credentials are moto's placeholders ("ak"/"sk"), the same for every call.
        with lock:
            key = (region, service, botocore_stubber.enabled)  # moto in-process, or a server
            if key not in clients:
                clients[key] = boto_client_for(region, service, state_credentials)
            return clients[key]

    return boto_client_built_once


def drop_ec2_catalogue() -> Callable[[], None]:
    """moto's Step Functions parser imports its Batch integration, which imports moto.ec2, which
    loads EC2's instance-type catalogue as it is imported: 56 MB of parsed JSON, 40 MB of every
    `make run`'s resident memory. The runtime stands in for no EC2, so the catalogue goes (EC2's
    instance-type calls on the AWS endpoint would answer empty lists).

    Not put back when the runtime stops (the undo does nothing): keeping a copy to put back would
    keep the memory this frees, and reading it again costs 0.4 s at every stop. Only moto's EC2
    reads it, which nothing in this project calls."""
    from moto.ec2.models import instance_types

    instance_types.INSTANCE_TYPES.clear()
    instance_types.INSTANCE_TYPE_OFFERINGS.clear()
    return lambda: None
