"""The reversal's reads and write on moto (ledger.py, transactions.py, unit_of_work.py): the
entry and its reversing one found, the commit in one TransactWriteItems with the record that
makes it the only one, and each of its conditions."""

from decimal import Decimal

import pytest
from msgspec.structs import replace

from functions.domain import reversals
from functions.domain.errors import LockLostError
from functions.domain.models import AccountState, ReversalRequest
from functions.repositories import ledger, locks, transactions, unit_of_work
from tests.builders import FakeClock, at, put_ledger_entry
from tests.integration.test_repositories import LEASE, entry, hold, ledger_items
from tests.invariants import balance_of, scan


@pytest.fixture
def lock_rows(client, settings):
    return locks.repository(settings)


@pytest.fixture
def stores(client, settings):
    return (
        transactions.repository(settings),
        ledger.repository(settings),
        unit_of_work.repository(settings),
    )


def reverse(stores, owner="e1", second=1000.0, balance="110"):
    records, entries, writes = stores
    return reversals.reverse_transaction(
        records, entries, writes, ReversalRequest("u1", "t-1"),
        AccountState(Decimal(balance), 1), owner, FakeClock(at(second)),
    )  # fmt: skip


def committed_credit(lock_rows, client, owner="e1", second=1000.0):
    """Entry 1 of u1, a credit of 10.00, with the row as its commit left it, locked by `owner`."""
    hold(lock_rows, owner, second)
    put_ledger_entry(entry(), client)
    client.update_item(
        TableName="AggregatesTable",
        Key={"userId": {"S": "u1"}},
        UpdateExpression="SET balance = :b, lastSequence = :s",
        ExpressionAttributeValues={":b": {"N": "110"}, ":s": {"N": "1"}},
    )


def test_find_entry_finds_the_entry_and_the_one_reversing_it(lock_rows, client, stores):
    committed_credit(lock_rows, client)
    _, entries, _ = stores

    assert entries.find_entry("u1", "t-1") == (entry(), None)
    assert entries.find_entry("u2", "t-1") == (None, None)
    reversal = reverse(stores).transaction
    found, reversing = entries.find_entry("u1", "t-1")
    assert (found, reversing and reversing.entry_id) == (entry(), reversal.transaction_id)


class CountingClient:
    """The moto client, counting the ledger entries each Query reads (ScannedCount)."""

    def __init__(self, client):
        self._client = client
        self.scanned: list[int] = []

    def query(self, **request):
        page = self._client.query(**request)
        self.scanned.append(page["ScannedCount"])
        return page


@pytest.mark.parametrize(
    ("wanted", "pages", "read"),
    [(200, 1, 25), (176, 1, 25), (175, 2, 75), (1, 4, 200), ("absent", 4, 200)],
    ids=["newest", "25th-newest", "26th-newest", "oldest", "absent"],
)
def test_find_entry_reads_newest_first_and_stops_at_the_entry(
    client, settings, wanted, pages, read
):
    for sequence in range(1, 201):
        put_ledger_entry(replace(entry(), sequence=sequence, entry_id=f"t-{sequence}"), client)
    counting = CountingClient(client)
    entries = ledger.LedgerRepository(counting, settings.ledger_table_name)  # type: ignore[arg-type]

    found, _ = entries.find_entry("u1", f"t-{wanted}")

    assert (found and found.sequence) == (None if wanted == "absent" else wanted)
    assert (len(counting.scanned), sum(counting.scanned)) == (pages, read)


def test_the_commit_writes_the_row_the_record_the_entry_and_its_event(
    lock_rows, client, settings, stores
):
    committed_credit(lock_rows, client)

    outcome = reverse(stores)

    assert balance_of(client, "u1") == Decimal("100")
    [_, item] = sorted(ledger_items(client, settings), key=lambda i: int(i["sequence"]["N"]))
    assert (item["entryId"]["S"], item["reverses"]["S"]) == (outcome.transaction.transaction_id,
                                                              "t-1")  # fmt: skip
    [record] = [
        i for i in scan(client, settings.transactions_table_name)
        if i["idempotencyKey"]["S"] == transactions.reversal_key("t-1")
    ]  # fmt: skip
    assert (record["status"]["S"], record["owner"]["S"]) == ("COMMITTED", "e1")
    assert [i["eventId"]["S"] for i in scan(client, settings.outbox_table_name)] == [
        outcome.transaction.transaction_id
    ]
    records, _, _ = stores
    assert records.find_reversal("u1", "t-1") is not None
    assert records.find_reversal("u1", "t-2") is None


def test_a_second_commit_of_another_owner_meets_the_record_and_writes_nothing(
    lock_rows, client, settings, stores
):
    committed_credit(lock_rows, client)
    first = reverse(stores)
    _, _, writes = stores
    # The same reversal, built again by another execution that saw the row after it.
    second_try = replace(first_entry(client, settings), sequence=3)
    hold(lock_rows, "e1", 1000)

    stored = writes.commit_reversal(second_try, "e2", Decimal("100"), at(1000))

    assert stored is not None and (stored.transaction, stored.owner) == (first.transaction, "e1")
    assert len(ledger_items(client, settings)) == 2


def first_entry(client, settings):
    [item] = [i for i in ledger_items(client, settings) if "reverses" in i]
    return ledger.entry_from_item(item)


def test_a_commit_after_the_lease_ran_out_is_refused(lock_rows, client, settings, stores):
    committed_credit(lock_rows, client, second=1000)

    with pytest.raises(LockLostError):
        reverse(stores, second=1000 + LEASE.total_seconds() + 1)
    assert len(ledger_items(client, settings)) == 1
    assert balance_of(client, "u1") == Decimal("110")
