"""infra/local/stepfunctions/interpreter.py: a program of its own for each execution, copied from
one built once, and a wait for an execution's end that the end wakes."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import pytest
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

from infra.local.cloudformation.template import Template
from infra.local.patches import RUNTIME_PATCHES
from infra.local.stepfunctions import interpreter

PARSE = "moto.stepfunctions.parser.asl.parse.asl_parser:AmazonStateLanguageParser.parse"
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
