"""Each state of the hold machine, one at a time, through TestState: its Retry and Catch
(RETRIABLE while a retrier has attempts left, then CAUGHT_ERROR with the catcher's next state
and the error in $error), its result's next state, and the variables it assigns."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from infra.local.aws_endpoint import serving_endpoint
from infra.local.cloudformation.template import Template
from infra.local.runtime import LocalAws
from infra.local.stepfunctions.provision import stepfunctions_client
from tests.builders import error_mock
from tests.statemachine.conftest import ENDPOINT

pytestmark = pytest.mark.skipif(
    bool(ENDPOINT), reason="the hold machine is created on the embedded runtime only"
)

BODY = '{"userId": "u", "amount": "20.00"}'
STATE_INPUT = {"operation": "capture", "holdId": "h1", "body": BODY, "idempotencyKey": "",
               "requestId": "r-1"}  # fmt: skip
REQUEST = {"operation": "capture", "userId": "u", "holdId": "h1", "idempotencyKey": None,
           "amount": "20.00", "expiresInSeconds": None}  # fmt: skip
PENDING = {"holdId": "h1", "amount": "30.00", "expiresAt": "2026-12-07T10:00:00.000Z"}
LOCK = {"balance": "100.00", "lastSequence": 2, "leaseUntil": 1, "holds": [PENDING]}
HOLD = {"holdId": "h1", "userId": "u", "status": "captured", "amount": "30.00",
        "capturedAmount": "20.00", "transactionId": "t1", "balance": "80.00",
        "available": "80.00", "currency": "USD"}  # fmt: skip
VARIABLES = {"request": REQUEST, "lock": LOCK}
RESULT = {"StatusCode": 200, "Payload": {"request": REQUEST, "lock": LOCK, "hold": HOLD,
                                         "replayed": False}}  # fmt: skip
TASKS = ("PlaceHold", "CaptureHold", "VoidHold")

# (state, error, attempts its Retry allows, where its Catch goes)
RETRIED = [
    ("AcquireHoldLock", "UserBusyError", 1, "ReadUserAfterFailure"),
    ("AcquireHoldLock", "StorageThrottledError", 2, "ReadUserAfterFailure"),
    *[(task, "StorageThrottledError", 2, "ReleaseLockAfterFailure") for task in TASKS],
    *[(task, "Lambda.ServiceException", 2, "ReleaseLockAfterFailure") for task in TASKS],
    ("ReleaseLock", "DynamoDB.ThrottlingException", 1, "HoldSucceeded"),
    ("ReleaseLockAfterFailure", "States.Timeout", 1, "HoldFailed"),
]
NOT_RETRIED = [
    ("AcquireHoldLock", "ValidationError", "HoldFailed"),
    ("AcquireHoldLock", "InjectedFaultError", "ReadUserAfterFailure"),
    ("PlaceHold", "InsufficientFundsError", "ReleaseLockAfterFailure"),
    ("PlaceHold", "IdempotencyKeyReusedError", "ReleaseLockAfterFailure"),
    ("CaptureHold", "HoldAmountExceededError", "ReleaseLockAfterFailure"),
    ("CaptureHold", "HoldNotPendingError", "ReleaseLockAfterFailure"),
    ("CaptureHold", "NotFoundError", "ReleaseLockAfterFailure"),
    ("VoidHold", "HoldNotPendingError", "ReleaseLockAfterFailure"),
    ("VoidHold", "LockLostError", "ReleaseLockAfterFailure"),
    ("ReleaseLock", "DynamoDB.ConditionalCheckFailedException", "HoldSucceeded"),
    ("ReleaseLockAfterFailure", "DynamoDB.ConditionalCheckFailedException", "HoldFailed"),
]
NEXT_STATE = {
    "AcquireHoldLock": "ChooseOperation",
    "PlaceHold": "ReleaseLock",
    "CaptureHold": "ReleaseLock",
    "VoidHold": "ReleaseLock",
    "ReleaseLock": "HoldSucceeded",
    "ReleaseLockAfterFailure": "HoldFailed",
}
RELEASES = ("ReleaseLock", "ReleaseLockAfterFailure")


@pytest.fixture(scope="module")
def stepfunctions() -> Iterator[Any]:
    with LocalAws() as runtime, serving_endpoint(runtime) as url:
        yield stepfunctions_client(url)


@pytest.fixture(scope="module")
def definition() -> str:
    return Template.load().state_machines["HoldStateMachine"].definition


def run_state(client: Any, definition: str, state: str, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("variables", json.dumps(VARIABLES))
    return client.test_state(
        definition=definition, stateName=state, input=json.dumps(STATE_INPUT),
        inspectionLevel="DEBUG", **kwargs,
    )  # fmt: skip


def variables_after(answer: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(answer["inspectionData"]["variables"]))


@pytest.mark.parametrize(
    ("state", "error", "attempts", "catch_next"), RETRIED, ids=[f"{s}-{e}" for s, e, *_ in RETRIED]
)
def test_retried_error_is_retriable_until_attempts_run_out_then_caught(
    stepfunctions, definition, state, error, attempts, catch_next
):
    for retries_so_far in range(attempts):
        answer = run_state(
            stepfunctions, definition, state, mock=error_mock(error),
            stateConfiguration={"retrierRetryCount": retries_so_far},
        )  # fmt: skip
        assert (answer["status"], answer["error"]) == ("RETRIABLE", error), retries_so_far

    answer = run_state(
        stepfunctions, definition, state, mock=error_mock(error),
        stateConfiguration={"retrierRetryCount": attempts},
    )  # fmt: skip
    assert (answer["status"], answer["nextState"]) == ("CAUGHT_ERROR", catch_next)


@pytest.mark.parametrize(
    ("state", "error", "catch_next"), NOT_RETRIED, ids=[f"{s}-{e}" for s, e, _ in NOT_RETRIED]
)
def test_error_no_retrier_takes_is_caught_at_once(
    stepfunctions, definition, state, error, catch_next
):
    answer = run_state(stepfunctions, definition, state, mock=error_mock(error))

    assert (answer["status"], answer["nextState"]) == ("CAUGHT_ERROR", catch_next)
    after = variables_after(answer)
    if error == "DynamoDB.ConditionalCheckFailedException":
        assert after == VARIABLES  # a lock no longer ours counts as released
    elif state in RELEASES:
        kept = "releaseError" if state == "ReleaseLock" else "compensationError"
        assert after[kept] == {"Error": error, "Cause": f"{error} in a test"}
        assert "error" not in after
    else:
        assert after["error"] == {"Error": error, "Cause": f"{error} in a test"}


@pytest.mark.parametrize("state", list(NEXT_STATE))
def test_a_result_goes_to_the_next_state(stepfunctions, definition, state):
    result: dict[str, Any] = {} if state in RELEASES else RESULT
    answer = run_state(stepfunctions, definition, state, mock={"result": json.dumps(result)})

    assert (answer["status"], answer["nextState"]) == ("SUCCEEDED", NEXT_STATE[state])


def test_acquire_sends_the_operation_and_raw_request_and_assigns_the_request_and_lock(
    stepfunctions, definition
):
    answer = run_state(
        stepfunctions, definition, "AcquireHoldLock", mock={"result": json.dumps(RESULT)},
        variables="{}",
    )  # fmt: skip

    payload = json.loads(answer["inspectionData"]["afterArguments"])["Payload"]
    assert {k: payload[k] for k in ("operation", "holdId", "body", "idempotencyKey")} == {
        "operation": "capture", "holdId": "h1", "body": BODY, "idempotencyKey": ""}  # fmt: skip
    assert payload["executionId"] and payload["startedAt"]
    assert variables_after(answer) == {"request": REQUEST, "lock": LOCK}


@pytest.mark.parametrize("task", TASKS)
def test_each_write_sends_the_request_and_the_lock_and_keeps_its_answer(
    stepfunctions, definition, task
):
    answer = run_state(stepfunctions, definition, task, mock={"result": json.dumps(RESULT)})

    payload = json.loads(answer["inspectionData"]["afterArguments"])["Payload"]
    assert (payload["request"], payload["lock"]) == (REQUEST, LOCK)
    assert payload["executionId"]
    assert variables_after(answer)["result"] == RESULT["Payload"]


@pytest.mark.parametrize(
    ("operation", "next_state"),
    [("place", "PlaceHold"), ("capture", "CaptureHold"), ("void", "VoidHold")],
)
def test_choose_operation_goes_to_the_operations_write(
    stepfunctions, definition, operation, next_state
):
    variables = {**VARIABLES, "request": {**REQUEST, "operation": operation}}
    answer = run_state(
        stepfunctions, definition, "ChooseOperation", variables=json.dumps(variables)
    )

    assert answer["nextState"] == next_state


@pytest.mark.parametrize("state", RELEASES)
def test_each_release_is_one_conditional_update_item_of_the_user(stepfunctions, definition, state):
    answer = run_state(stepfunctions, definition, state, mock={"result": "{}"})

    arguments = json.loads(answer["inspectionData"]["afterArguments"])
    assert arguments["TableName"] == "AggregatesTable"
    assert arguments["Key"] == {"userId": {"S": "u"}}
    assert arguments["UpdateExpression"] == "REMOVE lockOwner, leaseUntil"
    assert arguments["ConditionExpression"] == "lockOwner = :owner"


def test_a_failed_acquire_reads_the_user_from_the_body(stepfunctions, definition):
    answer = run_state(stepfunctions, definition, "ReadUserAfterFailure", variables="{}")

    assert answer["nextState"] == "ReleaseLockAfterFailure"
    assert variables_after(answer)["request"] == {"userId": "u"}


def test_success_answers_the_result_and_failure_re_raises_the_original_error(
    stepfunctions, definition
):
    result = {"hold": HOLD, "replayed": True}
    succeeded = run_state(
        stepfunctions, definition, "HoldSucceeded", variables=json.dumps({"result": result})
    )
    error = {"Error": "HoldNotPendingError", "Cause": "the hold is voided"}
    failed = run_state(
        stepfunctions, definition, "HoldFailed", variables=json.dumps({"error": error})
    )

    assert json.loads(succeeded["output"]) == result
    assert (failed["status"], failed["error"], failed["cause"]) == (
        "FAILED", "HoldNotPendingError", "the hold is voided")  # fmt: skip
