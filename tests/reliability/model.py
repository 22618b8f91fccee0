"""The contract as a plain in-memory model, and a Hypothesis state machine holding the system to it.

One request at a time, so every answer is exactly predictable: credit, debit (or 422 when it
would overdraw), replay of a committed key (the very same body, replayed), a refused debit's key
sent again (decided afresh), key reuse with another payload (422, nothing changes), the same key
for another user (a new transaction), a balance read, and invalid input (400 naming the field).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from functions.domain.money import format_money
from tests.invariants import balance_of, violations
from tests.reliability.runtime import Answer, get_balance, transact

DEFAULT_BALANCE = Decimal("100.00")
USERS = ("alice", "bob", "carol")
BAD_AMOUNTS = ("0", "-1", "1.001", "01", "1e2", " 5", "5 ", "١٢", "NaN", "Infinity", "")
_machines = itertools.count()


@dataclass
class WalletModel:
    balances: dict[str, Decimal] = field(default_factory=dict)
    # (user, key) -> the 201 body of the committed transaction
    committed: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    # (user, key) -> payload of a debit refused for lack of funds (nothing recorded)
    refused: dict[tuple[str, str], tuple[str, Decimal]] = field(default_factory=dict)

    def balance(self, user: str) -> Decimal:
        return self.balances.get(user, DEFAULT_BALANCE)

    def expected_error(self, user: str, type_: str, amount: Decimal) -> str | None:
        if type_ == "debit" and amount > self.balance(user):
            return "InsufficientFundsError"
        return None

    def apply(self, user: str, key: str, transaction: dict[str, str]) -> None:
        amount = Decimal(transaction["amount"])
        signed = amount if transaction["type"] == "credit" else -amount
        self.balances[user] = self.balance(user) + signed
        self.committed[(user, key)] = transaction
        self.refused.pop((user, key), None)


def body(
    user: str, type_: str, amount: Decimal, *, short: bool = False, alias: bool = False
) -> str:
    spelled = format_money(amount)
    if short:
        spelled = spelled.rstrip("0").rstrip(".")
    return json.dumps({"userId": user, "amount" if alias else "ammount": spelled, "type": type_})


def wallet_machine(aws: Any) -> type[RuleBasedStateMachine]:
    """The state machine class, bound to a running LocalAws shared by every example."""

    class WalletMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.model = WalletModel()
            self.prefix = f"m{next(_machines)}"
            self.keys = itertools.count()

        def user(self, name: str) -> str:
            return f"{self.prefix}-{name}"

        def fresh_key(self) -> str:
            return f"{self.prefix}-k{next(self.keys)}"

        def send_new(self, user: str, key: str, type_: str, amount: Decimal, text: str) -> None:
            answer = transact(aws, text, key)
            expected_error = self.model.expected_error(user, type_, amount)
            if expected_error is not None:
                assert (answer.status, answer.error) == ("FAILED", expected_error), answer
                self.model.refused[(user, key)] = (type_, amount)
                return
            assert answer.is_applied, answer
            transaction = answer.transaction
            assert transaction is not None
            expected_balance = self.model.balance(user) + (amount if type_ == "credit" else -amount)
            assert transaction["userId"] == user
            assert transaction["type"] == type_
            assert transaction["amount"] == format_money(amount)
            assert transaction["balance"] == format_money(expected_balance)
            assert transaction["currency"] == "USD"
            self.model.apply(user, key, transaction)

        @rule(
            name=st.sampled_from(USERS),
            type_=st.sampled_from(["credit", "debit"]),
            cents=st.integers(1, 15000),
            short=st.booleans(),
            alias=st.booleans(),
        )
        def transaction_under_a_new_key(self, name, type_, cents, short, alias):
            user, amount = self.user(name), Decimal(cents) / 100
            text = body(user, type_, amount, short=short, alias=alias)
            self.send_new(user, self.fresh_key(), type_, amount, text)

        @precondition(lambda self: self.model.committed)
        @rule(data=st.data(), short=st.booleans(), alias=st.booleans())
        def replay_of_a_committed_key(self, data, short, alias):
            user, key = data.draw(st.sampled_from(sorted(self.model.committed)))
            first = self.model.committed[(user, key)]
            text = body(user, first["type"], Decimal(first["amount"]), short=short, alias=alias)
            answer = transact(aws, text, key)
            assert answer.is_replayed, answer
            assert answer.transaction == first

        @precondition(lambda self: self.model.refused)
        @rule(data=st.data())
        def refused_debit_sent_again(self, data):
            user, key = data.draw(st.sampled_from(sorted(self.model.refused)))
            type_, amount = self.model.refused[(user, key)]
            self.send_new(user, key, type_, amount, body(user, type_, amount))

        @precondition(lambda self: self.model.committed)
        @rule(data=st.data(), delta=st.integers(1, 500), flip=st.booleans())
        def key_reused_with_another_payload(self, data, delta, flip):
            user, key = data.draw(st.sampled_from(sorted(self.model.committed)))
            first = self.model.committed[(user, key)]
            type_ = first["type"]
            amount = Decimal(first["amount"])
            if flip:
                type_ = "debit" if type_ == "credit" else "credit"
            else:
                amount += Decimal(delta) / 100
            answer = transact(aws, body(user, type_, amount), key)
            assert (answer.status, answer.error) == ("FAILED", "IdempotencyKeyReusedError"), answer

        @precondition(lambda self: self.model.committed)
        @rule(data=st.data(), name=st.sampled_from(USERS))
        def same_key_for_another_user(self, data, name):
            owner, key = data.draw(st.sampled_from(sorted(self.model.committed)))
            user = self.user(name)
            if user == owner or (user, key) in self.model.committed:
                return
            first = self.model.committed[(owner, key)]
            type_, amount = first["type"], Decimal(first["amount"])
            self.send_new(user, key, type_, amount, body(user, type_, amount))

        @rule(name=st.sampled_from(USERS))
        def balance_read(self, name):
            user = self.user(name)
            status, answer = get_balance(aws, user)
            assert status == 200
            assert answer == {
                "userId": user,
                "balance": format_money(self.model.balance(user)),
                "available": format_money(self.model.balance(user)),  # no holds here
                "currency": "USD",
            }

        @rule(name=st.sampled_from(USERS), amount=st.sampled_from(BAD_AMOUNTS))
        def invalid_amount(self, name, amount):
            text = json.dumps({"userId": self.user(name), "ammount": amount, "type": "credit"})
            answer: Answer = transact(aws, text, self.fresh_key())
            assert (answer.status, answer.error) == ("FAILED", "ValidationError"), answer
            assert "ammount" in json.loads(answer.cause or "{}")["errorMessage"]

        @invariant()
        def tables_agree_with_the_model(self):
            assert violations(aws.dynamodb) == []
            for name in USERS:
                user = self.user(name)
                assert balance_of(aws.dynamodb, user) == self.model.balance(user)

    return WalletMachine
