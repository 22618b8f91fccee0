"""The wallet's use cases: one per saga step, plus the balance query."""

from datetime import datetime
from decimal import Decimal
from typing import Protocol
from uuid import NAMESPACE_URL, uuid5

from functions.domain.errors import IdempotencyKeyReusedError, InsufficientFundsError
from functions.domain.models import (
    Balance,
    Lock,
    PendingTransaction,
    PutOutcome,
    StoredTransaction,
    Transaction,
    TransactionRequest,
)


class Aggregates(Protocol):
    def take_lock(
        self, user_id: str, owner: str, now: int, lease_until: int, default_balance: Decimal
    ) -> Lock: ...

    def release_lock(self, user_id: str, owner: str) -> bool: ...

    def commit(
        self, transaction: Transaction, key: str, owner: str, seen_balance: Decimal, now: int
    ) -> None: ...

    def revert(self, transaction: Transaction, key: str, owner: str, now: int) -> None: ...

    def find_balance(self, user_id: str) -> Decimal | None: ...


class Transactions(Protocol):
    def put_pending(self, pending: PendingTransaction, now: int) -> StoredTransaction | None: ...

    def delete_pending(self, user_id: str, key: str, owner: str) -> Transaction | None: ...


def _timestamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def acquire_lock(
    aggregates: Aggregates,
    user_id: str,
    owner: str,
    now: int,
    lease_seconds: int,
    default_balance: Decimal,
) -> Lock:
    """Raises: UserBusyError while another owner's lease is running."""
    return aggregates.take_lock(user_id, owner, now, now + lease_seconds, default_balance)


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
    transaction_id: str,
    created_at: str,
    currency: str,
    now: int,
) -> Transaction:
    """Apply the transaction to the balance seen under the lock and commit both atomically.

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
    aggregates.commit(transaction, request.idempotency_key, owner, seen_balance, now)
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
    now: int,
) -> bool:
    """Compensation: undo what this owner wrote under `key`; True if a commit was reverted.

    A pending record is deleted. A record this owner already committed (the failure came after
    the commit) is deleted together with its balance change, so a failed request applied nothing.
    Raises: LockLostError if the lease ran out before a commit could be reverted.
    """
    committed = transactions.delete_pending(user_id, key, owner)
    if committed is None:
        return False
    aggregates.revert(committed, key, owner, now)
    return True


def get_balance(
    aggregates: Aggregates, user_id: str, default_balance: Decimal, currency: str
) -> Balance:
    balance = aggregates.find_balance(user_id)
    return Balance(user_id, default_balance if balance is None else balance, currency)
