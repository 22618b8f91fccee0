"""The use cases with in-memory fakes of the repositories."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from functions.domain import use_cases
from functions.domain.errors import IdempotencyKeyReusedError, InsufficientFundsError
from functions.domain.events import OutboxEvent
from functions.domain.lock_wait import WaitPolicy
from functions.domain.models import (
    LedgerEntry,
    Lock,
    PendingTransaction,
    StoredTransaction,
    Transaction,
    TransactionRequest,
    TransactionType,
)
from tests.builders import FakeClock

NOW = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
POLICY = WaitPolicy(budget_seconds=6)


@dataclass
class FakeAggregates:
    balances: dict[str, Decimal] = field(default_factory=dict)
    commits: list[LedgerEntry] = field(default_factory=list)
    reverts: list[tuple[LedgerEntry, LedgerEntry]] = field(default_factory=list)

    def take_lock(self, user_id, owner, now, lease_until, default_balance, now_ms=None):
        balance = self.balances.setdefault(user_id, default_balance)
        return Lock(user_id, owner, balance, lease_until)

    def read_lock(self, user_id):
        return None

    def claim_next(self, user_id, owner, since_ms, until_ms, now_ms):
        return True

    def release_lock(self, user_id, owner):
        return True

    def commit(self, entry, owner, seen_balance, now):
        self.commits.append(entry)
        self.balances[entry.user_id] = entry.balance_after

    def revert(self, committed, reversal, owner, now):
        self.reverts.append((committed, reversal))

    def find_balance(self, user_id):
        return self.balances.get(user_id)


@dataclass
class FakeTransactions:
    stored: StoredTransaction | None = None
    written: list[PendingTransaction] = field(default_factory=list)
    committed_by_owner: LedgerEntry | None = None
    now: int | None = None  # the `now` of the last put_pending

    def put_pending(self, pending, now):
        self.written.append(pending)
        self.now = now
        return self.stored

    def delete_pending(self, user_id, key, owner):
        return self.committed_by_owner


def request(amount="10", type_=TransactionType.CREDIT, key="k1") -> TransactionRequest:
    return TransactionRequest("u1", key, type_, Decimal(amount))


def committed(req: TransactionRequest) -> Transaction:
    return Transaction("t-1", req.user_id, req.type, req.amount, Decimal("110"), "USD", "then")


def test_acquire_lock_sets_the_lease_from_now():
    clock = FakeClock(1000.5)
    lock = use_cases.acquire_lock(FakeAggregates(), "u1", "exec-1", 25, Decimal("100.00"),
                                  started_at=1000, remaining_seconds=4, policy=POLICY,
                                  clock=clock)  # fmt: skip
    assert (lock.balance, lock.lease_until) == (Decimal("100.00"), 1025)
    assert clock.slept == []


def test_put_writes_a_pending_record_with_a_stable_id():
    transactions = FakeTransactions()
    first = use_cases.put_transaction(transactions, request(), "exec-1", NOW)
    again = use_cases.put_transaction(transactions, request(), "exec-1", NOW)
    other = use_cases.put_transaction(transactions, request(), "exec-2", NOW)

    assert first.replay is None
    assert first.created_at == "2026-01-02T03:04:05.678Z"
    assert first.transaction_id == again.transaction_id != other.transaction_id
    assert [w.owner for w in transactions.written] == ["exec-1", "exec-1", "exec-2"]
    assert transactions.now == int(NOW.timestamp())  # the lease is checked against now


def test_put_finds_a_committed_replay():
    req = request()
    stored = StoredTransaction(req.fingerprint, committed(req))
    outcome = use_cases.put_transaction(FakeTransactions(stored), req, "exec-2", NOW)
    assert outcome.replay == committed(req)
    assert outcome.transaction_id == "t-1"


def test_put_rejects_a_reused_key():
    stored = StoredTransaction(request("11").fingerprint, committed(request("11")))
    with pytest.raises(IdempotencyKeyReusedError):
        use_cases.put_transaction(FakeTransactions(stored), request("10"), "exec-2", NOW)


def test_put_over_an_abandoned_pending_record_is_not_a_replay():
    stored = StoredTransaction(request("99").fingerprint, committed=None)
    outcome = use_cases.put_transaction(FakeTransactions(stored), request("10"), "exec-2", NOW)
    assert outcome.replay is None


@pytest.mark.parametrize(
    ("type_", "amount", "balance"),
    [(TransactionType.CREDIT, "10", "110.00"), (TransactionType.DEBIT, "100", "0.00")],
)
def test_update_balance_commits_the_new_balance_with_the_next_entry(type_, amount, balance):
    aggregates = FakeAggregates()
    transaction = use_cases.update_balance(
        aggregates, request(amount, type_), "exec-1", Decimal("100.00"), 4, "t-1", "now", "USD", 1
    )
    assert transaction.balance == Decimal(balance)
    assert aggregates.commits == [
        LedgerEntry("u1", 5, "t-1", type_, Decimal(amount), Decimal(balance), "USD", "now", "k1")
    ]


def test_update_balance_refuses_to_go_below_zero_and_writes_nothing():
    aggregates = FakeAggregates()
    with pytest.raises(InsufficientFundsError):
        use_cases.update_balance(
            aggregates,
            request("100.01", TransactionType.DEBIT),
            "e",
            Decimal(100),
            0,
            "t",
            "n",
            "USD",
            1,
        )
    assert aggregates.commits == []


def test_delete_transaction_reverts_only_a_commit_of_this_owner():
    aggregates = FakeAggregates()
    assert (
        use_cases.delete_transaction(FakeTransactions(), aggregates, "u1", "k1", "e", NOW) is False
    )
    assert aggregates.reverts == []

    mine = LedgerEntry("u1", 3, "t-1", TransactionType.DEBIT, Decimal("10"), Decimal("90"), "USD",
                       "then", "k1")  # fmt: skip
    reverted = use_cases.delete_transaction(
        FakeTransactions(committed_by_owner=mine), aggregates, "u1", "k1", "e", NOW
    )
    again = use_cases.delete_transaction(
        FakeTransactions(committed_by_owner=mine), aggregates, "u1", "k1", "e", NOW
    )

    assert reverted is again is True
    [(original, reversal), (_, reversal_again)] = aggregates.reverts
    assert original == mine
    assert reversal == reversal_again  # a retried revert writes the same entry, same id
    assert (reversal.sequence, reversal.reverses) == (4, "t-1")
    assert reversal.type is TransactionType.CREDIT
    assert (reversal.amount, reversal.balance_after) == (Decimal("10"), Decimal("100"))
    assert reversal.entry_id != mine.entry_id
    assert reversal.created_at == "2026-01-02T03:04:05.678Z"


@dataclass
class FakeBus:
    """Refuses each event the first `refusals[event_id]` times it is sent."""

    refusals: dict[str, int] = field(default_factory=dict)
    calls: list[list[str]] = field(default_factory=list)

    def put_events(self, events):
        self.calls.append([event.event_id for event in events])
        failed = [event for event in events if self.refusals.get(event.event_id, 0) > 0]
        for event in failed:
            self.refusals[event.event_id] -= 1
        return failed


def events(*ids: str) -> list[OutboxEvent]:
    return [OutboxEvent(event_id, "TransactionCommitted", "{}") for event_id in ids]


def test_forward_events_retries_exactly_the_refused_events():
    bus = FakeBus(refusals={"b": 1, "c": 2})

    assert use_cases.forward_events(bus, events("a", "b", "c", "d"), attempts=3) is None
    assert bus.calls == [["a", "b", "c", "d"], ["b", "c"], ["c"]]


def test_forward_events_names_the_first_event_still_refused():
    bus = FakeBus(refusals={"b": 5, "c": 5})

    assert use_cases.forward_events(bus, events("a", "b", "c", "d"), attempts=2) == "b"
    assert bus.calls == [["a", "b", "c", "d"], ["b", "c"]]


def test_get_balance_defaults_for_a_new_user():
    aggregates = FakeAggregates(balances={"known": Decimal("5.5")})
    assert use_cases.get_balance(aggregates, "new", Decimal("100.00"), "USD").to_dict() == {
        "userId": "new", "balance": "100.00", "currency": "USD"}  # fmt: skip
    assert use_cases.get_balance(aggregates, "known", Decimal("100.00"), "USD").balance == Decimal(
        "5.5"
    )
