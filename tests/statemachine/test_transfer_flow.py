"""The transfer machine's real ASL on the embedded runtime: one test per path; history, both
users' rows and ledgers, and the invariants (money conserved, a transfer's two entries both or
neither)."""

import time
from decimal import Decimal

import pytest

from functions.repositories import unit_of_work
from infra.local.awslambda.functions import FaultPoint
from infra.local.stepfunctions.service_tasks import SERVICE_FAULT_POINTS
from tests.builders import execution_input, output_of, transfer_input
from tests.invariants import (
    balance_of,
    event_violations,
    lock_owner,
    projection_violations,
    transaction_items,
    violations,
)
from tests.statemachine.conftest import EMBEDDED_RUNTIME_ONLY, ledger_of

pytestmark = EMBEDDED_RUNTIME_ONLY

HAPPY_PATH = ["AcquireLocks", "PutTransfer", "IsReplay", "CommitTransfer", "ReleaseSecondLock",
              "ReleaseFirstLock", "TransferSucceeded"]  # fmt: skip
REPLAY_PATH = ["AcquireLocks", "PutTransfer", "IsReplay", "ReturnStoredResult",
               "ReleaseSecondLock", "ReleaseFirstLock", "TransferSucceeded"]  # fmt: skip
RELEASED_AFTER_FAILURE = ["ReleaseSecondLockAfterFailure", "ReleaseFirstLockAfterFailure",
                          "TransferFailed"]  # fmt: skip
FAILED_IN_ACQUIRE_LOCKS = ["AcquireLocks", "ReadUsersAfterFailure", *RELEASED_AFTER_FAILURE]
FAILED_AFTER_PUT = ["DeleteTransfer", *RELEASED_AFTER_FAILURE]


def run(aws, from_user="a", to_user="b", amount="25.00", key=None):
    response = aws.start_sync_execution(
        "TransferStateMachine", transfer_input(from_user, to_user, amount, key)
    )
    return response, aws.entered_states(response["executionArn"])


def total(aws, *users: str) -> Decimal:
    return sum((balance_of(aws.dynamodb, user) for user in users), Decimal(0))


def assert_untouched(aws) -> None:
    """Nothing of a failed transfer remains: no record, no entry, no lock, the balances as
    they were."""
    assert transaction_items(aws.dynamodb, "a") == []
    assert ledger_of(aws, "a") == ledger_of(aws, "b") == []
    assert lock_owner(aws.dynamodb, "a") is lock_owner(aws.dynamodb, "b") is None
    assert balance_of(aws.dynamodb, "a") == balance_of(aws.dynamodb, "b") == Decimal("100.00")
    assert violations(aws.dynamodb) == []


def hold_lock(aws, user_id: str, owner: str) -> None:
    aws.dynamodb.put_item(
        TableName="AggregatesTable",
        Item={
            "userId": {"S": user_id},
            "balance": {"N": "100.00"},
            "lastSequence": {"N": "0"},
            "lockOwner": {"S": owner},
            "leaseUntil": {"N": str(int(time.time()) + 60)},
        },
    )


@pytest.mark.parametrize(("from_user", "to_user"), [("a", "b"), ("b", "a")],
                         ids=["source-locked-first", "destination-locked-first"])  # fmt: skip
def test_transfer_moves_money_between_both_wallets_in_one_commit(local_aws, from_user, to_user):
    response, states = run(local_aws, from_user, to_user, "25.00", key="t-1")

    assert response["status"] == "SUCCEEDED"
    assert states == HAPPY_PATH
    output = output_of(response)
    transfer = output["transfer"]
    assert output["replayed"] is False
    assert transfer | {"transferId": "", "createdAt": ""} == {
        "transferId": "", "fromUserId": from_user, "toUserId": to_user, "amount": "25.00",
        "currency": "USD", "balance": "75.00", "createdAt": "",
    }  # fmt: skip
    assert balance_of(local_aws.dynamodb, from_user) == Decimal("75.00")
    assert balance_of(local_aws.dynamodb, to_user) == Decimal("125.00")
    [debit], [credit] = ledger_of(local_aws, from_user), ledger_of(local_aws, to_user)
    assert (debit["type"]["S"], credit["type"]["S"]) == ("debit", "credit")
    assert debit["entryId"]["S"] == transfer["transferId"]
    assert debit["transferId"] == credit["transferId"] == {"S": transfer["transferId"]}
    assert debit["counterpartyUserId"]["S"] == to_user
    assert credit["counterpartyUserId"]["S"] == from_user
    assert lock_owner(local_aws.dynamodb, "a") is lock_owner(local_aws.dynamodb, "b") is None
    assert total(local_aws, "a", "b") == Decimal("200.00")
    assert violations(local_aws.dynamodb) == []


def test_entries_follow_each_users_own_sequence(local_aws):
    local_aws.start_sync_execution("TransactionStateMachine", execution_input("b", "10", "credit"))

    response, _ = run(local_aws, "a", "b", "40.00")

    assert response["status"] == "SUCCEEDED"
    [credit_b] = ledger_of(local_aws, "b")[1:]
    assert (credit_b["sequence"]["N"], credit_b["balanceAfter"]["N"]) == ("2", "150.00")
    assert violations(local_aws.dynamodb) == []


def test_insufficient_funds_records_nothing_on_either_side(local_aws):
    response, states = run(local_aws, "a", "b", "100.01")

    assert response["status"] == "FAILED"
    assert response["error"] == "InsufficientFundsError"
    assert states == [*HAPPY_PATH[:4], *FAILED_AFTER_PUT]
    assert_untouched(local_aws)


def test_the_whole_balance_can_be_transferred(local_aws):
    response, _ = run(local_aws, "a", "b", "100.00")

    assert output_of(response)["transfer"]["balance"] == "0.00"
    assert violations(local_aws.dynamodb) == []


def test_a_transfer_to_oneself_is_invalid_and_takes_no_lock(local_aws):
    response, states = run(local_aws, "a", "a", "1.00")

    assert response["status"] == "FAILED"
    assert response["error"] == "ValidationError"
    assert "toUserId" in response["cause"]
    assert states == ["AcquireLocks", "TransferFailed"]
    assert_untouched(local_aws)


def test_replay_returns_the_stored_result_and_moves_the_money_once(local_aws):
    first, _ = run(local_aws, key="t-1")
    again, states = run(local_aws, key="t-1")

    assert states == REPLAY_PATH
    assert output_of(again) == {**output_of(first), "replayed": True}
    assert balance_of(local_aws.dynamodb, "a") == Decimal("75.00")
    assert balance_of(local_aws.dynamodb, "b") == Decimal("125.00")
    assert violations(local_aws.dynamodb) == []


@pytest.mark.parametrize(
    "earlier",
    ["transfer", "transaction"],
    ids=["key-of-another-transfer", "key-of-a-transaction"],
)
def test_key_reuse_with_another_payload_is_rejected(local_aws, earlier):
    # A user's keys are one namespace, whichever endpoint used them.
    if earlier == "transfer":
        run(local_aws, "a", "b", "25.00", key="k1")
    else:
        local_aws.start_sync_execution(
            "TransactionStateMachine", execution_input("a", "25.00", "debit", key="k1")
        )

    response, states = run(local_aws, "a", "b", "30.00", key="k1")

    assert response["error"] == "IdempotencyKeyReusedError"
    assert states == ["AcquireLocks", "PutTransfer", *FAILED_AFTER_PUT]
    assert balance_of(local_aws.dynamodb, "a") == Decimal("75.00")
    assert violations(local_aws.dynamodb) == []


def test_a_transactions_key_reused_by_a_transfer_is_rejected_the_other_way(local_aws):
    run(local_aws, "a", "b", "25.00", key="k1")

    response = local_aws.start_sync_execution(
        "TransactionStateMachine", execution_input("a", "25.00", "debit", key="k1")
    )

    assert response["error"] == "IdempotencyKeyReusedError"
    assert violations(local_aws.dynamodb) == []


@pytest.mark.parametrize("busy", ["a", "b"], ids=["first-lock-busy", "second-lock-busy"])
def test_a_busy_lock_fails_the_transfer_and_frees_the_other(local_aws, busy):
    hold_lock(local_aws, busy, "other-execution")

    response, states = run(local_aws, "a", "b", "5.00")

    assert response["status"] == "FAILED"
    assert response["error"] == "UserBusyError"
    assert states == FAILED_IN_ACQUIRE_LOCKS
    assert lock_owner(local_aws.dynamodb, busy) == "other-execution"
    other = "b" if busy == "a" else "a"
    assert lock_owner(local_aws.dynamodb, other) is None
    assert transaction_items(local_aws.dynamodb, "a") == []
    assert ledger_of(local_aws, "a") == ledger_of(local_aws, "b") == []


PATHS_OF_A_FAULT = {
    "AcquireLocks": FAILED_IN_ACQUIRE_LOCKS,
    "PutTransfer": ["AcquireLocks", "PutTransfer", *FAILED_AFTER_PUT],
    "CommitTransfer": [*HAPPY_PATH[:4], *FAILED_AFTER_PUT],
}


@pytest.mark.parametrize("point", [FaultPoint.BEFORE, FaultPoint.AFTER], ids=lambda p: p.value)
@pytest.mark.parametrize("task", ["AcquireLocks", "PutTransfer"])
def test_fault_before_the_commit_is_compensated(local_aws, task, point):
    local_aws.lambdas.inject_fault(f"{task}Function", point)

    response, states = run(local_aws, key="t-1")

    assert response["status"] == "FAILED"
    assert response["error"] == "InjectedFaultError"
    assert states == PATHS_OF_A_FAULT[task]
    assert_untouched(local_aws)
    retry, _ = run(local_aws, key="t-1")
    assert output_of(retry)["transfer"]["balance"] == "75.00"
    assert violations(local_aws.dynamodb) == []


def test_fault_in_the_commit_before_its_write_is_compensated(local_aws):
    local_aws.lambdas.inject_fault("CommitTransferFunction", FaultPoint.BEFORE)

    response, states = run(local_aws, key="t-1")

    assert response["error"] == "InjectedFaultError"
    assert states == PATHS_OF_A_FAULT["CommitTransfer"]
    assert_untouched(local_aws)


def test_fault_in_the_commit_after_its_write_keeps_both_sides_and_replays(local_aws):
    # The commit is the pivot: once both sides are written, nothing undoes them; the request
    # failed, the money moved once, and the client's retry with the key answers the transfer.
    local_aws.lambdas.inject_fault("CommitTransferFunction", FaultPoint.AFTER)

    response, states = run(local_aws, key="t-1")

    assert response["error"] == "InjectedFaultError"
    assert states == PATHS_OF_A_FAULT["CommitTransfer"]
    assert lock_owner(local_aws.dynamodb, "a") is lock_owner(local_aws.dynamodb, "b") is None
    assert violations(local_aws.dynamodb) == []
    retry, states = run(local_aws, key="t-1")
    assert states == REPLAY_PATH
    assert output_of(retry)["transfer"]["balance"] == "75.00"
    assert total(local_aws, "a", "b") == Decimal("200.00")


@pytest.mark.parametrize("task", ["PutTransfer", "CommitTransfer"])
def test_service_error_after_the_write_is_retried_and_applies_once(local_aws, task):
    local_aws.lambdas.inject_fault(f"{task}Function", FaultPoint.SERVICE_ERROR)

    response, states = run(local_aws)

    assert response["status"] == "SUCCEEDED"
    assert states == HAPPY_PATH
    assert local_aws.lambdas.invocations[f"{task}Function"] == 2
    assert balance_of(local_aws.dynamodb, "b") == Decimal("125.00")
    assert violations(local_aws.dynamodb) == []


@pytest.mark.parametrize("point", list(FaultPoint), ids=lambda p: p.value)
def test_failing_delete_compensation_still_releases_both_locks(local_aws, point):
    local_aws.lambdas.inject_fault("DeleteTransferFunction", point)

    response, states = run(local_aws, amount="500.00")

    assert response["error"] == "InsufficientFundsError"  # the original error, not the fault
    assert states == [*HAPPY_PATH[:4], *FAILED_AFTER_PUT]
    assert lock_owner(local_aws.dynamodb, "a") is lock_owner(local_aws.dynamodb, "b") is None
    pending = transaction_items(local_aws.dynamodb, "a")
    assert len(pending) == (1 if point is FaultPoint.BEFORE else 0)
    assert violations(local_aws.dynamodb, allow_pending=point is FaultPoint.BEFORE) == []


@pytest.mark.parametrize("state", ["ReleaseSecondLock", "ReleaseFirstLock"])
@pytest.mark.parametrize("point", SERVICE_FAULT_POINTS, ids=lambda p: p.value)
def test_fault_in_a_release_after_the_commit_still_succeeds(local_aws, state, point):
    # Before the write at every attempt: the lock is left to its lease, the other still freed.
    # After it: the retry finds the lock gone (ConditionalCheckFailed) and counts it as freed.
    times = 2 if point is FaultPoint.BEFORE else 1
    local_aws.service_tasks.inject_fault(state, point, times)

    response, states = run(local_aws)

    assert response["status"] == "SUCCEEDED"
    assert states == HAPPY_PATH
    assert output_of(response)["transfer"]["balance"] == "75.00"
    # ReleaseSecondLock frees "b" (the second in the global order), ReleaseFirstLock "a".
    left = {"ReleaseSecondLock": "b", "ReleaseFirstLock": "a"}[state]
    expected = response["executionArn"] if point is FaultPoint.BEFORE else None
    assert lock_owner(local_aws.dynamodb, left) == expected
    assert lock_owner(local_aws.dynamodb, "b" if left == "a" else "a") is None
    assert violations(local_aws.dynamodb, allow_held_locks=point is FaultPoint.BEFORE) == []


@pytest.mark.parametrize("state", ["ReleaseSecondLockAfterFailure", "ReleaseFirstLockAfterFailure"])
def test_a_failing_release_after_a_failure_leaves_that_lock_to_its_lease(local_aws, state):
    local_aws.service_tasks.inject_fault(state, FaultPoint.BEFORE, 2)

    response, states = run(local_aws, amount="500.00")

    assert response["error"] == "InsufficientFundsError"
    assert states == [*HAPPY_PATH[:4], *FAILED_AFTER_PUT]
    left = {"ReleaseSecondLockAfterFailure": "b", "ReleaseFirstLockAfterFailure": "a"}[state]
    assert lock_owner(local_aws.dynamodb, left) == response["executionArn"]
    assert lock_owner(local_aws.dynamodb, "b" if left == "a" else "a") is None
    assert transaction_items(local_aws.dynamodb, "a") == []


def test_both_entries_are_published_and_projected_like_any_entry(local_aws):
    run(local_aws, "a", "b", "25.00")
    local_aws.start_sync_execution("TransactionStateMachine", execution_input("b", "5", "debit"))

    local_aws.drain_streams()

    published = local_aws.published_events()
    details = [event["detail"] for event in published]
    transfer_events = [d for d in details if "transferId" in d]
    assert sorted((d["userId"], d["type"], d["counterpartyUserId"]) for d in transfer_events) == [
        ("a", "debit", "b"),
        ("b", "credit", "a"),
    ]
    assert event_violations(local_aws.dynamodb, published) == []
    assert projection_violations(local_aws.dynamodb) == []


def test_the_oracle_fails_a_transfer_that_commits_only_its_source_side(local_aws, monkeypatch):
    """A broken commit (the destination's row, entry and event left out of the write) is seen:
    the invariants are the oracle of every transfer test, so they must catch it."""
    write = unit_of_work.UnitOfWork._write

    def source_side_only(self, *items):
        def user_of(item):
            [(_, request)] = item.items()
            return (request.get("Key") or request.get("Item"))["userId"]["S"]

        write(self, *[item for item in items if user_of(item) != "b"])

    monkeypatch.setattr(unit_of_work.UnitOfWork, "_write", source_side_only)

    response, _ = run(local_aws, "a", "b", "25.00")

    assert response["status"] == "SUCCEEDED"  # the broken code does not notice
    found = violations(local_aws.dynamodb)
    assert any("user 'b': balance 100.00 but transactions add up to 125.00" in f for f in found)
    assert any("are not one debit and its credit" in f for f in found)
