"""POST /transactions' saga steps (domain/transactions.py) with in-memory fakes."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from functions.domain import transactions
from functions.domain.errors import IdempotencyKeyReusedError, InsufficientFundsError
from functions.domain.models import (
    AccountState,
    LedgerEntry,
    PendingTransaction,
    StoredTransaction,
    Transaction,
    TransactionKey,
    TransactionRequest,
    TransactionType,
)
from tests.builders import FakeClock, FakeCommits, FakeTransactions

NOW = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
KEY = TransactionKey("u1", "k1")


def request(amount="10", type_=TransactionType.CREDIT, key="k1") -> TransactionRequest:
    return TransactionRequest("u1", key, type_, Decimal(amount))


def committed(req: TransactionRequest) -> Transaction:
    return Transaction("t-1", req.user_id, req.type, req.amount, Decimal("110"), "USD", "then")


def pending(req: TransactionRequest, owner="exec-1") -> PendingTransaction:
    return PendingTransaction(req, "t-1", owner, "now")


def test_put_writes_a_pending_record_with_a_stable_id():
    commits = FakeCommits()
    first = transactions.put_transaction(commits, request(), "exec-1", FakeClock(NOW))
    again = transactions.put_transaction(commits, request(), "exec-1", FakeClock(NOW))
    other = transactions.put_transaction(commits, request(), "exec-2", FakeClock(NOW))

    assert first.replay is None
    assert first.created_at == "2026-01-02T03:04:05.678Z"
    assert first.transaction_id == again.transaction_id != other.transaction_id
    assert [written.owner for written, _ in commits.written] == ["exec-1", "exec-1", "exec-2"]
    assert commits.written[0][1] == NOW  # the lease is checked against now


def test_put_finds_a_committed_replay():
    req = request()
    stored = StoredTransaction(req.fingerprint, committed(req))
    outcome = transactions.put_transaction(FakeCommits(stored), req, "exec-2", FakeClock(NOW))
    assert outcome.replay == committed(req)
    assert outcome.transaction_id == "t-1"


def test_put_rejects_a_reused_key():
    stored = StoredTransaction(request("11").fingerprint, committed(request("11")))
    with pytest.raises(IdempotencyKeyReusedError):
        transactions.put_transaction(FakeCommits(stored), request("10"), "exec-2", FakeClock(NOW))


def test_put_over_an_abandoned_pending_record_is_not_a_replay():
    stored = StoredTransaction(request("99").fingerprint, committed=None)
    outcome = transactions.put_transaction(
        FakeCommits(stored), request("10"), "exec-2", FakeClock(NOW)
    )
    assert outcome.replay is None


@pytest.mark.parametrize(
    ("type_", "amount", "balance"),
    [(TransactionType.CREDIT, "10", "110.00"), (TransactionType.DEBIT, "100", "0.00")],
)
def test_update_balance_commits_the_new_balance_with_the_next_entry(type_, amount, balance):
    commits = FakeCommits()
    seen = AccountState(Decimal("100.00"), last_sequence=4)
    transaction = transactions.update_balance(
        commits, pending(request(amount, type_)), seen, "USD", FakeClock(NOW)
    )
    assert transaction.balance == Decimal(balance)
    entry = LedgerEntry("u1", 5, "t-1", type_, Decimal(amount), Decimal(balance), "USD", "now",
                        "k1")  # fmt: skip
    # Conditional on the balance seen under the lock, at the clock's time.
    assert commits.commits == [(entry, "exec-1", Decimal("100.00"), NOW)]


def test_update_balance_refuses_to_go_below_zero_and_writes_nothing():
    commits = FakeCommits()
    with pytest.raises(InsufficientFundsError):
        transactions.update_balance(
            commits,
            pending(request("100.01", TransactionType.DEBIT)),
            AccountState(Decimal(100), 0),
            "USD",
            FakeClock(NOW),
        )
    assert commits.commits == []


def test_delete_transaction_of_a_pending_record_reverts_nothing():
    commits, records = FakeCommits(), FakeTransactions()

    assert transactions.delete_transaction(records, commits, KEY, "e", FakeClock(NOW)) is False
    assert records.deleted == [("u1", "k1", "e")]
    assert commits.reverts == []


def test_delete_transaction_reverts_a_commit_of_this_owner_with_a_compensating_entry():
    commits = FakeCommits()
    mine = LedgerEntry("u1", 3, "t-1", TransactionType.DEBIT, Decimal("10"), Decimal("90"), "USD",
                       "then", "k1")  # fmt: skip
    records = FakeTransactions(committed_by_owner=mine)

    reverted = transactions.delete_transaction(records, commits, KEY, "e", FakeClock(NOW))
    again = transactions.delete_transaction(records, commits, KEY, "e", FakeClock(NOW))

    assert reverted is again is True
    [(original, compensating, owner, now), (_, compensating_again, _, _)] = commits.reverts
    assert (original, owner, now) == (mine, "e", NOW)
    assert compensating == compensating_again  # a retried revert writes the same entry, same id
    assert (compensating.sequence, compensating.reverses) == (4, "t-1")
    assert compensating.type is TransactionType.CREDIT
    assert (compensating.amount, compensating.balance_after) == (Decimal("10"), Decimal("100"))
    assert compensating.entry_id != mine.entry_id
    assert compensating.created_at == "2026-01-02T03:04:05.678Z"
