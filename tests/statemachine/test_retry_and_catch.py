"""Each task's Retry and Catch of the real ASL, one state at a time, through TestState.

The state is taken from the template's definition (`stateName`), started with the variables the
states before it assigned, its Lambda call mocked with an error or a result (a Lambda's, or for
the releases DynamoDB's own UpdateItem), and the answer is AWS's: RETRIABLE while a retrier has
attempts left (which one, and the wait), then CAUGHT_ERROR (the catcher's next state, the error
in its variable), and SUCCEEDED with the next state for a result. Sent with boto3 to the Step
Functions endpoint the tier runs on: the local one, or STEPFUNCTIONS_ENDPOINT
(tests/statemachine/conftest.py).
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
# The execution's input, as API Gateway's request template builds it.
STATE_INPUT: dict[str, Any] = {
    "body": '{"userId": "u1", "ammount": "10", "type": "credit"}',
    "idempotencyKey": "k1",
    "requestId": "r1",
}
# What the states before a given one have assigned.
VARIABLES: dict[str, Any] = {
    "request": {"userId": "u1", "idempotencyKey": "k1", "type": "credit", "amount": "10.00"},
    "lock": {"balance": "100.00", "lastSequence": 0, "holds": [], "leaseUntil": 1},
    "put": {"transactionId": "t1", "createdAt": "2026-12-01T00:00:00.000Z", "replay": None},
}
# A Lambda result with every field some task's Assign reads
RESULT = {
    "StatusCode": 200,
    "Payload": {
        "request": VARIABLES["request"],
        "lock": VARIABLES["lock"],
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

# (state, error, attempts its Retry allows, where its Catch goes, the variable the error lands in)
RETRIED = [
    # AcquireLock waits for a held lock itself; Step Functions retries its UserBusyError once
    ("AcquireLock", "UserBusyError", 1, "ReadRequestAfterFailure", "error"),
    ("AcquireLock", "StorageThrottledError", 2, "ReadRequestAfterFailure", "error"),
    ("PutTransaction", "Lambda.TooManyRequestsException", 2, "DeleteTransaction", "error"),
    ("UpdateBalance", "StorageThrottledError", 2, "DeleteTransaction", "error"),
    ("ReleaseLock", "DynamoDB.InternalServerError", 2, "ReleaseLockAfterFailure", "releaseError"),
    ("ReleaseLock", "DynamoDB.ThrottlingException", 2, "ReleaseLockAfterFailure", "releaseError"),
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
    (
        "ReleaseLock",
        "DynamoDB.ResourceNotFoundException",
        "ReleaseLockAfterFailure",
        "releaseError",
    ),
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
        variables=json.dumps(VARIABLES),
        inspectionLevel="DEBUG",
        **kwargs,
    )


def variables_after(answer: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(answer["inspectionData"]["variables"]))


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
    after = variables_after(answer)
    assert after[slot] == {"Error": error, "Cause": f"{error} in a test"}
    assert {key: after[key] for key in VARIABLES} == VARIABLES  # what was assigned is kept
    if catch_next == "ReadRequestAfterFailure":
        assert json.loads(answer["output"]) == STATE_INPUT  # the raw body goes on


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
    assert variables_after(answer)[slot]["Error"] == error


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
    result = {"StatusCode": 200, "Payload": {"request": VARIABLES["request"], "lock": lock}}
    answer = stepfunctions.test_state(
        definition=definition,
        stateName="AcquireLock",
        input=json.dumps(STATE_INPUT),
        inspectionLevel="DEBUG",
        mock={"result": json.dumps(result)},
    )

    # The raw body and key are sent; the parsed request and the lock are what later states read.
    assert variables_after(answer) == {"request": VARIABLES["request"], "lock": lock}
    payload = json.loads(answer["inspectionData"]["afterArguments"])["Payload"]
    assert (payload["body"], payload["idempotencyKey"]) == (STATE_INPUT["body"], "k1")
    assert payload["executionId"] and payload["startedAt"]


@pytest.mark.parametrize(
    "holds",
    [[], [{"holdId": "h-1", "amount": "30.00", "expiresAt": "2026-12-02T00:00:00.000Z"}]],
    ids=["none", "one"],
)
def test_update_balance_sends_the_account_the_lock_saw_with_its_holds(
    stepfunctions, definition, holds
):
    variables = {**VARIABLES, "lock": {**VARIABLES["lock"], "holds": holds}}
    answer = stepfunctions.test_state(
        definition=definition,
        stateName="UpdateBalance",
        input=json.dumps(STATE_INPUT),
        variables=json.dumps(variables),
        inspectionLevel="DEBUG",
        mock={"result": json.dumps(RESULT)},
    )

    payload = json.loads(answer["inspectionData"]["afterArguments"])["Payload"]
    assert {k: payload[k] for k in ("request", "balance", "lastSequence", "holds")} == {
        "request": VARIABLES["request"], "balance": "100.00", "lastSequence": 0, "holds": holds,
    }  # fmt: skip
    assert payload["transactionId"] == "t1" and payload["executionId"]


@pytest.mark.parametrize("state", DYNAMODB_TASKS)
def test_a_release_is_one_conditional_update_item_and_its_result_is_discarded(
    stepfunctions, definition, state
):
    answer = run_state(
        stepfunctions, definition, state, mock={"result": json.dumps(UPDATE_ITEM_RESULT)}
    )

    assert variables_after(answer) == VARIABLES  # its result is kept nowhere
    arguments = json.loads(answer["inspectionData"]["afterArguments"])
    assert arguments["TableName"] == "AggregatesTable"
    assert arguments["Key"] == {"userId": {"S": "u1"}}
    assert arguments["UpdateExpression"] == "REMOVE lockOwner, leaseUntil"
    assert arguments["ConditionExpression"] == "lockOwner = :owner"
    assert arguments["ExpressionAttributeValues"][":owner"]["S"]  # the execution's id


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
    assert variables_after(answer) == VARIABLES  # nothing failed, nothing kept


def test_without_a_mock_the_release_frees_only_its_own_lock(stepfunctions, definition):
    """Unmocked, the state calls DynamoDB itself: another owner's lock is a conditional check
    that fails, and caught as released; nothing is freed."""
    answer = run_state(stepfunctions, definition, "ReleaseLock")

    assert answer["status"] == "CAUGHT_ERROR"
    assert answer["error"] == "DynamoDB.ConditionalCheckFailedException"
    assert answer["nextState"] == "TransactionSucceeded"


def test_a_failed_lock_reads_the_user_from_the_body(stepfunctions, definition):
    answer = stepfunctions.test_state(
        definition=definition,
        stateName="ReadRequestAfterFailure",
        input=json.dumps(STATE_INPUT),
        variables=json.dumps({"error": {"Error": "E"}}),
        inspectionLevel="DEBUG",
    )

    after = variables_after(answer)
    assert after == {"request": json.loads(STATE_INPUT["body"]), "error": {"Error": "E"}}
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


TRANSACTION = {"transactionId": "t1", "userId": "u1", "type": "credit", "amount": "10.00",
               "balance": "110.00", "createdAt": "2026-12-01T00:00:00.000Z"}  # fmt: skip


@pytest.mark.parametrize(
    ("replay", "next_state"),
    [(None, "UpdateBalance"), (TRANSACTION, "ReturnStoredResult")],
    ids=["new", "replay"],
)
def test_is_replay_chooses_by_the_stored_transaction(stepfunctions, definition, replay, next_state):
    answer = stepfunctions.test_state(
        definition=definition,
        stateName="IsReplay",
        input="{}",
        variables=json.dumps({**VARIABLES, "put": {**VARIABLES["put"], "replay": replay}}),
    )

    assert answer["nextState"] == next_state


def test_a_replay_answers_the_stored_transaction(stepfunctions, definition):
    answer = stepfunctions.test_state(
        definition=definition,
        stateName="ReturnStoredResult",
        input="{}",
        variables=json.dumps({**VARIABLES, "put": {**VARIABLES["put"], "replay": TRANSACTION}}),
        inspectionLevel="DEBUG",
    )

    assert answer["nextState"] == "ReleaseLock"
    assert variables_after(answer)["result"] == {"transaction": TRANSACTION, "replayed": True}


@pytest.mark.parametrize(
    ("variables", "next_state"),
    [
        ({"error": {"Error": "InsufficientFundsError", "Cause": "c"}}, "TransactionFailed"),
        (
            {"result": {"transaction": TRANSACTION, "replayed": False},
             "releaseError": {"Error": "DynamoDB.InternalServerError", "Cause": "c"}},
            "TransactionSucceeded",
        ),
    ],
    ids=["failed-before-the-commit", "release-failed-after-the-commit"],
)  # fmt: skip
def test_is_committed_chooses_by_the_result(stepfunctions, definition, variables, next_state):
    answer = stepfunctions.test_state(
        definition=definition,
        stateName="IsCommitted",
        input="{}",
        variables=json.dumps(variables),
    )

    assert answer["nextState"] == next_state


def test_success_answers_the_result_and_failure_re_raises_the_original_error(
    stepfunctions, definition
):
    result = {"transaction": TRANSACTION, "replayed": False}
    succeeded = stepfunctions.test_state(
        definition=definition,
        stateName="TransactionSucceeded",
        input="{}",
        variables=json.dumps({"result": result}),
    )
    failed = stepfunctions.test_state(
        definition=definition,
        stateName="TransactionFailed",
        input="{}",
        variables=json.dumps({"error": {"Error": "InsufficientFundsError", "Cause": "c"}}),
    )

    assert json.loads(succeeded["output"]) == result
    assert (failed["status"], failed["error"], failed["cause"]) == (
        "FAILED",
        "InsufficientFundsError",
        "c",
    )
