"""The transfer machine's states, one at a time, through TestState: the Retry and Catch expected
of each task (run for every machine by test_states_of_every_machine.py), and what only this
machine has: two locks, taken and released in the global order."""

from __future__ import annotations

import json

import pytest

from tests.statemachine.conftest import EMBEDDED_RUNTIME_ONLY
from tests.statemachine.teststate import Caught, Machine, Retried, payload_sent, variables_after

pytestmark = EMBEDDED_RUNTIME_ONLY

BODY = '{"fromUserId": "b", "toUserId": "a", "amount": "25.00"}'
STATE_INPUT = {"body": BODY, "idempotencyKey": "t-1", "requestId": "r-1"}
REQUEST = {"fromUserId": "b", "toUserId": "a", "idempotencyKey": "t-1", "amount": "25.00"}
LOCKS = {
    "a": {"balance": "100.00", "lastSequence": 0, "leaseUntil": 1},
    "b": {"balance": "100.00", "lastSequence": 2, "leaseUntil": 1},
}
PUT = {"transferId": "t1", "createdAt": "2026-12-01T00:00:00.000Z", "replay": None}
TRANSFER_RECORD = {"transferId": "t1", "fromUserId": "b", "toUserId": "a",
                   "amount": "25.00", "currency": "USD", "balance": "75.00",
                   "createdAt": PUT["createdAt"]}  # fmt: skip
# What the states before a given one have assigned.
VARIABLES = {"request": REQUEST, "lockOrder": ["a", "b"], "locks": LOCKS, "put": PUT}
RESULT = {"StatusCode": 200, "Payload": {"request": REQUEST, "lockOrder": ["a", "b"],
          "locks": LOCKS, **PUT, "transfer": TRANSFER_RECORD, "replayed": False}}  # fmt: skip

TRANSFER = Machine(
    logical_id="TransferStateMachine",
    state_input=STATE_INPUT,
    variables=VARIABLES,
    lambda_result=RESULT,
    acquired=("request", "lockOrder", "locks"),
    read_after_failure="ReadUsersAfterFailure",
    release_users={"ReleaseSecondLock": "b", "ReleaseFirstLock": "a",
                   "ReleaseSecondLockAfterFailure": "b", "ReleaseFirstLockAfterFailure": "a"},
    retried=[
        Retried("AcquireLocks", "UserBusyError", 1, "ReadUsersAfterFailure", "error"),
        Retried("AcquireLocks", "StorageThrottledError", 2, "ReadUsersAfterFailure", "error"),
        Retried("PutTransfer", "Lambda.TooManyRequestsException", 2, "DeleteTransfer", "error"),
        Retried("CommitTransfer", "StorageThrottledError", 2, "DeleteTransfer", "error"),
        Retried("DeleteTransfer", "Sandbox.Timedout", 2, "ReleaseSecondLockAfterFailure",
                "compensationError"),
        Retried("ReleaseSecondLock", "DynamoDB.ThrottlingException", 1, "ReleaseFirstLock",
                "releaseError"),
        Retried("ReleaseFirstLock", "DynamoDB.InternalServerError", 1, "TransferSucceeded",
                "releaseError"),
        Retried("ReleaseSecondLockAfterFailure", "States.Timeout", 1,
                "ReleaseFirstLockAfterFailure", "compensationError"),
        Retried("ReleaseFirstLockAfterFailure", "DynamoDB.RequestLimitExceeded", 1,
                "TransferFailed", "compensationError"),
    ],
    not_retried=[
        Caught("AcquireLocks", "ValidationError", "TransferFailed", "error"),
        Caught("AcquireLocks", "InjectedFaultError", "ReadUsersAfterFailure", "error"),
        Caught("PutTransfer", "IdempotencyKeyReusedError", "DeleteTransfer", "error"),
        Caught("PutTransfer", "LockLostError", "DeleteTransfer", "error"),
        Caught("CommitTransfer", "InsufficientFundsError", "DeleteTransfer", "error"),
        Caught("CommitTransfer", "LockLostError", "DeleteTransfer", "error"),
        Caught("DeleteTransfer", "StatesError", "ReleaseSecondLockAfterFailure",
               "compensationError"),
        Caught("ReleaseSecondLock", "DynamoDB.ResourceNotFoundException", "ReleaseFirstLock",
               "releaseError"),
    ],
    next_state={
        "AcquireLocks": "PutTransfer",
        "PutTransfer": "IsReplay",
        "CommitTransfer": "ReleaseSecondLock",
        "ReleaseSecondLock": "ReleaseFirstLock",
        "ReleaseFirstLock": "TransferSucceeded",
        "DeleteTransfer": "ReleaseSecondLockAfterFailure",
        "ReleaseSecondLockAfterFailure": "ReleaseFirstLockAfterFailure",
        "ReleaseFirstLockAfterFailure": "TransferFailed",
    },
    result={"transfer": TRANSFER_RECORD, "replayed": False},
    error={"Error": "InsufficientFundsError", "Cause": "c"},
)  # fmt: skip


def test_commit_sends_the_request_both_locks_and_the_record(stepfunctions):
    committed = {"StatusCode": 200, "Payload": {"transfer": TRANSFER_RECORD, "replayed": False}}
    answer = TRANSFER.run_state(
        stepfunctions, "CommitTransfer", mock={"result": json.dumps(committed)}
    )

    payload = payload_sent(answer)
    assert {k: payload[k] for k in ("request", "locks", "transferId", "createdAt")} == {
        "request": REQUEST, "locks": LOCKS, "transferId": "t1", "createdAt": PUT["createdAt"],
    }  # fmt: skip
    assert variables_after(answer)["result"] == {"transfer": TRANSFER_RECORD, "replayed": False}


def test_a_failed_acquire_reads_both_users_in_the_global_order(stepfunctions):
    answer = TRANSFER.run_state(stepfunctions, "ReadUsersAfterFailure", variables={})

    assert answer["nextState"] == "ReleaseSecondLockAfterFailure"
    assert variables_after(answer)["lockOrder"] == ["a", "b"]  # b -> a, sorted


@pytest.mark.parametrize(
    ("replay", "next_state"),
    [(None, "CommitTransfer"), (TRANSFER_RECORD, "ReturnStoredResult")],
    ids=["new", "replay"],
)
def test_is_replay_chooses_by_the_stored_transfer(stepfunctions, replay, next_state):
    answer = TRANSFER.run_state(
        stepfunctions, "IsReplay", variables={**VARIABLES, "put": {**PUT, "replay": replay}}
    )

    assert answer["nextState"] == next_state


def test_a_replay_answers_the_stored_transfer(stepfunctions):
    variables = {**VARIABLES, "put": {**PUT, "replay": TRANSFER_RECORD}}
    answer = TRANSFER.run_state(stepfunctions, "ReturnStoredResult", variables=variables)

    assert answer["nextState"] == "ReleaseSecondLock"
    assert variables_after(answer)["result"] == {"transfer": TRANSFER_RECORD, "replayed": True}
