import json
from decimal import Decimal

import pytest

from functions.domain.errors import ValidationError
from functions.domain.models import TransactionType, request_from_dict, request_to_dict
from functions.domain.requests import MAX_BODY_LENGTH, parse_transaction_request, parse_user_id


def body(**fields) -> str:
    return json.dumps({"userId": "1", "ammount": "10", "type": "credit", **fields})


def test_request_is_normalized():
    request = parse_transaction_request(body(), "key-1")

    assert request.user_id == "1"
    assert request.idempotency_key == "key-1"
    assert request.type is TransactionType.CREDIT
    assert request.amount == Decimal("10")
    assert request_from_dict(request_to_dict(request)) == request


def test_amount_alias_is_accepted_and_must_agree():
    no_typo = json.dumps({"userId": "1", "amount": "10", "type": "debit"})
    assert parse_transaction_request(no_typo, "k").amount == Decimal("10")
    assert parse_transaction_request(body(amount="10"), "k").amount == Decimal("10")
    with pytest.raises(ValidationError, match="ammount and amount differ"):
        parse_transaction_request(body(amount="11"), "k")


def test_both_spellings_agree_when_they_are_the_same_amount_written_differently():
    assert parse_transaction_request(body(amount="10.00"), "k").amount == Decimal("10")
    with pytest.raises(ValidationError, match=r"^amount must be a positive decimal"):
        parse_transaction_request(body(amount="10.000"), "k")


@pytest.mark.parametrize(
    ("raw_body", "key", "field"),
    [
        (body(), "", "Idempotent-Key"),
        (body(), None, "Idempotent-Key"),
        (body(), "k" * 256, "Idempotent-Key"),
        (body(), "a\nb", "Idempotent-Key"),
        ("", "k", "body"),
        ("not json", "k", "body"),
        ("[1, 2]", "k", "body"),
        ('"text"', "k", "body"),
        ("[" * 100_000, "k", "body"),
        (body(userId=""), "k", "userId"),
        (body(userId=1), "k", "userId"),
        (body(userId="u" * 129), "k", "userId"),
        (body(userId="a\x00b"), "k", "userId"),
        (body(type="refund"), "k", "type"),
        (body(type=None), "k", "type"),
        (json.dumps({"userId": "1", "type": "credit"}), "k", "ammount"),
        (body(ammount="1.234"), "k", "ammount"),
        (body(ammount=5), "k", "ammount"),
        (body(userId="bad-\ufffd"), "k", "userId"),
        (body(), "key-\ufffd", "Idempotent-Key"),
        (body(note="\ufffd").replace("\\ufffd", "\ufffd"), "k", "body"),
    ],
    ids=["no-key", "null-key", "long-key", "control-in-key", "empty-body", "not-json", "array",
         "string", "deep-nesting", "empty-user", "numeric-user", "long-user", "control-in-user",
         "bad-type", "null-type", "no-amount", "three-decimals", "numeric-amount",
         "replacement-in-user", "replacement-in-key", "replacement-in-body"],
)  # fmt: skip
def test_invalid_requests_name_the_field(raw_body, key, field):
    with pytest.raises(ValidationError, match=field):
        parse_transaction_request(raw_body, key)


def test_user_id_limits():
    assert parse_user_id("u" * 128) == "u" * 128
    assert parse_user_id('quote" back\\ ü 🚀') == 'quote" back\\ ü 🚀'


def test_fingerprint_depends_on_the_normalized_payload_only():
    ten = parse_transaction_request(body(ammount="10"), "k1")
    ten_again = parse_transaction_request(body(ammount="10.00"), "k2")
    eleven = parse_transaction_request(body(ammount="11"), "k1")
    debit = parse_transaction_request(body(type="debit"), "k1")

    assert ten.fingerprint == ten_again.fingerprint
    assert len({ten.fingerprint, eleven.fingerprint, debit.fingerprint}) == 3


@pytest.mark.parametrize(
    "raw_body",
    [
        '{"userId": "1", "ammount": NaN, "type": "credit"}',
        '{"userId": "1", "ammount": "1", "type": "credit", "x": Infinity}',
        '{"userId": "1", "ammount": "1", "type": "credit", "x": [-Infinity]}',
        '{"userId": "1", "ammount": "1", "type": "credit", "x": {"y": NaN}}',
    ],
    ids=["nan", "infinity", "minus-infinity-in-array", "nested-nan"],
)
def test_non_json_numbers_are_rejected_naming_the_body(raw_body):
    with pytest.raises(ValidationError, match=r"^body must be valid JSON: -?(NaN|Infinity) is not"):
        parse_transaction_request(raw_body, "k")


@pytest.mark.parametrize(
    ("raw_body", "name"),
    [
        ('{"userId": "1", "userId": "2", "ammount": "1", "type": "credit"}', '"userId"'),
        ('{"userId": "1", "ammount": "1", "ammount": "1", "type": "credit"}', '"ammount"'),
        ('{"userId": "1", "ammount": "1", "type": "credit", "x": {"a": 1, "a": 1}}', '"a"'),
        ('{"userId": "1", "ammount": "1", "type": "credit", "x": [{"b": 1, "b": 2}]}', '"b"'),
    ],
    ids=["top-level", "same-value", "nested-object", "object-in-array"],
)
def test_a_name_twice_in_any_object_is_rejected_naming_the_body(raw_body, name):
    with pytest.raises(ValidationError, match="body must be valid JSON") as raised:
        parse_transaction_request(raw_body, "k")
    assert f"the name {name} appears twice" in str(raised.value)


def test_a_long_duplicate_name_is_shortened_in_the_message():
    name = "n" * 500
    raw_body = json.dumps({"userId": "1"})[:-1] + f', "{name}": 1, "{name}": 2}}'
    with pytest.raises(ValidationError, match="appears twice") as raised:
        parse_transaction_request(raw_body, "k")
    assert len(str(raised.value)) < 120


def padded(length: int, pad: str = " ") -> str:
    """A valid body `length` UTF-16 code units long: `pad` repeated inside a note."""
    raw_body = body(note="")
    units = len(pad.encode("utf-16-le")) // 2
    missing = length - len(raw_body.encode("utf-16-le")) // 2
    assert missing % units == 0
    return raw_body[:-2] + pad * (missing // units) + raw_body[-2:]


def test_a_body_of_max_body_length_is_accepted():
    assert parse_transaction_request(padded(MAX_BODY_LENGTH), "k").user_id == "1"


@pytest.mark.parametrize("pad", [" ", "😀"], ids=["ascii", "emoji"])
def test_a_longer_body_is_too_large(pad):
    raw_body = padded(MAX_BODY_LENGTH + len(pad.encode("utf-16-le")) // 2, pad)
    with pytest.raises(ValidationError, match=r"^body is too large \(\d+ characters; at most"):
        parse_transaction_request(raw_body, "k")


def test_an_emoji_counts_twice_towards_the_body_length():
    at_cap = padded(MAX_BODY_LENGTH, "😀")
    assert len(at_cap.encode("utf-16-le")) == 2 * MAX_BODY_LENGTH
    assert parse_transaction_request(at_cap, "k").user_id == "1"
    with pytest.raises(ValidationError, match="body is too large"):
        parse_transaction_request(at_cap.replace("😀", "😀😀", 1), "k")


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ({"tooLarge": True, "length": 20000}, "body is too large (20000 characters; at most 16384"),
        ({"tooLarge": True}, "body is too large (at most 16384 characters)"),
        ({"tooLarge": False}, "body is required"),
        ({}, "body is required"),
        ("", "body is required: a JSON object with userId, ammount and type"),
        (None, "body is required: a JSON object with userId, ammount and type"),
        ("{}", "body is required: a JSON object with userId, ammount and type"),
        (" { } ", "body is required: a JSON object with userId, ammount and type"),
    ],
    ids=[
        "marker",
        "marker-without-length",
        "not-the-marker",
        "empty-object",
        "empty-text",
        "none",
        "empty-json-object",
        "spaced-empty-json-object",
    ],
)
def test_the_request_templates_marker_for_a_withheld_body(marker, message):
    with pytest.raises(ValidationError) as raised:
        parse_transaction_request(marker, "k")
    assert str(raised.value).startswith(message)
