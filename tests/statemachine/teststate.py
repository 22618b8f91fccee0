"""TestState of one state of a JSONata machine, as the machines' state tests drive it: a state
run with its input and the variables the states before it assigned, and a retrier run until its
attempts are spent."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.builders import error_mock


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
    return run(mock=error_mock(error), stateConfiguration={"retrierRetryCount": attempts})
