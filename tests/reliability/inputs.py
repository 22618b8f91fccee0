"""Hostile input for the domain's parsers, and what each parser must do with it.

A parser either raises ValidationError with a message naming the field, or returns a value that
is exactly the input and storable; it never raises anything else. For amounts an independent
oracle says which strings are acceptable: the parser may be stricter only about leading zeros.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from functions.domain.errors import ValidationError
from functions.domain.models import TransactionRequest
from functions.domain.money import parse_amount
from functions.domain.requests import (
    MAX_BODY_LENGTH,
    parse_idempotency_key,
    parse_transaction_request,
    parse_user_id,
)

MAX_AMOUNT = Decimal("1000000000")
ASCII_DIGITS = "0123456789"
# Digits Python's Decimal and int() accept but the contract does not: Arabic-Indic,
# Extended Arabic-Indic, fullwidth, Devanagari; and superscripts, which they do not.
FOREIGN_DIGITS = (
    "".join(
        chr(first + offset) for first in (0x0660, 0x06F0, 0xFF10, 0x0966) for offset in range(10)
    )
    + "\u00b9\u00b2\u00b3"
)
WHITESPACE = " \t\n\r\u00a0\u2003\u3000\ufeff"
SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff"]
SPECIALS = [
    "", " ", ".", "0", "0.0", "0.00", "00", "-0", "+1", "-1", "1.", ".5", "1..2", "1.2.3",
    "NaN", "nan", "-NaN", "sNaN", "Infinity", "-Infinity", "inf", "Inf", "1e3", "1E3", "1e-2",
    "1E+2", "0x10", "1_000", "1,000.00", "1 000", "10.001", "1000000000", "1000000000.00",
    "1000000000.01", "999999999.99", "0.01", "0.001", "9" * 400, "0." + "0" * 300 + "1",
    "1" + "0" * 5000, "\uff11\uff10", "\u0663", "10\x00", "\u202e10",
]  # fmt: skip
FIELDS_NAMED = ("userId", "ammount", "amount", "type", "body", "Idempotent-Key")

amount_characters = st.sampled_from(
    list(ASCII_DIGITS * 3 + FOREIGN_DIGITS + WHITESPACE + ".,+-eE_xNaIify")
)
canonical_amounts = st.decimals(
    min_value=Decimal("0.01"), max_value=MAX_AMOUNT, places=2, allow_nan=False
)


@st.composite
def spelled_amounts(draw: st.DrawFn) -> str:
    """A valid amount, spelled canonically or with one twist (zeros, exponent, sign, spaces)."""
    value = draw(canonical_amounts)
    canonical = f"{value:f}"
    twist = draw(st.sampled_from(["none", "short", "zeros", "exp", "sign", "pad", "places"]))
    if twist == "short" and "." in canonical:
        return canonical.rstrip("0").rstrip(".")
    if twist == "zeros":
        return "0" * draw(st.integers(1, 3)) + canonical
    if twist == "exp":
        return f"{value.normalize():E}"
    if twist == "sign":
        return draw(st.sampled_from("+-")) + canonical
    if twist == "pad":
        return draw(st.sampled_from(WHITESPACE)) + canonical
    if twist == "places":
        return canonical + "0" * draw(st.integers(1, 3))
    return canonical


non_strings = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.binary(max_size=4),
)
amount_values = st.one_of(
    st.sampled_from(SPECIALS),
    spelled_amounts(),
    st.text(amount_characters, max_size=14),
    non_strings,
)
hostile_text = st.one_of(
    st.text(max_size=140),
    st.text(st.characters(codec="utf-8"), min_size=120, max_size=300),
    st.lists(st.one_of(st.characters(), st.sampled_from(SURROGATES)), max_size=8).map("".join),
    st.sampled_from(["", " ", "\x00", "a\x7fb", "\u200b", "\U0001f600" * 128, "é" * 255]),
)
identifier_values = st.one_of(hostile_text, non_strings)


def amount_oracle(value: object) -> Decimal | None:
    """The contract's rule, written without the product's regex: ASCII digits, an optional dot
    with 1-2 digits after it, within (0, 1e9]. Leading zeros are allowed here."""
    if not isinstance(value, str) or not value:
        return None
    if any(char not in ASCII_DIGITS + "." for char in value):
        return None
    whole, dot, fraction = value.partition(".")
    if not whole or "." in fraction or (dot and not 1 <= len(fraction) <= 2):
        return None
    amount = Decimal(value)
    return amount if 0 < amount <= MAX_AMOUNT else None


def check_amount(value: object, field: str) -> str:
    """Which way parse_amount went ("accepted" or "rejected"); raises AssertionError if wrong."""
    wanted = amount_oracle(value)
    try:
        amount = parse_amount(value, field)
    except ValidationError as error:
        assert field in str(error), (value, str(error))
        assert wanted is None or _has_leading_zero(value), (value, wanted)
        return "rejected"
    assert isinstance(value, str)
    assert wanted is not None, value
    assert amount == wanted and str(amount) == value, (value, amount)
    assert amount.is_finite() and 0 < amount <= MAX_AMOUNT
    assert amount.as_tuple().exponent >= -2  # type: ignore[operator]
    return "accepted"


def _has_leading_zero(value: object) -> bool:
    return isinstance(value, str) and len(value.partition(".")[0]) > 1 and value.startswith("0")


def _storable(value: str, max_bytes: int) -> bool:
    """DynamoDB keeps strings as UTF-8 and limits key sizes (2048 bytes hash, 1024 range)."""
    try:
        return len(value.encode("utf-8")) <= max_bytes
    except UnicodeEncodeError:
        return False


def check_user_id(value: object) -> str:
    try:
        user_id = parse_user_id(value)
    except ValidationError as error:
        assert "userId" in str(error), (value, str(error))
        return "rejected"
    assert user_id == value and isinstance(user_id, str)
    assert 1 <= len(user_id) <= 128
    assert not any(ord(char) < 32 or 127 <= ord(char) < 160 for char in user_id)
    assert _storable(user_id, 2048), ascii(user_id)
    return "accepted"


def check_idempotency_key(value: object) -> str:
    try:
        key = parse_idempotency_key(value)
    except ValidationError as error:
        assert "Idempotent-Key" in str(error), (value, str(error))
        return "rejected"
    assert key == value and isinstance(key, str)
    assert 1 <= len(key) <= 255
    assert not any(ord(char) < 32 or 127 <= ord(char) < 160 for char in key)
    assert _storable(key, 1024), ascii(key)
    return "accepted"


@st.composite
def request_bodies(draw: st.DrawFn) -> object:
    """Mostly JSON objects with hostile fields; also other JSON, non-JSON text and non-strings."""
    kind = draw(st.sampled_from(["object"] * 6 + ["json", "text", "nested", "other"]))
    if kind == "json":
        return json.dumps(draw(st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=5),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                st.text(max_size=5), inner, max_size=3), max_leaves=6)))  # fmt: skip
    if kind == "text":
        return draw(st.one_of(st.text(max_size=40), st.sampled_from(
            ['{"userId": NaN}', '{"ammount": Infinity}', "{", "null", '"x"', "1" * 5000,
             '{"userId": "1", "ammount": "5", "type": "credit", "ammount": "6"}'])))  # fmt: skip
    if kind == "nested":
        depth = draw(st.integers(100, 5000))
        return "[" * depth + "]" * depth
    if kind == "other":
        return draw(non_strings)
    fields: dict[str, Any] = {}
    if draw(st.integers(0, 9)):
        fields["userId"] = draw(st.one_of(st.just("user-1"), identifier_values))
    if draw(st.integers(0, 9)):
        fields["type"] = draw(st.sampled_from(["credit", "debit", "Credit", "", None, 1]))
    amount = draw(amount_values)
    spelling = draw(st.sampled_from(["ammount", "amount", "both", "both-differ", "none"]))
    if spelling in ("ammount", "both", "both-differ"):
        fields["ammount"] = amount
    if spelling in ("amount", "both"):
        fields["amount"] = amount
    if spelling == "both-differ":
        fields["amount"] = draw(amount_values)
    if draw(st.booleans()):
        fields[draw(st.text(max_size=6))] = draw(st.integers())
    return json.dumps(fields, allow_nan=True, default=str)


def _is_strict_json(text: str) -> bool:
    """No NaN or Infinity and no name twice in any object (RFC 8259, without ambiguity)."""
    objects: list[list[str]] = []
    constants: list[str] = []

    def names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        objects.append([name for name, _ in pairs])
        return dict(pairs)

    json.loads(text, object_pairs_hook=names, parse_constant=constants.append)
    return not constants and all(len(set(found)) == len(found) for found in objects)


def check_transaction_request(body: object, key: object) -> str:
    try:
        request = parse_transaction_request(body, key)
    except ValidationError as error:
        assert any(name in str(error) for name in FIELDS_NAMED), (body, key, str(error))
        return "rejected"
    assert isinstance(request, TransactionRequest)
    assert isinstance(body, str)
    assert len(body.encode("utf-16-le", "surrogatepass")) // 2 <= MAX_BODY_LENGTH
    assert _is_strict_json(body), body
    payload = json.loads(body)
    raw_amount = payload["ammount"] if "ammount" in payload else payload["amount"]
    assert check_amount(raw_amount, "ammount") == "accepted"
    assert request.amount == Decimal(raw_amount)
    assert check_user_id(payload["userId"]) == "accepted"
    assert request.user_id == payload["userId"]
    assert request.type.value == payload["type"]
    assert check_idempotency_key(key) == "accepted"
    assert request.idempotency_key == key
    return "accepted"
