"""The transfer's writes on moto (unit_of_work.py, transactions.py): the pending record under the
source's key, the commit of both sides in one TransactWriteItems, and each of its conditions."""

from decimal import Decimal

import pytest

from functions.domain import transfers
from functions.domain.errors import LockLostError
from functions.domain.models import (
    AccountState,
    PendingTransfer,
    StoredTransfer,
    TransactionType,
    TransferRequest,
)
from functions.repositories import locks, transactions, unit_of_work
from tests.builders import FakeClock, at
from tests.integration.test_repositories import LEASE, entry, hold, pending
from tests.invariants import balance_of, scan, transaction_items

REQUEST = TransferRequest("u1", "u2", "k1", Decimal("25"))
SEEN = AccountState(Decimal("100"), 0)


@pytest.fixture
def lock_rows(client, settings):
    return locks.repository(settings)


@pytest.fixture
def writes(client, settings):
    return unit_of_work.repository(settings)


def transfer_pending(owner="e1", request=REQUEST) -> PendingTransfer:
    return PendingTransfer(request, "tr-1", owner, "2026-01-01T00:00:00.000Z")


def hold_both(lock_rows, owner: str, second: float) -> None:
    hold(lock_rows, owner, second, "u1")
    hold(lock_rows, owner, second, "u2")


def commit(writes, owner="e1", second=1000.0):
    return transfers.commit_transfer(
        writes, transfer_pending(owner), SEEN, SEEN, "USD", FakeClock(at(second))
    )


def test_put_then_commit_moves_both_sides_and_a_replay_is_found(lock_rows, writes, client):
    hold_both(lock_rows, "e1", 1000)

    assert writes.put_pending_transfer(transfer_pending(), at(1000)) is None
    transfer = commit(writes)
    stored = writes.put_pending_transfer(transfer_pending(), at(1000))

    assert transfer.balance == Decimal("75")
    assert (balance_of(client, "u1"), balance_of(client, "u2")) == (Decimal(75), Decimal(125))
    assert stored == StoredTransfer(REQUEST.fingerprint, transfer)
    entries = {i["userId"]["S"]: i for i in scan(client, "LedgerTable")}
    assert entries["u1"]["type"]["S"] == TransactionType.DEBIT.value
    assert entries["u2"]["counterpartyUserId"]["S"] == "u1"
    assert len(scan(client, "OutboxTable")) == 2


def test_a_transactions_committed_record_is_found_as_another_payload(lock_rows, writes, client):
    hold_both(lock_rows, "e1", 1000)
    writes.put_pending(pending(), at(1000))  # a transaction of u1 under k1, committed below
    writes.commit(entry(), "e1", Decimal("100"), at(1000))

    stored = writes.put_pending_transfer(transfer_pending(), at(1000))

    assert stored is not None and stored.committed is None
    assert stored.fingerprint != REQUEST.fingerprint


def test_put_is_fenced_by_the_sources_lock(lock_rows, writes, client):
    hold(lock_rows, "e1", 1000, "u2")  # the destination's lock only

    with pytest.raises(LockLostError):
        writes.put_pending_transfer(transfer_pending(), at(1000))
    assert transaction_items(client, "u1") == []


@pytest.mark.parametrize("lost", ["u1", "u2"], ids=["source-lock-lost", "destination-lock-lost"])
def test_the_commit_is_fenced_by_both_locks_and_writes_nothing_without_either(
    lock_rows, writes, client, lost
):
    hold_both(lock_rows, "e1", 1000)
    writes.put_pending_transfer(transfer_pending(), at(1000))
    # The lease ran out and another execution took the lock over.
    lock_rows.take(lost, "e2", at(1000) + LEASE + LEASE, at(1000) + 3 * LEASE)

    with pytest.raises(LockLostError):
        commit(writes, second=1000)

    assert (balance_of(client, "u1"), balance_of(client, "u2")) == (Decimal(100), Decimal(100))
    assert scan(client, "LedgerTable") == scan(client, "OutboxTable") == []


def test_the_commit_refuses_a_balance_that_moved_since_the_lock(lock_rows, writes, client):
    hold_both(lock_rows, "e1", 1000)
    writes.put_pending_transfer(transfer_pending(), at(1000))

    with pytest.raises(LockLostError):
        transfers.commit_transfer(
            writes, transfer_pending(), AccountState(Decimal("200"), 0), SEEN, "USD",
            FakeClock(at(1000)),
        )  # fmt: skip
    assert scan(client, "LedgerTable") == []


def test_a_commit_retried_by_its_owner_succeeds_without_applying_twice(lock_rows, writes, client):
    hold_both(lock_rows, "e1", 1000)
    writes.put_pending_transfer(transfer_pending(), at(1000))

    commit(writes)
    commit(writes)  # the step retried after a lost answer

    assert (balance_of(client, "u1"), balance_of(client, "u2")) == (Decimal(75), Decimal(125))
    assert len(scan(client, "LedgerTable")) == 2


def test_the_compensation_deletes_a_pending_record_and_never_a_committed_one(
    lock_rows, writes, client, settings
):
    records = transactions.repository(settings)
    hold_both(lock_rows, "e1", 1000)
    writes.put_pending_transfer(transfer_pending(), at(1000))

    assert records.delete_pending_record("u1", "k1", "e2") is False  # not its record
    assert records.delete_pending_record("u1", "k1", "e1") is True
    assert records.delete_pending_record("u1", "k1", "e1") is False  # already gone
    writes.put_pending_transfer(transfer_pending(), at(1000))
    commit(writes)
    assert records.delete_pending_record("u1", "k1", "e1") is False
    assert [i["status"]["S"] for i in transaction_items(client, "u1")] == ["COMMITTED"]
