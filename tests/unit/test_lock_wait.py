"""AcquireLock's wait for a held lock: the policy, the view of the row, and the use case's loop,
on a fake clock (no real sleeping) and an in-memory row with take_lock's conditions."""

from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from functions.domain import use_cases
from functions.domain.errors import UserBusyError
from functions.domain.lock_wait import LockView, WaitPolicy, parse_started_at
from functions.domain.models import Lock
from tests.builders import FakeClock

POLICY = WaitPolicy(budget_seconds=6)
START = 1_000_000.0
START_MS = int(START * 1000)


def clock_at(time: float) -> FakeClock:
    return FakeClock(time, jitter_value=0.999)


@dataclass
class FakeRow:
    """One user's row with the repository's conditions; the holder lets go at `release_at`."""

    clock: FakeClock
    owner: str | None = None
    release_at: float = float("inf")
    next_owner: str | None = None
    next_since_ms: int | None = None
    next_until_ms: int | None = None
    calls: list[str] = field(default_factory=list)

    def _current_owner(self):
        if self.owner is not None and self.clock.time >= self.release_at:
            self.owner = None
        return self.owner

    def _view(self):
        return LockView(self._current_owner(), int(START) + 25 if self.owner else None,
                        self.next_owner, self.next_since_ms, self.next_until_ms)  # fmt: skip

    def take_lock(self, user_id, owner, now, lease_until, default_balance, now_ms=None):
        self.calls.append("take_lock")
        if not self._view().may_take(owner, now_ms / 1000):
            raise UserBusyError("busy")
        self.owner, self.release_at = owner, float("inf")
        self.next_owner = self.next_since_ms = self.next_until_ms = None
        return Lock(user_id, owner, default_balance, lease_until)

    def read_lock(self, user_id):
        self.calls.append("read_lock")
        return self._view()

    def claim_next(self, user_id, owner, since_ms, until_ms, now_ms):
        self.calls.append("claim_next")
        if not self._view().may_claim_next(owner, since_ms, now_ms / 1000):
            return False
        self.next_owner, self.next_since_ms, self.next_until_ms = owner, since_ms, until_ms
        return True


def acquire(row: FakeRow, owner="me", started_at=START, remaining=4.0) -> Lock:
    return use_cases.acquire_lock(row, "u1", owner, 25, Decimal("100.00"), started_at=started_at,
                                  remaining_seconds=remaining, policy=POLICY,
                                  clock=row.clock)  # fmt: skip


def test_a_free_lock_costs_one_conditional_write_and_no_wait():
    row = FakeRow(clock_at(START))

    lock = acquire(row)

    assert lock.owner == "me"
    assert row.calls == ["take_lock"]
    assert row.clock.slept == []


def test_a_held_lock_is_polled_by_reads_and_taken_once_freed():
    row = FakeRow(clock_at(START), owner="holder", release_at=START + 0.5)

    lock = acquire(row)

    assert lock.owner == "me"
    # The first refusal, then reads only (plus one claim of the place in line) until the lock
    # looks free, then the one write that takes it.
    assert row.calls[0] == "take_lock" and row.calls[-1] == "take_lock"
    assert set(row.calls[1:-1]) == {"read_lock", "claim_next"}
    assert row.calls.count("claim_next") == 1
    # The hand-off gap is at most one next-in-line poll.
    assert START + 0.5 <= row.clock.time <= START + 0.5 + POLICY.max_poll_next_seconds


def test_polls_grow_from_tens_of_milliseconds_to_their_cap():
    row = FakeRow(clock_at(START), owner="holder")

    with pytest.raises(UserBusyError):
        acquire(row)

    slept = row.clock.slept
    assert slept[0] <= POLICY.first_poll_seconds
    assert slept[1] > slept[0]
    assert max(slept) <= POLICY.max_poll_next_seconds  # it was next in line throughout
    assert slept[-1] == pytest.approx(POLICY.max_poll_next_seconds, rel=0.01)


def test_a_lock_held_past_the_deadline_raises_busy_without_sleeping_past_it():
    row = FakeRow(clock_at(START + 1), owner="holder")

    with pytest.raises(UserBusyError):
        acquire(row, remaining=4.0)

    # The function's time bounds it: 4 s remaining less the 1 s margin, from START + 1.
    deadline = START + 1 + 4.0 - POLICY.margin_seconds
    assert deadline - POLICY.max_poll_next_seconds <= row.clock.time <= deadline
    # The claim lapses when the wait ends, so it never blocks the lock once this one gave up.
    assert row.next_until_ms == int(deadline * 1000)


def test_the_execution_budget_bounds_the_wait_across_attempts():
    # A retried attempt 5.5 s after the start has half a second left of the 6 s budget.
    row = FakeRow(clock_at(START + 5.5), owner="holder")

    with pytest.raises(UserBusyError):
        acquire(row)

    assert START + 6 - POLICY.max_poll_next_seconds <= row.clock.time <= START + 6


def test_past_the_budget_an_attempt_is_one_write_and_no_wait():
    row = FakeRow(clock_at(START + 7), owner="holder")

    with pytest.raises(UserBusyError):
        acquire(row)

    assert row.calls == ["take_lock"]
    assert row.clock.slept == []


def test_a_free_lock_goes_to_the_next_in_line_not_to_a_newcomer():
    clock = clock_at(START)
    row = FakeRow(clock, next_owner="older", next_since_ms=int(START * 1000) - 500,
                  next_until_ms=int(START * 1000) + 300)  # fmt: skip

    # The lock is free, but "older" is next for 300 ms: the newcomer waits that long.
    lock = acquire(row, owner="newcomer")

    assert lock.owner == "newcomer"
    assert clock.time >= START + 0.3
    assert row.next_owner is None


def test_an_older_waiter_takes_the_place_from_a_younger_one():
    clock = clock_at(START)
    row = FakeRow(clock, owner="holder", release_at=START + 0.5, next_owner="younger",
                  next_since_ms=START_MS + 100, next_until_ms=START_MS + 5000)  # fmt: skip

    lock = acquire(row, owner="older", started_at=START - 1)

    assert lock.owner == "older"
    assert "claim_next" in row.calls


def test_a_younger_waiter_leaves_the_place_to_an_older_one():
    clock = clock_at(START)
    row = FakeRow(clock, owner="holder", next_owner="older",
                  next_since_ms=START_MS - 1000, next_until_ms=START_MS + 10_000)  # fmt: skip

    with pytest.raises(UserBusyError):
        acquire(row, owner="younger")

    assert "claim_next" not in row.calls
    assert row.next_owner == "older"
    # Behind the next in line, it polls slowly from its first read on: no ramp from 10 ms.
    first, *after_first_read = clock.slept
    assert first <= POLICY.first_poll_seconds
    assert all(POLICY.max_poll_queued_seconds / 2 <= s <= POLICY.max_poll_queued_seconds
               for s in after_first_read)  # fmt: skip
    assert row.calls.count("read_lock") <= 1 + 4.0 / (POLICY.max_poll_queued_seconds / 2)


def test_the_deadline_is_the_budget_or_the_function_time_whichever_ends_first():
    assert POLICY.deadline(started_at=100, now=101, remaining_seconds=4) == 104
    assert POLICY.deadline(started_at=100, now=104, remaining_seconds=4) == 106


@pytest.mark.parametrize("jitter", [0.0, 0.5, 0.999])
def test_a_poll_delay_is_between_half_and_all_of_its_ceiling(jitter):
    for polls in range(12):
        ceiling = min(0.01 * 1.5**polls, POLICY.max_poll_queued_seconds)
        assert ceiling / 2 <= POLICY.poll_delay(polls, False, jitter) <= ceiling


@pytest.mark.parametrize("jitter", [0.0, 0.999])
def test_behind_another_waiter_a_poll_waits_the_queued_cap_whatever_the_poll_count(jitter):
    for polls in range(3):
        delay = POLICY.poll_delay(polls, False, jitter, behind=True)
        cap = POLICY.max_poll_queued_seconds
        assert cap / 2 <= delay <= cap


@pytest.mark.parametrize(
    ("view", "owner", "now", "expected"),
    [
        (LockView("h", 2000, "other", 1, 1_000_500), "me", 1000.0, True),
        (LockView("h", 2000, "me", 1, 1_000_500), "me", 1000.0, False),  # it is next itself
        (LockView("h", 2000, None), "me", 1000.0, False),  # nobody is next
        (LockView("h", 2000, "other", 1, 1_000_500), "me", 1000.6, False),  # the claim lapsed
    ],
    ids=["another-next", "self-next", "open", "claim-lapsed"],
)
def test_is_behind_another_only_while_another_holds_the_place(view, owner, now, expected):
    assert view.is_behind_another(owner, now) is expected


@pytest.mark.parametrize(
    ("view", "owner", "expected"),
    [
        (LockView(None, None), "me", True),
        (LockView("me", 2000), "me", True),
        (LockView("other", 2000), "me", False),
        (LockView("other", 999), "me", True),  # its lease ran out
        (LockView(None, None, "other", 1, 1_000_500), "me", False),  # another is next
        (LockView(None, None, "other", 1, 999_999), "me", True),  # its claim lapsed
        (LockView(None, None, "me", 1, 1_000_500), "me", True),
        (LockView("me", 2000, "other", 1, 1_000_500), "me", True),  # a retried step
    ],
    ids=["free", "ours", "held", "expired", "other-next", "claim-lapsed", "we-are-next", "retry"],
)
def test_may_take_mirrors_take_locks_condition(view, owner, expected):
    assert view.may_take(owner, now=1000.0) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01T10:00:00.250Z", 1796119200.25),
        ("2026-12-01T11:00:00.250+01:00", 1796119200.25),
        ("2026-12-01T10:00:00Z", 1796119200.0),
    ],
    ids=["utc-z", "offset", "no-fraction"],
)
def test_started_at_is_read_from_the_execution_start_time(text, expected):
    assert parse_started_at(text) == expected


@pytest.mark.parametrize("text", ["2026-12-01T10:00:00", "yesterday", ""])
def test_a_start_time_without_zone_or_not_iso_is_a_bug(text):
    with pytest.raises(ValueError):
        parse_started_at(text)
