"""infra/local/stepfunctions/interpreter.py: a program of its own for each execution, copied from
one built once, a wait for an execution's end that the end wakes, and JSON text as Step Functions
writes it."""

from __future__ import annotations

import enum
import json
import threading
from types import SimpleNamespace
from typing import Any

import pytest
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

from infra.local.cloudformation.template import Template
from infra.local.patches import RUNTIME_PATCHES
from infra.local.runtime import LocalAws
from infra.local.stepfunctions import interpreter
from tests.builders import execution_input
from tests.local.test_jsonata import answer_of, history, run

PARSE = "moto.stepfunctions.parser.asl.parse.asl_parser:AmazonStateLanguageParser.parse"
ROLE = "arn:aws:iam::123456789012:role/local"
WAIT_SECONDS = 30  # a bound on a wait that ends at once when the code is right


@pytest.mark.parametrize("machine", ["TransactionStateMachine", "TransferStateMachine"])
def test_each_execution_gets_a_program_of_its_own(machine):
    definition = Template.load().state_machines[machine].definition
    with RUNTIME_PATCHES.applied(PARSE):
        parsed = [AmazonStateLanguageParser.parse(definition) for _ in range(3)]

    programs: list[Any] = [program for program, _ in parsed]  # Programs, typed as components
    assert len({id(program) for program in programs}) == 3
    assert len({id(tree) for _, tree in parsed}) == 1  # parsed once
    states = [program.states.states for program in programs]
    assert all(list(s) == list(states[0]) for s in states)
    for name in states[0]:
        assert len({id(s[name]) for s in states}) == 3  # no component shared


@pytest.mark.parametrize("machine", ["TransactionStateMachine", "TransferStateMachine"])
def test_each_execution_gets_the_program_moto_builds(machine):
    definition = Template.load().state_machines[machine].definition
    built, _ = AmazonStateLanguageParser.parse(definition)  # moto's own, unpatched
    with RUNTIME_PATCHES.applied(PARSE):
        kept = [AmazonStateLanguageParser.parse(definition)[0] for _ in range(2)]

    for program in kept:  # the first as built, the second from what was kept
        assert same_components(program, built)


def same_components(a: Any, b: Any, seen: set[int] | None = None) -> bool:
    """Whether two component graphs hold the same types and values."""
    seen = set() if seen is None else seen
    if type(a) is not type(b):
        return False
    if isinstance(a, (str, bytes, int, float, bool, type(None), enum.Enum, type)) or callable(a):
        return bool(a == b)
    if a is b or id(a) in seen:
        return True
    seen.add(id(a))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_components(a[k], b[k], seen) for k in a)
    if isinstance(a, (list, tuple)):
        pairs = zip(a, b, strict=False)
        return len(a) == len(b) and all(same_components(x, y, seen) for x, y in pairs)
    if hasattr(a, "__dict__"):
        return same_components(vars(a), vars(b), seen)
    return bool(a == b)


def test_the_wait_for_an_end_returns_once_the_end_is_recorded(monkeypatch):
    # Given a running execution (no interpreter to release) and a waiter on it
    execution = SimpleNamespace(status="RUNNING", output=None, exec_worker=None)
    backend = SimpleNamespace(describe_execution=lambda arn: execution)
    monkeypatch.setattr(interpreter, "get_backend", lambda account, region: backend)
    monkeypatch.setattr(BaseExecutionWorkerCommunication, "_reflect_execution_status", noop)
    wait = interpreter.end_waiter("arn:execution")
    assert wait(0) is False  # not ended: a wait runs its whole length
    woken: list[Any] = []
    waiter = threading.Thread(target=lambda: woken.append(wait(WAIT_SECONDS)))
    waiter.start()

    # When moto records the end (it sets the status first)
    execution.status = "SUCCEEDED"
    with RUNTIME_PATCHES.applied():
        BaseExecutionWorkerCommunication(execution).terminated()  # type: ignore[arg-type]
    waiter.join(WAIT_SECONDS)

    # Then the wait returned because of it, not because its time ran out
    assert woken == [True]
    assert interpreter.recorded_status("arn:execution") == "SUCCEEDED"


def noop(*args: object) -> None:
    return None


def test_json_text_is_written_compact_with_its_characters_as_step_functions_writes_it():
    state = {
        "Type": "Pass",
        "Parameters": {"name": "María, 東京", "items.$": "$.items"},
        "End": True,
    }
    machine = {"StartAt": "Only", "States": {"Only": state}}
    given = {"items": [1, {"a": None}]}

    with LocalAws() as runtime:
        result = run(runtime, machine, given)
        [entered, exited] = [
            e
            for e in history(runtime, result)
            if e["type"] in ("PassStateEntered", "PassStateExited")
        ]
        tested = answer_of(state, "DEBUG", input=json.dumps(given))

    expected = '{"name":"María, 東京","items":[1,{"a":null}]}'
    assert result["output"] == expected
    assert exited["stateExitedEventDetails"]["output"] == expected
    assert entered["stateEnteredEventDetails"]["input"] == '{"items":[1,{"a":null}]}'
    assert tested["output"] == expected
    assert tested["inspectionData"]["input"] == '{"items":[1,{"a":null}]}'


def test_a_sync_execution_runs_on_the_callers_thread(local_aws, monkeypatch):
    threads: list[int] = []
    logic = ExecutionWorker._execution_logic

    def recorded_logic(self: ExecutionWorker) -> None:
        threads.append(threading.get_ident())
        logic(self)

    monkeypatch.setattr(ExecutionWorker, "_execution_logic", recorded_logic)
    response = local_aws.start_sync_execution(
        "TransactionStateMachine", execution_input(user_id="sync")
    )

    assert response["status"] == "SUCCEEDED"
    assert threads == [threading.get_ident()]


def test_an_execution_started_otherwise_runs_on_a_thread_of_its_own(local_aws):
    definition = {
        "StartAt": "Wait",
        "States": {"Wait": {"Type": "Wait", "Seconds": 1, "End": True}},
    }
    machine = local_aws.stepfunctions.create_state_machine(
        name="Waiting", definition=json.dumps(definition), roleArn=ROLE, type="STANDARD"
    )["stateMachineArn"]

    arn = local_aws.stepfunctions.start_execution(stateMachineArn=machine)["executionArn"]

    assert local_aws.stepfunctions.describe_execution(executionArn=arn)["status"] == "RUNNING"
    interpreter.end_waiter(arn)(WAIT_SECONDS)
    assert interpreter.recorded_status(arn) == "SUCCEEDED"


@pytest.mark.parametrize(
    "execution_input_",
    [
        execution_input(user_id="described"),
        execution_input(user_id="described", amount="100000", type_="debit"),
        '{"not": "a request"}',
    ],
    ids=["committed", "overdraft", "malformed"],
)
def test_the_recorded_description_is_describe_executions_answer(local_aws, execution_input_):
    arn = local_aws.start_sync_execution("TransactionStateMachine", execution_input_)[
        "executionArn"
    ]

    described = local_aws.stepfunctions.describe_execution(executionArn=arn)
    del described["ResponseMetadata"]
    recorded = interpreter.recorded_description(arn)

    assert shape(recorded) == shape(described)


def shape(answer: dict[str, Any]) -> list[tuple[str, type, Any, str]]:
    """Each field in order, with its type, value and time zone (a date compares as an instant)."""
    return [(k, type(v), v, repr(getattr(v, "tzinfo", None))) for k, v in answer.items()]
