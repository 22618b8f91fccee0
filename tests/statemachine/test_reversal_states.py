"""The reversal machine's states, one at a time, through TestState: the Retry and Catch expected
of each task (run for every machine by test_states_of_every_machine.py), and what only this
machine has: the reversal sent with the account the lock saw."""

from __future__ import annotations

import json

from tests.statemachine.conftest import EMBEDDED_RUNTIME_ONLY
from tests.statemachine.teststate import Caught, Machine, Retried, payload_sent, variables_after

pytestmark = EMBEDDED_RUNTIME_ONLY

BODY = '{"userId": "u"}'
STATE_INPUT = {"body": BODY, "transactionId": "tx-1", "requestId": "r-1"}
REQUEST = {"userId": "u", "transactionId": "tx-1"}
HOLD = {"holdId": "h-1", "amount": "30.00", "expiresAt": "2026-12-02T00:00:00.000Z"}
LOCK = {"balance": "110.00", "lastSequence": 1, "holds": [HOLD], "leaseUntil": 1}
REVERSAL_RECORD = {"transactionId": "rv-1", "userId": "u", "type": "debit", "amount": "10.00",
                   "balance": "100.00", "currency": "USD", "createdAt": "2026-12-01T00:00:00.000Z",
                   "reverses": "tx-1"}  # fmt: skip
# What the states before a given one have assigned.
VARIABLES = {"request": REQUEST, "lock": LOCK}
RESULT = {"StatusCode": 200, "Payload": {"request": REQUEST, "lock": LOCK,
          "transaction": REVERSAL_RECORD, "replayed": False}}  # fmt: skip

REVERSAL = Machine(
    logical_id="ReversalStateMachine",
    state_input=STATE_INPUT,
    variables=VARIABLES,
    lambda_result=RESULT,
    acquired=("request", "lock"),
    read_after_failure="ReadUserAfterFailure",
    release_users={"ReleaseLock": "u", "ReleaseLockAfterFailure": "u"},
    retried=[
        Retried("AcquireReversalLock", "UserBusyError", 1, "ReadUserAfterFailure", "error"),
        Retried("AcquireReversalLock", "Lambda.ServiceException", 2, "ReadUserAfterFailure",
                "error"),
        Retried("ReverseTransaction", "StorageThrottledError", 2, "ReleaseLockAfterFailure",
                "error"),
        Retried("ReverseTransaction", "Lambda.TooManyRequestsException", 2,
                "ReleaseLockAfterFailure", "error"),
        Retried("ReleaseLock", "DynamoDB.ThrottlingException", 2, "ReversalSucceeded",
                "releaseError"),
        Retried("ReleaseLockAfterFailure", "States.Timeout", 2, "ReversalFailed",
                "compensationError"),
        Retried("ReleaseLockAfterFailure", "DynamoDB.InternalServerError", 2, "ReversalFailed",
                "compensationError"),
    ],
    not_retried=[
        Caught("AcquireReversalLock", "ValidationError", "ReversalFailed", "error"),
        Caught("AcquireReversalLock", "InjectedFaultError", "ReadUserAfterFailure", "error"),
        Caught("ReverseTransaction", "NotFoundError", "ReleaseLockAfterFailure", "error"),
        Caught("ReverseTransaction", "NotReversibleError", "ReleaseLockAfterFailure", "error"),
        Caught("ReverseTransaction", "InsufficientFundsError", "ReleaseLockAfterFailure", "error"),
        Caught("ReverseTransaction", "LockLostError", "ReleaseLockAfterFailure", "error"),
        Caught("ReverseTransaction", "Lambda.Unknown", "ReleaseLockAfterFailure", "error"),
        Caught("ReleaseLock", "DynamoDB.ResourceNotFoundException", "ReversalSucceeded",
               "releaseError"),
    ],
    next_state={
        "AcquireReversalLock": "ReverseTransaction",
        "ReverseTransaction": "ReleaseLock",
        "ReleaseLock": "ReversalSucceeded",
        "ReleaseLockAfterFailure": "ReversalFailed",
    },
    result={"transaction": REVERSAL_RECORD, "replayed": False},
    error={"Error": "NotReversibleError", "Cause": "c"},
)  # fmt: skip


def test_reverse_sends_the_request_and_the_account_the_lock_saw(stepfunctions):
    reversed_ = {"StatusCode": 200, "Payload": {"transaction": REVERSAL_RECORD, "replayed": False}}
    answer = REVERSAL.run_state(
        stepfunctions, "ReverseTransaction", mock={"result": json.dumps(reversed_)}
    )

    payload = payload_sent(answer)
    assert {k: payload[k] for k in ("request", "balance", "lastSequence", "holds")} == {
        "request": REQUEST, "balance": "110.00", "lastSequence": 1, "holds": [HOLD],
    }  # fmt: skip
    assert payload["executionId"]
    assert variables_after(answer)["result"] == {
        "transaction": REVERSAL_RECORD,
        "replayed": False,
    }


def test_a_failed_acquire_reads_the_user_from_the_body(stepfunctions):
    answer = REVERSAL.run_state(stepfunctions, "ReadUserAfterFailure", variables={})

    assert answer["nextState"] == "ReleaseLockAfterFailure"
    assert variables_after(answer)["request"] == {"userId": "u"}
