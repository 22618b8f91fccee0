"""The hold machine's states, one at a time, through TestState: the Retry and Catch expected of
each task (run for every machine by test_states_of_every_machine.py), and what only this machine
has: one write per operation, chosen by the operation the API path named."""

from __future__ import annotations

import json

import pytest

from tests.statemachine.conftest import EMBEDDED_RUNTIME_ONLY
from tests.statemachine.teststate import Caught, Machine, Retried, payload_sent, variables_after

pytestmark = EMBEDDED_RUNTIME_ONLY

BODY = '{"userId": "u", "amount": "20.00"}'
STATE_INPUT = {"operation": "capture", "holdId": "h1", "body": BODY, "idempotencyKey": "",
               "requestId": "r-1"}  # fmt: skip
REQUEST = {"operation": "capture", "userId": "u", "holdId": "h1", "idempotencyKey": None,
           "amount": "20.00", "expiresInSeconds": None}  # fmt: skip
PENDING = {"holdId": "h1", "amount": "30.00", "expiresAt": "2026-12-07T10:00:00.000Z"}
LOCK = {"balance": "100.00", "lastSequence": 2, "leaseUntil": 1, "holds": [PENDING]}
HOLD_RECORD = {"holdId": "h1", "userId": "u", "status": "captured", "amount": "30.00",
               "capturedAmount": "20.00", "transactionId": "t1", "balance": "80.00",
               "available": "80.00", "currency": "USD"}  # fmt: skip
VARIABLES = {"request": REQUEST, "lock": LOCK}
RESULT = {"StatusCode": 200, "Payload": {"request": REQUEST, "lock": LOCK, "hold": HOLD_RECORD,
                                         "replayed": False}}  # fmt: skip
WRITES = ("PlaceHold", "CaptureHold", "VoidHold")

HOLD = Machine(
    logical_id="HoldStateMachine",
    state_input=STATE_INPUT,
    variables=VARIABLES,
    lambda_result=RESULT,
    acquired=("request", "lock"),
    read_after_failure="ReadUserAfterFailure",
    release_users={"ReleaseLock": "u", "ReleaseLockAfterFailure": "u"},
    retried=[
        Retried("AcquireHoldLock", "UserBusyError", 1, "ReadUserAfterFailure", "error"),
        Retried("AcquireHoldLock", "StorageThrottledError", 2, "ReadUserAfterFailure", "error"),
        *[Retried(write, "StorageThrottledError", 2, "ReleaseLockAfterFailure", "error")
          for write in WRITES],
        *[Retried(write, "Lambda.ServiceException", 2, "ReleaseLockAfterFailure", "error")
          for write in WRITES],
        Retried("ReleaseLock", "DynamoDB.ThrottlingException", 1, "HoldSucceeded",
                "releaseError"),
        Retried("ReleaseLockAfterFailure", "States.Timeout", 1, "HoldFailed",
                "compensationError"),
    ],
    not_retried=[
        Caught("AcquireHoldLock", "ValidationError", "HoldFailed", "error"),
        Caught("AcquireHoldLock", "InjectedFaultError", "ReadUserAfterFailure", "error"),
        Caught("PlaceHold", "InsufficientFundsError", "ReleaseLockAfterFailure", "error"),
        Caught("PlaceHold", "IdempotencyKeyReusedError", "ReleaseLockAfterFailure", "error"),
        Caught("CaptureHold", "HoldAmountExceededError", "ReleaseLockAfterFailure", "error"),
        Caught("CaptureHold", "HoldNotPendingError", "ReleaseLockAfterFailure", "error"),
        Caught("CaptureHold", "NotFoundError", "ReleaseLockAfterFailure", "error"),
        Caught("VoidHold", "HoldNotPendingError", "ReleaseLockAfterFailure", "error"),
        Caught("VoidHold", "LockLostError", "ReleaseLockAfterFailure", "error"),
    ],
    next_state={
        "AcquireHoldLock": "ChooseOperation",
        "PlaceHold": "ReleaseLock",
        "CaptureHold": "ReleaseLock",
        "VoidHold": "ReleaseLock",
        "ReleaseLock": "HoldSucceeded",
        "ReleaseLockAfterFailure": "HoldFailed",
    },
    result={"hold": HOLD_RECORD, "replayed": True},
    error={"Error": "HoldNotPendingError", "Cause": "the hold is voided"},
)  # fmt: skip


@pytest.mark.parametrize("write", WRITES)
def test_each_write_sends_the_request_and_the_lock_and_keeps_its_answer(stepfunctions, write):
    answer = HOLD.run_state(stepfunctions, write, mock={"result": json.dumps(RESULT)})

    payload = payload_sent(answer)
    assert (payload["request"], payload["lock"]) == (REQUEST, LOCK)
    assert payload["executionId"]
    assert variables_after(answer)["result"] == RESULT["Payload"]


@pytest.mark.parametrize(
    ("operation", "next_state"),
    [("place", "PlaceHold"), ("capture", "CaptureHold"), ("void", "VoidHold")],
)
def test_choose_operation_goes_to_the_operations_write(stepfunctions, operation, next_state):
    variables = {**VARIABLES, "request": {**REQUEST, "operation": operation}}
    answer = HOLD.run_state(stepfunctions, "ChooseOperation", variables=variables)

    assert answer["nextState"] == next_state


def test_a_failed_acquire_reads_the_user_from_the_body(stepfunctions):
    answer = HOLD.run_state(stepfunctions, "ReadUserAfterFailure", variables={})

    assert answer["nextState"] == "ReleaseLockAfterFailure"
    assert variables_after(answer)["request"] == {"userId": "u"}
