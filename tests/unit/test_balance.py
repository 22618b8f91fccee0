"""GET /balance's use case with a fake of the balances, and `available` on a controlled clock."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from functions.domain.errors import InsufficientFundsError
from functions.domain.models import AccountState, PendingHold
from functions.domain.queries import get_balance
from tests.builders import FakeBalances

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
EXPIRES_AT = NOW + timedelta(hours=1)
MILLISECOND = timedelta(milliseconds=1)


def test_get_balance_defaults_for_a_new_user():
    balances = FakeBalances({"known": Decimal("5.5")})
    assert get_balance(balances, "new", Decimal("100.00"), "USD", NOW).to_dict() == {
        "userId": "new", "balance": "100.00", "available": "100.00", "currency": "USD"}  # fmt: skip
    assert get_balance(balances, "known", Decimal("100.00"), "USD", NOW).balance == Decimal("5.5")


def test_get_balance_subtracts_the_holds_until_they_expire_with_no_write_in_between():
    balances = FakeBalances(
        {"u": Decimal("100")}, {"u": (PendingHold("h", Decimal("30"), EXPIRES_AT),)}
    )

    def available(at: datetime) -> str:
        return get_balance(balances, "u", Decimal("100"), "USD", at).to_dict()["available"]

    assert available(NOW) == "70.00"
    assert available(EXPIRES_AT - MILLISECOND) == "70.00"
    assert available(EXPIRES_AT) == "100.00"
    assert get_balance(balances, "u", Decimal("100"), "USD", EXPIRES_AT).balance == Decimal("100")


def test_a_hold_counts_a_millisecond_before_its_expiry_and_not_at_it():
    hold = PendingHold("h", Decimal("30"), EXPIRES_AT)
    state = AccountState(Decimal("100"), 3, (hold,))
    assert state.available(EXPIRES_AT - MILLISECOND) == Decimal("70")
    assert state.pending_holds(EXPIRES_AT - MILLISECOND) == (hold,)
    assert state.available(EXPIRES_AT) == Decimal("100")
    assert state.pending_holds(EXPIRES_AT) == ()


def test_require_available_refuses_what_the_holds_reserve_until_they_expire():
    state = AccountState(
        Decimal("100"), 0,
        (PendingHold("a", Decimal("30"), EXPIRES_AT),
         PendingHold("b", Decimal("20"), EXPIRES_AT + timedelta(hours=1))),
    )  # fmt: skip
    state.require_available(Decimal("50"), NOW)
    with pytest.raises(InsufficientFundsError):
        state.require_available(Decimal("50.01"), NOW)
    with pytest.raises(InsufficientFundsError):
        state.require_available(Decimal("80"), EXPIRES_AT - MILLISECOND)
    state.require_available(Decimal("80"), EXPIRES_AT)


def test_require_available_refuses_going_below_a_zero_balance_with_no_holds():
    state = AccountState(Decimal("10"), 0)
    state.require_available(Decimal("10"), NOW)
    with pytest.raises(InsufficientFundsError):
        state.require_available(Decimal("10.01"), NOW)
