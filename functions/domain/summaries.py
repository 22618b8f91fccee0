"""The summaries projection: the ledger's entries totalled per hour and per day (UTC)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

import msgspec
from msgspec.structs import replace

from functions.domain.errors import ValidationError
from functions.domain.models import LedgerEntry, TransactionType
from functions.domain.money import format_money

MAX_PERIODS = 744  # 31 days of hours
# An ISO 8601 instant in UTC: a date, a time to the second at least, and Z or a zero offset.
_INSTANT = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]00:?00)", re.ASCII | re.IGNORECASE
)


class Period(StrEnum):
    HOUR = "hour"
    DAY = "day"

    @property
    def length(self) -> timedelta:
        return timedelta(hours=1) if self is Period.HOUR else timedelta(days=1)

    @property
    def default_span(self) -> timedelta:
        """How far back `from` lies when the client does not say (contract: 24 h or 30 days)."""
        return timedelta(hours=24) if self is Period.HOUR else timedelta(days=30)

    def start_of(self, moment: datetime) -> datetime:
        """The start of the period that contains `moment` (UTC)."""
        moment = moment.astimezone(UTC)
        if self is Period.HOUR:
            return moment.replace(minute=0, second=0, microsecond=0)
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def format_instant(moment: datetime) -> str:
    # isoformat pads the year to 4 digits (strftime may not), so bucket keys sort in time order.
    return moment.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat() + "Z"


def entry_time(entry: LedgerEntry) -> datetime:
    return datetime.fromisoformat(entry.created_at.replace("Z", "+00:00")).astimezone(UTC)


class Summary(msgspec.Struct, frozen=True):
    """One period's totals; `last_sequence` is the sequence of the last entry counted in it."""

    period: Period
    start: datetime
    credits: Decimal
    debits: Decimal
    count: int
    closing_balance: Decimal
    last_sequence: int

    @classmethod
    def empty(cls, period: Period, start: datetime) -> Summary:
        return cls(period, start, Decimal("0"), Decimal("0"), 0, Decimal("0"), 0)

    def including(self, entry: LedgerEntry) -> Summary:
        """These totals with `entry` counted; entries are counted in sequence order, so its
        balance is the period's closing balance."""
        is_credit = entry.type is TransactionType.CREDIT
        return replace(
            self,
            credits=self.credits + (entry.amount if is_credit else 0),
            debits=self.debits + (0 if is_credit else entry.amount),
            count=self.count + 1,
            closing_balance=entry.balance_after,
            last_sequence=entry.sequence,
        )

    def to_dict(self) -> dict[str, str | int]:
        return {
            "start": format_instant(self.start),
            "credits": format_money(self.credits),
            "debits": format_money(self.debits),
            "net": format_money(self.credits - self.debits),
            "count": self.count,
            "closingBalance": format_money(self.closing_balance),
        }


class SummaryQuery(msgspec.Struct, frozen=True):
    user_id: str
    period: Period
    start: datetime  # inclusive
    end: datetime  # exclusive

    @property
    def first_period(self) -> datetime:
        return self.period.start_of(self.start)

    @property
    def last_period(self) -> datetime:
        """The start of the last period overlapping [start, end)."""
        return self.period.start_of(self.end - timedelta(microseconds=1))

    @property
    def period_count(self) -> int:
        if self.end <= self.start:
            return 0
        return (self.last_period - self.first_period) // self.period.length + 1


class SummaryPage(msgspec.Struct, frozen=True):
    user_id: str
    period: Period
    as_of_sequence: int
    summaries: list[Summary]

    def to_dict(self) -> dict[str, object]:
        return {
            "userId": self.user_id,
            "period": self.period.value,
            "asOfSequence": self.as_of_sequence,
            "summaries": [summary.to_dict() for summary in self.summaries],
        }


def parse_period(value: object) -> Period:
    if value not in ("hour", "day"):
        raise ValidationError('period is required and must be "hour" or "day"')
    return Period(str(value))


def parse_instant(value: str, name: str) -> datetime:
    """Raises: ValidationError naming `name` unless an ISO 8601 instant in UTC."""
    if not _INSTANT.fullmatch(value):
        raise ValidationError(
            f"{name} must be an ISO 8601 instant in UTC, such as 2026-12-01T00:00:00Z"
        )
    try:
        return datetime.fromisoformat(value.upper().replace("Z", "+00:00")).astimezone(UTC)
    except ValueError as error:  # a well-formed but impossible date, such as 2026-02-30
        raise ValidationError(f"{name} is not a valid date and time") from error


def parse_summary_query(
    user_id: str, period: object, start: str | None, end: str | None, now: datetime
) -> SummaryQuery:
    """The query with the contract's defaults: `to` now, `from` 24 hours (hour) or 30 days (day)
    before `to`. Periods are those overlapping [from, to).

    Raises: ValidationError naming the parameter.
    """
    chosen = parse_period(period)
    end_at = now.astimezone(UTC) if end is None else parse_instant(end, "to")
    if start is not None:
        start_at = parse_instant(start, "from")
    elif end_at - datetime.min.replace(tzinfo=UTC) < chosen.default_span:
        raise ValidationError("to is too early for the default from; give from as well")
    else:
        start_at = end_at - chosen.default_span
    if start_at > end_at:
        raise ValidationError("from must not be after to")
    query = SummaryQuery(user_id, chosen, start_at, end_at)
    if query.period_count > MAX_PERIODS:
        raise ValidationError(
            f"from and to span {query.period_count} periods ({chosen.value}s); "
            f"at most {MAX_PERIODS} are allowed"
        )
    return query


class ProjectedState(msgspec.Struct, frozen=True):
    """A user's projection: the last sequence applied and the totals of every period."""

    last_sequence: int
    summaries: dict[tuple[Period, datetime], Summary]


def summarize(entries: Iterable[LedgerEntry]) -> ProjectedState:
    """The projection the ledger implies: every entry counted once, in sequence order, in its
    hour and its day."""
    totals: dict[tuple[Period, datetime], Summary] = {}
    last = 0
    for entry in sorted(entries, key=lambda e: e.sequence):
        for period in Period:
            key = (period, period.start_of(entry_time(entry)))
            totals[key] = totals.get(key, Summary.empty(*key)).including(entry)
        last = entry.sequence
    return ProjectedState(last, totals)


def differences(expected: ProjectedState, actual: ProjectedState) -> list[str]:
    """What `actual` gets wrong, as readable lines; empty when it equals `expected`."""
    found = []
    if actual.last_sequence != expected.last_sequence:
        found.append(
            f"asOfSequence {actual.last_sequence}, the ledger's last is {expected.last_sequence}"
        )
    for key in sorted(set(expected.summaries) | set(actual.summaries)):
        want, have = expected.summaries.get(key), actual.summaries.get(key)
        label = f"{key[0].value} {format_instant(key[1])}"
        if have is None:
            found.append(f"{label}: missing")
        elif want is None:
            found.append(f"{label}: not in the ledger ({have.to_dict()})")
        elif have != want:
            found.append(f"{label}: {have.to_dict()}, the ledger says {want.to_dict()}")
    return found
