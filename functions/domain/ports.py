"""What the write side's use cases need of storage, as Protocols (fakes need no patching).

Locking and money are apart: `Locks` is the user's lock (take, release, the waiting line, the
lease); `Commits` moves money, each method one atomic write across the tables that must agree,
fenced by the lock; `Balances` reads the committed balance. A transfer takes two users'
`Locks` in one global order and commits both sides through one `TransferCommits` method.
"""

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from functions.domain.events import OutboxEvent
from functions.domain.lock_wait import LockView
from functions.domain.models import (
    LedgerEntry,
    Lock,
    PendingTransaction,
    PendingTransfer,
    StoredReversal,
    StoredTransaction,
    StoredTransfer,
)


class Locks(Protocol):
    def take(self, user_id: str, owner: str, now: datetime, lease_until: datetime) -> Lock:
        """Raises: UserBusyError while another owner's lease runs, or another is next in line."""
        ...

    def read(self, user_id: str) -> LockView | None: ...

    def claim_next(
        self, user_id: str, owner: str, since: datetime, until: datetime, now: datetime
    ) -> bool: ...

    def release(self, user_id: str, owner: str) -> bool: ...


class Commits(Protocol):
    def put_pending(
        self, pending: PendingTransaction, now: datetime
    ) -> StoredTransaction | None: ...

    def commit(
        self, entry: LedgerEntry, owner: str, seen_balance: Decimal, now: datetime
    ) -> None: ...

    def revert(
        self, committed: LedgerEntry, compensating: LedgerEntry, owner: str, now: datetime
    ) -> None: ...


class TransferCommits(Protocol):
    def put_pending_transfer(
        self, pending: PendingTransfer, now: datetime
    ) -> StoredTransfer | None: ...

    def commit_transfer(
        self,
        debit: LedgerEntry,
        credit: LedgerEntry,
        owner: str,
        seen_balances: tuple[Decimal, Decimal],
        now: datetime,
    ) -> None: ...


class ReversalRecords(Protocol):
    def find_reversal(self, user_id: str, transaction_id: str) -> StoredReversal | None: ...


class Entries(Protocol):
    def find_entry(
        self, user_id: str, entry_id: str
    ) -> tuple[LedgerEntry | None, LedgerEntry | None]:
        """The user's entry with this id, and the entry reversing it (None for either absent)."""
        ...


class ReversalCommits(Protocol):
    def commit_reversal(
        self, entry: LedgerEntry, owner: str, seen_balance: Decimal, now: datetime
    ) -> StoredReversal | None:
        """None once `entry` is committed; the reversal already committed for its transaction
        (by this owner or another) instead, writing nothing."""
        ...


class Transactions(Protocol):
    def delete_pending(
        self, user_id: str, idempotency_key: str, owner: str
    ) -> LedgerEntry | None: ...

    def delete_pending_record(self, user_id: str, idempotency_key: str, owner: str) -> bool: ...


class Balances(Protocol):
    def find_balance(self, user_id: str) -> Decimal | None: ...


class EventBus(Protocol):
    def put_events(self, events: Sequence[OutboxEvent]) -> list[OutboxEvent]:
        """Publish `events`; returns those the bus did not accept."""
        ...
