"""The wallet's value objects."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

import msgspec

from functions.domain.clock import timestamp
from functions.domain.errors import InsufficientFundsError
from functions.domain.money import format_money


class TransactionType(StrEnum):
    CREDIT = "credit"
    DEBIT = "debit"


class TransactionKey(msgspec.Struct, frozen=True):
    """What names a transaction: the user and the client's idempotency key."""

    user_id: str
    idempotency_key: str


class TransactionRequest(msgspec.Struct, frozen=True):
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


class PendingHold(msgspec.Struct, frozen=True):
    """A hold as the user's aggregate row keeps it while it may reduce `available`: its amount
    and the instant it stops counting."""

    hold_id: str
    amount: Decimal
    expires_at: datetime

    def counts_at(self, now: datetime) -> bool:
        """A hold counts until `expires_at`, exclusive: at that very instant it has expired."""
        return now < self.expires_at


class AccountState(msgspec.Struct, frozen=True):
    """A user's balance, last ledger sequence and pending holds as a step saw them under the
    user's lock; a commit is conditional on the balance and the sequence being unchanged (the
    holds change only under the lock)."""

    balance: Decimal
    last_sequence: int
    holds: tuple[PendingHold, ...] = ()

    def pending_holds(self, now: datetime) -> tuple[PendingHold, ...]:
        """The holds still counting at `now`; an expired one is left out (and so pruned from the
        row by the next write that stores these)."""
        return tuple(hold for hold in self.holds if hold.counts_at(now))

    def available(self, now: datetime) -> Decimal:
        """The balance less the holds still counting at `now` (invariant 11)."""
        return self.balance - sum((h.amount for h in self.pending_holds(now)), Decimal(0))

    def require_available(self, amount: Decimal, now: datetime) -> None:
        """The one check of every movement that takes money away (a debit, a transfer's source,
        a reversal of a credit, a new hold): `amount` may be taken only if neither the balance
        (invariant 2) nor `available` (invariant 11) goes below zero at `now`.

        Raises: InsufficientFundsError.
        """
        if self.balance - amount < 0 or self.available(now) - amount < 0:
            raise InsufficientFundsError("the available balance is lower than the amount")

    def without_hold(self, hold_id: str) -> AccountState:
        return AccountState(
            self.balance, self.last_sequence, tuple(h for h in self.holds if h.hold_id != hold_id)
        )

    def with_holds(self, holds: Iterable[PendingHold]) -> AccountState:
        return AccountState(self.balance, self.last_sequence, tuple(holds))


def holds_to_list(holds: Iterable[PendingHold]) -> list[dict[str, str]]:
    """Pending holds as they travel between saga steps (in the lock's output)."""
    return [
        {"holdId": hold.hold_id, "amount": format_money(hold.amount),
         "expiresAt": timestamp(hold.expires_at)}
        for hold in holds
    ]  # fmt: skip


def account_from_dict(lock: dict) -> AccountState:
    """The state a lock's output says its step saw: balance, lastSequence and holds."""
    holds = tuple(
        PendingHold(h["holdId"], Decimal(h["amount"]), datetime.fromisoformat(h["expiresAt"]))
        for h in lock["holds"]
    )
    return AccountState(Decimal(lock["balance"]), int(lock["lastSequence"]), holds)


class Lock(msgspec.Struct, frozen=True):
    """The user's lock as taken: its owner token and lease, and the account it guards."""

    user_id: str
    owner: str
    balance: Decimal
    lease_until: datetime
    last_sequence: int = 0
    holds: tuple[PendingHold, ...] = ()

    @property
    def seen(self) -> AccountState:
        return AccountState(self.balance, self.last_sequence, self.holds)


class PendingTransaction(msgspec.Struct, frozen=True):
    request: TransactionRequest
    transaction_id: str
    owner: str
    created_at: str


class Transaction(msgspec.Struct, frozen=True):
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


class LedgerEntry(msgspec.Struct, frozen=True):
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
        if self.hold_id is not None:
            entry["holdId"] = self.hold_id
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


class StoredTransaction(msgspec.Struct, frozen=True):
    """What the transactions table already holds under a (userId, key)."""

    fingerprint: str
    committed: Transaction | None
    # The key placed a hold (a record committed, but no transaction's).
    is_hold: bool = False


class PutOutcome(msgspec.Struct, frozen=True):
    transaction_id: str
    created_at: str
    replay: Transaction | None


class Balance(msgspec.Struct, frozen=True):
    user_id: str
    balance: Decimal
    currency: str
    available: Decimal

    def to_dict(self) -> dict[str, str]:
        return {
            "userId": self.user_id,
            "balance": format_money(self.balance),
            "available": format_money(self.available),
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


class TransferRequest(msgspec.Struct, frozen=True):
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


class PendingTransfer(msgspec.Struct, frozen=True):
    request: TransferRequest
    transfer_id: str
    owner: str
    created_at: str


class Transfer(msgspec.Struct, frozen=True):
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


class StoredTransfer(msgspec.Struct, frozen=True):
    """What the transactions table already holds under the source's (userId, key): the payload's
    fingerprint (a transaction's or a transfer's), and the transfer if committed."""

    fingerprint: str
    committed: Transfer | None


class TransferPutOutcome(msgspec.Struct, frozen=True):
    transfer_id: str
    created_at: str
    replay: Transfer | None


class HoldStatus(StrEnum):
    PENDING = "pending"
    CAPTURED = "captured"
    VOIDED = "voided"
    # Never stored: a pending hold reads as expired from its expiresAt on (Hold.status_at).
    EXPIRED = "expired"


class HoldOperation(StrEnum):
    PLACE = "place"
    CAPTURE = "capture"
    VOID = "void"


class HoldCommand(msgspec.Struct, frozen=True):
    """A change to a user's holds, as the hold saga's steps pass it on: a new hold (its key,
    amount and lifetime), or the capture (of `amount`, None: the whole hold) or void of one."""

    operation: HoldOperation
    user_id: str
    hold_id: str | None = None
    idempotency_key: str | None = None
    amount: Decimal | None = None
    expires_in_seconds: int | None = None

    @property
    def fingerprint(self) -> str:
        """A new hold's normalized payload; "hold" first, so that no transaction's or transfer's
        payload under the same key has this fingerprint (a user's keys are one namespace)."""
        amount = "" if self.amount is None else format_money(self.amount)
        payload = "\n".join(("hold", self.user_id, amount, str(self.expires_in_seconds)))
        return hashlib.sha256(payload.encode()).hexdigest()

    def to_dict(self) -> dict[str, str | int | None]:
        return {
            "operation": self.operation.value,
            "userId": self.user_id,
            "holdId": self.hold_id,
            "idempotencyKey": self.idempotency_key,
            "amount": None if self.amount is None else format_money(self.amount),
            "expiresInSeconds": self.expires_in_seconds,
        }

    @classmethod
    def from_dict(cls, data: dict) -> HoldCommand:
        amount = data.get("amount")
        expires_in = data.get("expiresInSeconds")
        return cls(
            operation=HoldOperation(data["operation"]),
            user_id=data["userId"],
            hold_id=data.get("holdId"),
            idempotency_key=data.get("idempotencyKey"),
            amount=None if amount is None else Decimal(amount),
            expires_in_seconds=None if expires_in is None else int(expires_in),
        )


class Hold(msgspec.Struct, frozen=True):
    """A hold as stored: placed pending, then captured or voided once (invariant 12). What its
    capture or void answered is kept on it, so that a repeated request gets the same body."""

    hold_id: str
    user_id: str
    amount: Decimal
    currency: str
    status: HoldStatus
    created_at: str
    expires_at: datetime
    idempotency_key: str
    captured_amount: Decimal | None = None
    transaction_id: str | None = None
    balance_after: Decimal | None = None
    available_after: Decimal | None = None
    # The execution that captured or voided it (a retried step finds its own change).
    changed_by: str | None = None

    def status_at(self, now: datetime) -> HoldStatus:
        if self.status is HoldStatus.PENDING and now >= self.expires_at:
            return HoldStatus.EXPIRED
        return self.status

    @property
    def pending(self) -> PendingHold:
        return PendingHold(self.hold_id, self.amount, self.expires_at)

    def to_dict(self, now: datetime) -> dict[str, str]:
        """GET /holds/{holdId}: the hold as placed, with its status at `now`."""
        body = {
            "holdId": self.hold_id,
            "userId": self.user_id,
            "amount": format_money(self.amount),
            "currency": self.currency,
            "status": self.status_at(now).value,
            "createdAt": self.created_at,
            "expiresAt": timestamp(self.expires_at),
        }
        if self.captured_amount is not None and self.transaction_id is not None:
            body["capturedAmount"] = format_money(self.captured_amount)
            body["transactionId"] = self.transaction_id
        return body

    def placed_body(self, available: Decimal) -> dict[str, str]:
        """POST /holds' answer."""
        return {
            "holdId": self.hold_id,
            "userId": self.user_id,
            "amount": format_money(self.amount),
            "currency": self.currency,
            "status": HoldStatus.PENDING.value,
            "available": format_money(available),
            "createdAt": self.created_at,
            "expiresAt": timestamp(self.expires_at),
        }

    def outcome_body(self) -> dict[str, str]:
        """The answer of the capture or the void that ended this hold (stored with it)."""
        assert self.available_after is not None
        body = {
            "holdId": self.hold_id,
            "userId": self.user_id,
            "status": self.status.value,
            "amount": format_money(self.amount),
        }
        if self.status is HoldStatus.CAPTURED:
            assert self.captured_amount is not None and self.balance_after is not None
            body["capturedAmount"] = format_money(self.captured_amount)
            body["transactionId"] = str(self.transaction_id)
            body["balance"] = format_money(self.balance_after)
        body["available"] = format_money(self.available_after)
        body["currency"] = self.currency
        return body


class StoredPlacement(msgspec.Struct, frozen=True):
    """What the transactions table holds under the key a POST /holds used: the payload's
    fingerprint, and the answer it gave if it was a hold's (None: a transaction's or transfer's)."""

    fingerprint: str
    placed: dict[str, str] | None


class HoldOutcome(msgspec.Struct, frozen=True):
    """A hold step's answer: the body, and whether it repeats an earlier one."""

    body: dict[str, str]
    replayed: bool

    def to_dict(self) -> dict[str, object]:
        return {"hold": self.body, "replayed": self.replayed}


class ReversalRequest(msgspec.Struct, frozen=True):
    """POST /transactions/{transactionId}/reversal: the owner and the transaction to reverse.
    No idempotency key: a transaction is reversed at most once, whoever asks how often."""

    user_id: str
    transaction_id: str

    def to_dict(self) -> dict[str, str]:
        return {"userId": self.user_id, "transactionId": self.transaction_id}

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> ReversalRequest:
        return cls(user_id=data["userId"], transaction_id=data["transactionId"])


class StoredReversal(msgspec.Struct, frozen=True):
    """A transaction's reversal as committed: its entry (the 201 body) and the execution that
    committed it."""

    transaction: Transaction
    owner: str


class ReversalOutcome(msgspec.Struct, frozen=True):
    transaction: Transaction
    replayed: bool
