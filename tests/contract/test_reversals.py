"""The contract's POST /transactions/{transactionId}/reversal rows, black box over HTTP against
the local server."""

import time
import uuid
from urllib.parse import quote

import pytest

from infra.local.awslambda.functions import FaultPoint
from tests.contract.test_contract import assert_error, credit, debit
from tests.invariants import violations

REVERSAL_FIELDS = {"transactionId", "userId", "type", "amount", "balance", "currency",
                   "createdAt", "reverses"}  # fmt: skip


def committed(api, body: dict) -> str:
    response = api.transact(body)
    assert response.status_code == 201, response.text
    return str(response.json()["transactionId"])


def entries(api, user: str) -> list[dict]:
    return list(api.history(user).json()["transactions"])


def test_a_credit_is_reversed_by_its_opposite_entry(api, aws, user):
    transaction_id = committed(api, credit(user, "10"))

    response = api.reverse(transaction_id, {"userId": user})

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == REVERSAL_FIELDS
    assert body | {"transactionId": "", "createdAt": ""} == {
        "transactionId": "", "userId": user, "type": "debit", "amount": "10.00",
        "balance": "100.00", "currency": "USD", "createdAt": "", "reverses": transaction_id,
    }  # fmt: skip
    assert body["transactionId"] != transaction_id
    assert "Idempotent-Replayed" not in response.headers
    assert api.balance(user).json()["balance"] == "100.00"
    newest, original = entries(api, user)
    assert (newest["transactionId"], newest["reverses"], newest["sequence"]) == (
        body["transactionId"], transaction_id, 2
    )  # fmt: skip
    assert (newest["type"], newest["balanceAfter"], newest["createdAt"]) == (
        "debit", "100.00", body["createdAt"]
    )  # fmt: skip
    assert newest["idempotencyKey"] == original["idempotencyKey"]
    assert violations(aws.dynamodb) == []


def test_a_debit_is_reversed_by_a_credit(api, user):
    transaction_id = committed(api, debit(user, "30"))

    response = api.reverse(transaction_id, {"userId": user})

    assert response.status_code == 201, response.text
    assert (response.json()["type"], response.json()["balance"]) == ("credit", "100.00")


def test_an_already_reversed_transaction_answers_the_same_body_replayed(api, aws, user):
    transaction_id = committed(api, credit(user))
    first = api.reverse(transaction_id, {"userId": user})

    again = api.reverse(transaction_id, {"userId": user})

    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert len(entries(api, user)) == 2
    assert api.balance(user).json()["balance"] == "100.00"
    assert violations(aws.dynamodb) == []


def test_while_another_request_holds_the_lock_it_is_a_429(api, aws, user):
    transaction_id = committed(api, credit(user))
    aws.dynamodb.update_item(
        TableName="AggregatesTable",
        Key={"userId": {"S": user}},
        UpdateExpression="SET lockOwner = :owner, leaseUntil = :until",
        ExpressionAttributeValues={
            ":owner": {"S": "another-execution"},
            ":until": {"N": str(int(time.time()) + 60)},
        },
    )

    response = api.reverse(transaction_id, {"userId": user})

    assert_error(response, 429, "USER_BUSY")
    assert response.headers["Retry-After"] == "1"
    assert len(entries(api, user)) == 1
    # The holder ends: the lock is freed, and the reversal goes through.
    aws.dynamodb.update_item(
        TableName="AggregatesTable",
        Key={"userId": {"S": user}},
        UpdateExpression="REMOVE lockOwner, leaseUntil",
    )
    assert api.reverse(transaction_id, {"userId": user}).status_code == 201


@pytest.mark.parametrize("owner", ["nobody", "another-user"])
def test_a_transaction_that_is_not_the_users_is_a_404(api, aws, user, owner):
    other = f"other-{uuid.uuid4().hex[:8]}"
    transaction_id = committed(api, credit(other)) if owner == "another-user" else str(uuid.uuid4())

    assert_error(api.reverse(transaction_id, {"userId": user}), 404, "NOT_FOUND")
    assert entries(api, user) == []
    assert api.balance(other).json()["balance"] == (
        "110.00" if owner == "another-user" else "100.00"
    )
    assert violations(aws.dynamodb) == []


def test_reversing_a_credit_below_zero_is_a_422_and_records_nothing(api, aws, user):
    transaction_id = committed(api, credit(user, "10"))
    api.transact(debit(user, "105"))

    assert_error(api.reverse(transaction_id, {"userId": user}), 422, "INSUFFICIENT_FUNDS")
    assert api.balance(user).json()["balance"] == "5.00"
    assert len(entries(api, user)) == 2
    assert violations(aws.dynamodb) == []


def test_a_reversal_is_not_reversible(api, user):
    reversal = api.reverse(committed(api, credit(user)), {"userId": user}).json()

    assert_error(api.reverse(reversal["transactionId"], {"userId": user}), 422, "NOT_REVERSIBLE")
    assert len(entries(api, user)) == 2


def test_a_transfers_entry_is_not_reversible(api, user):
    other = f"other-{uuid.uuid4().hex[:8]}"
    transfer = api.transfer({"fromUserId": user, "toUserId": other, "amount": "25.00"}).json()
    [credit_entry] = entries(api, other)

    source = api.reverse(transfer["transferId"], {"userId": user})
    destination = api.reverse(credit_entry["transactionId"], {"userId": other})

    assert_error(source, 422, "NOT_REVERSIBLE")
    assert_error(destination, 422, "NOT_REVERSIBLE")
    assert api.balance(user).json()["balance"] == "75.00"


def test_an_internal_failure_is_a_500_without_internals_and_asking_again_reverses(api, aws, user):
    transaction_id = committed(api, credit(user))
    aws.lambdas.inject_fault("ReverseTransactionFunction", FaultPoint.BEFORE)

    failed = api.reverse(transaction_id, {"userId": user})

    assert_error(failed, 500, "INTERNAL_ERROR")
    assert "InjectedFault" not in failed.text
    again = api.reverse(transaction_id, {"userId": user})
    assert (again.status_code, "Idempotent-Replayed" in again.headers) == (201, False)
    assert api.balance(user).json()["balance"] == "100.00"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"user": "1"}, "userId"),
        ({"userId": ""}, "userId"),
        ({"userId": "u" * 129}, "userId"),
        ({"userId": "a\x01b"}, "userId"),
        ({"userId": 1}, "userId"),
    ],
    ids=["empty", "no-user", "empty-user", "too-long", "control-char", "number"],
)
def test_an_invalid_body_is_a_400_naming_the_field(api, body, field):
    assert_error(api.reverse(str(uuid.uuid4()), body), 400, "VALIDATION_ERROR", field)


@pytest.mark.parametrize(
    "transaction_id", ["t" * 129, "a\x01b", "tab\there"], ids=["too-long", "control-char", "tab"]
)
def test_an_invalid_transaction_id_is_a_400_naming_it(api, user, transaction_id):
    response = api.reverse(quote(transaction_id, safe=""), {"userId": user})

    assert_error(response, 400, "VALIDATION_ERROR", "transactionId")


def test_a_body_that_is_no_json_is_a_400(api):
    assert_error(api.reverse(str(uuid.uuid4()), raw="{not json"), 400, "VALIDATION_ERROR", "body")


def test_another_content_type_is_a_400(api, user):
    response = api.session.post(
        f"{api.url}/transactions/{uuid.uuid4()}/reversal",
        data=f"userId={user}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=30,
    )

    assert_error(response, 400, "VALIDATION_ERROR")


def test_history_and_summaries_count_the_reversal_like_any_entry(api, aws, user):
    transaction_id = committed(api, credit(user, "10"))
    api.reverse(transaction_id, {"userId": user})
    aws.drain_streams()

    summaries = api.summaries(user, period="day").json()

    assert summaries["asOfSequence"] == 2
    [day] = summaries["summaries"]
    assert (day["credits"], day["debits"], day["count"], day["closingBalance"]) == (
        "10.00", "10.00", 2, "100.00"
    )  # fmt: skip


def test_a_holds_capture_is_not_reversible(api, aws, user):
    hold = api.hold({"userId": user, "amount": "30.00"}).json()
    captured = api.capture(hold["holdId"], {"userId": user, "amount": "20.00"}).json()

    response = api.reverse(captured["transactionId"], {"userId": user})

    assert_error(response, 422, "NOT_REVERSIBLE")
    assert api.balance(user).json()["balance"] == "80.00"
    assert [e["holdId"] for e in entries(api, user)] == [hold["holdId"]]
    assert violations(aws.dynamodb) == []
