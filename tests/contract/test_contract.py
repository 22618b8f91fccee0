"""Every row of the contract, black box over HTTP against the local server."""

import json
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from infra.console.source import executions_by_request_id
from infra.local.awslambda.functions import FaultPoint
from tests.invariants import violations

TRANSACTION_FIELDS = {"transactionId", "userId", "type", "amount", "balance", "currency",
                      "createdAt"}  # fmt: skip


def credit(user: str, amount: str = "10") -> dict:
    return {"userId": user, "ammount": amount, "type": "credit"}


def debit(user: str, amount: str = "10") -> dict:
    return {"userId": user, "ammount": amount, "type": "debit"}


def assert_error(response, status: int, code: str, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    if field:
        assert field in body["error"]["message"]
    for leak in ("Traceback", "stackTrace", 'File "', "Error:", "arn:aws"):
        assert leak not in response.text


# --- GET /balance ---------------------------------------------------------------------------


def test_new_user_has_the_default_balance(api, user):
    response = api.balance(user)
    assert response.status_code == 200
    assert response.json() == {
        "userId": user, "balance": "100.00", "available": "100.00", "currency": "USD"}  # fmt: skip


def test_existing_user_has_the_committed_balance(api, user):
    api.transact(debit(user, "12.34"))
    assert api.balance(user).json()["balance"] == "87.66"


@pytest.mark.parametrize(
    "user_id", [None, "", "u" * 129, "a\x01b", "tab\there"],
    ids=["missing", "empty", "too-long", "control-char", "tab"],
)  # fmt: skip
def test_invalid_user_id_on_get_is_a_400(api, user_id):
    assert_error(api.balance(user_id), 400, "VALIDATION_ERROR", "userId")


# --- POST /transactions ---------------------------------------------------------------------


def test_credit_is_applied(api, user):
    response = api.transact(credit(user))
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == TRANSACTION_FIELDS
    assert body | {"transactionId": "", "createdAt": ""} == {
        "transactionId": "", "userId": user, "type": "credit", "amount": "10.00",
        "balance": "110.00", "currency": "USD", "createdAt": ""}  # fmt: skip
    assert "Idempotent-Replayed" not in response.headers


def test_every_answer_carries_the_request_id_its_execution_was_started_with(api, aws, user):
    posted = api.transact(credit(user))
    read = api.balance(user)
    unrouted = api.session.get(f"{api.url}/nowhere", timeout=30)

    request_ids = {r.headers["x-amzn-RequestId"] for r in (posted, read, unrouted)}
    assert len(request_ids) == 3
    started = executions_by_request_id(
        aws.stepfunctions, aws.state_machine_arns["TransactionStateMachine"]
    )
    arn = aws.execution_arn(posted.headers["x-amzn-RequestId"])
    assert arn == started[posted.headers["x-amzn-RequestId"]]  # the index and the public API
    execution = aws.stepfunctions.describe_execution(executionArn=arn)
    assert json.loads(execution["output"])["transaction"] == posted.json()


def test_replay_returns_the_same_body_and_applies_nothing(api, user):
    first = api.transact(credit(user), key="k1")
    again = api.transact(credit(user), key="k1")

    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert api.balance(user).json()["balance"] == "110.00"


def test_replay_compares_the_normalized_payload(api, user):
    first = api.transact(credit(user, "10"), key="k1")
    again = api.transact({"userId": user, "amount": "10.00", "type": "credit"}, key="k1")
    assert again.status_code == 201
    assert again.json() == first.json()


def test_same_key_with_another_payload_is_a_422(api, user):
    api.transact(credit(user), key="k1")
    assert_error(api.transact(credit(user, "11"), key="k1"), 422, "IDEMPOTENCY_KEY_REUSED")
    assert api.balance(user).json()["balance"] == "110.00"


def test_same_key_for_two_users_is_two_transactions(api, user):
    api.transact(credit(user), key="shared")
    other = api.transact(credit(user + "-b"), key="shared")
    assert other.status_code == 201
    assert "Idempotent-Replayed" not in other.headers


def test_overdraft_is_a_422_and_the_key_may_be_retried_later(api, user):
    assert_error(api.transact(debit(user, "150"), key="k1"), 422, "INSUFFICIENT_FUNDS")
    assert api.balance(user).json()["balance"] == "100.00"

    api.transact(credit(user, "50"))
    retried = api.transact(debit(user, "150"), key="k1")
    assert retried.status_code == 201
    assert retried.json()["balance"] == "0.00"


def test_busy_user_is_a_429_with_retry_after(api, aws, user):
    aws.dynamodb.put_item(
        TableName="AggregatesTable",
        Item={"userId": {"S": user}, "balance": {"N": "100"}, "lockOwner": {"S": "someone"},
              "leaseUntil": {"N": str(int(time.time()) + 120)}},
    )  # fmt: skip
    try:
        response = api.transact(credit(user))
    finally:
        aws.dynamodb.delete_item(TableName="AggregatesTable", Key={"userId": {"S": user}})
    assert_error(response, 429, "USER_BUSY")
    assert int(response.headers["Retry-After"]) >= 1


def test_internal_failure_is_a_500_without_internals(api, aws, user):
    aws.lambdas.inject_fault("PutTransactionFunction", FaultPoint.BEFORE)
    assert_error(api.transact(credit(user)), 500, "INTERNAL_ERROR")
    assert "InjectedFault" not in api.transact(credit(user)).text
    assert api.balance(user).json()["balance"] == "110.00"  # only the second one applied


VALIDATION_CASES = [
    ("no-key", {"json": "credit"}, None, "Idempotent-Key"),
    ("empty-key", {"json": "credit"}, "", "Idempotent-Key"),
    ("long-key", {"json": "credit"}, "k" * 256, "Idempotent-Key"),
    ("not-json", {"raw": "{userId: 1"}, "auto", "body"),
    ("array", {"raw": "[1, 2]"}, "auto", "body"),
    # API Gateway passes an empty payload as {}: all three name the body.
    ("empty-body", {"raw": ""}, "auto", "body is required"),
    ("no-body", {}, "auto", "body is required"),
    ("empty-object", {"raw": "{}"}, "auto", "body is required"),
    ("null-body", {"raw": "null"}, "auto", "body"),
    ("no-user", {"json": {"ammount": "1", "type": "credit"}}, "auto", "userId"),
    ("long-user", {"json": {"userId": "u" * 129, "ammount": "1", "type": "credit"}}, "auto",
     "userId"),
    ("numeric-user", {"json": {"userId": 1, "ammount": "1", "type": "credit"}}, "auto", "userId"),
    ("bad-type", {"json": {"userId": "1", "ammount": "1", "type": "refund"}}, "auto", "type"),
    ("no-amount", {"json": {"userId": "1", "type": "credit"}}, "auto", "ammount"),
    ("zero", {"json": {"userId": "1", "ammount": "0", "type": "credit"}}, "auto", "ammount"),
    ("negative", {"json": {"userId": "1", "ammount": "-5", "type": "debit"}}, "auto", "ammount"),
    ("3-decimals", {"json": {"userId": "1", "ammount": "1.005", "type": "credit"}}, "auto",
     "ammount"),
    ("exponent", {"json": {"userId": "1", "ammount": "1e2", "type": "credit"}}, "auto",
     "ammount"),
    ("number", {"json": {"userId": "1", "ammount": 10, "type": "credit"}}, "auto", "ammount"),
    ("too-large", {"json": {"userId": "1", "ammount": "1000000000.01", "type": "credit"}},
     "auto", "ammount"),
    ("alias-differs", {"json": {"userId": "1", "ammount": "1", "amount": "2", "type": "credit"}},
     "auto", "amount"),
]  # fmt: skip


@pytest.mark.parametrize(("request_", "key", "field"), [c[1:] for c in VALIDATION_CASES],
                         ids=[c[0] for c in VALIDATION_CASES])  # fmt: skip
def test_invalid_transaction_is_a_400_naming_the_field(api, aws, request_, key, field):
    writes_before = aws.dynamodb_requests.get("PutItem", 0)
    body = request_.get("json")
    if body == "credit":
        body = credit("u-valid")
    response = api.transact(body, key=key, raw=request_.get("raw"))
    assert_error(response, 400, "VALIDATION_ERROR", field)
    assert aws.dynamodb_requests.get("PutItem", 0) == writes_before


@pytest.mark.parametrize(
    ("user_id_length", "key", "amount", "field"),
    [(128, "auto", "10", None), (129, "auto", "10", "userId"),
     (16, "k" * 255, "10", None), (16, "k" * 256, "10", "Idempotent-Key"),
     (16, "auto", "1000000000.00", None), (16, "auto", "1000000000.01", "ammount")],
    ids=["user-id-128", "user-id-129", "key-255", "key-256", "amount-max", "amount-over-max"],
)  # fmt: skip
def test_limits_are_inclusive(api, user, user_id_length, key, amount, field):
    user_id = user.ljust(user_id_length, "u")
    response = api.transact(credit(user_id, amount), key=key)
    if field is None:
        assert response.status_code == 201, response.text
        assert response.json()["userId"] == user_id
        assert Decimal(response.json()["amount"]) == Decimal(amount)
    else:
        assert_error(response, 400, "VALIDATION_ERROR", field)


@pytest.mark.parametrize(
    "raw",
    ['{"userId": "%s", "ammount": NaN, "type": "credit"}',
     '{"userId": "%s", "ammount": "1", "type": "credit", "fee": Infinity}',
     '{"userId": "%s", "ammount": "1", "type": "credit", "fee": -Infinity}',
     '{"userId": "%s", "userId": "%s-2", "ammount": "1", "type": "credit"}',
     '{"userId": "%s", "ammount": "1", "type": "credit", "meta": {"a": 1, "a": 2}}'],
    ids=["nan", "infinity", "minus-infinity", "duplicate-user-id", "nested-duplicate"],
)  # fmt: skip
def test_json_that_is_not_strict_is_a_400_naming_the_body(api, aws, user, raw):
    writes_before = aws.dynamodb_requests.get("PutItem", 0)
    response = api.transact(raw=raw.replace("%s", user))
    assert_error(response, 400, "VALIDATION_ERROR", "body must be valid JSON")
    assert aws.dynamodb_requests.get("PutItem", 0) == writes_before
    for user_id in (user, f"{user}-2"):
        assert api.balance(user_id).json()["balance"] == "100.00"


def test_a_get_never_writes(api, aws, user):
    writes = ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem")
    before = {name: aws.dynamodb_requests.get(name, 0) for name in writes}

    assert api.balance(user).json()["balance"] == "100.00"
    assert api.balance(user).status_code == 200

    assert {name: aws.dynamodb_requests.get(name, 0) for name in writes} == before
    item = aws.dynamodb.get_item(TableName="AggregatesTable", Key={"userId": {"S": user}})
    assert "Item" not in item


def test_amount_alias_alone_is_accepted(api, user):
    response = api.transact({"userId": user, "amount": "5", "type": "credit"})
    assert response.status_code == 201
    assert response.json()["amount"] == "5.00"


@pytest.mark.parametrize(
    "user_id", ['quote"s', "back\\slash", "apostrophe's", "ünïcødé", "emoji 🚀", "new\u2028line",
                "</script>", "$dollar {braces}", "#set($x = 1)"],
)  # fmt: skip
def test_user_ids_survive_the_mapping_templates(api, user_id):
    user_id = f"{user_id}-{time.monotonic_ns()}"
    response = api.transact(credit(user_id))
    assert response.status_code == 201, response.text
    assert response.json()["userId"] == user_id
    assert api.balance(user_id).json() == {"userId": user_id, "balance": "110.00",
                                           "available": "110.00", "currency": "USD"}  # fmt: skip


@pytest.mark.parametrize(
    "header", ["Idempotent-Key", "idempotent-key", "IDEMPOTENT-KEY", "Idempotency-Key",
               "idempotency-key"],
)  # fmt: skip
def test_key_header_is_matched_without_regard_to_case_and_alias(api, user, header):
    # werkzeug hands the gateway every header name in one spelling (Idempotent-Key), whatever the
    # client sent, so here the case variants only show that no spelling breaks the request. The
    # template's case-insensitive match itself is proven in
    # tests/local/apigateway/test_openapi_templates.py
    # (test_the_key_comes_from_either_header_in_any_case), with the names exactly as given.
    first = api.transact(credit(user), key=None, headers={header: "same"})
    again = api.transact(credit(user), key=None, headers={"Idempotent-Key": "same"})
    assert first.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"


def test_idempotent_key_wins_over_its_alias_when_both_are_sent(api, user):
    both = api.transact(credit(user), key=None,
                        headers={"Idempotent-Key": "main", "Idempotency-Key": "alias"})  # fmt: skip
    main = api.transact(credit(user), key="main")
    alias = api.transact(credit(user), key=None, headers={"Idempotency-Key": "alias"})

    assert both.status_code == 201
    assert main.headers.get("Idempotent-Replayed") == "true"
    assert main.json() == both.json()
    assert alias.status_code == 201
    assert "Idempotent-Replayed" not in alias.headers  # "alias" was never used as the key
    assert api.balance(user).json()["balance"] == "120.00"


def test_query_parameter_does_not_shadow_the_key_header(api, user):
    url = f"{api.url}/transactions?Idempotent-Key=from-query&idempotencyKey=q"
    headers = {"Content-Type": "application/json", "Idempotent-Key": "from-header"}
    first = api.session.post(url, headers=headers, json=credit(user), timeout=30)
    again = api.transact(credit(user), key="from-header")
    assert first.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    no_header = api.session.post(url, json=credit(user), timeout=30)
    assert_error(no_header, 400, "VALIDATION_ERROR", "Idempotent-Key")


def test_concurrent_debits_never_go_below_zero_and_never_5xx(api, aws, user):
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: api.transact(debit(user, "30")), range(8)))

    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 422, 429}
    assert statuses.count(201) <= 3
    balance = api.balance(user).json()["balance"]
    assert float(balance) == 100 - 30 * statuses.count(201)
    assert violations(aws.dynamodb) == []


def test_concurrent_identical_requests_apply_once(api, user):
    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(lambda _: api.transact(credit(user), key="dup"), range(6)))

    applied = [r for r in responses if r.status_code == 201]
    assert {r.status_code for r in responses} <= {201, 429}
    assert applied
    assert len({json.dumps(r.json(), sort_keys=True) for r in applied}) == 1
    assert [r.headers.get("Idempotent-Replayed") for r in applied].count(None) == 1
    assert api.balance(user).json()["balance"] == "110.00"
