import json
from decimal import Decimal

import pytest

from functions.domain.errors import ValidationError
from functions.domain.models import TransactionType, request_from_dict, request_to_dict
from functions.domain.requests import parse_transaction_request, parse_user_id


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
    ],
    ids=["no-key", "null-key", "long-key", "control-in-key", "empty-body", "not-json", "array",
         "string", "deep-nesting", "empty-user", "numeric-user", "long-user", "control-in-user",
         "bad-type", "null-type", "no-amount", "three-decimals", "numeric-amount"],
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
