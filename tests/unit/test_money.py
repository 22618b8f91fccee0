from decimal import Decimal

import pytest

from functions.domain.errors import ValidationError
from functions.domain.money import format_money, parse_amount


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10", "10"), ("0.01", "0.01"), ("10.5", "10.5"), ("1000000000.00", "1000000000.00")],
)
def test_valid_amounts_are_parsed_exactly(text, expected):
    assert parse_amount(text) == Decimal(expected)


@pytest.mark.parametrize(
    "value",
    ["0", "0.00", "-1", "+1", "1.001", "1e3", "01", " 1", "1 ", "1,5", ".5", "5.", "NaN",
     "Infinity", "", "\u0661\u0660", "\uff11\uff10", "1000000000.01", "99999999999", "1\n"],
    ids=repr,
)  # fmt: skip
def test_invalid_amount_strings_are_rejected_naming_the_field(value):
    with pytest.raises(ValidationError, match="ammount"):
        parse_amount(value)


@pytest.mark.parametrize("value", [10, 10.5, None, True, ["10"]], ids=repr)
def test_non_strings_are_rejected(value):
    with pytest.raises(ValidationError, match="amount must be a string"):
        parse_amount(value, "amount")


def test_money_is_formatted_with_two_decimals():
    assert format_money(Decimal("10")) == "10.00"
    assert format_money(Decimal("0.5")) == "0.50"
    assert format_money(Decimal("1000000000")) == "1000000000.00"
