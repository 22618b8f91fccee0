"""A Task state's TimeoutSeconds, kept without starting a thread for every task.

What moto 5.2.5 does: every Task state runs on a thread started for it
(`ExecutionState._evaluate_with_timeout`), which the state machine's thread waits for at most
TimeoutSeconds, so that a task that outlasts it can be left running while the state fails with
States.Timeout. A committed transaction starts and waits for four such threads.

Why that is wrong for us: each start and each end hands the interpreter over from one thread to
another. On a machine whose cores are busy (2 cores shared by the bench, the tests and other
work) a woken thread waits for a core at every handover: about 3 ms of a 29 ms transaction on a
quiet machine, more the busier it is, plus the CPU of starting the threads.

What this does instead: a task that calls into the runtime and no further (a Lambda function
invoked request-response, Step Functions' own DynamoDB integration) with a TimeoutSeconds
written in the definition runs on the thread that evaluates its state: moto's code is unchanged
around it, its `Thread` running its target when started. The timeout still holds where a wait
could outlast it: a function whose own timeout is not shorter than the time left to the state's
deadline is invoked on a thread of its own and waited for until the deadline, past which the
state fails with States.Timeout exactly as moto's wait fails it, the function left running as on
AWS (`within_deadline`, called by the runtime's routing of Invoke). A function with a shorter
timeout ends first, as Lambda would end it (the runtime's hanging fault sleeps the function's
timeout), and a DynamoDB call cannot hang (service_tasks.py). Every other task (`.sync`,
`.waitForTaskToken`, activities, a timeout read from the input or an expression) keeps moto's
thread.

Where it differs: a function that ran past its own timeout (which Lambda would have stopped)
holds its state past the state's TimeoutSeconds, where moto's wait would have ended the state on
time and left it running.

Proven by tests/local/stepfunctions/test_task_timeouts.py (a state on its machine's thread, the
timeout of a function that outlasts it, the same history), tests/statemachine (every path).
The patches are declared in infra/local/patches.py.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import (
    EvalTimeoutError,
    TimeoutSeconds,
)
from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_dynamodb import (  # noqa: E501
    StateTaskServiceDynamoDB,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (  # noqa: E501
    StateTaskServiceLambda,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import (
    StateTaskLambda,
)

T = TypeVar("T")

_in_line = threading.local()  # .pending: the next Thread runs in line; .deadline: its state's


def is_in_line(state: ExecutionState) -> bool:
    """Whether the task state runs on its machine's thread: it calls into the runtime only, and
    its TimeoutSeconds is in the definition."""
    if not isinstance(state.timeout, TimeoutSeconds):
        return False
    if isinstance(state, StateTaskLambda):
        return True
    if isinstance(state, (StateTaskServiceLambda, StateTaskServiceDynamoDB)):
        return state.resource.condition is None  # request-response: no .sync, no task token
    return False


def evaluated_in_line(
    evaluate_with_timeout: Callable[[ExecutionState, Any], None],
) -> Callable[[ExecutionState, Any], None]:
    """`ExecutionState._evaluate_with_timeout`: a task that `is_in_line` runs on this thread,
    its deadline known to `within_deadline`."""

    @functools.wraps(evaluate_with_timeout)
    def evaluate(self: ExecutionState, env: Any) -> None:
        if not is_in_line(self):
            return evaluate_with_timeout(self, env)
        outer = getattr(_in_line, "deadline", None)
        _in_line.pending = True
        _in_line.deadline = time.monotonic() + self.timeout.timeout_seconds  # type: ignore[attr-defined]
        try:
            return evaluate_with_timeout(self, env)
        finally:
            _in_line.pending = False
            _in_line.deadline = outer

    return evaluate


class _InLine:
    """A thread that runs its target on the thread that starts it."""

    def __init__(self, target: Callable[[], object]) -> None:
        self._target = target
        self.ident: int | None = None
        self.daemon = True

    def start(self) -> None:
        self.ident = threading.get_ident()
        self._target()

    def is_alive(self) -> bool:
        return False

    def join(self, timeout: float | None = None) -> None:
        return None


def thread_or_in_line(thread: type[threading.Thread]) -> Callable[..., Any]:
    """`execute_state.Thread`: moto's thread, or one that runs in line for a task that
    `evaluated_in_line` let through (the first thread its evaluation starts)."""

    def create(*args: Any, **kwargs: Any) -> Any:
        if getattr(_in_line, "pending", False):
            _in_line.pending = False
            return _InLine(kwargs["target"])
        return thread(*args, **kwargs)

    return create


def within_deadline(call: Callable[[], T], longest_seconds: float) -> T:
    """`call()`, which takes at most `longest_seconds` (a function's timeout); inside a task that
    runs in line and could outlast its state's deadline, on a thread of its own, waited for until
    the deadline.

    Raises: EvalTimeoutError past the deadline (the state fails with States.Timeout); what
    `call()` raises.
    """
    deadline: float | None = getattr(_in_line, "deadline", None)
    if deadline is None or longest_seconds < deadline - time.monotonic():
        return call()
    outcome: list[tuple[bool, Any]] = []
    ended = threading.Event()

    def run() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as error:  # handed to the waiting task, raised there
            outcome.append((False, error))
        finally:
            ended.set()

    threading.Thread(target=run, name="invoke-past-deadline", daemon=True).start()
    if not ended.wait(max(0.0, deadline - time.monotonic())):
        raise EvalTimeoutError()
    is_returned, value = outcome[0]
    if not is_returned:
        raise value
    return value  # type: ignore[no-any-return]
