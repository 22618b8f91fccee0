"""The contract's holds rows and `available`, black box over HTTP against the local server.

Expiry is shown on a frozen clock (every function's SystemClock reads the instant the test sets):
a millisecond before a hold's expiresAt it still counts, at it no longer, with no request made in
between; nothing sleeps.
"""

import time
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from functions.clock import SystemClock, epoch_millis
from functions.domain.holds import MAX_PENDING_HOLDS
from tests.contract.test_contract import assert_error, credit, debit
from tests.invariants import violations

PLACED_FIELDS = {"holdId", "userId", "amount", "currency", "status", "available", "createdAt",
                 "expiresAt"}  # fmt: skip
CAPTURED_FIELDS = {"holdId", "userId", "status", "amount", "capturedAmount", "transactionId",
                   "balance", "available", "currency"}  # fmt: skip
VOIDED_FIELDS = {"holdId", "userId", "status", "amount", "available", "currency"}


def hold_body(user: str, amount: str = "30.00", seconds: int | None = 3600) -> dict:
    body: dict = {"userId": user, "amount": amount}
    if seconds is not None:
        body["expiresInSeconds"] = seconds
    return body


def placed(api, user: str, amount: str = "30.00", seconds: int = 3600) -> dict:
    response = api.hold(hold_body(user, amount, seconds))
    assert response.status_code == 201, response.text
    return dict(response.json())


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def available(api, user: str) -> str:
    return str(api.balance(user).json()["available"])


@pytest.fixture
def frozen(monkeypatch):
    """Freeze the functions' clock at an instant: frozen(moment)."""

    def freeze(moment: datetime) -> None:
        monkeypatch.setattr(SystemClock, "now", lambda self: moment)

    return freeze


def test_a_hold_is_placed_and_reduces_available_not_the_balance(api, aws, user):
    response = api.hold(hold_body(user, "30.00", 3600))

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == PLACED_FIELDS
    assert (body["userId"], body["amount"], body["currency"], body["status"]) == (
        user, "30.00", "USD", "pending")  # fmt: skip
    assert body["available"] == "70.00"
    assert instant(body["expiresAt"]) - instant(body["createdAt"]) == timedelta(hours=1)
    assert "Idempotent-Replayed" not in response.headers
    assert api.balance(user).json() == {
        "userId": user, "balance": "100.00", "available": "70.00", "currency": "USD"}  # fmt: skip
    assert api.history(user).json()["transactions"] == []  # a hold writes no ledger entry
    assert violations(aws.dynamodb) == []


def test_a_hold_lasts_seven_days_unless_asked_and_the_amount_may_be_spelled_ammount(api, user):
    response = api.hold({"userId": user, "ammount": "1.5"})

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["amount"] == "1.50"
    assert instant(body["expiresAt"]) - instant(body["createdAt"]) == timedelta(days=7)


def test_same_key_and_payload_is_replayed_and_held_once(api, user):
    first = api.hold(hold_body(user), key="h-1")
    again = api.hold(hold_body(user), key="h-1")

    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert available(api, user) == "70.00"


@pytest.mark.parametrize(
    "other",
    [hold_body("same", "31.00"), hold_body("same", "30.00", 60)],
    ids=["other-amount", "other-lifetime"],
)
def test_same_key_with_another_payload_is_reused(api, user, other):
    assert api.hold(hold_body(user), key="h-1").status_code == 201

    assert_error(api.hold({**other, "userId": user}, key="h-1"), 422, "IDEMPOTENCY_KEY_REUSED")


def test_a_users_keys_are_one_namespace_across_transactions_and_holds(api, user):
    assert api.transact(debit(user, "1"), key="k").status_code == 201
    assert_error(api.hold(hold_body(user), key="k"), 422, "IDEMPOTENCY_KEY_REUSED")
    assert api.hold(hold_body(user), key="h").status_code == 201
    assert_error(api.transact(debit(user, "1"), key="h"), 422, "IDEMPOTENCY_KEY_REUSED")
    assert_error(
        api.transfer({"fromUserId": user, "toUserId": f"{user}-2", "amount": "1"}, key="h"),
        422, "IDEMPOTENCY_KEY_REUSED",
    )  # fmt: skip


def test_a_hold_beyond_available_is_insufficient_funds(api, user):
    placed(api, user, "60.00")

    assert_error(api.hold(hold_body(user, "40.01")), 422, "INSUFFICIENT_FUNDS")
    assert available(api, user) == "40.00"
    assert api.hold(hold_body(user, "40.00")).status_code == 201


def test_a_hold_past_the_users_limit_of_pending_holds_is_too_many_holds(api, aws, user):
    first = [placed(api, user, "0.01") for _ in range(MAX_PENDING_HOLDS)]

    assert_error(api.hold(hold_body(user, "0.01")), 422, "TOO_MANY_HOLDS")
    assert available(api, user) == "99.00"
    assert api.void(first[0]["holdId"], {"userId": user}).status_code == 200
    assert api.hold(hold_body(user, "0.01")).status_code == 201
    assert violations(aws.dynamodb) == []


def test_debits_and_transfers_check_available_not_the_balance(api, aws, user):
    placed(api, user, "60.00")

    assert_error(api.transact(debit(user, "40.01")), 422, "INSUFFICIENT_FUNDS")
    transfer = {"fromUserId": user, "toUserId": f"{user}-to", "amount": "40.01"}
    assert_error(api.transfer(transfer), 422, "INSUFFICIENT_FUNDS")
    assert api.transact(debit(user, "40.00")).status_code == 201
    assert api.balance(user).json()["available"] == "0.00"
    assert violations(aws.dynamodb) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [({"expiresInSeconds": 0}, "expiresInSeconds"),
     ({"expiresInSeconds": 2_592_001}, "expiresInSeconds"),
     ({"expiresInSeconds": "3600"}, "expiresInSeconds"),
     ({"expiresInSeconds": 1.5}, "expiresInSeconds"),
     ({"amount": "0"}, "amount"), ({"amount": "1.005"}, "amount"),
     ({"userId": ""}, "userId")],
    ids=["zero", "over-30-days", "string", "fraction", "zero-amount", "three-decimals",
         "empty-user"],
)  # fmt: skip
def test_an_invalid_hold_is_a_400_naming_the_field(api, user, body, field):
    assert_error(api.hold({**hold_body(user), **body}), 400, "VALIDATION_ERROR", field)


def test_a_hold_needs_a_key(api, user):
    assert_error(api.hold(hold_body(user), key=None), 400, "VALIDATION_ERROR", "Idempotent-Key")


def test_the_longest_lifetime_is_thirty_days(api, user):
    body = placed(api, user, "1.00", 2_592_000)
    assert instant(body["expiresAt"]) - instant(body["createdAt"]) == timedelta(days=30)


def test_a_partial_capture_debits_it_once_with_the_hold_id_and_releases_the_rest(api, aws, user):
    hold = placed(api, user, "30.00")

    response = api.capture(hold["holdId"], {"userId": user, "amount": "20.00"})

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == CAPTURED_FIELDS
    assert body | {"transactionId": ""} == {
        "holdId": hold["holdId"], "userId": user, "status": "captured", "amount": "30.00",
        "capturedAmount": "20.00", "transactionId": "", "balance": "80.00", "available": "80.00",
        "currency": "USD"}  # fmt: skip
    [entry] = api.history(user).json()["transactions"]
    assert (entry["transactionId"], entry["holdId"], entry["type"], entry["amount"]) == (
        body["transactionId"], hold["holdId"], "debit", "20.00")  # fmt: skip
    assert entry["balanceAfter"] == "80.00"
    assert api.balance(user).json() | {"userId": ""} == {
        "userId": "", "balance": "80.00", "available": "80.00", "currency": "USD"}  # fmt: skip
    found = api.get_hold(hold["holdId"], user).json()
    assert (found["status"], found["capturedAmount"], found["transactionId"]) == (
        "captured", "20.00", body["transactionId"])  # fmt: skip
    assert violations(aws.dynamodb) == []


def test_a_capture_without_an_amount_takes_the_whole_hold(api, user):
    hold = placed(api, user, "30.00")

    body = api.capture(hold["holdId"], {"userId": user}).json()

    assert (body["capturedAmount"], body["balance"]) == ("30.00", "70.00")


def test_a_capture_of_a_captured_hold_replays_the_first_and_never_debits_twice(api, aws, user):
    hold = placed(api, user, "30.00")
    first = api.capture(hold["holdId"], {"userId": user, "amount": "10.00"})

    for asked in ({"amount": "10.00"}, {"amount": "25.00"}, {}):
        again = api.capture(hold["holdId"], {"userId": user, **asked})
        assert again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()
    assert len(api.history(user).json()["transactions"]) == 1
    assert api.balance(user).json()["balance"] == "90.00"
    assert violations(aws.dynamodb) == []


def test_a_capture_above_the_hold_is_hold_amount_exceeded(api, user):
    hold = placed(api, user, "30.00")

    assert_error(
        api.capture(hold["holdId"], {"userId": user, "amount": "30.01"}), 422,
        "HOLD_AMOUNT_EXCEEDED",
    )  # fmt: skip
    assert api.get_hold(hold["holdId"], user).json()["status"] == "pending"


def test_history_and_summaries_count_the_capture_like_any_entry_and_a_void_not_at_all(
    api, aws, user
):
    captured = placed(api, user, "30.00")
    api.capture(captured["holdId"], {"userId": user, "amount": "20.00"})
    voided = placed(api, user, "5.00")
    api.void(voided["holdId"], {"userId": user})
    aws.drain_streams()

    summaries = api.summaries(user, period="day").json()

    assert summaries["asOfSequence"] == 1
    [day] = summaries["summaries"]
    assert (day["credits"], day["debits"], day["count"], day["closingBalance"]) == (
        "0.00", "20.00", 1, "80.00")  # fmt: skip
    [entry] = api.history(user).json()["transactions"]
    assert (entry["holdId"], entry["sequence"]) == (captured["holdId"], 1)


def test_a_void_releases_the_hold_and_a_second_void_replays_it(api, aws, user):
    hold = placed(api, user, "30.00")

    response = api.void(hold["holdId"], {"userId": user})

    assert response.status_code == 200, response.text
    assert response.json() == {
        "holdId": hold["holdId"], "userId": user, "status": "voided", "amount": "30.00",
        "available": "100.00", "currency": "USD"}  # fmt: skip
    again = api.void(hold["holdId"], {"userId": user})
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (200, "true")
    assert again.json() == response.json()
    assert available(api, user) == "100.00"
    assert api.history(user).json()["transactions"] == []
    assert violations(aws.dynamodb) == []


@pytest.mark.parametrize(
    ("first", "then", "status"),
    [("capture", "void", "captured"), ("void", "capture", "voided")],
)
def test_a_hold_that_ended_otherwise_is_hold_not_pending_naming_its_status(
    api, user, first, then, status
):
    hold = placed(api, user)
    assert getattr(api, first)(hold["holdId"], {"userId": user}).status_code in (200, 201)

    response = getattr(api, then)(hold["holdId"], {"userId": user})

    assert_error(response, 409, "HOLD_NOT_PENDING", status)


def test_no_hold_with_this_id_for_this_user_is_not_found(api, user):
    hold = placed(api, user)
    stranger = f"{user}-other"

    for response in (
        api.capture(hold["holdId"], {"userId": stranger}),
        api.void(hold["holdId"], {"userId": stranger}),
        api.get_hold(hold["holdId"], stranger),
        api.capture(str(uuid.uuid4()), {"userId": user}),
        api.get_hold(str(uuid.uuid4()), user),
    ):
        assert_error(response, 404, "NOT_FOUND")
    assert available(api, user) == "70.00"


def test_get_hold_answers_the_hold_as_placed_with_its_status(api, user):
    hold = placed(api, user)

    response = api.get_hold(hold["holdId"], user)

    assert response.status_code == 200
    assert response.json() == {key: value for key, value in hold.items() if key != "available"}
    assert_error(api.get_hold(hold["holdId"], None), 400, "VALIDATION_ERROR", "userId")


@pytest.mark.parametrize(
    ("request_", "field"),
    [(lambda api, h, u: api.capture(h, {"userId": u, "amount": "-1"}), "amount"),
     (lambda api, h, u: api.capture(h, {}), "body"),
     (lambda api, h, u: api.void(h, {"user": u}), "userId"),
     (lambda api, h, u: api.capture("x" * 129, {"userId": u}), "holdId")],
    ids=["negative-amount", "empty-body", "no-user", "long-hold-id"],
)  # fmt: skip
def test_an_invalid_capture_or_void_is_a_400(api, user, request_, field):
    hold = placed(api, user)
    assert_error(request_(api, hold["holdId"], user), 400, "VALIDATION_ERROR", field)


def test_a_hold_expires_at_its_expires_at_with_no_request_in_between(api, aws, user, frozen):
    hold = placed(api, user, "30.00", 60)
    expires_at = instant(hold["expiresAt"])

    frozen(expires_at - timedelta(milliseconds=1))
    assert available(api, user) == "70.00"
    assert api.get_hold(hold["holdId"], user).json()["status"] == "pending"

    frozen(expires_at)
    assert available(api, user) == "100.00"
    assert api.get_hold(hold["holdId"], user).json()["status"] == "expired"
    assert api.transact(debit(user, "100.00")).status_code == 201  # the expired hold is no bar
    assert_error(api.capture(hold["holdId"], {"userId": user}), 409, "HOLD_NOT_PENDING", "expired")
    assert_error(api.void(hold["holdId"], {"userId": user}), 409, "HOLD_NOT_PENDING", "expired")
    assert api.balance(user).json()["balance"] == "0.00"
    assert violations(aws.dynamodb, now_ms=epoch_millis(expires_at)) == []


def test_a_credits_reversal_beyond_available_is_refused_until_the_hold_expires(
    api, aws, user, frozen
):
    credited = api.transact(credit(user, "10"))
    assert credited.status_code == 201, credited.text
    hold = placed(api, user, "105.00", 60)
    expires_at = instant(hold["expiresAt"])

    # The balance (110.00) covers taking the credit's 10.00 back; available (5.00) does not.
    frozen(expires_at - timedelta(milliseconds=1))
    refused = api.reverse(credited.json()["transactionId"], {"userId": user})
    assert_error(refused, 422, "INSUFFICIENT_FUNDS")
    assert api.balance(user).json() | {"userId": user} == {
        "userId": user, "balance": "110.00", "available": "5.00", "currency": "USD"}  # fmt: skip
    assert len(api.history(user).json()["transactions"]) == 1

    frozen(expires_at)
    reversed_ = api.reverse(credited.json()["transactionId"], {"userId": user})
    assert reversed_.status_code == 201, reversed_.text
    assert (reversed_.json()["type"], reversed_.json()["balance"]) == ("debit", "100.00")
    assert available(api, user) == "100.00"
    assert violations(aws.dynamodb, now_ms=epoch_millis(expires_at)) == []


def test_a_capture_a_millisecond_before_expiry_is_applied(api, user, frozen):
    hold = placed(api, user, "30.00", 1)
    frozen(instant(hold["expiresAt"]) - timedelta(milliseconds=1))

    response = api.capture(hold["holdId"], {"userId": user})

    assert response.status_code == 201, response.text
    assert Decimal(response.json()["balance"]) == Decimal("70.00")


def test_the_users_lock_not_had_in_time_is_a_429(api, aws, user):
    hold = placed(api, user)
    aws.dynamodb.update_item(
        TableName="AggregatesTable", Key={"userId": {"S": user}},
        UpdateExpression="SET lockOwner = :owner, leaseUntil = :until",
        ExpressionAttributeValues={":owner": {"S": "another-execution"},
                                   ":until": {"N": str(int(time.time()) + 60)}},
    )  # fmt: skip

    response = api.void(hold["holdId"], {"userId": user})

    assert_error(response, 429, "USER_BUSY")
    assert response.headers["Retry-After"] == "1"
    assert api.get_hold(hold["holdId"], user).json()["status"] == "pending"
