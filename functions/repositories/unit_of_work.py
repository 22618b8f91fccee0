"""The writes that must land together across tables, each one TransactWriteItems: recording a
pending transaction under the lock, committing it, and reverting a commit.

Each table's module builds its own items (aggregates, transactions, ledger, outbox); this module
only assembles them, names the invariant each item's condition protects, and maps the
cancellation reasons to domain errors. A transfer's commit (both users' rows and entries) or a
hold's capture is one more method here, built from the same items.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from functions.domain.errors import LockLostError
from functions.domain.models import (
    LedgerEntry,
    PendingTransaction,
    PendingTransfer,
    StoredReversal,
    StoredTransaction,
    StoredTransfer,
)
from functions.repositories import aggregates, dynamodb, ledger, outbox, transactions
from functions.settings import Settings

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient
    from types_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

LOCK_LOST = "this execution no longer holds the user's lock"


@dataclass(frozen=True)
class Tables:
    aggregates: str
    transactions: str
    ledger: str
    outbox: str


class UnitOfWork:
    def __init__(
        self, client: "DynamoDBClient", tables: Tables, currency: str, outbox_ttl_seconds: int
    ) -> None:
        self._client = client
        self._tables = tables
        self._currency = currency
        self._outbox_ttl = timedelta(seconds=outbox_ttl_seconds)

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
        ),
        settings.currency,
        settings.outbox_ttl_seconds,
    )
