"""Each state of the transfer machine, one at a time, through TestState: its Retry and Catch
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
    bool(ENDPOINT), reason="the transfer machine is created on the embedded runtime only"
)

BODY = '{"fromUserId": "b", "toUserId": "a", "amount": "25.00"}'
STATE_INPUT = {"body": BODY, "idempotencyKey": "t-1", "requestId": "r-1"}
REQUEST = {"fromUserId": "b", "toUserId": "a", "idempotencyKey": "t-1", "amount": "25.00"}
LOCKS = {
    "a": {"balance": "100.00", "lastSequence": 0, "leaseUntil": 1},
    "b": {"balance": "100.00", "lastSequence": 2, "leaseUntil": 1},
}
PUT = {"transferId": "t1", "createdAt": "2026-12-01T00:00:00.000Z", "replay": None}
TRANSFER = {"transferId": "t1", "fromUserId": "b", "toUserId": "a", "amount": "25.00",
            "currency": "USD", "balance": "75.00", "createdAt": PUT["createdAt"]}  # fmt: skip
# What the states before a given one have assigned.
VARIABLES = {"request": REQUEST, "lockOrder": ["a", "b"], "locks": LOCKS, "put": PUT}
RESULT = {"StatusCode": 200, "Payload": {"request": REQUEST, "lockOrder": ["a", "b"],
          "locks": LOCKS, **PUT, "transfer": TRANSFER, "replayed": False}}  # fmt: skip

# (state, error, attempts its Retry allows, where its Catch goes)
RETRIED = [
    ("AcquireLocks", "UserBusyError", 1, "ReadUsersAfterFailure"),
    ("AcquireLocks", "StorageThrottledError", 2, "ReadUsersAfterFailure"),
    ("PutTransfer", "Lambda.TooManyRequestsException", 2, "DeleteTransfer"),
    ("CommitTransfer", "StorageThrottledError", 2, "DeleteTransfer"),
    ("DeleteTransfer", "Sandbox.Timedout", 2, "ReleaseSecondLockAfterFailure"),
    ("ReleaseSecondLock", "DynamoDB.ThrottlingException", 1, "ReleaseFirstLock"),
    ("ReleaseFirstLock", "DynamoDB.InternalServerError", 1, "TransferSucceeded"),
    ("ReleaseSecondLockAfterFailure", "States.Timeout", 1, "ReleaseFirstLockAfterFailure"),
    ("ReleaseFirstLockAfterFailure", "DynamoDB.RequestLimitExceeded", 1, "TransferFailed"),
]
NOT_RETRIED = [
    ("AcquireLocks", "ValidationError", "TransferFailed"),
    ("AcquireLocks", "InjectedFaultError", "ReadUsersAfterFailure"),
    ("PutTransfer", "IdempotencyKeyReusedError", "DeleteTransfer"),
    ("PutTransfer", "LockLostError", "DeleteTransfer"),
    ("CommitTransfer", "InsufficientFundsError", "DeleteTransfer"),
    ("CommitTransfer", "LockLostError", "DeleteTransfer"),
    ("DeleteTransfer", "StatesError", "ReleaseSecondLockAfterFailure"),
    ("ReleaseSecondLock", "DynamoDB.ResourceNotFoundException", "ReleaseFirstLock"),
    ("ReleaseSecondLockAfterFailure", "DynamoDB.ConditionalCheckFailedException",
     "ReleaseFirstLockAfterFailure"),
    ("ReleaseFirstLock", "DynamoDB.ConditionalCheckFailedException", "TransferSucceeded"),
    ("ReleaseFirstLockAfterFailure", "DynamoDB.ConditionalCheckFailedException",
     "TransferFailed"),
]  # fmt: skip
NEXT_STATE = {
    "AcquireLocks": "PutTransfer",
    "PutTransfer": "IsReplay",
    "CommitTransfer": "ReleaseSecondLock",
    "ReleaseSecondLock": "ReleaseFirstLock",
    "ReleaseFirstLock": "TransferSucceeded",
    "DeleteTransfer": "ReleaseSecondLockAfterFailure",
    "ReleaseSecondLockAfterFailure": "ReleaseFirstLockAfterFailure",
    "ReleaseFirstLockAfterFailure": "TransferFailed",
}
RELEASES = {"ReleaseSecondLock": "b", "ReleaseFirstLock": "a",
            "ReleaseSecondLockAfterFailure": "b", "ReleaseFirstLockAfterFailure": "a"}  # fmt: skip


@pytest.fixture(scope="module")
def stepfunctions() -> Iterator[Any]:
    with LocalAws() as runtime, serving_endpoint(runtime) as url:
        yield stepfunctions_client(url)


@pytest.fixture(scope="module")
def definition() -> str:
    return Template.load().state_machines["TransferStateMachine"].definition


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
    elif state in ("AcquireLocks", "PutTransfer", "CommitTransfer"):
        assert after["error"] == caught  # the error the request fails with
    else:
        # A failing compensation or release keeps its error apart from the original one.
        [kept] = [name for name in after if name.endswith("Error")]
        assert (kept, after[kept]) == (
            "releaseError" if state in ("ReleaseSecondLock", "ReleaseFirstLock")
            else "compensationError",
            caught,
        )  # fmt: skip
        assert "error" not in after


@pytest.mark.parametrize("state", list(NEXT_STATE))
def test_a_result_goes_to_the_next_state(stepfunctions, definition, state):
    result: dict[str, Any] = {} if state in RELEASES else RESULT
    answer = run_state(stepfunctions, definition, state, mock={"result": json.dumps(result)})

    assert (answer["status"], answer["nextState"]) == ("SUCCEEDED", NEXT_STATE[state])


def test_acquire_locks_sends_the_raw_request_and_assigns_what_later_states_read(
    stepfunctions, definition
):
    answer = run_state(
        stepfunctions, definition, "AcquireLocks", mock={"result": json.dumps(RESULT)}
    )

    payload = json.loads(answer["inspectionData"]["afterArguments"])["Payload"]
    assert (payload["body"], payload["idempotencyKey"]) == (BODY, "t-1")
    assert payload["executionId"] and payload["startedAt"]
    after = teststate.variables_after(answer)
    assert (after["request"], after["lockOrder"], after["locks"]) == (REQUEST, ["a", "b"], LOCKS)


def test_commit_sends_the_request_both_locks_and_the_record(stepfunctions, definition):
    committed = {"StatusCode": 200, "Payload": {"transfer": TRANSFER, "replayed": False}}
    answer = run_state(
        stepfunctions, definition, "CommitTransfer", mock={"result": json.dumps(committed)}
    )

    payload = json.loads(answer["inspectionData"]["afterArguments"])["Payload"]
    assert {k: payload[k] for k in ("request", "locks", "transferId", "createdAt")} == {
        "request": REQUEST, "locks": LOCKS, "transferId": "t1", "createdAt": PUT["createdAt"],
    }  # fmt: skip
    assert teststate.variables_after(answer)["result"] == {"transfer": TRANSFER, "replayed": False}


@pytest.mark.parametrize("state", list(RELEASES))
def test_each_release_is_one_conditional_update_item_of_its_user(stepfunctions, definition, state):
    answer = run_state(stepfunctions, definition, state, mock={"result": "{}"})

    arguments = json.loads(answer["inspectionData"]["afterArguments"])
    assert arguments["TableName"] == "AggregatesTable"
    assert arguments["Key"] == {"userId": {"S": RELEASES[state]}}
    assert arguments["UpdateExpression"] == "REMOVE lockOwner, leaseUntil"
    assert arguments["ConditionExpression"] == "lockOwner = :owner"
    assert arguments["ExpressionAttributeValues"][":owner"]["S"]  # the execution's id


def test_without_a_mock_a_release_frees_only_its_own_lock(stepfunctions, definition):
    answer = run_state(stepfunctions, definition, "ReleaseSecondLock")

    assert answer["status"] == "CAUGHT_ERROR"
    assert answer["error"] == "DynamoDB.ConditionalCheckFailedException"
    assert answer["nextState"] == "ReleaseFirstLock"


def test_a_failed_acquire_reads_both_users_in_the_global_order(stepfunctions, definition):
    answer = stepfunctions.test_state(
        definition=definition,
        stateName="ReadUsersAfterFailure",
        input=json.dumps(STATE_INPUT),
        inspectionLevel="DEBUG",
    )

    assert answer["nextState"] == "ReleaseSecondLockAfterFailure"
    assert teststate.variables_after(answer)["lockOrder"] == ["a", "b"]  # b -> a, sorted


@pytest.mark.parametrize(
    ("replay", "next_state"),
    [(None, "CommitTransfer"), (TRANSFER, "ReturnStoredResult")],
    ids=["new", "replay"],
)
def test_is_replay_chooses_by_the_stored_transfer(stepfunctions, definition, replay, next_state):
    answer = stepfunctions.test_state(
        definition=definition,
        stateName="IsReplay",
        input="{}",
        variables=json.dumps({**VARIABLES, "put": {**PUT, "replay": replay}}),
    )

    assert answer["nextState"] == next_state


def test_a_replay_answers_the_stored_transfer(stepfunctions, definition):
    answer = stepfunctions.test_state(
        definition=definition,
        stateName="ReturnStoredResult",
        input="{}",
        variables=json.dumps({**VARIABLES, "put": {**PUT, "replay": TRANSFER}}),
        inspectionLevel="DEBUG",
    )

    assert answer["nextState"] == "ReleaseSecondLock"
    assert teststate.variables_after(answer)["result"] == {"transfer": TRANSFER, "replayed": True}


def test_success_answers_the_result_and_failure_re_raises_the_original_error(
    stepfunctions, definition
):
    result = {"transfer": TRANSFER, "replayed": False}
    succeeded = stepfunctions.test_state(
        definition=definition,
        stateName="TransferSucceeded",
        input="{}",
        variables=json.dumps({"result": result}),
    )
    failed = stepfunctions.test_state(
        definition=definition,
        stateName="TransferFailed",
        input="{}",
        variables=json.dumps({"error": {"Error": "InsufficientFundsError", "Cause": "c"}}),
    )

    assert json.loads(succeeded["output"]) == result
    assert (failed["status"], failed["error"], failed["cause"]) == (
        "FAILED",
        "InsufficientFundsError",
        "c",
    )
