"""POST /transfers: the saga's steps (take both users' locks in the global order, record the
transfer as pending under the source's key, commit both sides at once, or delete the pending
record). Each user's lock is the one domain/locks.py takes for a transaction."""

from collections.abc import Callable
from uuid import NAMESPACE_URL, uuid5

from functions.domain.clock import Clock, timestamp
from functions.domain.errors import IdempotencyKeyReusedError
from functions.domain.lock_wait import WaitPolicy
from functions.domain.locks import LockRequest, acquire_lock, release_lock
from functions.domain.models import (
    AccountState,
    LedgerEntry,
    Lock,
    PendingTransfer,
    TransactionType,
    Transfer,
    TransferPutOutcome,
    TransferRequest,
)
from functions.domain.ports import Locks, Transactions, TransferCommits


def credit_entry_id(transfer_id: str) -> str:
    """The destination's entry id; the source's entry has the transfer's own id. Derived, so a
    retried commit writes the same ids again."""
    return str(uuid5(NAMESPACE_URL, f"transfer credit\n{transfer_id}"))


def acquire_transfer_locks(
    locks: Locks,
    request: TransferRequest,
    lock_request: Callable[[str], LockRequest],
    policy: WaitPolicy,
    clock: Clock,
) -> tuple[Lock, Lock]:
    """Take both users' locks, in the global order (request.lock_order), each waiting in line as
    a transaction's does; return them in that order.

    Raises: UserBusyError (or whatever the second take raised) after freeing the first lock, if
    the second cannot be had: a transfer never waits while holding a lock it cannot use.
    """
    first_user, second_user = request.lock_order
    first = acquire_lock(locks, lock_request(first_user), policy, clock)
    try:
        second = acquire_lock(locks, lock_request(second_user), policy, clock)
    except Exception:
        release_lock(locks, first_user, first.owner)
        raise
    return first, second


def put_transfer(
    commits: TransferCommits, request: TransferRequest, owner: str, clock: Clock
) -> TransferPutOutcome:
    """Record the transfer as pending under the source's key, or find the committed one it names.

    Raises: IdempotencyKeyReusedError if the key was committed with another payload (a
    transaction's, or another transfer's); LockLostError if this owner no longer holds the
    source's lock.
    """
    # Derived from the owner, so a retried step writes the same id again.
    seed = f"transfer\n{owner}\n{request.from_user_id}\n{request.idempotency_key}"
    transfer_id = str(uuid5(NAMESPACE_URL, seed))
    now = clock.now()
    created_at = timestamp(now)
    existing = commits.put_pending_transfer(
        PendingTransfer(request, transfer_id, owner, created_at), now
    )
    if existing is None:
        return TransferPutOutcome(transfer_id, created_at, replay=None)
    if existing.fingerprint != request.fingerprint or existing.committed is None:
        raise IdempotencyKeyReusedError(
            "Idempotent-Key was already used for a different transaction"
        )
    return TransferPutOutcome(
        existing.committed.transfer_id, existing.committed.created_at, existing.committed
    )


def commit_transfer(
    commits: TransferCommits,
    pending: PendingTransfer,
    source: AccountState,
    destination: AccountState,
    currency: str,
    clock: Clock,
) -> Transfer:
    """Move the amount from the source's balance to the destination's, both as seen under their
    locks, and commit the transfer with both ledger entries and their events, in one atomic write.

    Raises: InsufficientFundsError (nothing written) if the source's balance or `available`
    would go below zero (AccountState.require_available);
    LockLostError if this owner no longer holds either lock.
    """
    request = pending.request
    now = clock.now()
    source.require_available(request.amount, now)
    source_balance = source.balance - request.amount

    def entry(user_id: str, counterparty: str, seen: AccountState, type_: TransactionType,
              entry_id: str) -> LedgerEntry:  # fmt: skip
        signed = -request.amount if type_ is TransactionType.DEBIT else request.amount
        return LedgerEntry(
            user_id=user_id,
            sequence=seen.last_sequence + 1,
            entry_id=entry_id,
            type=type_,
            amount=request.amount,
            balance_after=seen.balance + signed,
            currency=currency,
            created_at=pending.created_at,
            idempotency_key=request.idempotency_key,
            transfer_id=pending.transfer_id,
            counterparty_user_id=counterparty,
        )

    debit = entry(request.from_user_id, request.to_user_id, source, TransactionType.DEBIT,
                  pending.transfer_id)  # fmt: skip
    credit = entry(request.to_user_id, request.from_user_id, destination,
                   TransactionType.CREDIT, credit_entry_id(pending.transfer_id))  # fmt: skip
    commits.commit_transfer(
        debit, credit, pending.owner, (source.balance, destination.balance), now
    )
    return Transfer(
        transfer_id=pending.transfer_id,
        from_user_id=request.from_user_id,
        to_user_id=request.to_user_id,
        amount=request.amount,
        currency=currency,
        balance=source_balance,
        created_at=pending.created_at,
    )


def delete_transfer(transactions: Transactions, from_user_id: str, key: str, owner: str) -> bool:
    """Compensation: delete the pending transfer record this owner wrote; True if it did.

    A record this owner already committed is left: its commit moved both sides at once and is
    the transfer's pivot, so nothing after it is undone (a retry with the key replays it).
    """
    return transactions.delete_pending_record(from_user_id, key, owner)
