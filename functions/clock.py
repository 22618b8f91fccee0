"""The real clock (domain/clock.Clock), and the epoch numbers a moment is stored or sent as."""

import random
import time
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
_MILLISECOND = timedelta(milliseconds=1)


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def jitter(self) -> float:
        return random.random()


# Exact integer arithmetic on timedeltas: no float rounding at a second's or millisecond's edge.


def epoch_seconds(moment: datetime) -> int:
    """Whole seconds since the epoch, rounded down (the lease and DynamoDB's TTL)."""
    return (moment - EPOCH) // _SECOND


def epoch_millis(moment: datetime) -> int:
    """Whole milliseconds since the epoch, rounded down (the waiting line)."""
    return (moment - EPOCH) // _MILLISECOND


def from_epoch_seconds(seconds: int) -> datetime:
    return EPOCH + seconds * _SECOND


def from_epoch_millis(millis: int) -> datetime:
    return EPOCH + millis * _MILLISECOND
