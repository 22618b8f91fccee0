"""The user's lock as the saga's steps take and free it, waiting in line (domain/lock_wait.py)."""

from datetime import datetime, timedelta

import msgspec

from functions.domain.clock import Clock
from functions.domain.errors import UserBusyError
from functions.domain.lock_wait import WaitPolicy
from functions.domain.models import Lock
from functions.domain.ports import Locks


class LockRequest(msgspec.Struct, frozen=True):
    """An execution asking for a user's lock: the owner token is its id; it holds the lock for
    `lease`, and waits for it from the execution's start within the invocation's remaining time."""

    user_id: str
    owner: str
    lease: timedelta
    started_at: datetime
    remaining_seconds: float


def acquire_lock(locks: Locks, request: LockRequest, policy: WaitPolicy, clock: Clock) -> Lock:
    """Take the user's lock, waiting in line while another execution holds it.

    The first attempt is the conditional write alone (an uncontended request reads nothing).
    After that, polls read the row and write only to take the lock once it looks free, or to
    take the place in line; each write is conditional, so a poll that read stale state only
    loses a turn.
    Raises: UserBusyError if the lock is still held at the policy's deadline.
    """
    user_id, owner = request.user_id, request.owner
    deadline = policy.deadline(request.started_at, clock.now(), request.remaining_seconds)
    polls = 0
    is_next = behind = False
    attempt = True
    while True:
        if attempt:
            now = clock.now()
            try:
                return locks.take(user_id, owner, now, now + request.lease)
            except UserBusyError:
                pass
        delay = policy.poll_delay(polls, is_next, clock.jitter(), behind)
        if clock.now() + timedelta(seconds=delay) > deadline:
            raise UserBusyError("another transaction of this user is in progress")
        clock.sleep(delay)
        polls += 1
        now = clock.now()
        view = locks.read(user_id)
        attempt = view is None or view.may_take(owner, now)
        if attempt or view is None:
            continue
        is_next = view.is_next(owner, now)
        if (
            policy.keeps_line
            and not is_next
            and view.may_claim_next(owner, request.started_at, now)
        ):
            is_next = locks.claim_next(user_id, owner, request.started_at, deadline, now)
        behind = not is_next and view.is_behind_another(owner, now)


def release_lock(locks: Locks, user_id: str, owner: str) -> bool:
    """Free the lock if this owner holds it; True if it did. Releasing nothing is a success."""
    return locks.release(user_id, owner)
