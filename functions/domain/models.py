"""The wallet's value objects."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from functions.domain.money import format_money


class TransactionType(StrEnum):
    CREDIT = "credit"
    DEBIT = "debit"


@dataclass(frozen=True)
class TransactionKey:
    """What names a transaction: the user and the client's idempotency key."""

    user_id: str
    idempotency_key: str


@dataclass(frozen=True)
class TransactionRequest:
    user_id: str
    idempotency_key: str
    type: TransactionType
    amount: Decimal

    @property
    def signed_amount(self) -> Decimal:
        return self.amount if self.type is TransactionType.CREDIT else -self.amount

    @property
    def fingerprint(self) -> str:
        """Identifies the normalized payload, so a reused key with another payload is detected."""
        payload = "\n".join((self.user_id, self.type.value, format_money(self.amount)))
        return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class AccountState:
    """A user's balance and last ledger sequence as a step saw them under the user's lock; a
    commit is conditional on both being unchanged."""

    balance: Decimal
    last_sequence: int


@dataclass(frozen=True)
class Lock:
    """The user's lock as taken: its owner token and lease, and the account it guards."""

    user_id: str
    owner: str
    balance: Decimal
    lease_until: datetime
    last_sequence: int = 0

    @property
    def seen(self) -> AccountState:
        return AccountState(self.balance, self.last_sequence)


@dataclass(frozen=True)
class PendingTransaction:
    request: TransactionRequest
    transaction_id: str
    owner: str
    created_at: str


@dataclass(frozen=True)
class Transaction:
    """A committed transaction, as the API returns it."""

    transaction_id: str
    user_id: str
    type: TransactionType
    amount: Decimal
    balance: Decimal
    currency: str
    created_at: str
    # A reversal's entry (POST /transactions/{id}/reversal): the transaction it reverses.
    reverses: str | None = None

    def to_dict(self) -> dict[str, str]:
        body = {
            "transactionId": self.transaction_id,
            "userId": self.user_id,
            "type": self.type.value,
            "amount": format_money(self.amount),
            "balance": format_money(self.balance),
            "currency": self.currency,
            "createdAt": self.created_at,
        }
        if self.reverses is not None:
            body["reverses"] = self.reverses
        return body

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> Transaction:
        return cls(
            transaction_id=data["transactionId"],
            user_id=data["userId"],
            type=TransactionType(data["type"]),
            amount=Decimal(data["amount"]),
            balance=Decimal(data["balance"]),
            currency=data["currency"],
            created_at=data["createdAt"],
            reverses=data.get("reverses"),
        )


@dataclass(frozen=True)
class LedgerEntry:
    """One committed movement of a user's money, numbered by the user's sequence (1, 2, 3, ...).

    A commit's entry has the transaction's id; a compensating entry (appended when the saga's
    compensation reverts a commit) has its own id, the opposite type, and names the entry it
    reverses.
    """

    user_id: str
    sequence: int
    entry_id: str
    type: TransactionType
    amount: Decimal
    balance_after: Decimal
    currency: str
    created_at: str
    idempotency_key: str
    reverses: str | None = None
    # An entry of a transfer: the transfer, and the user on its other side.
    transfer_id: str | None = None
    counterparty_user_id: str | None = None
    # An entry of a captured hold: the hold.
    hold_id: str | None = None

    def to_dict(self) -> dict[str, str | int]:
        """The contract's Entry (GET /transactions)."""
        entry: dict[str, str | int] = {
            "transactionId": self.entry_id,
            "sequence": self.sequence,
            "type": self.type.value,
            "amount": format_money(self.amount),
            "balanceAfter": format_money(self.balance_after),
            "currency": self.currency,
            "createdAt": self.created_at,
            "idempotencyKey": self.idempotency_key,
        }
        if self.reverses is not None:
            entry["reverses"] = self.reverses
        if self.transfer_id is not None and self.counterparty_user_id is not None:
            entry["transferId"] = self.transfer_id
            entry["counterpartyUserId"] = self.counterparty_user_id
        return entry

    @property
    def signed_amount(self) -> Decimal:
        return self.amount if self.type is TransactionType.CREDIT else -self.amount

    def compensating_entry(self, entry_id: str, created_at: str) -> LedgerEntry:
        """The entry that undoes this one: the user's next sequence, the opposite type, and the
        balance as it was before this entry (invariant 7 keeps chaining through it)."""
        return self.reversing_entry(
            entry_id, created_at, AccountState(self.balance_after, self.sequence)
        )

    def reversing_entry(self, entry_id: str, created_at: str, seen: AccountState) -> LedgerEntry:
        """The entry that reverses this one on the account as `seen` (under the lock): the next
        sequence, the opposite type, the same amount and key, and `reverses` naming this one."""
        opposite = (
            TransactionType.DEBIT if self.type is TransactionType.CREDIT else TransactionType.CREDIT
        )
        return LedgerEntry(
            user_id=self.user_id,
            sequence=seen.last_sequence + 1,
            entry_id=entry_id,
            type=opposite,
            amount=self.amount,
            balance_after=seen.balance - self.signed_amount,
            currency=self.currency,
            created_at=created_at,
            idempotency_key=self.idempotency_key,
            reverses=self.entry_id,
        )


@dataclass(frozen=True)
class StoredTransaction:
    """What the transactions table already holds under a (userId, key)."""

    fingerprint: str
    committed: Transaction | None


@dataclass(frozen=True)
class PutOutcome:
    transaction_id: str
    created_at: str
    replay: Transaction | None


@dataclass(frozen=True)
class Balance:
    user_id: str
    balance: Decimal
    currency: str

    def to_dict(self) -> dict[str, str]:
        return {
            "userId": self.user_id,
            "balance": format_money(self.balance),
            "currency": self.currency,
        }


def request_to_dict(request: TransactionRequest) -> dict[str, str]:
    """The normalized request as it travels between saga steps."""
    return {
        "userId": request.user_id,
        "idempotencyKey": request.idempotency_key,
        "type": request.type.value,
        "amount": format_money(request.amount),
    }


def request_from_dict(data: dict[str, str]) -> TransactionRequest:
    return TransactionRequest(
        user_id=data["userId"],
        idempotency_key=data["idempotencyKey"],
        type=TransactionType(data["type"]),
        amount=Decimal(data["amount"]),
    )


@dataclass(frozen=True)
class TransferRequest:
    """Money from one user's wallet to another's, under the source's idempotency key."""

    from_user_id: str
    to_user_id: str
    idempotency_key: str
    amount: Decimal

    @property
    def fingerprint(self) -> str:
        """Identifies the normalized payload; "transfer" first, so that no transaction's payload
        under the same key has this fingerprint (a user's keys are one namespace)."""
        payload = "\n".join(
            ("transfer", self.from_user_id, self.to_user_id, format_money(self.amount))
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    @property
    def lock_order(self) -> tuple[str, str]:
        """Both users, in the one global order every transfer takes their locks in (sorted), so
        that opposite transfers between the same two users cannot wait on each other."""
        first, second = sorted((self.from_user_id, self.to_user_id))
        return first, second

    def to_dict(self) -> dict[str, str]:
        """The normalized request as it travels between the transfer saga's steps."""
        return {
            "fromUserId": self.from_user_id,
            "toUserId": self.to_user_id,
            "idempotencyKey": self.idempotency_key,
            "amount": format_money(self.amount),
        }

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> TransferRequest:
        return cls(
            from_user_id=data["fromUserId"],
            to_user_id=data["toUserId"],
            idempotency_key=data["idempotencyKey"],
            amount=Decimal(data["amount"]),
        )


@dataclass(frozen=True)
class PendingTransfer:
    request: TransferRequest
    transfer_id: str
    owner: str
    created_at: str


@dataclass(frozen=True)
class Transfer:
    """A committed transfer, as the API returns it: `balance` is the source's after it."""

    transfer_id: str
    from_user_id: str
    to_user_id: str
    amount: Decimal
    currency: str
    balance: Decimal
    created_at: str

    def to_dict(self) -> dict[str, str]:
        return {
            "transferId": self.transfer_id,
            "fromUserId": self.from_user_id,
            "toUserId": self.to_user_id,
            "amount": format_money(self.amount),
            "currency": self.currency,
            "balance": format_money(self.balance),
            "createdAt": self.created_at,
        }


@dataclass(frozen=True)
class StoredTransfer:
    """What the transactions table already holds under the source's (userId, key): the payload's
    fingerprint (a transaction's or a transfer's), and the transfer if committed."""

    fingerprint: str
    committed: Transfer | None


@dataclass(frozen=True)
class TransferPutOutcome:
    transfer_id: str
    created_at: str
    replay: Transfer | None


@dataclass(frozen=True)
class ReversalRequest:
    """POST /transactions/{transactionId}/reversal: the owner and the transaction to reverse.
    No idempotency key: a transaction is reversed at most once, whoever asks how often."""

    user_id: str
    transaction_id: str

    def to_dict(self) -> dict[str, str]:
        return {"userId": self.user_id, "transactionId": self.transaction_id}

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> ReversalRequest:
        return cls(user_id=data["userId"], transaction_id=data["transactionId"])


@dataclass(frozen=True)
class StoredReversal:
    """A transaction's reversal as committed: its entry (the 201 body) and the execution that
    committed it."""

    transaction: Transaction
    owner: str


@dataclass(frozen=True)
class ReversalOutcome:
    transaction: Transaction
    replayed: bool
