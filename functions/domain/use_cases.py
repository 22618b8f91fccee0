"""The wallet's use cases: one per saga step, plus the balance query."""

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol
from uuid import NAMESPACE_URL, uuid5

from functions.domain.errors import (
    IdempotencyKeyReusedError,
    InsufficientFundsError,
    UserBusyError,
)
from functions.domain.events import OutboxEvent
from functions.domain.lock_wait import Clock, LockView, WaitPolicy
from functions.domain.models import (
    Balance,
    LedgerEntry,
    Lock,
    PendingTransaction,
    PutOutcome,
    StoredTransaction,
    Transaction,
    TransactionRequest,
)


class Aggregates(Protocol):
    def take_lock(
        self,
        user_id: str,
        owner: str,
        now: int,
        lease_until: int,
        default_balance: Decimal,
        now_ms: int | None = None,
    ) -> Lock: ...

    def read_lock(self, user_id: str) -> LockView | None: ...

    def claim_next(
        self, user_id: str, owner: str, since_ms: int, until_ms: int, now_ms: int
    ) -> bool: ...

    def release_lock(self, user_id: str, owner: str) -> bool: ...

    def commit(self, entry: LedgerEntry, owner: str, seen_balance: Decimal, now: int) -> None: ...

    def revert(
        self, committed: LedgerEntry, reversal: LedgerEntry, owner: str, now: int
    ) -> None: ...

    def find_balance(self, user_id: str) -> Decimal | None: ...


class Transactions(Protocol):
    def put_pending(self, pending: PendingTransaction, now: int) -> StoredTransaction | None: ...

    def delete_pending(self, user_id: str, key: str, owner: str) -> LedgerEntry | None: ...


class EventBus(Protocol):
    def put_events(self, events: Sequence[OutboxEvent]) -> list[OutboxEvent]:
        """Publish `events`; returns those the bus did not accept."""
        ...


def _timestamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def acquire_lock(
    aggregates: Aggregates,
    user_id: str,
    owner: str,
    lease_seconds: int,
    default_balance: Decimal,
    *,
    started_at: float,
    remaining_seconds: float,
    policy: WaitPolicy,
    clock: Clock,
) -> Lock:
    """Take the user's lock, waiting in line while another execution holds it.

    The first attempt is the conditional write alone (an uncontended request reads nothing).
    After that, polls read the row and write only to take the lock once it looks free, or to
    take the place in line; each write is conditional, so a poll that read stale state only
    loses a turn.
    Raises: UserBusyError if the lock is still held at the policy's deadline.
    """
    deadline = policy.deadline(started_at, clock.now(), remaining_seconds)
    since_ms = int(started_at * 1000)
    polls = 0
    is_next = behind = False
    attempt = True
    while True:
        now = clock.now()
        if attempt:
            try:
                return aggregates.take_lock(
                    user_id,
                    owner,
                    int(now),
                    int(now) + lease_seconds,
                    default_balance,
                    now_ms=int(now * 1000),
                )
            except UserBusyError:
                pass
        delay = policy.poll_delay(polls, is_next, clock.jitter(), behind)
        if clock.now() + delay > deadline:
            raise UserBusyError("another transaction of this user is in progress")
        clock.sleep(delay)
        polls += 1
        now = clock.now()
        view = aggregates.read_lock(user_id)
        attempt = view is None or view.may_take(owner, now)
        if attempt or view is None:
            continue
        is_next = view.is_next(owner, now)
        if policy.keeps_line and not is_next and view.may_claim_next(owner, since_ms, now):
            is_next = aggregates.claim_next(
                user_id, owner, since_ms, int(deadline * 1000), int(now * 1000)
            )
        behind = not is_next and view.is_behind_another(owner, now)


def put_transaction(
    transactions: Transactions, request: TransactionRequest, owner: str, now: datetime
) -> PutOutcome:
    """Record the transaction as pending, or find the committed one this key already names.

    Raises: IdempotencyKeyReusedError if the key was committed with another payload;
    LockLostError if this owner no longer holds the lock.
    """
    # Derived from the owner, so a retried step writes the same id again.
    transaction_id = str(
        uuid5(NAMESPACE_URL, f"{owner}\n{request.user_id}\n{request.idempotency_key}")
    )
    created_at = _timestamp(now)
    pending = PendingTransaction(request, transaction_id, owner, created_at)
    existing = transactions.put_pending(pending, int(now.timestamp()))
    if existing is None or existing.committed is None:
        return PutOutcome(transaction_id, created_at, replay=None)
    if existing.fingerprint != request.fingerprint:
        raise IdempotencyKeyReusedError(
            "Idempotent-Key was already used for a different transaction"
        )
    return PutOutcome(
        existing.committed.transaction_id, existing.committed.created_at, existing.committed
    )


def update_balance(
    aggregates: Aggregates,
    request: TransactionRequest,
    owner: str,
    seen_balance: Decimal,
    seen_sequence: int,
    transaction_id: str,
    created_at: str,
    currency: str,
    now: int,
) -> Transaction:
    """Apply the transaction to the balance seen under the lock and commit it atomically with
    its ledger entry (the user's next sequence) and that entry's event.

    Raises: InsufficientFundsError (nothing written) if a debit would go below zero;
    LockLostError if this owner no longer holds the lock.
    """
    new_balance = seen_balance + request.signed_amount
    if new_balance < 0:
        raise InsufficientFundsError("the balance is lower than the debit amount")
    transaction = Transaction(
        transaction_id=transaction_id,
        user_id=request.user_id,
        type=request.type,
        amount=request.amount,
        balance=new_balance,
        currency=currency,
        created_at=created_at,
    )
    entry = LedgerEntry(
        user_id=request.user_id,
        sequence=seen_sequence + 1,
        entry_id=transaction_id,
        type=request.type,
        amount=request.amount,
        balance_after=new_balance,
        currency=currency,
        created_at=created_at,
        idempotency_key=request.idempotency_key,
    )
    aggregates.commit(entry, owner, seen_balance, now)
    return transaction


def release_lock(aggregates: Aggregates, user_id: str, owner: str) -> bool:
    """Free the lock if this owner holds it; True if it did. Releasing nothing is a success."""
    return aggregates.release_lock(user_id, owner)


def delete_transaction(
    transactions: Transactions,
    aggregates: Aggregates,
    user_id: str,
    key: str,
    owner: str,
    now: datetime,
) -> bool:
    """Compensation: undo what this owner wrote under `key`; True if a commit was reverted.

    A pending record is deleted. A record this owner already committed (the failure came after
    the commit) is deleted together with its balance change, and a reversing entry (with its
    event) is appended, so a failed request applied nothing and the ledger says so.
    Raises: LockLostError if the lease ran out before a commit could be reverted.
    """
    committed = transactions.delete_pending(user_id, key, owner)
    if committed is None:
        return False
    # Derived from the reversed entry, so a retried revert writes the same id again.
    reversal_id = str(uuid5(NAMESPACE_URL, f"reversal\n{committed.entry_id}"))
    reversal = committed.reversal(reversal_id, _timestamp(now))
    aggregates.revert(committed, reversal, owner, int(now.timestamp()))
    return True


def forward_events(bus: EventBus, events: Sequence[OutboxEvent], attempts: int) -> str | None:
    """Publish `events` in order, retrying exactly the ones the bus refused (PutEvents accepts
    some entries of a request and fails others); returns the id of the first event still not
    published after `attempts` tries, or None when all were.

    The caller reports that event and everything after it as not done (the stream redelivers
    them), so nothing is lost; consumers dedupe what was published twice on the event id.
    """
    remaining = list(events)
    for _ in range(attempts):
        if not remaining:
            return None
        remaining = bus.put_events(remaining)
    return remaining[0].event_id if remaining else None


def get_balance(
    aggregates: Aggregates, user_id: str, default_balance: Decimal, currency: str
) -> Balance:
    balance = aggregates.find_balance(user_id)
    return Balance(user_id, default_balance if balance is None else balance, currency)
