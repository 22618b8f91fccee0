"""Holds: the saga's one step between taking and freeing the user's lock, for each change to a
hold (place it, capture it, void it). Each step is one atomic write; nothing before it is to be
undone, so the only compensation is freeing the lock.

Expiry needs no scheduler: a pending hold stops counting at its expiresAt, read against the
clock wherever it matters (`AccountState.available`, `Hold.status_at`), and the row's expired
entries are dropped by the next change to the user's holds.
"""

from datetime import datetime, timedelta
from uuid import NAMESPACE_URL, uuid5

from msgspec.structs import replace

from functions.domain.clock import Clock, timestamp
from functions.domain.errors import (
    HoldAmountExceededError,
    HoldNotPendingError,
    IdempotencyKeyReusedError,
    InsufficientFundsError,
    NotFoundError,
    TooManyHoldsError,
)
from functions.domain.models import (
    AccountState,
    Hold,
    HoldCommand,
    HoldOutcome,
    HoldStatus,
    LedgerEntry,
    StoredPlacement,
    TransactionType,
)
from functions.domain.ports import HoldCommits, Holds, Placements

KEY_REUSED = "Idempotent-Key was already used for a different transaction"
# Each pending hold is an entry of the user's row (about 60 bytes), which every write under the
# lock rewrites and DynamoDB bills per KB: the row stays within a few KB, and far from the 400 KB
# an item may hold (where the write would fail), however many small holds a client places.
MAX_PENDING_HOLDS = 100
TOO_MANY_HOLDS = "the user has too many pending holds; capture or void one first"


def capture_entry_id(hold_id: str) -> str:
    """The capture's ledger entry id, derived from the hold: a hold has at most one capture, and
    a retried step writes the same id again."""
    return str(uuid5(NAMESPACE_URL, f"hold capture\n{hold_id}"))


def _to_millisecond(moment: datetime) -> datetime:
    """Times of a hold are kept to the millisecond, as the API shows them and the row stores
    them, so that the expiry the client reads is the one applied."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def place_hold(
    commits: HoldCommits,
    placements: Placements,
    command: HoldCommand,
    seen: AccountState,
    owner: str,
    currency: str,
    clock: Clock,
) -> HoldOutcome:
    """Reserve the amount: the hold is stored pending and added to the row's pending holds, with
    the record of its key, in one atomic write.

    Raises: InsufficientFundsError (nothing written) if the amount is more than `available`;
    TooManyHoldsError (nothing written) if the user has MAX_PENDING_HOLDS pending already;
    IdempotencyKeyReusedError if the key was used for another payload (a transaction's, a
    transfer's or another hold's); LockLostError if this owner no longer holds the lock.
    """
    assert command.amount is not None and command.idempotency_key is not None
    assert command.expires_in_seconds is not None
    now = _to_millisecond(clock.now())
    # Derived from the owner, so a retried step writes the same id again.
    seed = f"hold\n{owner}\n{command.user_id}\n{command.idempotency_key}"
    hold_id = str(uuid5(NAMESPACE_URL, seed))
    hold = Hold(
        hold_id=hold_id,
        user_id=command.user_id,
        amount=command.amount,
        currency=currency,
        status=HoldStatus.PENDING,
        created_at=timestamp(now),
        expires_at=now + timedelta(seconds=command.expires_in_seconds),
        idempotency_key=command.idempotency_key,
    )
    try:
        seen.require_available(command.amount, now)
        if len(seen.pending_holds(now)) >= MAX_PENDING_HOLDS:
            raise TooManyHoldsError(TOO_MANY_HOLDS)
    except (InsufficientFundsError, TooManyHoldsError):
        # A repeated request is answered as the first was, even if the money has gone since.
        stored = placements.find_placement(command.user_id, command.idempotency_key)
        if stored is None:
            raise
        return _replay(stored, command, hold_id)
    holds_after = (*seen.pending_holds(now), hold.pending)
    placed = hold.placed_body(seen.with_holds(holds_after).available(now))
    stored = commits.place_hold(hold, command.fingerprint, placed, seen, holds_after, owner, now)
    if stored is None:
        return HoldOutcome(placed, replayed=False)
    return _replay(stored, command, hold_id)


def _replay(stored: StoredPlacement, command: HoldCommand, hold_id: str) -> HoldOutcome:
    if stored.placed is None or stored.fingerprint != command.fingerprint:
        raise IdempotencyKeyReusedError(KEY_REUSED)
    # This execution's own write, found by its retried step, is no replay.
    return HoldOutcome(stored.placed, replayed=stored.placed["holdId"] != hold_id)


def _find(holds: Holds, command: HoldCommand) -> Hold:
    assert command.hold_id is not None
    hold = holds.find_hold(command.user_id, command.hold_id)
    if hold is None:
        raise NotFoundError("no hold with this id for this user")
    return hold


def _ended(hold: Hold, wanted: HoldStatus, now: datetime, owner: str) -> HoldOutcome | None:
    """The answer for a hold that is no longer pending: the stored one if it already ended as
    asked (a repeated capture or void).

    Raises: HoldNotPendingError naming the status otherwise.
    """
    status = hold.status_at(now)
    if status is HoldStatus.PENDING:
        return None
    if status is wanted:
        return HoldOutcome(hold.outcome_body(), replayed=hold.changed_by != owner)
    raise HoldNotPendingError(f"the hold is {status.value}")


def capture_hold(
    commits: HoldCommits,
    holds: Holds,
    command: HoldCommand,
    seen: AccountState,
    owner: str,
    currency: str,
    clock: Clock,
) -> HoldOutcome:
    """Capture `command.amount` of the hold (all of it if None): in one atomic write, the debit
    entry naming the hold and its event, the hold marked captured, and the hold (with what was
    not captured) gone from the row's pending holds.

    Raises: NotFoundError; HoldNotPendingError if it was voided or has expired (a captured hold
    answers its first capture again, whatever the amount asked); HoldAmountExceededError;
    LockLostError if this owner no longer holds the lock.
    """
    now = _to_millisecond(clock.now())
    hold = _find(holds, command)
    ended = _ended(hold, HoldStatus.CAPTURED, now, owner)
    if ended is not None:
        return ended
    amount = hold.amount if command.amount is None else command.amount
    if amount > hold.amount:
        raise HoldAmountExceededError("the capture amount is more than the hold's amount")
    released = seen.without_hold(hold.hold_id)
    # Never true for a capture within its hold, which the balance already covered; checked all
    # the same, in the one place every movement is.
    released.require_available(amount, now)
    holds_after = released.pending_holds(now)
    entry = LedgerEntry(
        user_id=hold.user_id,
        sequence=seen.last_sequence + 1,
        entry_id=capture_entry_id(hold.hold_id),
        type=TransactionType.DEBIT,
        amount=amount,
        balance_after=seen.balance - amount,
        currency=hold.currency,
        created_at=timestamp(now),
        idempotency_key=hold.idempotency_key,
        hold_id=hold.hold_id,
    )
    after = AccountState(entry.balance_after, entry.sequence, holds_after)
    captured = replace(
        hold,
        status=HoldStatus.CAPTURED,
        captured_amount=amount,
        transaction_id=entry.entry_id,
        balance_after=entry.balance_after,
        available_after=after.available(now),
        changed_by=owner,
    )
    commits.capture_hold(captured, entry, seen, holds_after, owner, now)
    return HoldOutcome(captured.outcome_body(), replayed=False)


def void_hold(
    commits: HoldCommits,
    holds: Holds,
    command: HoldCommand,
    seen: AccountState,
    owner: str,
    clock: Clock,
) -> HoldOutcome:
    """Release the hold: marked voided and gone from the row's pending holds, in one atomic
    write; no ledger entry.

    Raises: NotFoundError; HoldNotPendingError if it was captured or has expired (a voided hold
    answers its first void again); LockLostError if this owner no longer holds the lock.
    """
    now = _to_millisecond(clock.now())
    hold = _find(holds, command)
    ended = _ended(hold, HoldStatus.VOIDED, now, owner)
    if ended is not None:
        return ended
    holds_after = seen.without_hold(hold.hold_id).pending_holds(now)
    voided = replace(
        hold,
        status=HoldStatus.VOIDED,
        available_after=seen.with_holds(holds_after).available(now),
        changed_by=owner,
    )
    commits.void_hold(voided, seen, holds_after, owner, now)
    return HoldOutcome(voided.outcome_body(), replayed=False)


def get_hold(holds: Holds, user_id: str, hold_id: str, now: datetime) -> dict[str, str]:
    """GET /holds/{holdId}: the hold with its status at `now`.

    Raises: NotFoundError.
    """
    hold = holds.find_hold(user_id, hold_id)
    if hold is None:
        raise NotFoundError("no hold with this id for this user")
    return hold.to_dict(now)
