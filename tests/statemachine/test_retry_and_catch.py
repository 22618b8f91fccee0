"""The transaction machine's states, one at a time, through TestState: the Retry and Catch
expected of each task (run for every machine by test_states_of_every_machine.py), and what only
this machine has.

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
from typing import Any

import pytest

from tests.builders import error_mock
from tests.statemachine.conftest import skip_without_test_state
from tests.statemachine.teststate import Caught, Machine, Retried, payload_sent, variables_after

__all__ = ["TRANSACTION", "skip_without_test_state"]  # the endpoint tier imports the skip from here

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
TRANSACTION_RECORD = {"transactionId": "t1", "userId": "u1", "type": "credit", "amount": "10.00",
                      "balance": "110.00", "createdAt": "2026-12-01T00:00:00.000Z"}  # fmt: skip
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

TRANSACTION = Machine(
    logical_id="TransactionStateMachine",
    state_input=STATE_INPUT,
    variables=VARIABLES,
    lambda_result=RESULT,
    acquired=("request", "lock"),
    read_after_failure="ReadRequestAfterFailure",
    release_users={"ReleaseLock": "u1", "ReleaseLockAfterFailure": "u1"},
    retried=[
        # AcquireLock waits for a held lock itself; Step Functions retries its UserBusyError once
        Retried("AcquireLock", "UserBusyError", 1, "ReadRequestAfterFailure", "error"),
        Retried("AcquireLock", "StorageThrottledError", 2, "ReadRequestAfterFailure", "error"),
        Retried("PutTransaction", "Lambda.TooManyRequestsException", 2, "DeleteTransaction",
                "error"),
        Retried("UpdateBalance", "StorageThrottledError", 2, "DeleteTransaction", "error"),
        Retried("ReleaseLock", "DynamoDB.InternalServerError", 2, "ReleaseLockAfterFailure",
                "releaseError"),
        Retried("ReleaseLock", "DynamoDB.ThrottlingException", 2, "ReleaseLockAfterFailure",
                "releaseError"),
        Retried("DeleteTransaction", "Sandbox.Timedout", 2, "ReleaseLockAfterFailure",
                "compensationError"),
        Retried("ReleaseLockAfterFailure", "States.Timeout", 2, "IsCommitted",
                "compensationError"),
        Retried("ReleaseLockAfterFailure", "DynamoDB.RequestLimitExceeded", 2, "IsCommitted",
                "compensationError"),
    ],
    not_retried=[
        # An invalid request took no lock: nothing to release.
        Caught("AcquireLock", "ValidationError", "TransactionFailed", "error"),
        Caught("AcquireLock", "InjectedFaultError", "ReadRequestAfterFailure", "error"),
        Caught("PutTransaction", "IdempotencyKeyReusedError", "DeleteTransaction", "error"),
        Caught("UpdateBalance", "InsufficientFundsError", "DeleteTransaction", "error"),
        Caught("UpdateBalance", "LockLostError", "DeleteTransaction", "error"),
        Caught("ReleaseLock", "DynamoDB.ResourceNotFoundException", "ReleaseLockAfterFailure",
               "releaseError"),
        Caught("DeleteTransaction", "LockLostError", "ReleaseLockAfterFailure",
               "compensationError"),
        Caught("ReleaseLockAfterFailure", "DynamoDB.ResourceNotFoundException", "IsCommitted",
               "compensationError"),
    ],
    next_state={
        "AcquireLock": "PutTransaction",
        "PutTransaction": "IsReplay",
        "UpdateBalance": "ReleaseLock",
        "ReleaseLock": "TransactionSucceeded",
        "DeleteTransaction": "ReleaseLockAfterFailure",
        "ReleaseLockAfterFailure": "IsCommitted",
    },
    result={"transaction": TRANSACTION_RECORD, "replayed": False},
    error={"Error": "InsufficientFundsError", "Cause": "c"},
    marks=(),
)  # fmt: skip


def test_lock_busy_waits_follow_the_readme(stepfunctions):
    """As documented: after AcquireLock's own wait, UserBusyError is retried once, after up to 1 s,
    by the first retrier; the next one is caught."""
    retried, caught = (
        TRANSACTION.run_state(
            stepfunctions,
            "AcquireLock",
            mock=error_mock("UserBusyError"),
            stateConfiguration={"retrierRetryCount": retries_so_far},
        )
        for retries_so_far in (0, 1)
    )

    assert retried["status"] == "RETRIABLE"
    assert retried["inspectionData"]["errorDetails"] == {
        "retryIndex": 0,
        "retryBackoffIntervalSeconds": 1,
    }
    assert caught["status"] == "CAUGHT_ERROR"
    assert caught["nextState"] == "ReadRequestAfterFailure"
    assert caught["inspectionData"]["errorDetails"]["catchIndex"] == 1


def test_storage_throttling_of_the_lock_is_its_second_retrier(stepfunctions):
    answer = TRANSACTION.run_state(
        stepfunctions, "AcquireLock", mock=error_mock("StorageThrottledError")
    )

    assert answer["inspectionData"]["errorDetails"] == {
        "retryIndex": 1,
        "retryBackoffIntervalSeconds": 1,
    }


@pytest.mark.parametrize(
    "holds",
    [[], [{"holdId": "h-1", "amount": "30.00", "expiresAt": "2026-12-02T00:00:00.000Z"}]],
    ids=["none", "one"],
)
def test_update_balance_sends_the_account_the_lock_saw_with_its_holds(stepfunctions, holds):
    variables = {**VARIABLES, "lock": {**VARIABLES["lock"], "holds": holds}}
    answer = TRANSACTION.run_state(
        stepfunctions, "UpdateBalance", variables=variables, mock={"result": json.dumps(RESULT)}
    )

    payload = payload_sent(answer)
    assert {k: payload[k] for k in ("request", "balance", "lastSequence", "holds")} == {
        "request": VARIABLES["request"], "balance": "100.00", "lastSequence": 0, "holds": holds,
    }  # fmt: skip
    assert payload["transactionId"] == "t1" and payload["executionId"]


def test_a_failed_lock_reads_the_user_from_the_body(stepfunctions):
    answer = TRANSACTION.run_state(
        stepfunctions, "ReadRequestAfterFailure", variables={"error": {"Error": "E"}}
    )

    after = variables_after(answer)
    assert after == {"request": json.loads(STATE_INPUT["body"]), "error": {"Error": "E"}}
    assert answer["nextState"] == "ReleaseLockAfterFailure"


def test_without_a_mock_the_real_handler_runs(stepfunctions):
    invalid = {**STATE_INPUT, "body": '{"userId": "u1", "ammount": "1.001", "type": "credit"}'}
    answer = stepfunctions.test_state(
        definition=TRANSACTION.definition, stateName="AcquireLock", input=json.dumps(invalid)
    )

    assert answer["status"] == "CAUGHT_ERROR"
    assert answer["error"] == "ValidationError"
    assert answer["nextState"] == "TransactionFailed"
    assert "ammount" in json.loads(answer["cause"])["errorMessage"]


@pytest.mark.parametrize(
    ("replay", "next_state"),
    [(None, "UpdateBalance"), (TRANSACTION_RECORD, "ReturnStoredResult")],
    ids=["new", "replay"],
)
def test_is_replay_chooses_by_the_stored_transaction(stepfunctions, replay, next_state):
    put = {**VARIABLES["put"], "replay": replay}
    answer = TRANSACTION.run_state(stepfunctions, "IsReplay", variables={**VARIABLES, "put": put})

    assert answer["nextState"] == next_state


def test_a_replay_answers_the_stored_transaction(stepfunctions):
    put = {**VARIABLES["put"], "replay": TRANSACTION_RECORD}
    answer = TRANSACTION.run_state(
        stepfunctions, "ReturnStoredResult", variables={**VARIABLES, "put": put}
    )

    assert answer["nextState"] == "ReleaseLock"
    assert variables_after(answer)["result"] == {
        "transaction": TRANSACTION_RECORD,
        "replayed": True,
    }


@pytest.mark.parametrize(
    ("variables", "next_state"),
    [
        ({"error": {"Error": "InsufficientFundsError", "Cause": "c"}}, "TransactionFailed"),
        (
            {"result": {"transaction": TRANSACTION_RECORD, "replayed": False},
             "releaseError": {"Error": "DynamoDB.InternalServerError", "Cause": "c"}},
            "TransactionSucceeded",
        ),
    ],
    ids=["failed-before-the-commit", "release-failed-after-the-commit"],
)  # fmt: skip
def test_is_committed_chooses_by_the_result(stepfunctions, variables, next_state):
    answer = TRANSACTION.run_state(stepfunctions, "IsCommitted", variables=variables)

    assert answer["nextState"] == next_state
