"""Money as Decimal: parsed from strings with at most 2 decimal places, formatted with exactly 2."""

import re
from decimal import Decimal

from functions.domain.errors import ValidationError

MAX_AMOUNT = Decimal("1000000000.00")
CENT = Decimal("0.01")
# ASCII digits only, no sign, exponent, whitespace or leading zeros; at most 2 decimal places.
_AMOUNT = re.compile(r"(0|[1-9][0-9]{0,9})(\.[0-9]{1,2})?", re.ASCII)


def parse_amount(value: object, field: str = "ammount") -> Decimal:
    """Raises: ValidationError naming `field` unless value is a string for 0 < amount <= MAX."""
    if not isinstance(value, str):
        raise ValidationError(f'{field} must be a string such as "10.50"')
    if not _AMOUNT.fullmatch(value):
        raise ValidationError(
            f'{field} must be a positive decimal with at most 2 decimal places, such as "10.50"'
        )
    amount = Decimal(value)
    if amount <= 0:
        raise ValidationError(f"{field} must be greater than 0")
    if amount > MAX_AMOUNT:
        raise ValidationError(f"{field} must be at most {format_money(MAX_AMOUNT)}")
    return amount


def format_money(amount: Decimal) -> str:
    return f"{amount.quantize(CENT):f}"
