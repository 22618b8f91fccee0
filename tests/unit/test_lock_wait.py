"""AcquireLock's wait policy and what a poll reads of the lock (domain/lock_wait.py)."""

from datetime import UTC, datetime, timedelta

import pytest

from functions.domain.lock_wait import LockView, WaitPolicy, parse_started_at
from tests.builders import at

POLICY = WaitPolicy(budget_seconds=6)


def test_the_deadline_is_the_budget_or_the_function_time_whichever_ends_first():
    assert POLICY.deadline(started_at=at(100), now=at(101), remaining_seconds=4) == at(104)
    assert POLICY.deadline(started_at=at(100), now=at(104), remaining_seconds=4) == at(106)


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
        (LockView("h", at(2000), "other", at(0.001), at(1000.5)), "me", at(1000), True),
        (LockView("h", at(2000), "me", at(0.001), at(1000.5)), "me", at(1000), False),  # itself
        (LockView("h", at(2000), None), "me", at(1000), False),  # nobody is next
        (LockView("h", at(2000), "other", at(0.001), at(1000.5)), "me", at(1000.6), False),
    ],
    ids=["another-next", "self-next", "open", "claim-lapsed"],
)
def test_is_behind_another_only_while_another_holds_the_place(view, owner, now, expected):
    assert view.is_behind_another(owner, now) is expected


@pytest.mark.parametrize(
    ("view", "owner", "expected"),
    [
        (LockView(None, None), "me", True),
        (LockView("me", at(2000)), "me", True),
        (LockView("other", at(2000)), "me", False),
        (LockView("other", at(999)), "me", True),  # its lease ran out
        (LockView(None, None, "other", at(0.001), at(1000.5)), "me", False),  # another is next
        (LockView(None, None, "other", at(0.001), at(999.999)), "me", True),  # its claim lapsed
        (LockView(None, None, "me", at(0.001), at(1000.5)), "me", True),
        (LockView("me", at(2000), "other", at(0.001), at(1000.5)), "me", True),  # a retried step
    ],
    ids=["free", "ours", "held", "expired", "other-next", "claim-lapsed", "we-are-next", "retry"],
)
def test_may_take_mirrors_take_locks_condition(view, owner, expected):
    assert view.may_take(owner, now=at(1000)) is expected


def test_a_lease_and_a_claim_are_compared_in_the_units_the_row_keeps():
    # The row keeps the lease in whole seconds and take's condition compares it with now's whole
    # seconds: a lease runs to the end of its last second. The line is kept to the millisecond.
    lease = LockView("other", at(1000))
    assert not lease.may_take("me", now=at(1000.999))
    assert lease.may_take("me", now=at(1001))
    claim = LockView(None, None, "other", at(1), at(1000.5))
    assert not claim.may_take("me", now=at(1000.5009))
    assert claim.may_take("me", now=at(1000.501))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01T10:00:00.250Z", datetime(2026, 12, 1, 10, 0, 0, 250000, tzinfo=UTC)),
        ("2026-12-01T11:00:00.250+01:00", datetime(2026, 12, 1, 10, 0, 0, 250000, tzinfo=UTC)),
        ("2026-12-01T10:00:00Z", datetime(2026, 12, 1, 10, tzinfo=UTC)),
    ],
    ids=["utc-z", "offset", "no-fraction"],
)
def test_started_at_is_read_from_the_execution_start_time_in_utc(text, expected):
    started_at = parse_started_at(text)
    assert started_at == expected
    assert started_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["2026-12-01T10:00:00", "yesterday", ""])
def test_a_start_time_without_zone_or_not_iso_is_a_bug(text):
    with pytest.raises(ValueError):
        parse_started_at(text)
