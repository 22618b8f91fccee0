"""The summaries: periods, query parameters and their defaults, and the ledger grouped by period."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from functions.domain.errors import ValidationError
from functions.domain.summaries import (
    Period,
    ProjectedState,
    Summary,
    differences,
    parse_summary_query,
    summarize,
)
from tests.builders import ledger_entry

NOW = datetime(2026, 12, 1, 12, 30, tzinfo=UTC)


def at(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_an_entry_counts_in_its_hour_and_its_day_and_a_reversal_as_its_own_type():
    entries = [
        ledger_entry("u", 1, "12.50", created_at="2026-12-01T08:59:59.999Z"),
        ledger_entry("u", 2, "5.00", "debit", "2026-12-01T09:00:00.000Z", "107.50"),
        ledger_entry("u", 3, "7.50", created_at="2026-12-02T00:00:00.000Z", balance_after="115.00"),
    ]

    state = summarize(entries)

    assert state.last_sequence == 3
    day = state.summaries[(Period.DAY, at("2026-12-01T00:00:00Z"))]
    assert day.to_dict() == {"start": "2026-12-01T00:00:00Z", "credits": "12.50",
                             "debits": "5.00", "net": "7.50", "count": 2,
                             "closingBalance": "107.50"}  # fmt: skip
    hours = sorted(start for period, start in state.summaries if period is Period.HOUR)
    assert hours == [at("2026-12-01T08:00:00Z"), at("2026-12-01T09:00:00Z"),
                     at("2026-12-02T00:00:00Z")]  # fmt: skip


def test_entries_are_counted_in_sequence_order_whatever_order_they_come_in():
    entries = [ledger_entry("u", n) for n in (1, 2, 3)]
    assert summarize(reversed(entries)) == summarize(entries)
    day = summarize(entries).summaries[(Period.DAY, at("2026-12-01T00:00:00Z"))]
    assert (day.closing_balance, day.last_sequence) == (Decimal("130.00"), 3)


def test_differences_name_what_is_missing_extra_or_wrong():
    expected = summarize([ledger_entry("u", 1), ledger_entry("u", 2)])
    key = (Period.DAY, at("2026-12-01T00:00:00Z"))
    wrong = dict(expected.summaries)
    wrong[key] = Summary(Period.DAY, key[1], Decimal("20"), Decimal("0"), 3, Decimal("120"), 2)
    extra = Summary.empty(Period.DAY, at("2026-11-01T00:00:00Z"))
    del wrong[(Period.HOUR, at("2026-12-01T08:00:00Z"))]

    lines = differences(expected, ProjectedState(1, {**wrong, (Period.DAY, extra.start): extra}))

    assert lines[0] == "asOfSequence 1, the ledger's last is 2"
    assert any("day 2026-11-01T00:00:00Z: not in the ledger" in line for line in lines)
    assert any("day 2026-12-01T00:00:00Z: {" in line for line in lines)
    assert "hour 2026-12-01T08:00:00Z: missing" in lines
    assert differences(expected, expected) == []


def test_the_defaults_are_now_and_24_hours_or_30_days_before():
    hourly = parse_summary_query("u", "hour", None, None, NOW)
    daily = parse_summary_query("u", "day", None, None, NOW)

    assert (hourly.start, hourly.end) == (NOW - timedelta(hours=24), NOW)
    assert (daily.start, daily.end) == (NOW - timedelta(days=30), NOW)
    assert hourly.period_count == 25  # the partial hours at both ends overlap the range
    assert daily.first_period == at("2026-11-01T00:00:00Z")


def test_from_is_inclusive_and_to_exclusive():
    query = parse_summary_query("u", "day", "2026-12-01T00:00:00Z", "2026-12-03T00:00:00Z", NOW)
    assert (query.first_period, query.last_period) == (at("2026-12-01T00:00:00Z"),
                                                        at("2026-12-02T00:00:00Z"))  # fmt: skip
    assert query.period_count == 2
    assert parse_summary_query("u", "day", "2026-12-01T00:00:00Z", "2026-12-01T00:00:00Z",
                               NOW).period_count == 0  # fmt: skip


@pytest.mark.parametrize(
    ("value", "microseconds"),
    [("2026-12-01T00:00:00Z", 0), ("2026-12-01T00:00:00.5Z", 500000),
     ("2026-12-01T00:00:00+00:00", 0), ("2026-12-01t00:00:00z", 0),
     ("2026-12-01T00:00:00.123456Z", 123456), ("2026-12-01T00:00:00-0000", 0)],
)  # fmt: skip
def test_utc_instants_are_accepted(value, microseconds):
    query = parse_summary_query("u", "hour", value, None, NOW)
    assert query.start == at("2026-12-01T00:00:00Z") + timedelta(microseconds=microseconds)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        (("week", None, None), "period"),
        ((None, None, None), "period"),
        (("", None, None), "period"),
        (("hour", "yesterday", None), "from"),
        (("hour", "2026-12-01", None), "from"),
        (("hour", "2026-12-01T00:00:00+01:00", None), "from"),
        (("hour", "2026-12-01T00:00:00", None), "from"),
        (("hour", "2026-02-30T00:00:00Z", None), "from"),
        (("hour", "2026-12-01T00:00:00Z ", None), "from"),
        (("hour", None, "1764547200"), "to"),
        (("hour", "2026-12-02T00:00:00Z", "2026-12-01T00:00:00Z"), "from must not be after to"),
        (("hour", "2026-11-01T00:00:00Z", "2026-12-02T00:00:01Z"), "periods"),
        (("day", "2020-01-01T00:00:00Z", "2026-12-01T00:00:00Z"), "periods"),
        (("day", None, "0001-01-05T00:00:00Z"), "to is too early"),
        (("hour", "0000-01-01T00:00:00Z", None), "from"),
    ],
    ids=["unknown-period", "no-period", "empty-period", "from-word", "from-date-only",
         "from-offset", "from-no-zone", "from-impossible", "from-space", "to-epoch",
         "from-after-to", "too-many-hours", "too-many-days", "default-from-before-year-1",
         "year-0"],
)  # fmt: skip
def test_invalid_queries_are_refused_naming_the_parameter(params, field):
    period, start, end = params
    with pytest.raises(ValidationError, match=field):
        parse_summary_query("u", period, start, end, NOW)


def test_744_periods_are_allowed_and_745_are_not():
    start = "2026-11-01T00:00:00Z"
    assert parse_summary_query("u", "hour", start, "2026-12-02T00:00:00Z", NOW).period_count == 744
    with pytest.raises(ValidationError, match="745"):
        parse_summary_query("u", "hour", start, "2026-12-02T00:00:01Z", NOW)
