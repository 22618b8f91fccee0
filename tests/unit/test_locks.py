"""AcquireLock's and ReleaseLock's use cases (domain/locks.py): the wait for a held lock, on a
fake clock (no real sleeping) and an in-memory lock with the repository's conditions."""

from datetime import datetime, timedelta

import pytest

from functions.domain.errors import UserBusyError
from functions.domain.lock_wait import WaitPolicy
from functions.domain.locks import LockRequest, acquire_lock, release_lock
from functions.domain.models import AccountState, Lock
from tests.builders import DEFAULT_BALANCE, FakeClock, FakeLocks, at

POLICY = WaitPolicy(budget_seconds=6)
START = at(1_000_000)
LEASE = timedelta(seconds=25)


def after(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def locks_at(moment: datetime, **row) -> FakeLocks:
    return FakeLocks(FakeClock(moment, jitter_value=0.999), **row)


def acquire(locks: FakeLocks, owner="me", started_at=START, remaining=4.0) -> Lock:
    request = LockRequest("u1", owner, LEASE, started_at, remaining_seconds=remaining)
    return acquire_lock(locks, request, POLICY, locks.clock)


def test_a_free_lock_costs_one_conditional_write_and_no_wait():
    locks = locks_at(after(0.5))

    lock = acquire(locks)

    assert (lock.owner, lock.seen) == ("me", AccountState(DEFAULT_BALANCE, last_sequence=0))
    assert lock.lease_until == after(0.5) + LEASE  # the lease runs from now
    assert locks.calls == ["take"]
    assert locks.clock.slept == []


def test_a_held_lock_is_polled_by_reads_and_taken_once_freed():
    locks = locks_at(START, owner="holder", release_at=after(0.5))

    lock = acquire(locks)

    assert lock.owner == "me"
    # The first refusal, then reads only (plus one claim of the place in line) until the lock
    # looks free, then the one write that takes it.
    assert locks.calls[0] == "take" and locks.calls[-1] == "take"
    assert set(locks.calls[1:-1]) == {"read", "claim_next"}
    assert locks.calls.count("claim_next") == 1
    # The hand-off gap is at most one next-in-line poll.
    assert after(0.5) <= locks.clock.time <= after(0.5 + POLICY.max_poll_next_seconds)


def test_polls_grow_from_tens_of_milliseconds_to_their_cap():
    locks = locks_at(START, owner="holder")

    with pytest.raises(UserBusyError):
        acquire(locks)

    slept = locks.clock.slept
    assert slept[0] <= POLICY.first_poll_seconds
    assert slept[1] > slept[0]
    assert max(slept) <= POLICY.max_poll_next_seconds  # it was next in line throughout
    assert slept[-1] == pytest.approx(POLICY.max_poll_next_seconds, rel=0.01)


def test_a_lock_held_past_the_deadline_raises_busy_without_sleeping_past_it():
    locks = locks_at(after(1), owner="holder")

    with pytest.raises(UserBusyError):
        acquire(locks, remaining=4.0)

    # The function's time bounds it: 4 s remaining less the 1 s margin, from START + 1.
    deadline = after(1 + 4.0 - POLICY.margin_seconds)
    assert deadline - timedelta(seconds=POLICY.max_poll_next_seconds) <= locks.clock.time
    assert locks.clock.time <= deadline
    # The claim lapses when the wait ends, so it never blocks the lock once this one gave up.
    assert locks.next_until == deadline


def test_the_execution_budget_bounds_the_wait_across_attempts():
    # A retried attempt 5.5 s after the start has half a second left of the 6 s budget.
    locks = locks_at(after(5.5), owner="holder")

    with pytest.raises(UserBusyError):
        acquire(locks)

    assert after(6 - POLICY.max_poll_next_seconds) <= locks.clock.time <= after(6)


def test_past_the_budget_an_attempt_is_one_write_and_no_wait():
    locks = locks_at(after(7), owner="holder")

    with pytest.raises(UserBusyError):
        acquire(locks)

    assert locks.calls == ["take"]
    assert locks.clock.slept == []


def test_a_free_lock_goes_to_the_next_in_line_not_to_a_newcomer():
    # The lock is free, but "older" is next for 300 ms: the newcomer waits that long.
    locks = locks_at(START, next_owner="older", next_since=after(-0.5), next_until=after(0.3))

    lock = acquire(locks, owner="newcomer")

    assert lock.owner == "newcomer"
    assert locks.clock.time >= after(0.3)
    assert locks.next_owner is None


def test_an_older_waiter_takes_the_place_from_a_younger_one():
    locks = locks_at(START, owner="holder", release_at=after(0.5), next_owner="younger",
                     next_since=after(0.1), next_until=after(5))  # fmt: skip

    lock = acquire(locks, owner="older", started_at=after(-1))

    assert lock.owner == "older"
    assert "claim_next" in locks.calls


def test_a_younger_waiter_leaves_the_place_to_an_older_one():
    locks = locks_at(START, owner="holder", next_owner="older", next_since=after(-1),
                     next_until=after(10))  # fmt: skip

    with pytest.raises(UserBusyError):
        acquire(locks, owner="younger")

    assert "claim_next" not in locks.calls
    assert locks.next_owner == "older"
    # Behind the next in line, it polls slowly from its first read on: no ramp from 10 ms.
    first, *after_first_read = locks.clock.slept
    assert first <= POLICY.first_poll_seconds
    assert all(POLICY.max_poll_queued_seconds / 2 <= s <= POLICY.max_poll_queued_seconds
               for s in after_first_read)  # fmt: skip
    assert locks.calls.count("read") <= 1 + 4.0 / (POLICY.max_poll_queued_seconds / 2)


def test_release_frees_only_the_owners_lock_and_releasing_nothing_is_no_error():
    locks = locks_at(START, owner="holder")

    assert release_lock(locks, "u1", "intruder") is False
    assert locks.owner == "holder"
    assert release_lock(locks, "u1", "holder") is True
    assert release_lock(locks, "u1", "holder") is False
    assert locks.owner is None
