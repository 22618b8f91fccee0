"""Each task's Retry and Catch of the real ASL, one state at a time, through TestState.

The state is taken from the template's definition (`stateName`), its Lambda call mocked with an
error or a result (a Lambda's, or for the releases DynamoDB's own UpdateItem), and the answer is
AWS's: RETRIABLE while a retrier has attempts left (which
one, and the wait), then CAUGHT_ERROR (the catcher's next state, the error in its slot), and
SUCCEEDED with the next state for a result. Sent with boto3 to the Step Functions endpoint the
tier runs on: the local one, or STEPFUNCTIONS_ENDPOINT (tests/statemachine/conftest.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from infra.local.aws_endpoint import serving_endpoint
from infra.local.cloudformation.template import Template
from infra.local.runtime import LocalAws
from infra.local.stepfunctions.provision import stepfunctions_client
from tests.builders import error_mock
from tests.statemachine.conftest import ENDPOINT, serving_for_another_endpoint

LAMBDA_ERRORS = "Lambda.ServiceException"
STATE_INPUT: dict[str, Any] = {
    "body": '{"userId": "u1", "ammount": "10", "type": "credit"}',
    "idempotencyKey": "k1",
    "request": {"userId": "u1", "idempotencyKey": "k1", "type": "credit", "amount": "10.00"},
    "lock": {"balance": "100.00", "lastSequence": 0, "holds": [], "leaseUntil": 1},
    "put": {"transactionId": "t1", "createdAt": "2026-12-01T00:00:00.000Z", "replay": None},
}
# A Lambda result with every field some task's ResultSelector reads
RESULT = {
    "StatusCode": 200,
    "Payload": {
        "request": STATE_INPUT["request"],
        "lock": STATE_INPUT["lock"],
        "transactionId": "t1",
        "createdAt": "2026-12-01T00:00:00.000Z",
        "replay": None,
        "transaction": {"balance": "110.00"},
        "replayed": False,
    },
}
# What DynamoDB's UpdateItem answers without ReturnValues.
UPDATE_ITEM_RESULT: dict[str, Any] = {}
DYNAMODB_TASKS = ("ReleaseLock", "ReleaseLockAfterFailure")

# (state, error, attempts its Retry allows, where its Catch goes, the slot the error lands in)
RETRIED = [
    # AcquireLock waits for a held lock itself; Step Functions retries its UserBusyError once
    ("AcquireLock", "UserBusyError", 1, "ReadRequestAfterFailure", "error"),
    ("AcquireLock", "StorageThrottledError", 2, "ReadRequestAfterFailure", "error"),
    ("PutTransaction", "Lambda.TooManyRequestsException", 2, "DeleteTransaction", "error"),
    ("UpdateBalance", "StorageThrottledError", 2, "DeleteTransaction", "error"),
    ("ReleaseLock", "DynamoDB.InternalServerError", 2, "ReleaseLockAfterFailure", "error"),
    ("ReleaseLock", "DynamoDB.ThrottlingException", 2, "ReleaseLockAfterFailure", "error"),
    ("DeleteTransaction", "Sandbox.Timedout", 2, "ReleaseLockAfterFailure", "compensationError"),
    ("ReleaseLockAfterFailure", "States.Timeout", 2, "IsCommitted", "compensationError"),
    (
        "ReleaseLockAfterFailure",
        "DynamoDB.RequestLimitExceeded",
        2,
        "IsCommitted",
        "compensationError",
    ),
]
# Errors no Retry takes: caught at once (a crash of the function, the domain's refusals)
NOT_RETRIED = [
    # An invalid request took no lock: nothing to release.
    ("AcquireLock", "ValidationError", "TransactionFailed", "error"),
    ("AcquireLock", "InjectedFaultError", "ReadRequestAfterFailure", "error"),
    ("PutTransaction", "IdempotencyKeyReusedError", "DeleteTransaction", "error"),
    ("UpdateBalance", "InsufficientFundsError", "DeleteTransaction", "error"),
    ("UpdateBalance", "LockLostError", "DeleteTransaction", "error"),
    ("ReleaseLock", "DynamoDB.ResourceNotFoundException", "ReleaseLockAfterFailure", "error"),
    ("DeleteTransaction", "LockLostError", "ReleaseLockAfterFailure", "compensationError"),
    (
        "ReleaseLockAfterFailure",
        "DynamoDB.ResourceNotFoundException",
        "IsCommitted",
        "compensationError",
    ),
]
NEXT_STATE = {
    "AcquireLock": "PutTransaction",
    "PutTransaction": "IsReplay",
    "UpdateBalance": "ReleaseLock",
    "ReleaseLock": "TransactionSucceeded",
    "DeleteTransaction": "ReleaseLockAfterFailure",
    "ReleaseLockAfterFailure": "IsCommitted",
}


@pytest.fixture(scope="module")
def stepfunctions() -> Iterator[Any]:
    with LocalAws() as runtime:
        if not ENDPOINT:
            with serving_endpoint(runtime) as url:
                yield stepfunctions_client(url)
            return
        with serving_for_another_endpoint(runtime):
            client = stepfunctions_client(ENDPOINT)
            skip_without_test_state(client)
            yield client


@pytest.fixture(scope="module")
def definition() -> str:
    return Template.load().state_machines["TransactionStateMachine"].definition


def skip_without_test_state(client: Any) -> None:
    try:
        client.test_state(definition='{"Type": "Pass", "End": true}')
    except ClientError as error:
        if error.response["Error"]["Code"] in ("UnknownOperationException", "UnknownOperation"):
            pytest.skip(f"{ENDPOINT} has no TestState (Step Functions Local has none)")
        raise


def run_state(client: Any, definition: str, state: str, **kwargs: Any) -> dict[str, Any]:
    return client.test_state(
        definition=definition,
        stateName=state,
        input=json.dumps(STATE_INPUT),
        inspectionLevel="DEBUG",
        **kwargs,
    )


def catch_index(definition: str, state: str, error: str) -> int:
    """The first catcher of `state` that takes `error`, as Step Functions picks it."""
    catchers = json.loads(definition)["States"][state]["Catch"]
    return next(
        index
        for index, catcher in enumerate(catchers)
        if error in catcher["ErrorEquals"] or catcher["ErrorEquals"] == ["States.ALL"]
    )


@pytest.mark.parametrize(
    ("state", "error", "attempts", "catch_next", "slot"),
    RETRIED,
    ids=[f"{s}-{e}" for s, e, *_ in RETRIED],
)
def test_retried_error_is_retriable_until_attempts_run_out_then_caught(
    stepfunctions, definition, state, error, attempts, catch_next, slot
):
    for retries_so_far in range(attempts):
        answer = run_state(
            stepfunctions,
            definition,
            state,
            mock=error_mock(error),
            stateConfiguration={"retrierRetryCount": retries_so_far},
        )
        assert answer["status"] == "RETRIABLE", (retries_so_far, answer)
        assert answer["error"] == error
        assert "output" not in answer and "nextState" not in answer

    answer = run_state(
        stepfunctions,
        definition,
        state,
        mock=error_mock(error),
        stateConfiguration={"retrierRetryCount": attempts},
    )
    assert answer["status"] == "CAUGHT_ERROR"
    assert answer["nextState"] == catch_next
    assert answer["inspectionData"]["errorDetails"]["catchIndex"] == catch_index(
        definition, state, error
    )
    output = json.loads(answer["output"])
    assert output[slot] == {"Error": error, "Cause": f"{error} in a test"}
    assert {key: output[key] for key in STATE_INPUT} == STATE_INPUT  # the input is kept


@pytest.mark.parametrize(
    ("state", "error", "catch_next", "slot"),
    NOT_RETRIED,
    ids=[f"{s}-{e}" for s, e, *_ in NOT_RETRIED],
)
def test_error_no_retrier_takes_is_caught_at_once(
    stepfunctions, definition, state, error, catch_next, slot
):
    answer = run_state(stepfunctions, definition, state, mock=error_mock(error))

    assert answer["status"] == "CAUGHT_ERROR"
    assert answer["nextState"] == catch_next
    assert json.loads(answer["output"])[slot]["Error"] == error


def test_lock_busy_waits_follow_the_readme(stepfunctions, definition):
    """As documented: after AcquireLock's own wait, UserBusyError is retried once, after up to 1 s,
    by the first retrier; the next one is caught."""
    retried = run_state(
        stepfunctions,
        definition,
        "AcquireLock",
        mock=error_mock("UserBusyError"),
        stateConfiguration={"retrierRetryCount": 0},
    )
    assert retried["status"] == "RETRIABLE"
    assert retried["inspectionData"]["errorDetails"] == {
        "retryIndex": 0,
        "retryBackoffIntervalSeconds": 1,
    }

    caught = run_state(
        stepfunctions,
        definition,
        "AcquireLock",
        mock=error_mock("UserBusyError"),
        stateConfiguration={"retrierRetryCount": 1},
    )
    assert caught["status"] == "CAUGHT_ERROR"
    assert caught["nextState"] == "ReadRequestAfterFailure"
    assert caught["inspectionData"]["errorDetails"]["catchIndex"] == 1


def test_storage_throttling_of_the_lock_is_its_second_retrier(stepfunctions, definition):
    answer = run_state(
        stepfunctions, definition, "AcquireLock", mock=error_mock("StorageThrottledError")
    )

    assert answer["inspectionData"]["errorDetails"] == {
        "retryIndex": 1,
        "retryBackoffIntervalSeconds": 1,
    }


@pytest.mark.parametrize("state", list(NEXT_STATE))
def test_a_result_goes_to_the_next_state(stepfunctions, definition, state):
    result = UPDATE_ITEM_RESULT if state in DYNAMODB_TASKS else RESULT
    answer = run_state(stepfunctions, definition, state, mock={"result": json.dumps(result)})

    assert answer["status"] == "SUCCEEDED"
    assert answer["nextState"] == NEXT_STATE[state]


def test_lock_result_becomes_the_request_and_the_lock(stepfunctions, definition):
    lock = {"balance": "42.00", "lastSequence": 3, "holds": [], "leaseUntil": 7}
    result = {"StatusCode": 200, "Payload": {"request": STATE_INPUT["request"], "lock": lock}}
    answer = run_state(
        stepfunctions, definition, "AcquireLock", mock={"result": json.dumps(result)}
    )

    # ResultPath "$": the raw body and key are left behind, the parsed request goes on.
    assert json.loads(answer["output"]) == {"request": STATE_INPUT["request"], "lock": lock}
    payload = json.loads(answer["inspectionData"]["afterParameters"])["Payload"]
    assert (payload["body"], payload["idempotencyKey"]) == (STATE_INPUT["body"], "k1")


@pytest.mark.parametrize("state", DYNAMODB_TASKS)
def test_a_release_is_one_conditional_update_item_and_its_result_is_discarded(
    stepfunctions, definition, state
):
    answer = run_state(
        stepfunctions, definition, state, mock={"result": json.dumps(UPDATE_ITEM_RESULT)}
    )

    assert json.loads(answer["output"]) == STATE_INPUT  # ResultPath: null
    parameters = json.loads(answer["inspectionData"]["afterParameters"])
    assert parameters["TableName"] == "AggregatesTable"
    assert parameters["Key"] == {"userId": {"S": "u1"}}
    assert parameters["ConditionExpression"] == "lockOwner = :owner"
    assert parameters["ExpressionAttributeValues"][":owner"]["S"]  # the execution's id


@pytest.mark.parametrize(
    ("state", "next_state"),
    [("ReleaseLock", "TransactionSucceeded"), ("ReleaseLockAfterFailure", "IsCommitted")],
)
def test_a_lock_no_longer_ours_counts_as_released(stepfunctions, definition, state, next_state):
    answer = run_state(
        stepfunctions,
        definition,
        state,
        mock=error_mock("DynamoDB.ConditionalCheckFailedException"),
    )

    assert (answer["status"], answer["nextState"]) == ("CAUGHT_ERROR", next_state)
    assert json.loads(answer["output"]) == STATE_INPUT  # ResultPath: null, nothing kept


def test_without_a_mock_the_release_frees_only_its_own_lock(stepfunctions, definition):
    """Unmocked, the state calls DynamoDB itself: another owner's lock is a conditional check
    that fails, and caught as released; nothing is freed."""
    answer = run_state(stepfunctions, definition, "ReleaseLock")

    assert answer["status"] == "CAUGHT_ERROR"
    assert answer["error"] == "DynamoDB.ConditionalCheckFailedException"
    assert answer["nextState"] == "TransactionSucceeded"


def test_a_failed_lock_reads_the_user_from_the_body(stepfunctions, definition):
    failed = {"body": STATE_INPUT["body"], "idempotencyKey": "k1", "error": {"Error": "E"}}
    answer = stepfunctions.test_state(
        definition=definition, stateName="ReadRequestAfterFailure", input=json.dumps(failed)
    )

    output = json.loads(answer["output"])
    assert output == {"request": json.loads(STATE_INPUT["body"]), "error": {"Error": "E"}}
    assert answer["nextState"] == "ReleaseLockAfterFailure"


def test_without_a_mock_the_real_handler_runs(stepfunctions, definition):
    invalid = {**STATE_INPUT, "body": '{"userId": "u1", "ammount": "1.001", "type": "credit"}'}
    answer = stepfunctions.test_state(
        definition=definition, stateName="AcquireLock", input=json.dumps(invalid)
    )

    assert answer["status"] == "CAUGHT_ERROR"
    assert answer["error"] == "ValidationError"
    assert answer["nextState"] == "TransactionFailed"
    assert "ammount" in json.loads(answer["cause"])["errorMessage"]
