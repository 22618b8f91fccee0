"""POST /transfers' saga steps (domain/transfers.py) and its parsing, with in-memory fakes."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from functions.domain import transfers
from functions.domain.errors import (
    IdempotencyKeyReusedError,
    InsufficientFundsError,
    UserBusyError,
    ValidationError,
)
from functions.domain.lock_wait import LockView, WaitPolicy
from functions.domain.locks import LockRequest
from functions.domain.models import (
    AccountState,
    LedgerEntry,
    Lock,
    PendingTransfer,
    StoredTransfer,
    TransactionRequest,
    TransactionType,
    Transfer,
    TransferRequest,
)
from functions.domain.requests import parse_transfer_request
from tests.builders import FakeClock, FakeLocks, FakeTransactions

NOW = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def request(source="b", destination="a", amount="25", key="t-1") -> TransferRequest:
    return TransferRequest(source, destination, key, Decimal(amount))


@dataclass
class UsersLocks:
    """A FakeLocks per user, on one clock; `order` records the users as their locks are taken."""

    locks: dict[str, FakeLocks]
    order: list[tuple[str, str]] = field(default_factory=list)

    def take(self, user_id: str, owner: str, now: datetime, lease_until: datetime) -> Lock:
        lock = self.locks[user_id].take(user_id, owner, now, lease_until)
        self.order.append(("take", user_id))
        return lock

    def read(self, user_id: str) -> LockView | None:
        return self.locks[user_id].read(user_id)

    def claim_next(
        self, user_id: str, owner: str, since: datetime, until: datetime, now: datetime
    ) -> bool:
        return self.locks[user_id].claim_next(user_id, owner, since, until, now)

    def release(self, user_id: str, owner: str) -> bool:
        self.order.append(("release", user_id))
        return self.locks[user_id].release(user_id, owner)


def acquire(users: UsersLocks, req: TransferRequest, clock: FakeClock) -> tuple[Lock, Lock]:
    def lock_request(user_id: str) -> LockRequest:
        return LockRequest(user_id, "exec-1", timedelta(seconds=25), NOW, remaining_seconds=4)

    return transfers.acquire_transfer_locks(
        users, req, lock_request, WaitPolicy(budget_seconds=7), clock
    )


@pytest.mark.parametrize(("source", "destination"), [("a", "b"), ("b", "a")])
def test_both_locks_are_taken_in_the_global_order_whatever_the_direction(source, destination):
    clock = FakeClock(NOW)
    users = UsersLocks({"a": FakeLocks(clock), "b": FakeLocks(clock)})

    first, second = acquire(users, request(source, destination), clock)

    assert (first.user_id, second.user_id) == ("a", "b")
    assert users.order == [("take", "a"), ("take", "b")]


def test_a_busy_second_lock_frees_the_first_before_the_error_is_raised():
    clock = FakeClock(NOW)
    busy = FakeLocks(clock, owner="other-execution")
    users = UsersLocks({"a": FakeLocks(clock), "b": busy})

    with pytest.raises(UserBusyError):
        acquire(users, request(), clock)

    assert users.order == [("take", "a"), ("release", "a")]
    assert users.locks["a"].owner is None
    assert busy.owner == "other-execution"


def test_a_busy_first_lock_takes_nothing():
    clock = FakeClock(NOW)
    users = UsersLocks({"a": FakeLocks(clock, owner="other-execution"), "b": FakeLocks(clock)})

    with pytest.raises(UserBusyError):
        acquire(users, request(), clock)

    assert users.order == []
    assert users.locks["b"].owner is None


@dataclass
class FakeTransferCommits:
    stored: StoredTransfer | None = None
    written: list[PendingTransfer] = field(default_factory=list)
    commits: list[tuple[LedgerEntry, LedgerEntry, str, tuple[Decimal, Decimal]]] = field(
        default_factory=list
    )

    def put_pending_transfer(
        self, pending: PendingTransfer, now: datetime
    ) -> StoredTransfer | None:
        self.written.append(pending)
        return self.stored

    def commit_transfer(
        self,
        debit: LedgerEntry,
        credit: LedgerEntry,
        owner: str,
        seen_balances: tuple[Decimal, Decimal],
        now: datetime,
    ) -> None:
        self.commits.append((debit, credit, owner, seen_balances))


def stored_transfer(req: TransferRequest) -> Transfer:
    return Transfer("tr-0", req.from_user_id, req.to_user_id, req.amount, "USD", Decimal(75), "t")


def test_put_writes_a_pending_record_with_a_stable_id():
    commits = FakeTransferCommits()

    first = transfers.put_transfer(commits, request(), "exec-1", FakeClock(NOW))
    again = transfers.put_transfer(commits, request(), "exec-1", FakeClock(NOW))

    assert first.transfer_id == again.transfer_id and first.replay is None
    assert first.created_at == "2026-01-02T03:04:05.678Z"
    assert [p.owner for p in commits.written] == ["exec-1", "exec-1"]


def test_put_finds_the_committed_transfer_to_replay():
    req = request()
    commits = FakeTransferCommits(StoredTransfer(req.fingerprint, stored_transfer(req)))

    outcome = transfers.put_transfer(commits, req, "exec-2", FakeClock(NOW))

    assert (outcome.transfer_id, outcome.replay) == ("tr-0", stored_transfer(req))


@pytest.mark.parametrize(
    "stored",
    [StoredTransfer(request(amount="26").fingerprint, stored_transfer(request(amount="26"))),
     StoredTransfer("a-transactions-fingerprint", None)],
    ids=["another-transfer", "a-transaction"],
)  # fmt: skip
def test_put_refuses_a_key_used_for_another_payload(stored):
    with pytest.raises(IdempotencyKeyReusedError):
        transfers.put_transfer(FakeTransferCommits(stored), request(), "exec-1", FakeClock(NOW))


def test_a_transfers_fingerprint_is_no_transactions():
    # The same user, amount and key as a debit: still another payload (one key namespace).
    debit = TransactionRequest("b", "t-1", TransactionType.DEBIT, Decimal(25))
    assert request().fingerprint != debit.fingerprint
    assert request().fingerprint != request("a", "b").fingerprint


def pending(req: TransferRequest) -> PendingTransfer:
    return PendingTransfer(req, "tr-1", "exec-1", "now")


def test_commit_moves_the_amount_with_each_users_next_entry():
    commits = FakeTransferCommits()
    req = request("b", "a", "25")

    transfer = transfers.commit_transfer(
        commits, pending(req), AccountState(Decimal(100), 2), AccountState(Decimal(50), 0), "USD",
        FakeClock(NOW),
    )  # fmt: skip

    assert transfer == Transfer("tr-1", "b", "a", Decimal(25), "USD", Decimal(75), "now")
    [(debit, credit, owner, seen)] = commits.commits
    assert (owner, seen) == ("exec-1", (Decimal(100), Decimal(50)))
    assert (debit.user_id, debit.type, debit.sequence, debit.balance_after) == (
        "b", TransactionType.DEBIT, 3, Decimal(75))  # fmt: skip
    assert (credit.user_id, credit.type, credit.sequence, credit.balance_after) == (
        "a", TransactionType.CREDIT, 1, Decimal(75))  # fmt: skip
    assert debit.entry_id == "tr-1" and credit.entry_id == transfers.credit_entry_id("tr-1")
    assert (debit.transfer_id, debit.counterparty_user_id) == ("tr-1", "a")
    assert (credit.transfer_id, credit.counterparty_user_id) == ("tr-1", "b")
    assert debit.idempotency_key == credit.idempotency_key == "t-1"


def test_commit_refuses_to_take_the_source_below_zero_and_writes_nothing():
    commits = FakeTransferCommits()

    with pytest.raises(InsufficientFundsError):
        transfers.commit_transfer(
            commits, pending(request(amount="100.01")), AccountState(Decimal(100), 0),
            AccountState(Decimal(0), 0), "USD", FakeClock(NOW),
        )  # fmt: skip

    assert commits.commits == []


def test_the_compensation_deletes_only_the_pending_record():
    fake = FakeTransactions()

    assert transfers.delete_transfer(fake, "b", "t-1", "exec-1") is True
    assert fake.deleted == [("b", "t-1", "exec-1")]


def test_parse_reads_both_users_the_amount_and_its_alias():
    body = '{"fromUserId": "1", "toUserId": "2", "ammount": "10.5"}'

    assert parse_transfer_request(body, "k") == TransferRequest("1", "2", "k", Decimal("10.5"))


def test_parse_takes_both_spellings_of_one_amount_however_written():
    body = '{"fromUserId": "1", "toUserId": "2", "amount": "10.5", "ammount": "10.50"}'

    assert parse_transfer_request(body, "k").amount == Decimal("10.5")


@pytest.mark.parametrize(
    ("body", "field"),
    [('{"fromUserId": "1", "toUserId": "1", "amount": "1"}', "toUserId"),
     ('{"toUserId": "1", "amount": "1"}', "fromUserId"),
     ('{"fromUserId": "1", "toUserId": "", "amount": "1"}', "toUserId"),
     ('{"fromUserId": "1", "toUserId": "2", "amount": "-1"}', "amount"),
     ('{"fromUserId": "1", "toUserId": "2", "amount": "1", "ammount": "2"}', "ammount"),
     ('{"fromUserId": "1", "toUserId": "2"}', "^amount is required")],
    ids=["same-user", "no-source", "empty-destination", "negative", "both-spellings-differ",
         "no-amount"],
)  # fmt: skip
def test_parse_refuses_naming_the_field(body, field):
    with pytest.raises(ValidationError, match=field):
        parse_transfer_request(body, "k")
