"""POST /transactions: the saga's steps between taking and freeing the user's lock (record the
transaction as pending, commit it with its balance, or revert what the execution wrote)."""

from uuid import NAMESPACE_URL, uuid5

from functions.domain.clock import Clock, timestamp
from functions.domain.errors import IdempotencyKeyReusedError
from functions.domain.models import (
    AccountState,
    LedgerEntry,
    PendingTransaction,
    PutOutcome,
    Transaction,
    TransactionKey,
    TransactionRequest,
    TransactionType,
)
from functions.domain.ports import Commits, Transactions


def put_transaction(
    commits: Commits, request: TransactionRequest, owner: str, clock: Clock
) -> PutOutcome:
    """Record the transaction as pending, or find the committed one this key already names.

    Raises: IdempotencyKeyReusedError if the key was committed with another payload;
    LockLostError if this owner no longer holds the lock.
    """
    # Derived from the owner, so a retried step writes the same id again.
    transaction_id = str(
        uuid5(NAMESPACE_URL, f"{owner}\n{request.user_id}\n{request.idempotency_key}")
    )
    now = clock.now()
    created_at = timestamp(now)
    pending = PendingTransaction(request, transaction_id, owner, created_at)
    existing = commits.put_pending(pending, now)
    if existing is None or (existing.committed is None and not existing.is_hold):
        return PutOutcome(transaction_id, created_at, replay=None)
    # A hold's record (its committed key) never matches a transaction.
    if existing.fingerprint != request.fingerprint or existing.committed is None:
        raise IdempotencyKeyReusedError(
            "Idempotent-Key was already used for a different transaction"
        )
    return PutOutcome(
        existing.committed.transaction_id, existing.committed.created_at, existing.committed
    )


def update_balance(
    commits: Commits,
    pending: PendingTransaction,
    seen: AccountState,
    currency: str,
    clock: Clock,
) -> Transaction:
    """Apply the transaction to the balance seen under the lock and commit it atomically with
    its ledger entry (the user's next sequence) and that entry's event.

    Raises: InsufficientFundsError (nothing written) if a debit would take the balance or
    `available` below zero (AccountState.require_available);
    LockLostError if this owner no longer holds the lock.
    """
    request = pending.request
    now = clock.now()
    if request.type is TransactionType.DEBIT:
        seen.require_available(request.amount, now)
    new_balance = seen.balance + request.signed_amount
    transaction = Transaction(
        transaction_id=pending.transaction_id,
        user_id=request.user_id,
        type=request.type,
        amount=request.amount,
        balance=new_balance,
        currency=currency,
        created_at=pending.created_at,
    )
    entry = LedgerEntry(
        user_id=request.user_id,
        sequence=seen.last_sequence + 1,
        entry_id=pending.transaction_id,
        type=request.type,
        amount=request.amount,
        balance_after=new_balance,
        currency=currency,
        created_at=pending.created_at,
        idempotency_key=request.idempotency_key,
    )
    commits.commit(entry, pending.owner, seen.balance, now)
    return transaction


def delete_transaction(
    transactions: Transactions, commits: Commits, key: TransactionKey, owner: str, clock: Clock
) -> bool:
    """Compensation: undo what this owner wrote under `key`; True if a commit was reverted.

    A pending record is deleted. A record this owner already committed (the failure came after
    the commit) is deleted together with its balance change, and a compensating entry (with its
    event) is appended, so a failed request applied nothing and the ledger says so.
    Raises: LockLostError if the lease ran out before a commit could be reverted.
    """
    committed = transactions.delete_pending(key.user_id, key.idempotency_key, owner)
    if committed is None:
        return False
    # Derived from the reverted entry, so a retried revert writes the same id again. The seed's
    # word is part of how stored ids were derived: it stays "reversal".
    entry_id = str(uuid5(NAMESPACE_URL, f"reversal\n{committed.entry_id}"))
    now = clock.now()
    commits.revert(committed, committed.compensating_entry(entry_id, timestamp(now)), owner, now)
    return True
