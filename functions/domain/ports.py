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
    AccountState,
    Hold,
    LedgerEntry,
    Lock,
    PendingHold,
    PendingTransaction,
    PendingTransfer,
    StoredPlacement,
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
    def find_account(self, user_id: str) -> AccountState | None: ...


class HoldCommits(Protocol):
    """Each change to a user's holds is one atomic write: the aggregate row's pending holds
    (`holds_after`, fenced by the lock and the state `seen` under it), the hold, and for a
    capture its ledger entry and event."""

    def place_hold(
        self,
        hold: Hold,
        command_fingerprint: str,
        placed: dict[str, str],
        seen: AccountState,
        holds_after: Sequence[PendingHold],
        owner: str,
        now: datetime,
    ) -> StoredPlacement | None: ...

    def capture_hold(
        self,
        captured: Hold,
        entry: LedgerEntry,
        seen: AccountState,
        holds_after: Sequence[PendingHold],
        owner: str,
        now: datetime,
    ) -> None: ...

    def void_hold(
        self,
        voided: Hold,
        seen: AccountState,
        holds_after: Sequence[PendingHold],
        owner: str,
        now: datetime,
    ) -> None: ...


class Holds(Protocol):
    def find_hold(self, user_id: str, hold_id: str) -> Hold | None: ...


class Placements(Protocol):
    def find_placement(self, user_id: str, idempotency_key: str) -> StoredPlacement | None: ...


class EventBus(Protocol):
    def put_events(self, events: Sequence[OutboxEvent]) -> list[OutboxEvent]:
        """Publish `events`; returns those the bus did not accept."""
        ...
