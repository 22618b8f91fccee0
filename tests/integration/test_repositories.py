from decimal import Decimal

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from functions.domain.errors import LockLostError, StorageThrottledError, UserBusyError
from functions.domain.lock_wait import LockView
from functions.domain.models import (
    LedgerEntry,
    PendingTransaction,
    Transaction,
    TransactionRequest,
    TransactionType,
)
from functions.repositories import aggregates, ledger, transactions
from tests.invariants import balance_of, lock_owner, scan, transaction_items

DEFAULT = Decimal("100.00")


@pytest.fixture
def locks(client, settings):
    return aggregates.repository(settings)


@pytest.fixture
def records(client, settings):
    return transactions.repository(settings)


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


def settings_ttl() -> int:
    from functions.settings import get_settings

    return get_settings().outbox_ttl_seconds


def reversal_of(committed: LedgerEntry) -> LedgerEntry:
    return committed.reversal("r-1", "2026-01-01T00:00:01.000Z")


def ledger_items(client, user_id="u1") -> list[dict]:
    return [i for i in scan(client, "LedgerTable") if i["userId"]["S"] == user_id]


def test_take_lock_creates_the_row_with_the_default_balance(locks, client):
    lock = locks.take_lock("u1", "e1", now=1000, lease_until=1025, default_balance=DEFAULT)
    assert (lock.balance, lock.lease_until) == (DEFAULT, 1025)
    assert lock_owner(client, "u1") == "e1"


def test_take_lock_is_reentrant_for_its_owner_and_busy_for_others(locks):
    locks.take_lock("u1", "e1", now=1000, lease_until=1025, default_balance=DEFAULT)
    assert locks.take_lock("u1", "e1", now=1001, lease_until=1026, default_balance=DEFAULT)
    with pytest.raises(UserBusyError):
        locks.take_lock("u1", "e2", now=1002, lease_until=1027, default_balance=DEFAULT)


def test_take_lock_takes_over_an_expired_lease(locks, client):
    locks.take_lock("u1", "dead", now=1000, lease_until=1025, default_balance=DEFAULT)
    lock = locks.take_lock("u1", "e2", now=1026, lease_until=1051, default_balance=DEFAULT)
    assert lock.owner == "e2"
    assert lock_owner(client, "u1") == "e2"


# The line: a free lock goes to the next in line while its claim runs (lock_wait.py).

MS = 1000 * 1000  # now=1000 s in milliseconds


def test_a_poll_reads_the_lock_and_the_line(locks, client):
    assert locks.read_lock("u1") is None
    locks.take_lock("u1", "e1", now=1000, lease_until=1025, default_balance=DEFAULT)
    assert locks.claim_next("u1", "e2", since_ms=5, until_ms=MS + 3000, now_ms=MS)

    view = locks.read_lock("u1")

    assert view == LockView("e1", 1025, "e2", 5, MS + 3000)


def test_a_free_lock_is_refused_to_all_but_the_next_in_line(locks, client):
    locks.take_lock("u1", "e1", now=1000, lease_until=1025, default_balance=DEFAULT)
    assert locks.claim_next("u1", "next", since_ms=5, until_ms=MS + 3000, now_ms=MS)
    assert locks.release_lock("u1", "e1")

    with pytest.raises(UserBusyError):
        locks.take_lock("u1", "newcomer", now=1000, lease_until=1025, default_balance=DEFAULT,
                        now_ms=MS + 100)  # fmt: skip
    lock = locks.take_lock("u1", "next", now=1000, lease_until=1025, default_balance=DEFAULT,
                           now_ms=MS + 100)  # fmt: skip

    assert lock.owner == "next"
    assert locks.read_lock("u1") == LockView("next", 1025)  # taking it freed the place


def test_a_lapsed_claim_blocks_nobody(locks, client):
    locks.take_lock("u1", "e1", now=1000, lease_until=1025, default_balance=DEFAULT)
    assert locks.claim_next("u1", "gone", since_ms=5, until_ms=MS + 3000, now_ms=MS)
    locks.release_lock("u1", "e1")

    lock = locks.take_lock("u1", "e2", now=1003, lease_until=1028, default_balance=DEFAULT,
                           now_ms=MS + 3001)  # fmt: skip

    assert lock.owner == "e2"


def test_the_holder_retaking_its_lock_ignores_the_line(locks, client):
    locks.take_lock("u1", "e1", now=1000, lease_until=1025, default_balance=DEFAULT)
    assert locks.claim_next("u1", "next", since_ms=5, until_ms=MS + 3000, now_ms=MS)

    assert locks.take_lock("u1", "e1", now=1001, lease_until=1026, default_balance=DEFAULT)


@pytest.mark.parametrize(
    ("since_ms", "until_ms", "now_ms", "owner", "expected"),
    [(4, MS + 3000, MS, "e3", True),  # started earlier: takes the place
     (6, MS + 3000, MS, "e3", False),  # started later: leaves it
     (6, MS + 3000, MS + 3001, "e3", True),  # the claim lapsed
     (6, MS + 3000, MS, "e2", True)],  # its own place, renewed
    ids=["older", "younger", "lapsed", "own"],
)  # fmt: skip
def test_the_place_in_line_goes_to_the_oldest_waiter(locks, since_ms, until_ms, now_ms, owner,
                                                     expected):  # fmt: skip
    locks.take_lock("u1", "e1", now=1000, lease_until=1025, default_balance=DEFAULT)
    assert locks.claim_next("u1", "e2", since_ms=5, until_ms=MS + 3000, now_ms=MS)

    assert locks.claim_next("u1", owner, since_ms, until_ms, now_ms) is expected
    assert locks.read_lock("u1").next_owner == (owner if expected else "e2")


def test_no_place_in_line_for_a_user_without_a_row(locks, client):
    assert not locks.claim_next("nobody", "e1", since_ms=5, until_ms=MS, now_ms=MS)
    assert locks.find_balance("nobody") is None


def test_release_lock_only_frees_its_own_lock(locks, client):
    locks.take_lock("u1", "e1", now=1000, lease_until=1025, default_balance=DEFAULT)
    assert locks.release_lock("u1", "intruder") is False
    assert lock_owner(client, "u1") == "e1"
    assert locks.release_lock("u1", "e1") is True
    assert lock_owner(client, "u1") is None
    assert locks.release_lock("u1", "e1") is False  # nothing left to undo


def test_put_pending_then_commit_then_replay_is_found(locks, records, client):
    locks.take_lock("u1", "e1", now=1000, lease_until=1025, default_balance=DEFAULT)
    assert records.put_pending(pending(), now=1000) is None
    locks.commit(entry(), "e1", seen_balance=DEFAULT, now=1001)

    locks.release_lock("u1", "e1")
    locks.take_lock("u1", "e2", now=1002, lease_until=1027, default_balance=DEFAULT)
    stored = records.put_pending(pending(owner="e2"), now=1002)

    assert stored is not None
    assert stored.committed == result()
    assert stored.fingerprint == pending().request.fingerprint
    assert balance_of(client, "u1") == Decimal("110")


def test_put_pending_overwrites_an_abandoned_pending_record(locks, records, client):
    locks.take_lock("u1", "dead", now=1000, lease_until=1025, default_balance=DEFAULT)
    records.put_pending(pending(owner="dead", amount="99"), now=1000)
    locks.take_lock("u1", "e2", now=1026, lease_until=1051, default_balance=DEFAULT)
    assert records.put_pending(pending(owner="e2"), now=1026) is None
    [item] = transaction_items(client, "u1")
    assert (item["owner"]["S"], item["amount"]["N"]) == ("e2", "10")


def test_put_pending_is_fenced_by_the_lock(locks, records, client):
    with pytest.raises(LockLostError):
        records.put_pending(pending(), now=1000)  # no lock at all
    locks.take_lock("u1", "e1", now=1000, lease_until=1025, default_balance=DEFAULT)
    with pytest.raises(LockLostError):
        records.put_pending(pending(owner="intruder"), now=1001)
    with pytest.raises(LockLostError):
        records.put_pending(pending(), now=1026)  # e1's lease ran out
    assert transaction_items(client, "u1") == []


def test_put_pending_without_the_lock_is_lock_lost_even_where_a_replay_is_stored(
    locks, records, client
):
    locks.take_lock("u1", "e1", now=1000, lease_until=1025, default_balance=DEFAULT)
    records.put_pending(pending(), now=1000)
    locks.commit(entry(), "e1", seen_balance=DEFAULT, now=1001)
    locks.release_lock("u1", "e1")

    with pytest.raises(LockLostError):
        records.put_pending(pending(owner="e2"), now=1002)
    assert transaction_items(client, "u1")[0]["status"]["S"] == "COMMITTED"


def test_stale_holder_cannot_overwrite_the_new_holders_pending_record(locks, records, client):
    locks.take_lock("u1", "stale", now=1000, lease_until=1025, default_balance=DEFAULT)
    locks.take_lock("u1", "e2", now=1026, lease_until=1051, default_balance=DEFAULT)
    records.put_pending(pending(owner="e2"), now=1026)

    with pytest.raises(LockLostError):
        records.put_pending(pending(owner="stale", amount="99"), now=1027)

    [item] = transaction_items(client, "u1")
    assert (item["owner"]["S"], item["amount"]["N"]) == ("e2", "10")


def test_commit_is_fenced_by_the_owner_and_the_lease(locks, records, client):
    locks.take_lock("u1", "e1", now=1000, lease_until=1025, default_balance=DEFAULT)
    records.put_pending(pending(), now=1000)
    with pytest.raises(LockLostError):
        locks.commit(entry(), "intruder", seen_balance=DEFAULT, now=1001)
    with pytest.raises(LockLostError):
        locks.commit(entry(), "e1", seen_balance=DEFAULT, now=1026)  # lease ran out
    assert balance_of(client, "u1") == DEFAULT
    assert transaction_items(client, "u1")[0]["status"]["S"] == "PENDING"
    assert ledger_items(client) == [] and scan(client, "OutboxTable") == []


def test_commit_retried_by_its_owner_succeeds_without_applying_twice(locks, records, client):
    locks.take_lock("u1", "e1", now=1000, lease_until=1025, default_balance=DEFAULT)
    records.put_pending(pending(), now=1000)
    locks.commit(entry(), "e1", seen_balance=DEFAULT, now=1001)

    locks.commit(entry(), "e1", seen_balance=DEFAULT, now=1002)  # the step retried

    assert balance_of(client, "u1") == Decimal("110")
    [record] = transaction_items(client, "u1")
    assert (record["status"]["S"], record["sequence"]["N"]) == ("COMMITTED", "1")
    assert [ledger.entry_from_item(i) for i in ledger_items(client)] == [entry()]
    [event] = scan(client, "OutboxTable")
    assert (event["eventId"]["S"], event["detailType"]["S"]) == ("t-1", "TransactionCommitted")
    assert event["expiresAt"]["N"] == str(1001 + settings_ttl())


def test_commit_takes_the_next_sequence_and_refuses_a_stale_one(locks, records, client):
    assert locks.take_lock("u1", "e1", 1000, 1025, DEFAULT).last_sequence == 0
    records.put_pending(pending(), now=1000)
    with pytest.raises(LockLostError):  # the sequence seen under the lock was 0, not 1
        locks.commit(entry(sequence=2), "e1", seen_balance=DEFAULT, now=1001)
    locks.commit(entry(), "e1", seen_balance=DEFAULT, now=1001)
    locks.release_lock("u1", "e1")

    assert locks.take_lock("u1", "e2", 1002, 1027, DEFAULT).last_sequence == 1


def test_commit_of_another_owners_committed_record_is_lock_lost(locks, records, client):
    locks.take_lock("u1", "e1", now=1000, lease_until=1025, default_balance=DEFAULT)
    records.put_pending(pending(), now=1000)
    locks.commit(entry(), "e1", seen_balance=DEFAULT, now=1001)
    locks.take_lock("u1", "e2", now=1026, lease_until=1051, default_balance=DEFAULT)

    with pytest.raises(LockLostError):
        locks.commit(entry("120", sequence=2), "e2", seen_balance=Decimal("110"), now=1027)
    assert balance_of(client, "u1") == Decimal("110")


def test_delete_pending_only_touches_this_owners_uncommitted_record(locks, records, client):
    locks.take_lock("u1", "e1", now=1000, lease_until=1025, default_balance=DEFAULT)
    records.put_pending(pending(), now=1000)
    assert records.delete_pending("u1", "k1", "intruder") is None
    assert len(transaction_items(client, "u1")) == 1
    assert records.delete_pending("u1", "k1", "e1") is None
    assert transaction_items(client, "u1") == []
    assert records.delete_pending("u1", "k1", "e1") is None  # nothing left to undo


def test_delete_pending_returns_this_owners_commit_and_revert_undoes_it(locks, records, client):
    locks.take_lock("u1", "e1", now=1000, lease_until=1025, default_balance=DEFAULT)
    records.put_pending(pending(), now=1000)
    locks.commit(entry(), "e1", seen_balance=DEFAULT, now=1001)

    assert records.delete_pending("u1", "k1", "someone-else") is None
    committed = records.delete_pending("u1", "k1", "e1")
    assert committed == entry()
    locks.revert(committed, reversal_of(committed), "e1", now=1002)

    assert balance_of(client, "u1") == DEFAULT
    assert transaction_items(client, "u1") == []
    entries = sorted((ledger.entry_from_item(i) for i in ledger_items(client)),
                     key=lambda e: e.sequence)  # fmt: skip
    assert entries == [entry(), reversal_of(entry())]
    assert (entries[1].sequence, entries[1].balance_after, entries[1].type) == (
        2, DEFAULT, TransactionType.DEBIT)  # fmt: skip
    events = {i["eventId"]["S"]: i["detailType"]["S"] for i in scan(client, "OutboxTable")}
    assert events == {"t-1": "TransactionCommitted", "r-1": "TransactionReverted"}
    assert locks.take_lock("u1", "e1", 1003, 1028, DEFAULT).last_sequence == 2


def test_revert_is_fenced_by_the_owner(locks, records, client):
    locks.take_lock("u1", "e1", now=1000, lease_until=1025, default_balance=DEFAULT)
    records.put_pending(pending(), now=1000)
    locks.commit(entry(), "e1", seen_balance=DEFAULT, now=1001)
    locks.release_lock("u1", "e1")

    with pytest.raises(LockLostError):
        locks.revert(entry(), reversal_of(entry()), "e1", now=1002)
    assert balance_of(client, "u1") == Decimal("110")
    assert len(ledger_items(client)) == 1


def test_find_balance_never_writes(locks, client):
    assert locks.find_balance("nobody") is None
    assert "Item" not in client.get_item(
        TableName="AggregatesTable", Key={"userId": {"S": "nobody"}}
    )


@pytest.mark.parametrize(
    ("code", "expected"),
    [("ProvisionedThroughputExceededException", StorageThrottledError),
     ("ThrottlingException", StorageThrottledError),
     ("AccessDeniedException", ClientError)],
)  # fmt: skip
def test_client_errors_are_mapped_at_the_boundary(settings, code, expected):
    repository = aggregates.repository(settings)
    with Stubber(repository._client) as stub:
        stub.add_client_error("update_item", service_error_code=code)
        stub.add_client_error("update_item", service_error_code=code)
        stub.add_client_error("transact_write_items", service_error_code=code)
        stub.add_client_error("transact_write_items", service_error_code=code)
        stub.add_client_error("get_item", service_error_code=code)
        stub.add_client_error("update_item", service_error_code=code)
        with pytest.raises(expected):
            repository.take_lock("u1", "e1", 1, 2, DEFAULT)
        with pytest.raises(expected):
            repository.release_lock("u1", "e1")
        with pytest.raises(expected):
            repository.commit(entry(), "e1", DEFAULT, 1)
        with pytest.raises(expected):
            repository.revert(entry(), reversal_of(entry()), "e1", 1)
        with pytest.raises(expected):
            repository.read_lock("u1")
        with pytest.raises(expected):
            repository.claim_next("u1", "e1", 1, 2, 1)


@pytest.mark.parametrize(
    ("code", "expected"),
    [("RequestLimitExceeded", StorageThrottledError), ("ValidationException", ClientError)],
)
def test_transactions_client_errors_are_mapped(settings, code, expected):
    repository = transactions.repository(settings)
    with Stubber(repository._client) as stub:
        stub.add_client_error("transact_write_items", service_error_code=code)
        stub.add_client_error("delete_item", service_error_code=code)
        with pytest.raises(expected):
            repository.put_pending(pending(), now=1000)
        with pytest.raises(expected):
            repository.delete_pending("u1", "k1", "e1")


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
    locks, records = aggregates.repository(settings), transactions.repository(settings)
    assert records._client is locks._client  # one client per process: one stub serves both
    with Stubber(locks._client) as stub:
        for _ in range(3):
            stub.add_client_error("transact_write_items", "TransactionCanceledException",
                                  modeled_fields=cancelled(*codes))  # fmt: skip
        with pytest.raises(expected):
            records.put_pending(pending(), now=1000)
        with pytest.raises(expected):
            locks.commit(entry(), "e1", DEFAULT, 1000)
        with pytest.raises(expected):
            locks.revert(entry(), reversal_of(entry()), "e1", 1000)
