"""TestState of one state of a JSONata machine, as the machines' state tests drive it: a state
run with its input and the variables the states before it assigned, and a retrier run until its
attempts are spent; and each machine as those tests start it, with the Retry and Catch it is
expected to have."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import pytest

from infra.local.cloudformation.template import Template
from tests.builders import error_mock
from tests.statemachine.conftest import EMBEDDED_RUNTIME_ONLY

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
DYNAMODB_UPDATE_ITEM = "arn:aws:states:::dynamodb:updateItem"


def run_state(
    client: Any, definition: str, state: str, state_input: Any, variables: Any, **kwargs: Any
) -> dict[str, Any]:
    return dict(
        client.test_state(
            definition=definition,
            stateName=state,
            input=json.dumps(state_input),
            variables=json.dumps(variables),
            inspectionLevel="DEBUG",
            **kwargs,
        )
    )


def variables_after(answer: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(answer["inspectionData"]["variables"]))


def payload_sent(answer: dict[str, Any]) -> dict[str, Any]:
    """The Payload a Lambda task sent, its expressions evaluated."""
    return dict(json.loads(answer["inspectionData"]["afterArguments"])["Payload"])


def retried_until_caught(
    run: Callable[..., dict[str, Any]], error: str, attempts: int
) -> dict[str, Any]:
    """`run(**kwargs)` failing with `error`: RETRIABLE while its retrier has attempts left (each
    asserted); the answer once they are spent."""
    for retries_so_far in range(attempts):
        answer = run(
            mock=error_mock(error), stateConfiguration={"retrierRetryCount": retries_so_far}
        )
        assert (answer["status"], answer["error"]) == ("RETRIABLE", error), retries_so_far
        assert "output" not in answer and "nextState" not in answer
    return run(mock=error_mock(error), stateConfiguration={"retrierRetryCount": attempts})


def catch_index(definition: str, state: str, error: str) -> int:
    """The first catcher of `state` that takes `error`, as Step Functions picks it."""
    catchers = json.loads(definition)["States"][state]["Catch"]
    return next(
        index
        for index, catcher in enumerate(catchers)
        if error in catcher["ErrorEquals"] or catcher["ErrorEquals"] == ["States.ALL"]
    )


class Retried(NamedTuple):
    state: str
    error: str
    attempts: int  # what its Retry allows
    catch_next: str  # where its Catch goes once they are spent
    slot: str  # the variable the error lands in


class Caught(NamedTuple):
    """An error no Retry takes: caught at once."""

    state: str
    error: str
    catch_next: str
    slot: str


@functools.cache
def template() -> Template:
    return Template.load()


@dataclass(frozen=True)
class Machine:
    """A machine as its state tests start each state, and the Retry and Catch expected of it."""

    logical_id: str  # in the template: "TransferStateMachine"
    state_input: dict[
        str, Any
    ]  # the execution's input, as API Gateway's request template builds it
    variables: dict[str, Any]  # what the states before a given one have assigned
    lambda_result: dict[str, Any]  # with every field some task's Assign reads
    acquired: tuple[str, ...]  # the variables the first state assigns from its result
    read_after_failure: str  # where a failed first state goes to read the user(s) from the body
    release_users: Mapping[str, str]  # the user whose lock each release frees
    retried: Sequence[Retried]
    not_retried: Sequence[Caught]
    next_state: Mapping[str, str]  # where each task's result goes
    result: dict[str, Any]  # $result when the machine succeeds
    error: dict[str, Any]  # $error when it fails
    marks: Sequence[pytest.MarkDecorator] = (EMBEDDED_RUNTIME_ONLY,)

    @property
    def name(self) -> str:
        return self.logical_id.removesuffix("StateMachine")

    @functools.cached_property
    def definition(self) -> str:
        return template().state_machines[self.logical_id].definition

    @functools.cached_property
    def states(self) -> dict[str, Any]:
        return dict(json.loads(self.definition)["States"])

    @property
    def first_state(self) -> str:
        return str(json.loads(self.definition)["StartAt"])

    def states_of(self, resource: str) -> list[str]:
        return [name for name, state in self.states.items() if state.get("Resource") == resource]

    def state_of_type(self, type_: str) -> str:
        [name] = [name for name, state in self.states.items() if state["Type"] == type_]
        return name

    def run_state(
        self, client: Any, state: str, *, variables: Any = None, **kwargs: Any
    ) -> dict[str, Any]:
        return run_state(
            client,
            self.definition,
            state,
            self.state_input,
            self.variables if variables is None else variables,
            **kwargs,
        )

    def param(self, *values: Any, named: str = "") -> Any:
        """A pytest parameter of this machine and `values`, with the machine's marks, its id the
        machine's name and `named`."""
        return pytest.param(
            self, *values, marks=self.marks, id="-".join(filter(None, [self.name, named]))
        )
