"""The domain's parsers under hostile input: a ValidationError naming the field, or the exact
value; never any other exception."""

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.reliability import inputs

QUICK = settings(max_examples=400, derandomize=True, database=None, deadline=None)


@QUICK
@given(value=inputs.amount_values, field=st.sampled_from(["ammount", "amount"]))
@example(value="\u0665", field="ammount")  # Arabic-Indic 5
@example(value="\uff11\uff10", field="amount")  # fullwidth 10
@example(value="1e3", field="ammount")
@example(value=float("nan"), field="ammount")
@example(value="010", field="ammount")
def test_amount_is_exact_or_rejected_naming_the_field(value, field):
    inputs.check_amount(value, field)


@QUICK
@given(value=inputs.canonical_amounts)
def test_every_canonical_amount_is_accepted(value):
    assert inputs.check_amount(f"{value:f}", "ammount") == "accepted"


@QUICK
@given(value=inputs.identifier_values)
@example(value="\ud800")
@example(value="a\udfffb")
def test_user_id_is_kept_as_sent_and_storable_or_rejected(value):
    inputs.check_user_id(value)


@QUICK
@given(value=inputs.identifier_values)
@example(value="\ud800")
@example(value="é" * 255)
def test_idempotency_key_is_kept_as_sent_and_storable_or_rejected(value):
    inputs.check_idempotency_key(value)


@QUICK
@given(body=inputs.request_bodies(), key=st.one_of(st.just("key-1"), inputs.identifier_values))
@example(body='{"userId": "\\ud800", "ammount": "1", "type": "credit"}', key="k")
@example(body="[" * 5000 + "]" * 5000, key="k")
@example(body='{"userId": "1", "ammount": NaN, "type": "credit"}', key="k")
@example(body='{"userId": "1", "userId": "2", "ammount": "1", "type": "credit"}', key="k")
@example(body='{"userId": "1", "ammount": "1", "type": "credit", "x": {"a": -Infinity}}', key="k")
@example(body='{"userId": "1", "ammount": "1", "type": "credit", "x": "' + "a" * 16400 + '"}',
         key="k")  # fmt: skip
def test_transaction_request_is_parsed_exactly_or_rejected_naming_a_field(body, key):
    inputs.check_transaction_request(body, key)


@pytest.mark.parametrize(
    ("value", "outcome"),
    [("10", "accepted"), ("10.5", "accepted"), ("0.01", "accepted"),
     ("1000000000.00", "accepted"), ("1000000000.01", "rejected"), ("10.001", "rejected"),
     ("\u0665", "rejected"), ("\uff11\uff10", "rejected"), ("NaN", "rejected"), (" 5", "rejected"),
     ("5e1", "rejected"), (10, "rejected"), (None, "rejected")],
)  # fmt: skip
def test_amount_examples(value, outcome):
    assert inputs.check_amount(value, "ammount") == outcome


@pytest.mark.slow
@settings(max_examples=20_000, database=None, deadline=None)
@given(body=inputs.request_bodies(), key=st.one_of(st.just("key-1"), inputs.identifier_values))
def test_transaction_request_fuzzed_longer(body, key):
    inputs.check_transaction_request(body, key)
