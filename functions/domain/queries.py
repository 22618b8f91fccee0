"""The read side's use cases: the balance, the history, the summaries, their projection and its
rebuild."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

import msgspec

from functions.domain.cursors import decode_cursor, encode_cursor
from functions.domain.models import Balance, LedgerEntry
from functions.domain.ports import Balances
from functions.domain.summaries import (
    Period,
    ProjectedState,
    Summary,
    SummaryPage,
    SummaryQuery,
    differences,
    summarize,
)

# Reads of the summaries that may race the consumer before the answer settles for a lower bound.
SNAPSHOT_ATTEMPTS = 3


class Ledger(Protocol):
    def newest(
        self, user_id: str, limit: int, before_sequence: int | None = None
    ) -> tuple[list[LedgerEntry], bool]: ...

    def entries_of(self, user_id: str) -> list[LedgerEntry]: ...

    def user_ids(self) -> set[str]: ...


class Projection(Protocol):
    def apply(self, entry: LedgerEntry) -> bool: ...

    def applied_sequence(self, user_id: str) -> int: ...

    def summaries(
        self, user_id: str, period: Period, first: datetime, last: datetime
    ) -> list[Summary]: ...

    def state_of(self, user_id: str) -> ProjectedState: ...

    def user_ids(self) -> set[str]: ...

    def replace(self, user_id: str, expected: ProjectedState, found: ProjectedState) -> bool: ...


class HistoryPage(msgspec.Struct, frozen=True):
    user_id: str
    entries: list[LedgerEntry]
    next_cursor: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "userId": self.user_id,
            "transactions": [entry.to_dict() for entry in self.entries],
            "nextCursor": self.next_cursor,
        }


def get_balance(
    balances: Balances, user_id: str, default_balance: Decimal, currency: str, now: datetime
) -> Balance:
    """The committed balance and `available` at `now` (less the holds still counting), from one
    read of the user's row; a user with no row yet has the default balance, all of it available."""
    account = balances.find_account(user_id)
    if account is None:
        return Balance(user_id, default_balance, currency, default_balance)
    return Balance(user_id, account.balance, currency, account.available(now))


def get_history(
    ledger: Ledger, key: bytes, user_id: str, limit: int, cursor: str | None
) -> HistoryPage:
    """A page of the user's entries, newest first. Entries are never changed once written and
    new ones only come on top, so following the cursors lists every entry once.

    Raises: ValidationError naming `cursor` unless it was issued for this user.
    """
    before = None if cursor is None else decode_cursor(key, user_id, cursor)
    entries, has_more = ledger.newest(user_id, limit, before)
    next_cursor = encode_cursor(key, user_id, entries[-1].sequence) if has_more else None
    return HistoryPage(user_id, entries, next_cursor)


def get_summaries(projection: Projection, query: SummaryQuery) -> SummaryPage:
    """The periods of the query as the projection holds them, with the sequence they are as of.

    Read as one snapshot: how far the projection is first, then the periods; a period that
    counts a later entry (the consumer wrote in between) means reading both again.
    """
    for _ in range(SNAPSHOT_ATTEMPTS):
        as_of = projection.applied_sequence(query.user_id)
        summaries = projection.summaries(
            query.user_id, query.period, query.first_period, query.last_period
        )
        if all(summary.last_sequence <= as_of for summary in summaries):
            break
    # Still racing: every entry up to as_of is in the totals, and some later ones too.
    return SummaryPage(query.user_id, query.period, as_of, summaries)


class StreamRecord(msgspec.Struct, frozen=True):
    """One record of a stream batch: its id (the stream's sequence number) and the new image."""

    record_id: str
    new_image: dict[str, Any] | None


class ProjectionOutcome(msgspec.Struct):
    applied: int = 0
    duplicates: int = 0
    skipped: int = 0
    failed_record: str | None = None
    error: str | None = None

    def batch_response(self) -> dict[str, list[dict[str, str]]]:
        """Lambda's partial batch response: the failed record, from which the batch is retried
        (everything after it is retried too, none of it having been applied)."""
        failures = [] if self.failed_record is None else [{"itemIdentifier": self.failed_record}]
        return {"batchItemFailures": failures}


def project_entries(
    projection: Projection,
    records: Sequence[StreamRecord],
    to_entry: Callable[[dict[str, Any]], LedgerEntry],
) -> ProjectionOutcome:
    """Apply the batch's entries in order, stopping at the first that fails: an entry is applied
    only after the one before it, so going on past a failure would only fail again."""
    outcome = ProjectionOutcome()
    for record in records:
        if record.new_image is None:
            outcome.skipped += 1  # not an insert: ledger entries are never changed or removed
            continue
        try:
            if projection.apply(to_entry(record.new_image)):
                outcome.applied += 1
            else:
                outcome.duplicates += 1
        except Exception as error:  # any failure: this record and the rest are delivered again
            outcome.failed_record = record.record_id
            outcome.error = f"{type(error).__name__}: {error}"
            break
    return outcome


class RebuildReport(msgspec.Struct):
    users: int = 0
    differing: dict[str, list[str]] = msgspec.field(default_factory=dict)
    repaired: int = 0
    retries: int = 0


def rebuild_summaries(
    ledger: Ledger,
    projection: Projection,
    *,
    repair: bool,
    users: Iterable[str] | None = None,
    attempts: int = 5,
) -> RebuildReport:
    """Recompute every user's projection from the ledger; report what differs and, with
    `repair`, overwrite it. A user the consumer moves on meanwhile is read again and redone.

    Raises: RuntimeError naming a user still racing the consumer after `attempts`.
    """
    report = RebuildReport()
    chosen = sorted(ledger.user_ids() | projection.user_ids()) if users is None else list(users)
    for user_id in chosen:
        report.users += 1
        for attempt in range(attempts):
            found = projection.state_of(user_id)
            # Read after the projection, the ledger holds every entry the projection applied.
            expected = summarize(ledger.entries_of(user_id))
            lines = differences(expected, found)
            if attempt == 0 and lines:
                report.differing[user_id] = lines
            if not lines or not repair:
                break
            if projection.replace(user_id, expected, found):
                report.repaired += 1
                break
            report.retries += 1
        else:
            raise RuntimeError(f"user {user_id!r} kept changing; run the rebuild again")
    return report
