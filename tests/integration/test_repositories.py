"""The repositories on moto: the lock (locks.py), the balance (aggregates.py), the pending record
(transactions.py) and the multi-table writes (unit_of_work.py), with their conditions."""

from datetime import timedelta
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from functions.domain.errors import LockLostError, StorageThrottledError, UserBusyError
from functions.domain.lock_wait import LockView
from functions.domain.models import (
    LedgerEntry,
    Lock,
    PendingTransaction,
    Transaction,
    TransactionRequest,
    TransactionType,
)
from functions.repositories import aggregates, ledger, locks, transactions, unit_of_work
from tests.builders import DEFAULT_BALANCE as DEFAULT
from tests.builders import at
from tests.invariants import balance_of, lock_owner, scan, transaction_items

LEASE = timedelta(seconds=25)


@pytest.fixture
def lock_rows(client, settings):
    return locks.repository(settings)


@pytest.fixture
def records(client, settings):
    return transactions.repository(settings)


@pytest.fixture
def writes(client, settings):
    return unit_of_work.repository(settings)


def hold(lock_rows, owner: str, second: float, user_id="u1") -> Lock:
    """`owner` takes the user's lock at `second` (epoch seconds) with the usual 25 s lease."""
    return lock_rows.take(user_id, owner, at(second), at(second) + LEASE)


def pending(owner="e1", amount="10", key="k1") -> PendingTransaction:
    request = TransactionRequest("u1", key, TransactionType.CREDIT, Decimal(amount))
    return PendingTransaction(request, "t-1", owner, "2026-01-01T00:00:00.000Z")


def result(balance="110", amount="10") -> Transaction:
    return Transaction("t-1", "u1", TransactionType.CREDIT, Decimal(amount), Decimal(balance),
                       "USD", "2026-01-01T00:00:00.000Z")  # fmt: skip


def entry(balance="110", amount="10", sequence=1) -> LedgerEntry:
    """The ledger entry of `result()`: what commit appends."""
    return LedgerEntry("u1", sequence, "t-1", TransactionType.CREDIT, Decimal(amount),
                       Decimal(balance), "USD", "2026-01-01T00:00:00.000Z", "k1")  # fmt: skip


def compensating_entry_of(committed: LedgerEntry) -> LedgerEntry:
    return committed.compensating_entry("r-1", "2026-01-01T00:00:01.000Z")


def ledger_items(client, settings, user_id="u1") -> list[dict]:
    return [i for i in scan(client, settings.ledger_table_name) if i["userId"]["S"] == user_id]


def test_take_creates_the_row_with_the_default_balance(lock_rows, client):
    lock = hold(lock_rows, "e1", 1000)
    assert (lock.balance, lock.lease_until, lock.last_sequence) == (DEFAULT, at(1025), 0)
    assert lock_owner(client, "u1") == "e1"


def test_the_lease_is_kept_in_whole_seconds(lock_rows, client, settings):
    lock = lock_rows.take("u1", "e1", at(1000.75), at(1025.75))
    assert lock.lease_until == at(1025)
    item = client.get_item(TableName=settings.aggregates_table_name, Key={"userId": {"S": "u1"}})
    assert item["Item"]["leaseUntil"] == {"N": "1025"}


def test_take_is_reentrant_for_its_owner_and_busy_for_others(lock_rows):
    hold(lock_rows, "e1", 1000)
    assert hold(lock_rows, "e1", 1001)
    with pytest.raises(UserBusyError):
        hold(lock_rows, "e2", 1002)


def test_take_takes_over_an_expired_lease(lock_rows, client):
    hold(lock_rows, "dead", 1000)
    lock = hold(lock_rows, "e2", 1026)
    assert lock.owner == "e2"
    assert lock_owner(client, "u1") == "e2"


# The line: a free lock goes to the next in line while its claim runs (lock_wait.py).


def test_a_poll_reads_the_lock_and_the_line(lock_rows, client):
    assert lock_rows.read("u1") is None
    hold(lock_rows, "e1", 1000)
    assert lock_rows.claim_next("u1", "e2", since=at(0.005), until=at(1003), now=at(1000))

    view = lock_rows.read("u1")

    assert view == LockView("e1", at(1025), "e2", at(0.005), at(1003))


def test_a_free_lock_is_refused_to_all_but_the_next_in_line(lock_rows, client):
    hold(lock_rows, "e1", 1000)
    assert lock_rows.claim_next("u1", "next", since=at(0.005), until=at(1003), now=at(1000))
    assert lock_rows.release("u1", "e1")

    with pytest.raises(UserBusyError):
        hold(lock_rows, "newcomer", 1000.1)
    lock = hold(lock_rows, "next", 1000.1)

    assert lock.owner == "next"
    assert lock_rows.read("u1") == LockView("next", at(1025))  # taking it freed the place


def test_a_lapsed_claim_blocks_nobody(lock_rows, client):
    hold(lock_rows, "e1", 1000)
    assert lock_rows.claim_next("u1", "gone", since=at(0.005), until=at(1003), now=at(1000))
    lock_rows.release("u1", "e1")

    lock = hold(lock_rows, "e2", 1003.001)

    assert lock.owner == "e2"


def test_the_holder_retaking_its_lock_ignores_the_line(lock_rows, client):
    hold(lock_rows, "e1", 1000)
    assert lock_rows.claim_next("u1", "next", since=at(0.005), until=at(1003), now=at(1000))

    assert hold(lock_rows, "e1", 1001)


@pytest.mark.parametrize(
    ("since", "until", "now", "owner", "expected"),
    [(at(0.004), at(1003), at(1000), "e3", True),  # started earlier: takes the place
     (at(0.006), at(1003), at(1000), "e3", False),  # started later: leaves it
     (at(0.006), at(1003), at(1003.001), "e3", True),  # the claim lapsed
     (at(0.006), at(1003), at(1000), "e2", True)],  # its own place, renewed
    ids=["older", "younger", "lapsed", "own"],
)  # fmt: skip
def test_the_place_in_line_goes_to_the_oldest_waiter(lock_rows, since, until, now, owner,
                                                     expected):  # fmt: skip
    hold(lock_rows, "e1", 1000)
    assert lock_rows.claim_next("u1", "e2", since=at(0.005), until=at(1003), now=at(1000))

    assert lock_rows.claim_next("u1", owner, since, until, now) is expected
    assert lock_rows.read("u1").next_owner == (owner if expected else "e2")


def test_no_place_in_line_for_a_user_without_a_row(lock_rows, client, settings):
    assert not lock_rows.claim_next("nobody", "e1", since=at(0.005), until=at(1000), now=at(1000))
    assert aggregates.repository(settings).find_balance("nobody") is None


def test_release_only_frees_its_own_lock(lock_rows, client):
    hold(lock_rows, "e1", 1000)
    assert lock_rows.release("u1", "intruder") is False
    assert lock_owner(client, "u1") == "e1"
    assert lock_rows.release("u1", "e1") is True
    assert lock_owner(client, "u1") is None
    assert lock_rows.release("u1", "e1") is False  # nothing left to undo


def test_put_pending_then_commit_then_replay_is_found(lock_rows, writes, client):
    hold(lock_rows, "e1", 1000)
    assert writes.put_pending(pending(), at(1000)) is None
    writes.commit(entry(), "e1", seen_balance=DEFAULT, now=at(1001))

    lock_rows.release("u1", "e1")
    hold(lock_rows, "e2", 1002)
    stored = writes.put_pending(pending(owner="e2"), at(1002))

    assert stored is not None
    assert stored.committed == result()
    assert stored.fingerprint == pending().request.fingerprint
    assert balance_of(client, "u1") == Decimal("110")


def test_put_pending_overwrites_an_abandoned_pending_record(lock_rows, writes, client):
    hold(lock_rows, "dead", 1000)
    writes.put_pending(pending(owner="dead", amount="99"), at(1000))
    hold(lock_rows, "e2", 1026)
    assert writes.put_pending(pending(owner="e2"), at(1026)) is None
    [item] = transaction_items(client, "u1")
    assert (item["owner"]["S"], item["amount"]["N"]) == ("e2", "10")


def test_put_pending_is_fenced_by_the_lock(lock_rows, writes, client):
    with pytest.raises(LockLostError):
        writes.put_pending(pending(), at(1000))  # no lock at all
    hold(lock_rows, "e1", 1000)
    with pytest.raises(LockLostError):
        writes.put_pending(pending(owner="intruder"), at(1001))
    with pytest.raises(LockLostError):
        writes.put_pending(pending(), at(1026))  # e1's lease ran out
    assert transaction_items(client, "u1") == []


def test_put_pending_without_the_lock_is_lock_lost_even_where_a_replay_is_stored(
    lock_rows, writes, client
):
    hold(lock_rows, "e1", 1000)
    writes.put_pending(pending(), at(1000))
    writes.commit(entry(), "e1", seen_balance=DEFAULT, now=at(1001))
    lock_rows.release("u1", "e1")

    with pytest.raises(LockLostError):
        writes.put_pending(pending(owner="e2"), at(1002))
    assert transaction_items(client, "u1")[0]["status"]["S"] == "COMMITTED"


def test_stale_holder_cannot_overwrite_the_new_holders_pending_record(lock_rows, writes, client):
    hold(lock_rows, "stale", 1000)
    hold(lock_rows, "e2", 1026)
    writes.put_pending(pending(owner="e2"), at(1026))

    with pytest.raises(LockLostError):
        writes.put_pending(pending(owner="stale", amount="99"), at(1027))

    [item] = transaction_items(client, "u1")
    assert (item["owner"]["S"], item["amount"]["N"]) == ("e2", "10")


def test_commit_is_fenced_by_the_owner_and_the_lease(lock_rows, writes, client, settings):
    hold(lock_rows, "e1", 1000)
    writes.put_pending(pending(), at(1000))
    with pytest.raises(LockLostError):
        writes.commit(entry(), "intruder", seen_balance=DEFAULT, now=at(1001))
    with pytest.raises(LockLostError):
        writes.commit(entry(), "e1", seen_balance=DEFAULT, now=at(1026))  # lease ran out
    assert balance_of(client, "u1") == DEFAULT
    assert transaction_items(client, "u1")[0]["status"]["S"] == "PENDING"
    assert ledger_items(client, settings) == []
    assert scan(client, settings.outbox_table_name) == []


def test_a_lease_holds_to_the_end_of_its_last_second(lock_rows, writes, client):
    hold(lock_rows, "e1", 1000)  # leaseUntil 1025
    writes.put_pending(pending(), at(1025.999))
    writes.commit(entry(), "e1", seen_balance=DEFAULT, now=at(1025.999))
    assert balance_of(client, "u1") == Decimal("110")


def test_commit_retried_by_its_owner_succeeds_without_applying_twice(
    lock_rows, writes, client, settings
):
    hold(lock_rows, "e1", 1000)
    writes.put_pending(pending(), at(1000))
    writes.commit(entry(), "e1", seen_balance=DEFAULT, now=at(1001))

    writes.commit(entry(), "e1", seen_balance=DEFAULT, now=at(1002))  # the step retried

    assert balance_of(client, "u1") == Decimal("110")
    [record] = transaction_items(client, "u1")
    assert (record["status"]["S"], record["sequence"]["N"]) == ("COMMITTED", "1")
    assert [ledger.entry_from_item(i) for i in ledger_items(client, settings)] == [entry()]
    [event] = scan(client, settings.outbox_table_name)
    assert (event["eventId"]["S"], event["detailType"]["S"]) == ("t-1", "TransactionCommitted")
    assert event["expiresAt"]["N"] == str(1001 + settings.outbox_ttl_seconds)


def test_commit_takes_the_next_sequence_and_refuses_a_stale_one(lock_rows, writes, client):
    assert hold(lock_rows, "e1", 1000).last_sequence == 0
    writes.put_pending(pending(), at(1000))
    with pytest.raises(LockLostError):  # the sequence seen under the lock was 0, not 1
        writes.commit(entry(sequence=2), "e1", seen_balance=DEFAULT, now=at(1001))
    writes.commit(entry(), "e1", seen_balance=DEFAULT, now=at(1001))
    lock_rows.release("u1", "e1")

    assert hold(lock_rows, "e2", 1002).last_sequence == 1


def test_commit_of_another_owners_committed_record_is_lock_lost(lock_rows, writes, client):
    hold(lock_rows, "e1", 1000)
    writes.put_pending(pending(), at(1000))
    writes.commit(entry(), "e1", seen_balance=DEFAULT, now=at(1001))
    hold(lock_rows, "e2", 1026)

    with pytest.raises(LockLostError):
        writes.commit(entry("120", sequence=2), "e2", seen_balance=Decimal("110"), now=at(1027))
    assert balance_of(client, "u1") == Decimal("110")


def test_delete_pending_only_touches_this_owners_uncommitted_record(
    lock_rows, writes, records, client
):
    hold(lock_rows, "e1", 1000)
    writes.put_pending(pending(), at(1000))
    assert records.delete_pending("u1", "k1", "intruder") is None
    assert len(transaction_items(client, "u1")) == 1
    assert records.delete_pending("u1", "k1", "e1") is None
    assert transaction_items(client, "u1") == []
    assert records.delete_pending("u1", "k1", "e1") is None  # nothing left to undo


def test_delete_pending_returns_this_owners_commit_and_revert_undoes_it(
    lock_rows, writes, records, client, settings
):
    hold(lock_rows, "e1", 1000)
    writes.put_pending(pending(), at(1000))
    writes.commit(entry(), "e1", seen_balance=DEFAULT, now=at(1001))

    assert records.delete_pending("u1", "k1", "someone-else") is None
    committed = records.delete_pending("u1", "k1", "e1")
    assert committed == entry()
    writes.revert(committed, compensating_entry_of(committed), "e1", now=at(1002))

    assert balance_of(client, "u1") == DEFAULT
    assert transaction_items(client, "u1") == []
    entries = sorted((ledger.entry_from_item(i) for i in ledger_items(client, settings)),
                     key=lambda e: e.sequence)  # fmt: skip
    assert entries == [entry(), compensating_entry_of(entry())]
    assert (entries[1].sequence, entries[1].balance_after, entries[1].type) == (
        2, DEFAULT, TransactionType.DEBIT)  # fmt: skip
    events = {
        i["eventId"]["S"]: i["detailType"]["S"] for i in scan(client, settings.outbox_table_name)
    }
    assert events == {"t-1": "TransactionCommitted", "r-1": "TransactionReverted"}
    assert hold(lock_rows, "e1", 1003).last_sequence == 2


def test_revert_is_fenced_by_the_owner(lock_rows, writes, client, settings):
    hold(lock_rows, "e1", 1000)
    writes.put_pending(pending(), at(1000))
    writes.commit(entry(), "e1", seen_balance=DEFAULT, now=at(1001))
    lock_rows.release("u1", "e1")

    with pytest.raises(LockLostError):
        writes.revert(entry(), compensating_entry_of(entry()), "e1", now=at(1002))
    assert balance_of(client, "u1") == Decimal("110")
    assert len(ledger_items(client, settings)) == 1


def test_find_balance_never_writes(client, settings):
    assert aggregates.repository(settings).find_balance("nobody") is None
    assert "Item" not in client.get_item(
        TableName=settings.aggregates_table_name, Key={"userId": {"S": "nobody"}}
    )


NOW = at(1000)


@pytest.mark.parametrize(
    ("code", "expected"),
    [("ProvisionedThroughputExceededException", StorageThrottledError),
     ("ThrottlingException", StorageThrottledError),
     ("AccessDeniedException", ClientError)],
)  # fmt: skip
def test_client_errors_are_mapped_at_the_boundary(settings, code, expected):
    lock_rows, writes = locks.repository(settings), unit_of_work.repository(settings)
    assert writes._client is lock_rows._client  # one client per process: one stub serves both
    with Stubber(lock_rows._client) as stub:
        stub.add_client_error("update_item", service_error_code=code)
        stub.add_client_error("update_item", service_error_code=code)
        stub.add_client_error("transact_write_items", service_error_code=code)
        stub.add_client_error("transact_write_items", service_error_code=code)
        stub.add_client_error("get_item", service_error_code=code)
        stub.add_client_error("update_item", service_error_code=code)
        with pytest.raises(expected):
            lock_rows.take("u1", "e1", NOW, NOW + LEASE)
        with pytest.raises(expected):
            lock_rows.release("u1", "e1")
        with pytest.raises(expected):
            writes.commit(entry(), "e1", DEFAULT, NOW)
        with pytest.raises(expected):
            writes.revert(entry(), compensating_entry_of(entry()), "e1", NOW)
        with pytest.raises(expected):
            lock_rows.read("u1")
        with pytest.raises(expected):
            lock_rows.claim_next("u1", "e1", NOW, NOW, NOW)


@pytest.mark.parametrize(
    ("code", "expected"),
    [("RequestLimitExceeded", StorageThrottledError), ("ValidationException", ClientError)],
)
def test_transactions_client_errors_are_mapped(settings, code, expected):
    records, writes = transactions.repository(settings), unit_of_work.repository(settings)
    with Stubber(records._client) as stub:
        stub.add_client_error("transact_write_items", service_error_code=code)
        stub.add_client_error("delete_item", service_error_code=code)
        with pytest.raises(expected):
            writes.put_pending(pending(), NOW)
        with pytest.raises(expected):
            records.delete_pending("u1", "k1", "e1")


def cancelled(*codes: str) -> dict:
    """A TransactionCanceledException's response fields, one reason per item."""
    return {"CancellationReasons": [{"Code": code} for code in codes]}


@pytest.mark.parametrize(
    ("codes", "expected"),
    [(("TransactionConflict", "None"), StorageThrottledError),
     (("None", "ThrottlingError"), StorageThrottledError),
     (("ConditionalCheckFailed", "ProvisionedThroughputExceeded"), StorageThrottledError),
     # Another reason propagates as it is: it is not mistaken for a lost lock.
     (("ValidationError", "None"), ClientError)],
    ids=["conflict", "throttling", "throttling-beside-a-failed-condition", "another-reason"],
)  # fmt: skip
def test_a_cancelled_transaction_is_retried_only_for_a_conflict_or_throttling(
    settings, codes, expected
):
    # A conflict is what AcquireLock's retries on the same row cause: retried, never a failure.
    writes = unit_of_work.repository(settings)
    with Stubber(writes._client) as stub:
        for _ in range(3):
            stub.add_client_error("transact_write_items", "TransactionCanceledException",
                                  modeled_fields=cancelled(*codes))  # fmt: skip
        with pytest.raises(expected):
            writes.put_pending(pending(), NOW)
        with pytest.raises(expected):
            writes.commit(entry(), "e1", DEFAULT, NOW)
        with pytest.raises(expected):
            writes.revert(entry(), compensating_entry_of(entry()), "e1", NOW)


def test_find_balance_reads_the_committed_balance(lock_rows, writes, client, settings):
    hold(lock_rows, "e1", 1000)
    writes.put_pending(pending(), at(1000))
    writes.commit(entry(), "e1", seen_balance=DEFAULT, now=at(1001))
    assert aggregates.repository(settings).find_balance("u1") == Decimal("110")
