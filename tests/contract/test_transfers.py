"""The contract's POST /transfers rows, black box over HTTP against the local server."""

import time
import uuid

import pytest

from tests.contract.test_contract import assert_error, credit
from tests.invariants import violations

TRANSFER_FIELDS = {"transferId", "fromUserId", "toUserId", "amount", "currency", "balance",
                   "createdAt"}  # fmt: skip


@pytest.fixture
def other() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


def transfer(source: str, destination: str, amount: str = "25.00") -> dict:
    return {"fromUserId": source, "toUserId": destination, "amount": amount}


def entries(api, user: str) -> list[dict]:
    return list(api.history(user).json()["transactions"])


def test_transfer_is_applied_and_shows_the_sources_balance(api, aws, user, other):
    response = api.transfer(transfer(user, other))

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == TRANSFER_FIELDS
    assert body | {"transferId": "", "createdAt": ""} == {
        "transferId": "", "fromUserId": user, "toUserId": other, "amount": "25.00",
        "currency": "USD", "balance": "75.00", "createdAt": ""}  # fmt: skip
    assert "Idempotent-Replayed" not in response.headers
    assert api.balance(user).json()["balance"] == "75.00"
    assert api.balance(other).json()["balance"] == "125.00"
    [debit], [credit_entry] = entries(api, user), entries(api, other)
    assert (debit["type"], credit_entry["type"]) == ("debit", "credit")
    assert debit["transactionId"] == debit["transferId"] == credit_entry["transferId"]
    assert debit["transferId"] == body["transferId"]
    assert (debit["counterpartyUserId"], credit_entry["counterpartyUserId"]) == (other, user)
    assert (debit["createdAt"], debit["balanceAfter"]) == (body["createdAt"], "75.00")
    assert violations(aws.dynamodb) == []


def test_the_amount_may_be_spelled_ammount(api, user, other):
    response = api.transfer({"fromUserId": user, "toUserId": other, "ammount": "1.5"})

    assert response.status_code == 201, response.text
    assert response.json()["amount"] == "1.50"


def test_same_key_and_payload_is_replayed_and_applied_once(api, user, other):
    first = api.transfer(transfer(user, other), key="t-1")
    again = api.transfer(transfer(user, other), key="t-1")

    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert api.balance(other).json()["balance"] == "125.00"


def test_same_key_with_another_payload_is_a_422(api, user, other):
    api.transfer(transfer(user, other, "25.00"), key="t-1")

    assert_error(api.transfer(transfer(user, other, "26.00"), key="t-1"), 422,
                 "IDEMPOTENCY_KEY_REUSED")  # fmt: skip
    assert api.balance(user).json()["balance"] == "75.00"


def test_a_key_the_source_used_for_a_transaction_is_a_422(api, user, other):
    api.transact(credit(user), key="k-1")

    assert_error(api.transfer(transfer(user, other), key="k-1"), 422, "IDEMPOTENCY_KEY_REUSED")
    assert api.balance(other).json()["balance"] == "100.00"


def test_a_key_is_scoped_to_the_source(api, user, other):
    # The same key from another source is another transfer.
    assert api.transfer(transfer(user, other), key="t-1").status_code == 201
    assert api.transfer(transfer(other, user), key="t-1").status_code == 201
    assert api.balance(user).json()["balance"] == "100.00"


def test_more_than_the_sources_balance_is_refused_and_recorded_nowhere(api, aws, user, other):
    assert_error(api.transfer(transfer(user, other, "100.01")), 422, "INSUFFICIENT_FUNDS")

    assert api.balance(user).json()["balance"] == "100.00"
    assert api.balance(other).json()["balance"] == "100.00"
    assert entries(api, user) == entries(api, other) == []
    assert violations(aws.dynamodb) == []


@pytest.mark.parametrize("busy", ["source", "destination"])
def test_a_lock_of_either_user_not_had_in_time_is_a_429(api, aws, user, other, busy):
    held = user if busy == "source" else other
    aws.dynamodb.put_item(
        TableName="AggregatesTable",
        Item={
            "userId": {"S": held},
            "balance": {"N": "100.00"},
            "lastSequence": {"N": "0"},
            "lockOwner": {"S": "another-execution"},
            "leaseUntil": {"N": str(int(time.time()) + 60)},
        },
    )

    response = api.transfer(transfer(user, other))

    assert_error(response, 429, "USER_BUSY")
    assert response.headers["Retry-After"] == "1"
    free = other if held == user else user
    assert api.transfer(transfer(free, f"{free}-x", "1.00")).status_code == 201  # not left locked


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"fromUserId": "same", "toUserId": "same", "amount": "1"}, "toUserId"),
        ({"toUserId": "b", "amount": "1"}, "fromUserId"),
        ({"fromUserId": "a", "amount": "1"}, "toUserId"),
        ({"fromUserId": "a\x01", "toUserId": "b", "amount": "1"}, "fromUserId"),
        ({"fromUserId": "a", "toUserId": "b" * 129, "amount": "1"}, "toUserId"),
        ({"fromUserId": "a", "toUserId": "b", "amount": "1.001"}, "amount"),
        ({"fromUserId": "a", "toUserId": "b", "amount": "0"}, "amount"),
        ({"fromUserId": "a", "toUserId": "b", "amount": 5}, "amount"),
        ({"fromUserId": "a", "toUserId": "b"}, "ammount"),
    ],
    ids=["same-user", "no-source", "no-destination", "control-char", "too-long",
         "three-decimals", "zero", "number", "no-amount"],
)  # fmt: skip
def test_invalid_transfer_is_a_400_naming_the_field(api, body, field):
    assert_error(api.transfer(body), 400, "VALIDATION_ERROR", field)


def test_a_missing_key_is_a_400(api, user, other):
    assert_error(api.transfer(transfer(user, other), key=None), 400, "VALIDATION_ERROR",
                 "Idempotent-Key")  # fmt: skip


def test_a_body_that_is_no_json_is_a_400(api):
    assert_error(api.transfer(raw="{not json"), 400, "VALIDATION_ERROR", "body")


def test_history_and_summaries_count_both_entries_like_any_entry(api, aws, user, other):
    body = api.transfer(transfer(user, other, "25.00")).json()
    aws.drain_streams()

    source = api.summaries(user, period="day").json()
    destination = api.summaries(other, period="day").json()

    assert (source["asOfSequence"], destination["asOfSequence"]) == (1, 1)
    [source_day], [destination_day] = source["summaries"], destination["summaries"]
    assert (source_day["credits"], source_day["debits"], source_day["count"],
            source_day["closingBalance"]) == ("0.00", "25.00", 1, "75.00")  # fmt: skip
    assert (destination_day["credits"], destination_day["debits"], destination_day["count"],
            destination_day["closingBalance"]) == ("25.00", "0.00", 1, "125.00")  # fmt: skip
    [debit_entry], [credit_entry] = entries(api, user), entries(api, other)
    assert (debit_entry["sequence"], debit_entry["createdAt"]) == (1, body["createdAt"])
    assert (credit_entry["sequence"], credit_entry["balanceAfter"]) == (1, "125.00")
