"""The real clock and the epoch numbers a moment is stored as (functions/clock.py)."""

from datetime import UTC, datetime, timedelta

import pytest

from functions.clock import (
    SystemClock,
    epoch_millis,
    epoch_seconds,
    from_epoch_millis,
    from_epoch_seconds,
)


def test_the_system_clock_reads_aware_utc_time():
    now = SystemClock().now()
    assert now.tzinfo is UTC
    assert abs(datetime.now(UTC) - now) < timedelta(seconds=5)


@pytest.mark.parametrize(
    ("moment", "seconds", "millis"),
    [
        (datetime(2026, 12, 1, 10, 0, 0, 999_999, tzinfo=UTC), 1796119200, 1796119200999),
        (datetime(2026, 12, 1, 10, 0, 0, 1_000, tzinfo=UTC), 1796119200, 1796119200001),
        (datetime(1970, 1, 1, tzinfo=UTC), 0, 0),
    ],
    ids=["last-microsecond", "first-millisecond", "epoch"],
)
def test_epoch_numbers_round_down_exactly(moment, seconds, millis):
    assert (epoch_seconds(moment), epoch_millis(moment)) == (seconds, millis)


def test_epoch_numbers_read_back_as_aware_utc_moments():
    assert from_epoch_seconds(1796119200) == datetime(2026, 12, 1, 10, tzinfo=UTC)
    assert from_epoch_millis(1796119200250) == datetime(2026, 12, 1, 10, 0, 0, 250_000, tzinfo=UTC)
    assert from_epoch_millis(1796119200250).tzinfo is UTC
