"""What the runtime changes in moto's Step Functions interpreter: each definition and JSONPath
parsed once, an execution's end marked once moto has recorded all of it, and JSON text written as
Step Functions writes it.

What moto 5.2.5 does: it lexes and parses the whole ASL file with ANTLR at every execution start,
and builds a JSONPath parser for every path it reads: more CPU than the rest of an execution.
EventBridge's delivery to a rule's target does the same with the JSONPaths of the target's input
(eight per event without an InputTransformer, a tenth of a hot user's CPU). A task's ResultPath
uses jsonpath_ng's other parser, four builds a transaction, each a yacc run whose objects are
cyclic garbage. And moto sets an execution's status before its output, error and cause, so a
status alone can be read with an output still missing.

Why that is wrong for us: `make run` is judged by its rate and its pauses; a 201 came without
its body under load (the soak found it).

What this does instead: the parse tree of each definition, a program built from it and the
compiled paths are kept (each execution still gets components of its own: the program
unpickled); the wait for an execution's end reads moto's own record of it, RUNNING until the end is
wholly recorded, instead of calling DescribeExecution, and is woken by the end instead of polling;
an execution the runtime's StartSyncExecution starts runs on the caller's thread, which would only
wait for it (`run_on_this_thread`), and its answer is read from moto's record as DescribeExecution
would answer it (`recorded_description`).
moto writes the JSON text of a task's result, a state's output, TestState's output and
inspection data with Python's defaults (`{"a": 1, "b": "\u00e9"}`); Step Functions writes it
compact and leaves non-ASCII characters as they are (`{"a":1,"b":"é"}`), and a client that
compares the text (the AWS CLI's `--query output`) sees the difference: `json_text_as_aws` makes
moto's one JSON writer do the same.
The patches themselves are declared in infra/local/patches.py.

Proven by tests/bench/test_bench_smoke.py (the parser counts), tests/reliability/test_runtime.py
(the recorded end) and tests/local/stepfunctions/test_interpreter.py (a program per execution,
the wait woken by the end, the JSON text, the caller's thread, the recorded description).
"""

from __future__ import annotations

import contextlib
import functools
import json
import pickle
import threading
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import botocore.session
import jsonpath_ng
from botocore.utils import parse_timestamp
from moto.core.serialize import TimestampSerializer
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.responses import StepFunctionResponse, get_backend

from infra.local.cloudformation.template import ACCOUNT_ID, REGION
from infra.local.stepfunctions import logs, retention

JSONPATHS_KEPT = 4096
_END_RECORDED = "local_end_recorded"
_ENDED = "local_ended"


def parsed_once(parse: Callable[[str], tuple[Any, Any]]) -> Callable[[str], tuple[Any, Any]]:
    """`AmazonStateLanguageParser.parse`, keeping each definition's parse tree and program.

    Each execution gets a program of its own, as moto's does: components keep what an execution
    sets in them. It is unpickled from the program built from the tree and pickled before it
    ever ran: the same objects a deep copy makes (no component defines a copy or pickle hook of
    its own), at C speed. Building it again from the kept tree (ANTLR's visitor, every literal's
    text read again) took 6 to 7 ms of CPU, a deep copy 2 to 3 ms (a tenth of a transaction's
    CPU), unpickling 0.3 to 0.5 ms; tests/statemachine runs every path of every machine on
    unpickled programs.
    """
    kept: dict[str, tuple[bytes, Any]] = {}

    @functools.wraps(parse)
    def parse_once(definition: str) -> tuple[Any, Any]:
        if definition not in kept:
            program, tree = parse(definition)
            kept[definition] = (pickle.dumps(program, pickle.HIGHEST_PROTOCOL), tree)
            return program, tree
        pickled, tree = kept[definition]
        return pickle.loads(pickled), tree  # pickled above, from moto's own program

    return parse_once


def kept_paths(parse: Callable[..., Any]) -> Callable[..., Any]:
    """A JSONPath parse that keeps what each path parses to."""
    return functools.lru_cache(maxsize=JSONPATHS_KEPT)(parse)


def ext_parse_kept() -> Callable[..., Any]:
    """The kept `jsonpath_ng.ext.parse`, one cache for every module that parses with it (its
    patch is applied first; moto's modules bound the name when they were imported)."""
    import jsonpath_ng.ext

    return jsonpath_ng.ext.parse


def result_path_parse(original: Callable[..., Any]) -> Callable[..., Any]:
    """ResultPath's parse: jsonpath_ng's own parser (not ext's), kept."""
    return kept_paths(jsonpath_ng.parse)


def ended(terminated: Callable[[Any], None]) -> Callable[[Any], None]:
    """`BaseExecutionWorkerCommunication.terminated`: once moto has recorded the end, the
    execution's log events are written (stepfunctions/logs.py), then it is marked ended and its
    interpreter released (stepfunctions/retention.py)."""

    @functools.wraps(terminated)
    def terminated_marked_and_released(self: BaseExecutionWorkerCommunication) -> None:
        terminated(self)
        logs.write_ended(self.execution)
        setattr(self.execution, _END_RECORDED, True)
        _ended(self.execution).set()
        retention.release(self.execution)

    return terminated_marked_and_released


def _ended(execution: Any) -> threading.Event:
    """The event set once the execution's end is recorded: one per execution, whichever of the
    waiter and the execution's own thread asks first (dict.setdefault is one step)."""
    return execution.__dict__.setdefault(_ENDED, threading.Event())  # type: ignore[no-any-return]


_caller = threading.local()  # .runs_next: the next execution started here runs on this thread


@contextlib.contextmanager
def run_on_this_thread() -> Iterator[None]:
    """An execution started inside (StartExecution, on this thread) runs on this thread, its
    start returning once it has ended: for a caller that would only wait for the end.

    moto starts a thread for each execution (its own thread then starts one for the program, which
    the execution's TimeoutSeconds abandons). For StartSyncExecution the caller's thread waited
    for the execution's: two handovers between threads, each a wait for a core when the machine
    is busy, and a thread started. The program's thread stays, so the timeout holds as before.
    """
    _caller.runs_next = True
    try:
        yield
    finally:
        _caller.runs_next = False


def started_here(start: Callable[[ExecutionWorker], None]) -> Callable[[ExecutionWorker], None]:
    """`ExecutionWorker.start`: on the caller's thread inside `run_on_this_thread`."""

    @functools.wraps(start)
    def start_here_or_in_a_thread(self: ExecutionWorker) -> None:
        if not getattr(_caller, "runs_next", False):
            return start(self)
        _caller.runs_next = False  # one execution: none that this one starts
        self._execution_logic()

    return start_here_or_in_a_thread


def end_waiter(execution_arn: str) -> Callable[[float], bool]:
    """A wait of at most the seconds it is given that returns as soon as the execution's end is
    recorded: a caller waiting by polling slept up to its longest poll past the end (10 ms, a
    quarter of an execution), and woke every few ms to take the interpreter's thread a turn."""
    execution = get_backend(ACCOUNT_ID, REGION).describe_execution(execution_arn)
    return _ended(execution).wait


def moto_status(execution_arn: str) -> Callable[[], str]:
    """moto's own record of the execution, read without an API call: DescribeExecution costs
    milliseconds of the CPU the executions run on, and searches every execution of the machine.

    RUNNING until moto has recorded the whole end: it sets the status before the output, the
    error and the cause, so a status alone can be read with an output still missing.
    """
    execution = get_backend(ACCOUNT_ID, REGION).describe_execution(execution_arn)
    return lambda: str(execution.status) if getattr(execution, _END_RECORDED, False) else "RUNNING"


def recorded_description(execution_arn: str) -> dict[str, Any]:
    """DescribeExecution's answer, as the runtime's boto3 client gets it, without the call:
    moto's own answer (its StepFunctionResponse method) with each date written as moto writes
    it and read back as botocore reads it. The call costs about 1.3 ms of CPU, a twentieth of a
    transaction, for an answer already in this process.

    Raises: moto's ExecutionDoesNotExist for an execution it does not have.
    """
    backend = get_backend(ACCOUNT_ID, REGION)
    request = SimpleNamespace(
        _get_param=lambda name: execution_arn if name == "executionArn" else None,
        stepfunction_backend=backend,
    )
    answer: dict[str, Any] = StepFunctionResponse.describe_execution(request).result  # type: ignore[arg-type, assignment]
    for field in ("startDate", "stopDate"):
        if field in answer:
            written = TimestampSerializer._timestamp_unixtimestamp(answer[field])
            answer[field] = parse_timestamp(written)  # type: ignore[arg-type]  # a number too
    return {name: answer[name] for name in _description_fields() if name in answer}


@functools.cache
def _description_fields() -> tuple[str, ...]:
    """DescribeExecution's output fields in the order botocore parses them into."""
    model = botocore.session.get_session().get_service_model("stepfunctions")
    output = model.operation_model("DescribeExecution").output_shape
    assert output is not None, "DescribeExecution has an output in every botocore"
    return tuple(output.members)


def recorded_status(execution_arn: str) -> str:
    """The execution's status once moto has recorded its whole end (RUNNING until then)."""
    return moto_status(execution_arn)()


def dumps(value: Any) -> str:
    """JSON text as Step Functions writes it: compact, non-ASCII characters as they are."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def json_text_as_aws() -> Callable[[], None]:
    """moto's `to_json_str` writes compact text with non-ASCII characters kept, unless a caller
    asks for other separators. Every module that imported the function shares the one function
    object, so its defaults change for all of them; the encoder is read from its module at each
    call."""
    from moto.stepfunctions.parser.asl.utils import encoding

    function, encoder = encoding.to_json_str, encoding._DateTimeEncoder
    defaults = function.__defaults__

    class KeepingCharacters(encoder):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **{**kwargs, "ensure_ascii": False})

    function.__defaults__ = ((",", ":"),)
    encoding._DateTimeEncoder = KeepingCharacters  # type: ignore[misc]

    def undo() -> None:
        function.__defaults__ = defaults
        encoding._DateTimeEncoder = encoder  # type: ignore[misc]

    return undo
