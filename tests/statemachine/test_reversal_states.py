"""Each state of the reversal machine, one at a time, through TestState: its Retry and Catch
(RETRIABLE while a retrier has attempts left, then CAUGHT_ERROR with the catcher's next state
and the error in $error), its result's next state, and the variables it assigns."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest

from infra.local.aws_endpoint import serving_endpoint
from infra.local.cloudformation.template import Template
from infra.local.runtime import LocalAws
from infra.local.stepfunctions.provision import stepfunctions_client
from tests.builders import error_mock
from tests.statemachine import teststate
from tests.statemachine.conftest import ENDPOINT

pytestmark = pytest.mark.skipif(
    bool(ENDPOINT), reason="the reversal machine is created on the embedded runtime only"
)

BODY = '{"userId": "u"}'
STATE_INPUT = {"body": BODY, "transactionId": "tx-1", "requestId": "r-1"}
REQUEST = {"userId": "u", "transactionId": "tx-1"}
HOLD = {"holdId": "h-1", "amount": "30.00", "expiresAt": "2026-12-02T00:00:00.000Z"}
LOCK = {"balance": "110.00", "lastSequence": 1, "holds": [HOLD], "leaseUntil": 1}
REVERSAL = {"transactionId": "rv-1", "userId": "u", "type": "debit", "amount": "10.00",
            "balance": "100.00", "currency": "USD", "createdAt": "2026-12-01T00:00:00.000Z",
            "reverses": "tx-1"}  # fmt: skip
# What the states before a given one have assigned.
VARIABLES = {"request": REQUEST, "lock": LOCK}
RESULT = {"StatusCode": 200, "Payload": {"request": REQUEST, "lock": LOCK,
          "transaction": REVERSAL, "replayed": False}}  # fmt: skip

# (state, error, attempts its Retry allows, where its Catch goes)
RETRIED = [
    ("AcquireReversalLock", "UserBusyError", 1, "ReadUserAfterFailure"),
    ("AcquireReversalLock", "Lambda.ServiceException", 2, "ReadUserAfterFailure"),
    ("ReverseTransaction", "StorageThrottledError", 2, "ReleaseLockAfterFailure"),
    ("ReverseTransaction", "Lambda.TooManyRequestsException", 2, "ReleaseLockAfterFailure"),
    ("ReleaseLock", "DynamoDB.ThrottlingException", 2, "ReversalSucceeded"),
    ("ReleaseLockAfterFailure", "States.Timeout", 2, "ReversalFailed"),
    ("ReleaseLockAfterFailure", "DynamoDB.InternalServerError", 2, "ReversalFailed"),
]
NOT_RETRIED = [
    ("AcquireReversalLock", "ValidationError", "ReversalFailed"),
    ("AcquireReversalLock", "InjectedFaultError", "ReadUserAfterFailure"),
    ("ReverseTransaction", "NotFoundError", "ReleaseLockAfterFailure"),
    ("ReverseTransaction", "NotReversibleError", "ReleaseLockAfterFailure"),
    ("ReverseTransaction", "InsufficientFundsError", "ReleaseLockAfterFailure"),
    ("ReverseTransaction", "LockLostError", "ReleaseLockAfterFailure"),
    ("ReverseTransaction", "Lambda.Unknown", "ReleaseLockAfterFailure"),
    ("ReleaseLock", "DynamoDB.ConditionalCheckFailedException", "ReversalSucceeded"),
    ("ReleaseLock", "DynamoDB.ResourceNotFoundException", "ReversalSucceeded"),
    ("ReleaseLockAfterFailure", "DynamoDB.ConditionalCheckFailedException", "ReversalFailed"),
]
NEXT_STATE = {
    "AcquireReversalLock": "ReverseTransaction",
    "ReverseTransaction": "ReleaseLock",
    "ReleaseLock": "ReversalSucceeded",
    "ReleaseLockAfterFailure": "ReversalFailed",
}
RELEASES = ("ReleaseLock", "ReleaseLockAfterFailure")


@pytest.fixture(scope="module")
def stepfunctions() -> Iterator[Any]:
    with LocalAws() as runtime, serving_endpoint(runtime) as url:
        yield stepfunctions_client(url)


@pytest.fixture(scope="module")
def definition() -> str:
    return Template.load().state_machines["ReversalStateMachine"].definition


def run_state(client: Any, definition: str, state: str, **kwargs: Any) -> dict[str, Any]:
    return teststate.run_state(client, definition, state, STATE_INPUT, VARIABLES, **kwargs)


@pytest.mark.parametrize(
    ("state", "error", "attempts", "catch_next"), RETRIED, ids=[f"{s}-{e}" for s, e, *_ in RETRIED]
)
def test_retried_error_is_retriable_until_attempts_run_out_then_caught(
    stepfunctions, definition, state, error, attempts, catch_next
):
    answer = teststate.retried_until_caught(
        partial(run_state, stepfunctions, definition, state), error, attempts
    )

    assert (answer["status"], answer["nextState"]) == ("CAUGHT_ERROR", catch_next)


@pytest.mark.parametrize(
    ("state", "error", "catch_next"), NOT_RETRIED, ids=[f"{s}-{e}" for s, e, _ in NOT_RETRIED]
)
def test_error_no_retrier_takes_is_caught_at_once(
    stepfunctions, definition, state, error, catch_next
):
    answer = run_state(stepfunctions, definition, state, mock=error_mock(error))

    assert (answer["status"], answer["nextState"]) == ("CAUGHT_ERROR", catch_next)
    caught = {"Error": error, "Cause": f"{error} in a test"}
    after = teststate.variables_after(answer)
    if error == "DynamoDB.ConditionalCheckFailedException":
        # A lock no longer ours counts as released: nothing failed, nothing is kept.
        assert after == VARIABLES
    elif state in ("AcquireReversalLock", "ReverseTransaction"):
        assert after["error"] == caught  # the error the request fails with
    else:
        # A failing release keeps its error apart from the original one.
        kept = "releaseError" if state == "ReleaseLock" else "compensationError"
        assert after[kept] == caught
        assert "error" not in after


@pytest.mark.parametrize("state", list(NEXT_STATE))
def test_a_result_goes_to_the_next_state(stepfunctions, definition, state):
    result: dict[str, Any] = {} if state in RELEASES else RESULT
    answer = run_state(stepfunctions, definition, state, mock={"result": json.dumps(result)})

    assert (answer["status"], answer["nextState"]) == ("SUCCEEDED", NEXT_STATE[state])


def test_acquire_sends_the_raw_request_and_assigns_what_later_states_read(
    stepfunctions, definition
):
    answer = run_state(
        stepfunctions, definition, "AcquireReversalLock", mock={"result": json.dumps(RESULT)}
    )

    payload = json.loads(answer["inspectionData"]["afterArguments"])["Payload"]
    assert (payload["body"], payload["transactionId"]) == (BODY, "tx-1")
    assert payload["executionId"] and payload["startedAt"]
    after = teststate.variables_after(answer)
    assert (after["request"], after["lock"]) == (REQUEST, LOCK)


def test_reverse_sends_the_request_and_the_account_the_lock_saw(stepfunctions, definition):
    reversed_ = {"StatusCode": 200, "Payload": {"transaction": REVERSAL, "replayed": False}}
    answer = run_state(
        stepfunctions, definition, "ReverseTransaction", mock={"result": json.dumps(reversed_)}
    )

    payload = json.loads(answer["inspectionData"]["afterArguments"])["Payload"]
    assert {k: payload[k] for k in ("request", "balance", "lastSequence", "holds")} == {
        "request": REQUEST, "balance": "110.00", "lastSequence": 1, "holds": [HOLD],
    }  # fmt: skip
    assert payload["executionId"]
    assert teststate.variables_after(answer)["result"] == {
        "transaction": REVERSAL,
        "replayed": False,
    }


@pytest.mark.parametrize("state", RELEASES)
def test_each_release_is_one_conditional_update_item_of_the_user(stepfunctions, definition, state):
    answer = run_state(stepfunctions, definition, state, mock={"result": "{}"})

    arguments = json.loads(answer["inspectionData"]["afterArguments"])
    assert arguments["TableName"] == "AggregatesTable"
    assert arguments["Key"] == {"userId": {"S": "u"}}
    assert arguments["UpdateExpression"] == "REMOVE lockOwner, leaseUntil"
    assert arguments["ConditionExpression"] == "lockOwner = :owner"
    assert arguments["ExpressionAttributeValues"][":owner"]["S"]  # the execution's id


def test_without_a_mock_a_release_frees_only_its_own_lock(stepfunctions, definition):
    answer = run_state(stepfunctions, definition, "ReleaseLockAfterFailure")

    assert answer["status"] == "CAUGHT_ERROR"
    assert answer["error"] == "DynamoDB.ConditionalCheckFailedException"
    assert answer["nextState"] == "ReversalFailed"


def test_a_failed_acquire_reads_the_user_from_the_body(stepfunctions, definition):
    answer = stepfunctions.test_state(
        definition=definition,
        stateName="ReadUserAfterFailure",
        input=json.dumps(STATE_INPUT),
        inspectionLevel="DEBUG",
    )

    assert answer["nextState"] == "ReleaseLockAfterFailure"
    assert teststate.variables_after(answer)["request"] == {"userId": "u"}


@pytest.mark.parametrize("replayed", [False, True], ids=["reversed", "replayed"])
def test_success_answers_the_result_and_failure_re_raises_the_original_error(
    stepfunctions, definition, replayed
):
    result = {"transaction": REVERSAL, "replayed": replayed}
    succeeded = stepfunctions.test_state(
        definition=definition,
        stateName="ReversalSucceeded",
        input="{}",
        variables=json.dumps({"result": result}),
    )
    failed = stepfunctions.test_state(
        definition=definition,
        stateName="ReversalFailed",
        input="{}",
        variables=json.dumps({"error": {"Error": "NotReversibleError", "Cause": "c"}}),
    )

    assert json.loads(succeeded["output"]) == result
    assert (failed["status"], failed["error"], failed["cause"]) == (
        "FAILED",
        "NotReversibleError",
        "c",
    )
