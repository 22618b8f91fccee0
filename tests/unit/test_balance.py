"""GET /balance's use case with a fake of the balances."""

from decimal import Decimal

from functions.domain.queries import get_balance
from tests.builders import FakeBalances


def test_get_balance_defaults_for_a_new_user():
    balances = FakeBalances({"known": Decimal("5.5")})
    assert get_balance(balances, "new", Decimal("100.00"), "USD").to_dict() == {
        "userId": "new", "balance": "100.00", "currency": "USD"}  # fmt: skip
    assert get_balance(balances, "known", Decimal("100.00"), "USD").balance == Decimal("5.5")
