"""The writes that must land together across tables, each one TransactWriteItems: recording a
pending transaction under the lock, committing it, and reverting a commit.

Each table's module builds its own items (aggregates, transactions, ledger, outbox); this module
only assembles them, names the invariant each item's condition protects, and maps the
cancellation reasons to domain errors. A transfer's commit (both users' rows and entries) or a
hold's capture is one more method here, built from the same items.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import msgspec
from botocore.exceptions import ClientError

from functions.domain.errors import LockLostError
from functions.domain.models import (
    AccountState,
    Hold,
    LedgerEntry,
    PendingHold,
    PendingTransaction,
    PendingTransfer,
    StoredPlacement,
    StoredReversal,
    StoredTransaction,
    StoredTransfer,
)
from functions.repositories import aggregates, dynamodb, holds, ledger, outbox, transactions
from functions.settings import Settings

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient
    from types_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

LOCK_LOST = "this execution no longer holds the user's lock"


class Tables(msgspec.Struct, frozen=True):
    aggregates: str
    transactions: str
    ledger: str
    outbox: str
    holds: str = "holds"


class UnitOfWork:
    def __init__(
        self,
        client: "DynamoDBClient",
        tables: Tables,
        currency: str,
        outbox_ttl_seconds: int,
        hold_retention_seconds: int = 0,
    ) -> None:
        self._client = client
        self._tables = tables
        self._currency = currency
        self._outbox_ttl = timedelta(seconds=outbox_ttl_seconds)
        self._hold_retention = timedelta(seconds=hold_retention_seconds)

    def put_pending(self, pending: PendingTransaction, now: datetime) -> StoredTransaction | None:
        """Write `pending` unless a committed record holds its key; return that record if so.

        Written only while `pending.owner` holds a live lease on the user's lock, checked in the
        same transaction. A pending record can only be left by an execution whose lease is gone,
        so it is overwritten rather than replayed.
        Raises: LockLostError if `pending.owner` no longer holds the lock.
        """
        user_id = pending.request.user_id
        try:
            self._write(
                # Owner token and live lease: invariant 5.
                aggregates.lock_held_check(self._tables.aggregates, user_id, pending.owner, now),
                # At most one committed transaction per (userId, key): invariant 3.
                transactions.put_pending(self._tables.transactions, pending, self._currency),
            )
        except ClientError as error:
            lock, record = dynamodb.failed_conditions(error)
            if lock is not None:
                raise LockLostError(LOCK_LOST) from error
            assert record is not None
            return transactions.stored_transaction(record["Item"])
        return None

    def commit(self, entry: LedgerEntry, owner: str, seen_balance: Decimal, now: datetime) -> None:
        """In one atomic write: set the balance and the user's last sequence, commit the pending
        record, append `entry` to the ledger and write its event to the outbox.

        Succeeds again, writing nothing, when this owner's commit already landed (a step retried
        after a Lambda service error), so a retry never turns a done commit into a failure and
        never appends twice.
        Raises: LockLostError if `owner` no longer holds a live lease or its record is gone.
        """
        try:
            self._write(
                # Owner token and live lease (invariant 5); the balance and sequence seen under
                # the lock, so nothing moved them in between, and the next sequence (invariant 7).
                aggregates.balance_update(self._tables.aggregates, entry, owner, seen_balance, now),
                # Only the record this execution wrote, once: invariant 3.
                transactions.mark_committed(self._tables.transactions, entry, owner),
                # One entry per sequence: invariant 7.
                ledger.put_entry(self._tables.ledger, entry),
                # One event per entry: invariant 8.
                outbox.put_event(self._tables.outbox, entry, now + self._outbox_ttl),
            )
        except ClientError as error:
            _, record, *_ = dynamodb.failed_conditions(error)
            if record is not None and transactions.is_committed_by(
                record.get("Item", {}), entry, owner
            ):
                return
            raise LockLostError(LOCK_LOST) from error

    def revert(
        self, committed: LedgerEntry, compensating: LedgerEntry, owner: str, now: datetime
    ) -> None:
        """Undo what `owner` committed, atomically: restore the balance, delete the record (so
        its key can be used again), and append the `compensating` entry with its event.

        Raises: LockLostError if `owner` no longer holds a live lease (the commit then stands).
        """
        tables = self._tables
        try:
            self._write(
                # Owner token and live lease (invariant 5); the balance the commit left, and the
                # next sequence (invariant 7).
                aggregates.balance_update(
                    tables.aggregates, compensating, owner, committed.balance_after, now
                ),
                # The very record this owner committed, and only while committed (invariant 3).
                transactions.delete_committed(tables.transactions, committed, owner),
                # One entry per sequence: invariant 7.
                ledger.put_entry(tables.ledger, compensating),
                # One event per entry: invariant 8.
                outbox.put_event(tables.outbox, compensating, now + self._outbox_ttl),
            )
        except ClientError as error:
            dynamodb.failed_conditions(error)
            raise LockLostError(LOCK_LOST) from error

    def put_pending_transfer(
        self, pending: PendingTransfer, now: datetime
    ) -> StoredTransfer | None:
        """Write the pending transfer under the source's key unless a committed record holds it;
        return that record if so (put_pending's rules, in the source's one key namespace).

        Raises: LockLostError if `pending.owner` no longer holds the source's lock.
        """
        source = pending.request.from_user_id
        try:
            self._write(
                # Owner token and live lease on the source's lock: invariant 5.
                aggregates.lock_held_check(self._tables.aggregates, source, pending.owner, now),
                # At most one committed record per (userId, key), whichever endpoint: invariant 3.
                transactions.put_pending_transfer(
                    self._tables.transactions, pending, self._currency
                ),
            )
        except ClientError as error:
            lock, record = dynamodb.failed_conditions(error)
            if lock is not None:
                raise LockLostError(LOCK_LOST) from error
            assert record is not None
            return transactions.stored_transfer(record["Item"])
        return None

    def commit_transfer(
        self,
        debit: LedgerEntry,
        credit: LedgerEntry,
        owner: str,
        seen_balances: tuple[Decimal, Decimal],
        now: datetime,
    ) -> None:
        """In one atomic write: move both users' rows to their entries' balances and sequences,
        commit the transfer's record, append both entries and write both events. No reader ever
        sees one side without the other (invariant 10).

        Succeeds again, writing nothing, when this owner's commit already landed (a retried
        step), as commit does.
        Raises: LockLostError if `owner` no longer holds a live lease on either lock, or its
        record is gone.
        """
        tables, expires_at = self._tables, now + self._outbox_ttl
        source_seen, destination_seen = seen_balances
        try:
            self._write(
                # The source's lock owner and live lease (invariant 5), its balance and sequence
                # as seen under the lock; with the debit's balance_after >= 0 checked before, the
                # source never goes below zero (invariant 2), and takes its next sequence (7).
                aggregates.balance_update(tables.aggregates, debit, owner, source_seen, now),
                # The destination's, the same way: fenced by its lock, its next sequence (7).
                aggregates.balance_update(tables.aggregates, credit, owner, destination_seen, now),
                # Only the record this execution wrote, once: invariant 3.
                transactions.mark_committed(tables.transactions, debit, owner),
                # One entry per sequence, in each user's ledger: invariant 7.
                ledger.put_entry(tables.ledger, debit),
                ledger.put_entry(tables.ledger, credit),
                # One event per entry: invariant 8.
                outbox.put_event(tables.outbox, debit, expires_at),
                outbox.put_event(tables.outbox, credit, expires_at),
            )
        except ClientError as error:
            reasons = dynamodb.failed_conditions(error)
            record = reasons[2]
            if record is not None and transactions.is_committed_by(
                record.get("Item", {}), debit, owner
            ):
                return
            raise LockLostError(LOCK_LOST) from error

    def place_hold(
        self,
        hold: Hold,
        command_fingerprint: str,
        placed: dict[str, str],
        seen: AccountState,
        holds_after: Sequence[PendingHold],
        owner: str,
        now: datetime,
    ) -> StoredPlacement | None:
        """In one atomic write: add the hold to the row's pending holds (dropping those expired),
        record its key as used with POST /holds' answer, and store the hold. Returns the record
        already under the key instead, writing nothing, if a committed one holds it (a replay, a
        reused key, or this execution's own write found by its retried step).

        Raises: LockLostError if `owner` no longer holds a live lease.
        """
        tables = self._tables
        try:
            self._write(
                # Owner token and live lease (invariant 5); the balance and sequence seen under
                # the lock, whose `available` covered the hold (invariant 11).
                aggregates.holds_update(
                    tables.aggregates, hold.user_id, owner, seen, holds_after, now
                ),
                # At most one committed record per (userId, key), whichever endpoint: invariant 3.
                transactions.put_placement(
                    tables.transactions, hold, command_fingerprint, placed, owner
                ),
                # One hold per id.
                holds.put_hold(tables.holds, hold, self._hold_retention),
            )
        except ClientError as error:
            _, record, _ = dynamodb.failed_conditions(error)
            if record is not None and "Item" in record:
                return transactions.stored_placement(record["Item"])
            raise LockLostError(LOCK_LOST) from error
        return None

    def capture_hold(
        self,
        captured: Hold,
        entry: LedgerEntry,
        seen: AccountState,
        holds_after: Sequence[PendingHold],
        owner: str,
        now: datetime,
    ) -> None:
        """In one atomic write: move the row to the capture's debit `entry` and take the hold off
        its pending holds, mark the hold captured, append the entry and write its event.

        Succeeds again, writing nothing, when this owner's capture already landed (a retried
        step).
        Raises: LockLostError if `owner` no longer holds a live lease, or the hold was no longer
        pending and unexpired at `now` (another's change, under a lock this owner lost).
        """
        tables = self._tables
        try:
            self._write(
                # Owner token and live lease (invariant 5); the balance and sequence seen under
                # the lock (the debit was checked against them: invariants 2 and 11), and the
                # next sequence (invariant 7).
                aggregates.holds_update(
                    tables.aggregates, captured.user_id, owner, seen, holds_after, now, entry
                ),
                # Captured once, never once voided or expired: invariant 12.
                holds.mark_ended(tables.holds, captured, now),
                # One entry per sequence: invariant 7.
                ledger.put_entry(tables.ledger, entry),
                # One event per entry: invariant 8.
                outbox.put_event(tables.outbox, entry, now + self._outbox_ttl),
            )
        except ClientError as error:
            _, hold, *_ = dynamodb.failed_conditions(error)
            if hold is not None and holds.is_ended_by(hold.get("Item", {}), captured):
                return
            raise LockLostError(LOCK_LOST) from error

    def void_hold(
        self,
        voided: Hold,
        seen: AccountState,
        holds_after: Sequence[PendingHold],
        owner: str,
        now: datetime,
    ) -> None:
        """In one atomic write: take the hold off the row's pending holds and mark it voided.

        Succeeds again, writing nothing, when this owner's void already landed.
        Raises: LockLostError as capture_hold does.
        """
        tables = self._tables
        try:
            self._write(
                # Owner token and live lease (invariant 5), the state seen under the lock.
                aggregates.holds_update(
                    tables.aggregates, voided.user_id, owner, seen, holds_after, now
                ),
                # Voided once, never once captured or expired: invariant 12.
                holds.mark_ended(tables.holds, voided, now),
            )
        except ClientError as error:
            _, hold = dynamodb.failed_conditions(error)
            if hold is not None and holds.is_ended_by(hold.get("Item", {}), voided):
                return
            raise LockLostError(LOCK_LOST) from error

    def commit_reversal(
        self, entry: LedgerEntry, owner: str, seen_balance: Decimal, now: datetime
    ) -> StoredReversal | None:
        """In one atomic write: move the balance and the user's last sequence to the reversing
        `entry`'s, record the reversal under its transaction's reversal key, append `entry` to
        the ledger and write its event.

        Returns the reversal already recorded for the transaction instead, writing nothing: by
        another execution (a reversal at most once), or by this owner (a retried step).
        Raises: LockLostError if `owner` no longer holds a live lease.
        """
        tables = self._tables
        try:
            self._write(
                # Owner token and live lease (invariant 5); the balance and sequence seen under
                # the lock, and the next sequence (invariant 7).
                aggregates.balance_update(tables.aggregates, entry, owner, seen_balance, now),
                # A transaction is reversed at most once: invariant 12.
                transactions.put_reversal(tables.transactions, entry, owner),
                # One entry per sequence: invariant 7.
                ledger.put_entry(tables.ledger, entry),
                # One event per entry: invariant 8.
                outbox.put_event(tables.outbox, entry, now + self._outbox_ttl),
            )
        except ClientError as error:
            _, record, *_ = dynamodb.failed_conditions(error)
            if record is not None:
                return transactions.stored_reversal(record["Item"])
            raise LockLostError(LOCK_LOST) from error
        return None

    def _write(self, *items: "TransactWriteItemTypeDef") -> None:
        self._client.transact_write_items(TransactItems=list(items))


def repository(settings: Settings) -> UnitOfWork:
    return UnitOfWork(
        dynamodb.client(),
        Tables(
            aggregates=settings.aggregates_table_name,
            transactions=settings.transactions_table_name,
            ledger=settings.ledger_table_name,
            outbox=settings.outbox_table_name,
            holds=settings.holds_table_name,
        ),
        settings.currency,
        settings.outbox_ttl_seconds,
        settings.hold_retention_seconds,
    )
