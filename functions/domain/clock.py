"""Time as the domain reads it: a `Clock` giving aware UTC datetimes, and the API's timestamps.

Every moment in functions/ is an aware UTC `datetime` and every duration a `timedelta` (or the
settings' seconds); epoch numbers exist only where they are stored or sent (the repositories'
DynamoDB numbers, AcquireLock's task output), converted with `functions.clock`.
"""

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, aware, in UTC."""
        ...

    def sleep(self, seconds: float) -> None: ...

    def jitter(self) -> float:
        """A random number in [0, 1), to spread waiters out."""
        ...


def timestamp(moment: datetime) -> str:
    """The API's form of a moment (createdAt): ISO 8601 in UTC, milliseconds, with Z."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
