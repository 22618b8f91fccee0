"""The reversal machine's real ASL on the embedded runtime: one test per path; history, the
user's row and ledger, and the invariants (a transaction reversed at most once)."""

import json
import time
from decimal import Decimal

import pytest

from functions.domain import reversals
from functions.repositories import transactions
from infra.local.awslambda.functions import FaultPoint
from infra.local.stepfunctions.service_tasks import SERVICE_FAULT_POINTS
from tests.builders import execution_input, output_of, reversal_input, transfer_input
from tests.invariants import (
    balance_of,
    event_violations,
    lock_owner,
    projection_violations,
    scan,
    violations,
)
from tests.statemachine.conftest import EMBEDDED_RUNTIME_ONLY, ledger_of

pytestmark = EMBEDDED_RUNTIME_ONLY

HAPPY_PATH = ["AcquireReversalLock", "ReverseTransaction", "ReleaseLock", "ReversalSucceeded"]
FAILED_IN_ACQUIRE = ["AcquireReversalLock", "ReadUserAfterFailure", "ReleaseLockAfterFailure",
                     "ReversalFailed"]  # fmt: skip
FAILED_IN_REVERSE = ["AcquireReversalLock", "ReverseTransaction", "ReleaseLockAfterFailure",
                     "ReversalFailed"]  # fmt: skip
INVALID = ["AcquireReversalLock", "ReversalFailed"]


def transact(aws, user: str = "a", amount: str = "10", type_: str = "credit") -> str:
    """Commit a transaction through its own machine; its transactionId."""
    response = aws.start_sync_execution(
        "TransactionStateMachine", execution_input(user, amount, type_)
    )
    assert response["status"] == "SUCCEEDED", response
    return str(output_of(response)["transaction"]["transactionId"])


def run(aws, transaction_id: str, user: str = "a") -> tuple[dict, list[str]]:
    response = aws.start_sync_execution(
        "ReversalStateMachine", reversal_input(user, transaction_id)
    )
    return response, aws.entered_states(response["executionArn"])


def hold_lock(aws, user_id: str, owner: str) -> None:
    aws.dynamodb.update_item(
        TableName="AggregatesTable",
        Key={"userId": {"S": user_id}},
        UpdateExpression="SET lockOwner = :owner, leaseUntil = :until",
        ExpressionAttributeValues={
            ":owner": {"S": owner},
            ":until": {"N": str(int(time.time()) + 60)},
        },
    )


@pytest.mark.parametrize(
    ("type_", "opposite", "balance"),
    [("credit", "debit", "100.00"), ("debit", "credit", "100.00")],
    ids=["credit", "debit"],
)
def test_reversal_appends_the_opposite_entry_and_restores_the_balance(
    local_aws, type_, opposite, balance
):
    transaction_id = transact(local_aws, "a", "10", type_)

    response, states = run(local_aws, transaction_id)

    assert response["status"] == "SUCCEEDED"
    assert states == HAPPY_PATH
    output = output_of(response)
    reversal = output["transaction"]
    assert output["replayed"] is False
    assert reversal | {"createdAt": ""} == {
        "transactionId": reversals.reversal_entry_id(transaction_id), "userId": "a",
        "type": opposite, "amount": "10.00", "balance": balance, "currency": "USD",
        "createdAt": "", "reverses": transaction_id,
    }  # fmt: skip
    original, entry = ledger_of(local_aws, "a")
    assert entry["entryId"]["S"] == reversal["transactionId"]
    assert (entry["sequence"]["N"], entry["type"]["S"], entry["reverses"]["S"]) == (
        "2", opposite, transaction_id
    )  # fmt: skip
    assert entry["idempotencyKey"] == original["idempotencyKey"]  # the original's key
    assert (entry["balanceAfter"]["N"], entry["createdAt"]["S"]) == (
        balance, reversal["createdAt"]
    )  # fmt: skip
    assert balance_of(local_aws.dynamodb, "a") == Decimal(balance)
    assert lock_owner(local_aws.dynamodb, "a") is None
    assert violations(local_aws.dynamodb) == []


def test_a_second_reversal_replays_the_first_and_appends_nothing(local_aws):
    transaction_id = transact(local_aws)
    first, _ = run(local_aws, transaction_id)

    again, states = run(local_aws, transaction_id)

    assert states == HAPPY_PATH
    assert output_of(again) == {**output_of(first), "replayed": True}
    assert len(ledger_of(local_aws, "a")) == 2
    assert balance_of(local_aws.dynamodb, "a") == Decimal("100.00")
    assert violations(local_aws.dynamodb) == []


def test_the_reversal_takes_the_users_next_sequence_and_balance(local_aws):
    transaction_id = transact(local_aws, "a", "10", "credit")
    transact(local_aws, "a", "30", "debit")

    response, _ = run(local_aws, transaction_id)

    assert output_of(response)["transaction"]["balance"] == "70.00"
    assert ledger_of(local_aws, "a")[-1]["sequence"]["N"] == "3"
    assert violations(local_aws.dynamodb) == []


@pytest.mark.parametrize("owner", ["a", "b"], ids=["unknown-id", "another-users-transaction"])
def test_a_transaction_not_in_the_users_ledger_is_not_found(local_aws, owner):
    transaction_id = transact(local_aws, owner) if owner == "b" else "no-such-transaction"

    response, states = run(local_aws, transaction_id, user="a")

    assert (response["status"], response["error"]) == ("FAILED", "NotFoundError")
    assert states == FAILED_IN_REVERSE
    assert ledger_of(local_aws, "a") == []
    assert lock_owner(local_aws.dynamodb, "a") is None
    assert violations(local_aws.dynamodb) == []


def test_reversing_a_credit_that_would_overdraw_records_nothing(local_aws):
    transaction_id = transact(local_aws, "a", "10", "credit")
    transact(local_aws, "a", "105", "debit")  # balance 5.00

    response, states = run(local_aws, transaction_id)

    assert response["error"] == "InsufficientFundsError"
    assert states == FAILED_IN_REVERSE
    assert len(ledger_of(local_aws, "a")) == 2
    assert balance_of(local_aws.dynamodb, "a") == Decimal("5.00")
    assert violations(local_aws.dynamodb) == []
    transact(local_aws, "a", "5", "credit")  # exactly enough now
    retry, _ = run(local_aws, transaction_id)
    assert output_of(retry)["transaction"]["balance"] == "0.00"
    assert violations(local_aws.dynamodb) == []


def test_a_reversal_cannot_be_reversed(local_aws):
    first, _ = run(local_aws, transact(local_aws))
    reversal_id = output_of(first)["transaction"]["transactionId"]

    response, states = run(local_aws, reversal_id)

    assert response["error"] == "NotReversibleError"
    assert states == FAILED_IN_REVERSE
    assert len(ledger_of(local_aws, "a")) == 2
    assert violations(local_aws.dynamodb) == []


@pytest.mark.parametrize("side", ["a", "b"], ids=["debit-of-the-source", "credit-of-the-dest"])
def test_a_transfers_entry_is_not_reversible(local_aws, side):
    transfer = local_aws.start_sync_execution("TransferStateMachine", transfer_input("a", "b"))
    assert transfer["status"] == "SUCCEEDED"
    [entry] = ledger_of(local_aws, side)

    response, states = run(local_aws, entry["entryId"]["S"], user=side)

    assert response["error"] == "NotReversibleError"
    assert states == FAILED_IN_REVERSE
    assert len(ledger_of(local_aws, side)) == 1
    assert violations(local_aws.dynamodb) == []


def test_a_commit_its_compensation_undid_and_the_compensation_are_not_reversible(local_aws):
    # The transaction's commit landed, then its function failed: DeleteTransaction reverted it,
    # appending the compensating entry. Neither may be reversed (again).
    local_aws.lambdas.inject_fault("UpdateBalanceFunction", FaultPoint.AFTER)
    failed = local_aws.start_sync_execution("TransactionStateMachine", execution_input("a"))
    assert failed["status"] == "FAILED"
    undone, compensation = ledger_of(local_aws, "a")

    for entry in (undone, compensation):
        response, states = run(local_aws, entry["entryId"]["S"])

        assert response["error"] == "NotReversibleError"
        assert states == FAILED_IN_REVERSE
    assert len(ledger_of(local_aws, "a")) == 2
    assert balance_of(local_aws.dynamodb, "a") == Decimal("100.00")
    assert violations(local_aws.dynamodb) == []


def test_a_holds_capture_is_not_reversible(local_aws):
    # A captured hold's debit, as its commit will write it: an entry carrying holdId.
    local_aws.dynamodb.put_item(
        TableName="LedgerTable",
        Item={
            "userId": {"S": "a"}, "sequence": {"N": "1"}, "entryId": {"S": "capture-1"},
            "type": {"S": "debit"}, "amount": {"N": "30.00"}, "balanceAfter": {"N": "70.00"},
            "currency": {"S": "USD"}, "createdAt": {"S": "2026-12-01T00:00:00.000Z"},
            "idempotencyKey": {"S": "h-1"}, "holdId": {"S": "hold-1"},
        },
    )  # fmt: skip

    response, states = run(local_aws, "capture-1")

    assert response["error"] == "NotReversibleError"
    assert states == FAILED_IN_REVERSE
    assert len(ledger_of(local_aws, "a")) == 1
    assert lock_owner(local_aws.dynamodb, "a") is None


@pytest.mark.parametrize(
    ("body", "transaction_id", "field"),
    [
        ({"userId": "a"}, "x" * 129, "transactionId"),
        ({"userId": "a"}, "tx\u0007", "transactionId"),
        ({"userId": "a"}, "", "transactionId"),
        ({}, "tx-1", "body"),
        ({"userId": ""}, "tx-1", "userId"),
        ({"user": "a"}, "tx-1", "userId"),
    ],
    ids=["id-too-long", "id-control-character", "id-empty", "empty-body", "empty-user",
         "no-user"],
)  # fmt: skip
def test_invalid_input_takes_no_lock_and_names_the_field(local_aws, body, transaction_id, field):
    execution = json.dumps(
        {"body": json.dumps(body), "transactionId": transaction_id, "requestId": "r"}
    )

    response = local_aws.start_sync_execution("ReversalStateMachine", execution)

    assert (response["status"], response["error"]) == ("FAILED", "ValidationError")
    assert json.loads(response["cause"])["errorMessage"].startswith(field)
    assert local_aws.entered_states(response["executionArn"]) == INVALID
    assert scan(local_aws.dynamodb, "AggregatesTable") == []


def test_a_busy_lock_fails_the_reversal_and_leaves_that_lock(local_aws):
    transaction_id = transact(local_aws)
    hold_lock(local_aws, "a", "other-execution")

    response, states = run(local_aws, transaction_id)

    assert response["error"] == "UserBusyError"
    assert states == FAILED_IN_ACQUIRE
    assert lock_owner(local_aws.dynamodb, "a") == "other-execution"
    assert len(ledger_of(local_aws, "a")) == 1


@pytest.mark.parametrize("point", [FaultPoint.BEFORE, FaultPoint.AFTER], ids=lambda p: p.value)
def test_fault_in_acquire_is_compensated_and_the_retry_reverses(local_aws, point):
    transaction_id = transact(local_aws)
    local_aws.lambdas.inject_fault("AcquireReversalLockFunction", point)

    response, states = run(local_aws, transaction_id)

    assert response["error"] == "InjectedFaultError"
    assert states == FAILED_IN_ACQUIRE
    assert lock_owner(local_aws.dynamodb, "a") is None
    assert len(ledger_of(local_aws, "a")) == 1
    retry, _ = run(local_aws, transaction_id)
    assert output_of(retry)["replayed"] is False
    assert violations(local_aws.dynamodb) == []


def test_fault_in_reverse_before_its_write_is_compensated(local_aws):
    transaction_id = transact(local_aws)
    local_aws.lambdas.inject_fault("ReverseTransactionFunction", FaultPoint.BEFORE)

    response, states = run(local_aws, transaction_id)

    assert response["error"] == "InjectedFaultError"
    assert states == FAILED_IN_REVERSE
    assert lock_owner(local_aws.dynamodb, "a") is None
    assert len(ledger_of(local_aws, "a")) == 1
    assert transactions.reversal_key(transaction_id) not in {
        i["idempotencyKey"]["S"] for i in scan(local_aws.dynamodb, "TransactionsTable")
    }
    assert violations(local_aws.dynamodb) == []


def test_fault_in_reverse_after_its_write_keeps_the_reversal_and_replays_it(local_aws):
    # The commit is the pivot: once written, nothing undoes it; the request failed, the
    # transaction was reversed once, and asking again answers that reversal.
    transaction_id = transact(local_aws)
    local_aws.lambdas.inject_fault("ReverseTransactionFunction", FaultPoint.AFTER)

    response, states = run(local_aws, transaction_id)

    assert response["error"] == "InjectedFaultError"
    assert states == FAILED_IN_REVERSE
    assert lock_owner(local_aws.dynamodb, "a") is None
    assert violations(local_aws.dynamodb) == []
    retry, states = run(local_aws, transaction_id)
    assert states == HAPPY_PATH
    assert output_of(retry)["replayed"] is True
    assert output_of(retry)["transaction"]["balance"] == "100.00"
    assert len(ledger_of(local_aws, "a")) == 2


def test_service_error_after_the_write_is_retried_and_answers_the_first_time(local_aws):
    transaction_id = transact(local_aws)
    local_aws.lambdas.inject_fault("ReverseTransactionFunction", FaultPoint.SERVICE_ERROR)

    response, states = run(local_aws, transaction_id)

    assert response["status"] == "SUCCEEDED"
    assert states == HAPPY_PATH
    assert local_aws.lambdas.invocations["ReverseTransactionFunction"] == 2
    # The retry found its own commit: the answer is this request's, not a replay.
    assert output_of(response)["replayed"] is False
    assert len(ledger_of(local_aws, "a")) == 2
    assert violations(local_aws.dynamodb) == []


@pytest.mark.parametrize("point", SERVICE_FAULT_POINTS, ids=lambda p: p.value)
def test_fault_in_the_release_after_the_commit_still_succeeds(local_aws, point):
    # Before the write at every attempt (3: the first and two retries): the lock is left to its
    # lease. After it: the retry finds the lock gone (ConditionalCheckFailed), counted as freed.
    transaction_id = transact(local_aws)
    times = 3 if point is FaultPoint.BEFORE else 1
    local_aws.service_tasks.inject_fault("ReleaseLock", point, times)

    response, states = run(local_aws, transaction_id)

    assert response["status"] == "SUCCEEDED"
    assert states == HAPPY_PATH
    expected = response["executionArn"] if point is FaultPoint.BEFORE else None
    assert lock_owner(local_aws.dynamodb, "a") == expected
    assert violations(local_aws.dynamodb, allow_held_locks=point is FaultPoint.BEFORE) == []


def test_a_failing_release_after_a_failure_leaves_the_lock_to_its_lease(local_aws):
    local_aws.service_tasks.inject_fault("ReleaseLockAfterFailure", FaultPoint.BEFORE, 3)

    response, states = run(local_aws, "no-such-transaction")

    assert response["error"] == "NotFoundError"  # the original error, not the release's
    assert states == FAILED_IN_REVERSE
    assert lock_owner(local_aws.dynamodb, "a") == response["executionArn"]


def test_the_reversal_is_published_and_projected_like_any_entry(local_aws):
    transaction_id = transact(local_aws)
    run(local_aws, transaction_id)

    local_aws.drain_streams()

    published = local_aws.published_events()
    [reverted] = [e for e in published if e["detail-type"] == "TransactionReverted"]
    assert (reverted["detail"]["reverses"], reverted["detail"]["type"]) == (transaction_id, "debit")
    assert event_violations(local_aws.dynamodb, published) == []
    assert projection_violations(local_aws.dynamodb) == []


def test_the_oracle_fails_a_reversal_applied_twice(local_aws, monkeypatch):
    """A broken reversal (its record keyed per execution, so the condition never meets the first
    one, and no look at the ledger for an earlier reversal) is seen: invariant 12's last clause."""
    transaction_id = transact(local_aws)
    run(local_aws, transaction_id)
    calls = iter(range(100))
    monkeypatch.setattr(transactions, "reversal_key", lambda tid: f"reversal-{tid}-{next(calls)}")
    monkeypatch.setattr(reversals, "reversal_entry_id", lambda tid: f"again-{tid}")
    monkeypatch.setattr(reversals, "check_reversible", lambda entry, reversed_by: None)

    response, _ = run(local_aws, transaction_id)

    assert output_of(response)["replayed"] is False  # the broken code does not notice
    found = violations(local_aws.dynamodb)
    assert f"transaction {transaction_id} is reversed 2 times" in found
