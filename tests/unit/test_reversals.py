"""POST /transactions/{transactionId}/reversal's saga step (domain/reversals.py) and its parsing,
with in-memory fakes."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import NAMESPACE_URL, uuid5

import pytest
from msgspec.structs import replace

from functions.domain import reversals
from functions.domain.errors import (
    InsufficientFundsError,
    NotFoundError,
    NotReversibleError,
    ValidationError,
)
from functions.domain.models import (
    AccountState,
    LedgerEntry,
    PendingHold,
    ReversalRequest,
    StoredReversal,
    Transaction,
    TransactionType,
)
from functions.domain.requests import parse_idempotency_key, parse_reversal_request
from functions.repositories.transactions import reversal_key
from tests.builders import FakeClock

NOW = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
OWNER = "execution-1"


def entry(entry_id="tx-1", type_="credit", amount="10.00", **fields) -> LedgerEntry:
    return LedgerEntry(
        user_id="u", sequence=1, entry_id=entry_id, type=TransactionType(type_),
        amount=Decimal(amount), balance_after=Decimal("110.00"), currency="USD",
        created_at="2026-01-01T00:00:00.000Z", idempotency_key="k-1", **fields,
    )  # fmt: skip


@dataclass
class FakeStore:
    """The ledger's entries, the reversal records and the commit, in memory."""

    entries: list[LedgerEntry] = field(default_factory=list)
    records: dict[str, StoredReversal] = field(default_factory=dict)
    commits: list[LedgerEntry] = field(default_factory=list)

    def find_reversal(self, user_id: str, transaction_id: str) -> StoredReversal | None:
        return self.records.get(transaction_id)

    def find_entry(
        self, user_id: str, entry_id: str
    ) -> tuple[LedgerEntry | None, LedgerEntry | None]:
        mine = [e for e in self.entries if e.user_id == user_id]
        found = [e for e in mine if e.entry_id == entry_id]
        reversing = [e for e in mine if e.reverses == entry_id]
        return (found[0] if found else None), (reversing[0] if reversing else None)

    def commit_reversal(
        self, entry: LedgerEntry, owner: str, seen_balance: Decimal, now: datetime
    ) -> StoredReversal | None:
        assert entry.reverses is not None
        if entry.reverses in self.records:
            return self.records[entry.reverses]
        self.commits.append(entry)
        self.entries.append(entry)
        self.records[entry.reverses] = StoredReversal(reversals._transaction(entry), owner)
        return None


def reverse(store: FakeStore, transaction_id="tx-1", user="u", balance="110.00", owner=OWNER):
    return reversals.reverse_transaction(
        store, store, store, ReversalRequest(user, transaction_id),
        AccountState(Decimal(balance), 1), owner, FakeClock(NOW),
    )  # fmt: skip


@pytest.mark.parametrize(("type_", "opposite"), [("credit", "debit"), ("debit", "credit")])
def test_the_reversing_entry_has_the_opposite_type_the_next_sequence_and_the_original_key(
    type_, opposite
):
    store = FakeStore([entry(type_=type_)])

    outcome = reverse(store)

    [committed] = store.commits
    assert committed == LedgerEntry(
        user_id="u", sequence=2, entry_id=reversals.reversal_entry_id("tx-1"),
        type=TransactionType(opposite), amount=Decimal("10.00"),
        balance_after=Decimal("100.00") if type_ == "credit" else Decimal("120.00"),
        currency="USD", created_at="2026-01-02T03:04:05.678Z", idempotency_key="k-1",
        reverses="tx-1",
    )  # fmt: skip
    assert outcome.replayed is False
    assert outcome.transaction == Transaction(
        transaction_id=committed.entry_id, user_id="u", type=TransactionType(opposite),
        amount=Decimal("10.00"), balance=committed.balance_after, currency="USD",
        created_at=committed.created_at, reverses="tx-1",
    )  # fmt: skip


def test_a_committed_reversal_is_replayed_and_nothing_is_written():
    store = FakeStore([entry()])
    first = reverse(store)

    again = reverse(store, owner="execution-2")

    assert (again.transaction, again.replayed) == (first.transaction, True)
    assert len(store.commits) == 1


def test_the_execution_that_committed_it_is_answered_as_the_first_time():
    # A step retried after a Lambda service error finds its own record: no replay.
    store = FakeStore([entry()])
    reverse(store)

    assert reverse(store).replayed is False


def test_a_reversal_committed_between_the_read_and_the_write_is_replayed():
    # The record's condition, not the read, makes it at most once.
    store = FakeStore([entry()])
    earlier = Transaction("r-0", "u", TransactionType.DEBIT, Decimal("10.00"),
                          Decimal("100.00"), "USD", "t", reverses="tx-1")  # fmt: skip
    store.find_reversal = lambda user_id, transaction_id: None  # type: ignore[method-assign]
    store.records["tx-1"] = StoredReversal(earlier, "execution-0")

    outcome = reverse(store)

    assert (outcome.transaction, outcome.replayed) == (earlier, True)
    assert store.commits == []


@pytest.mark.parametrize("user", ["u", "someone-else"])
def test_an_entry_not_in_the_users_ledger_is_not_found(user):
    store = FakeStore([entry()])

    with pytest.raises(NotFoundError):
        reverse(store, transaction_id="tx-1" if user != "u" else "tx-2", user=user)
    assert store.commits == []


@pytest.mark.parametrize(
    "fields",
    [{"reverses": "tx-0"}, {"transfer_id": "tr-1", "counterparty_user_id": "v"},
     {"hold_id": "h-1"}],
    ids=["a-reversal", "a-transfers-entry", "a-capture"],
)  # fmt: skip
def test_only_a_transactions_own_entry_is_reversible(fields):
    store = FakeStore([entry(**fields)])

    with pytest.raises(NotReversibleError):
        reverse(store)
    assert store.commits == []


def test_a_commit_its_compensation_undid_is_not_reversible():
    compensation = replace(entry(entry_id="c-1", type_="debit"), sequence=2, reverses="tx-1")
    store = FakeStore([entry(), compensation])

    with pytest.raises(NotReversibleError):
        reverse(store)


def test_reversing_a_credit_below_zero_is_refused_and_writes_nothing():
    store = FakeStore([entry(amount="10.00")])

    with pytest.raises(InsufficientFundsError):
        reverse(store, balance="9.99")
    assert store.commits == []
    assert reverse(store, balance="10.00").transaction.balance == Decimal("0.00")


def test_reversing_a_debit_needs_no_funds():
    store = FakeStore([entry(type_="debit")])

    assert reverse(store, balance="0.00").transaction.balance == Decimal("10.00")


def reverse_with_hold(store: FakeStore, balance: str, hold: str, at: datetime):
    seen = AccountState(Decimal(balance), 1, (PendingHold("h-1", Decimal(hold), HOLD_EXPIRES),))
    return reversals.reverse_transaction(
        store, store, store, ReversalRequest("u", "tx-1"), seen, OWNER, FakeClock(at)
    )


HOLD_EXPIRES = NOW + timedelta(hours=1)


@pytest.mark.parametrize(
    ("balance", "hold", "is_covered"),
    [("110.00", "100.00", True), ("110.00", "100.01", False), ("10.00", "0.01", False)],
    ids=["available-just-enough", "available-a-cent-short", "balance-enough-hold-not"],
)
def test_reversing_a_credit_is_checked_against_available(balance, hold, is_covered):
    store = FakeStore([entry(type_="credit")])
    if is_covered:
        assert reverse_with_hold(store, balance, hold, NOW).transaction.type.value == "debit"
    else:
        with pytest.raises(InsufficientFundsError):
            reverse_with_hold(store, balance, hold, NOW)
        assert store.commits == []


def test_an_expired_hold_no_longer_stands_in_the_way_of_a_reversal():
    store = FakeStore([entry(type_="credit")])
    with pytest.raises(InsufficientFundsError):
        reverse_with_hold(store, "10.00", "5.00", HOLD_EXPIRES - timedelta(milliseconds=1))

    outcome = reverse_with_hold(store, "10.00", "5.00", HOLD_EXPIRES)

    assert outcome.transaction.balance == Decimal("0.00")


def test_a_reversal_id_is_derived_and_never_a_compensations():
    # domain/transactions.py derives a compensation's id from "reversal\n" and the entry's.
    compensation_id = str(uuid5(NAMESPACE_URL, "reversal\ntx-1"))

    assert reversals.reversal_entry_id("tx-1") == reversals.reversal_entry_id("tx-1")
    assert reversals.reversal_entry_id("tx-1") not in (
        reversals.reversal_entry_id("tx-2"), compensation_id
    )  # fmt: skip


def test_no_idempotency_key_a_client_may_send_names_a_reversal_record():
    with pytest.raises(ValidationError, match="control characters"):
        parse_idempotency_key(reversal_key("tx-1"))


# Parsing


def test_a_reversal_request_is_its_path_id_and_its_bodys_user():
    assert parse_reversal_request('{"userId": "u"}', "tx-1") == ReversalRequest("u", "tx-1")


@pytest.mark.parametrize(
    ("body", "transaction_id", "message"),
    [
        ('{"userId": "u"}', "", "transactionId is required"),
        ('{"userId": "u"}', None, "transactionId is required"),
        ('{"userId": "u"}', "t" * 129, "transactionId must be at most 128"),
        ('{"userId": "u"}', "t\x1f", "transactionId must not contain control"),
        ('{"userId": "u"}', "t\ufffd", "transactionId must be valid UTF-8"),
        ("", "tx-1", "body is required: a JSON object with userId"),
        ("{}", "tx-1", "body is required: a JSON object with userId"),
        ("[1]", "tx-1", "body must be a JSON object"),
        ('{"userId": "u", "userId": "v"}', "tx-1", "body must be valid JSON"),
        ('{"userId": 7}', "tx-1", "userId is required"),
        ('{"userId": "u\\u0000"}', "tx-1", "userId must not contain control"),
        ({"tooLarge": True, "length": 20000}, "tx-1", "body is too large"),
    ],
    ids=["empty-id", "no-id", "long-id", "control-in-id", "replacement-in-id", "empty-body",
         "empty-object", "array", "duplicate-name", "user-not-a-string", "control-in-user",
         "too-large"],
)  # fmt: skip
def test_an_invalid_reversal_request_names_the_field(body, transaction_id, message):
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
        parse_reversal_request(body, transaction_id)
