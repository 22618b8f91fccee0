"""How AcquireLock waits for a lock another execution holds: a line of one, and jittered polls.

Pure policy: the use case (domain/locks.py) reads the lock and sleeps through the `Clock` it is
given, so tests drive it with a fake clock and no real sleeping.

Plain polling is not fair: after a hand-off, whichever waiter polls first wins, and a request
that just arrived (its first attempt comes at once) or polls fastest beats one that has waited
for seconds. So the row also names the next in line: the waiting request whose execution started
first. A free lock is only taken by it (or by anyone once its claim has lapsed), an older waiter
may take the place from a younger one, and the place is freed when its holder takes the lock.
Only the next in line polls fast; the others poll slowly, to see the place free up.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec


class WaitPolicy(msgspec.Struct, frozen=True):
    """How long a request waits for the lock inside AcquireLock, and how often it polls."""

    # In-function waiting ends this long after the execution started, whatever the attempt:
    # the state machine's worst path adds it once (tests/consistency).
    budget_seconds: float
    # Of the function's remaining time, left unused when the wait gives up, so the function
    # always answers UserBusyError well before its own timeout.
    margin_seconds: float = 1.0
    first_poll_seconds: float = 0.01
    growth: float = 1.5
    # The next in line polls often: the hand-off gap is at most this.
    max_poll_next_seconds: float = 0.04
    # The others only watch the place in line, which changes once per hand-off.
    max_poll_queued_seconds: float = 0.8
    # False: plain polling, nobody takes a place in line (the bench's comparison; it starves).
    keeps_line: bool = True

    def deadline(self, started_at: datetime, now: datetime, remaining_seconds: float) -> datetime:
        """When this invocation stops waiting: the execution's budget or the function's time,
        whichever ends first."""
        return min(
            started_at + timedelta(seconds=self.budget_seconds),
            now + timedelta(seconds=remaining_seconds - self.margin_seconds),
        )

    def poll_delay(self, polls: int, is_next: bool, jitter: float, behind: bool = False) -> float:
        """The wait before poll number `polls` (from 0): growing, capped, and jittered between
        half and all of it, so waiters spread out and never spin. A waiter `behind` another that
        is next in line polls at its cap from the start: it only watches the place in line, and
        growing from tens of milliseconds cost each new arrival of a busy user ten polls in its
        first second (half of a hot user's polls)."""
        cap = self.max_poll_next_seconds if is_next else self.max_poll_queued_seconds
        ceiling = cap if behind else min(self.first_poll_seconds * self.growth**polls, cap)
        return ceiling * (0.5 + 0.5 * jitter)


def _whole_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def _whole_millisecond(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond - moment.microsecond % 1000)


class LockView(msgspec.Struct, frozen=True):
    """What a poll reads of the user's row: the lock and the next in line.

    The row keeps the lease to the second and the line to the millisecond, and the lock's
    conditions compare them with `now` cut to the same unit; these tests cut it the same way, so
    a view never promises what the write then refuses.
    """

    owner: str | None
    lease_until: datetime | None
    next_owner: str | None = None
    next_since: datetime | None = None
    next_until: datetime | None = None

    def _lock_is_free(self, owner: str, now: datetime) -> bool:
        # The same test as take's condition: free, ours, or its lease ran out.
        return (
            self.owner is None
            or self.owner == owner
            or (self.lease_until is not None and self.lease_until < _whole_second(now))
        )

    def _line_is_open(self, now: datetime) -> bool:
        return self.next_owner is None or (
            self.next_until is not None and self.next_until < _whole_millisecond(now)
        )

    def is_next(self, owner: str, now: datetime) -> bool:
        return self.next_owner == owner and not self._line_is_open(now)

    def is_behind_another(self, owner: str, now: datetime) -> bool:
        """Whether another waiter is next in line (so `owner` waits behind at least two)."""
        return self.next_owner not in (None, owner) and not self._line_is_open(now)

    def may_take(self, owner: str, now: datetime) -> bool:
        """Whether take would succeed for `owner` now (if nobody moves first)."""
        if self.owner == owner:
            return True
        return self._lock_is_free(owner, now) and (
            self._line_is_open(now) or self.is_next(owner, now)
        )

    def may_claim_next(self, owner: str, since: datetime, now: datetime) -> bool:
        """Whether `owner`, waiting since `since`, may become (or stay) the next in line."""
        return (
            self._line_is_open(now)
            or self.next_owner == owner
            or (self.next_since is not None and self.next_since > _whole_millisecond(since))
        )


def parse_started_at(text: str) -> datetime:
    """The execution's start ($$.Execution.StartTime, ISO 8601), in UTC.

    Raises: ValueError if it is no ISO 8601 time with a zone: malformed task input is a bug, and
    fails the task as one (500 INTERNAL_ERROR).
    """
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"startedAt has no time zone: {text!r}")
    return moment.astimezone(UTC)
