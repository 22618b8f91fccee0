"""What API Gateway itself answers, over HTTP: undefined methods, payload limits, its own errors."""

import http.client
import json
import socket
import uuid

import pytest

from functions.domain.requests import MAX_BODY_LENGTH
from infra.local.apigateway.gateway import (
    MAX_EXECUTION_INPUT_BYTES,
    MAX_PAYLOAD_BYTES,
    LocalGateway,
)
from infra.local.awslambda.functions import FaultPoint
from tests.contract.test_contract import assert_error, credit

INTEGRATIONS = ("GetBalanceFunction", "AcquireLockFunction")


def invocations(aws) -> dict[str, int]:
    return {name: aws.lambdas.invocations[name] for name in INTEGRATIONS}


# --- methods and paths the document does not define ------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [(method, path) for path in ("/balance", "/transactions", "/summaries")
     for method in ("HEAD", "PUT", "DELETE", "OPTIONS", "PATCH")]
    + [("POST", "/balance"), ("POST", "/summaries"), ("GET", "/nowhere"), ("POST", "/")],
    ids=lambda value: value.strip("/") or "root",
)  # fmt: skip
def test_an_undefined_method_or_path_is_a_403_and_calls_nothing(api, aws, user, method, path):
    before = invocations(aws)
    response = api.session.request(method, f"{api.url}{path}?userId={user}", timeout=30,
                                   json=credit(user), headers={"Idempotent-Key": "k"})  # fmt: skip

    assert response.status_code == 403, response.text
    if method == "HEAD":
        assert response.text == ""  # HEAD answers carry no body
        assert response.headers["Content-Type"] == "application/json"
    else:
        assert_error(response, 403, "FORBIDDEN")
    assert invocations(aws) == before
    assert api.balance(user).json()["balance"] == "100.00"


# --- the body's size ---------------------------------------------------------------------------


def credit_of_length(user: str, length: int, pad: str) -> str:
    """A valid credit whose JSON text is `length` UTF-16 code units, padded inside a string."""
    head = json.dumps(credit(user))[:-1] + ', "note": "'
    room = length - len(head) - len('"}')
    units = len(pad.encode("utf-16-le")) // 2
    return head + pad * (room // units) + " " * (room % units) + '"}'


@pytest.mark.parametrize(
    "pad", ["a", "é", "😀", "\\u00e9"], ids=["ascii", "non-ascii", "emoji", "json-escapes"]
)
def test_a_body_of_max_body_length_is_applied(api, user, pad):
    body = credit_of_length(user, MAX_BODY_LENGTH, pad)
    assert len(body.encode("utf-16-le")) == 2 * MAX_BODY_LENGTH

    response = api.transact(raw=body)
    assert response.status_code == 201, response.text
    assert api.balance(user).json()["balance"] == "110.00"


@pytest.mark.parametrize(
    ("pad", "extra"), [("a", 1), ("é", 1), ("😀", 2)], ids=["ascii", "non-ascii", "emoji"]
)
def test_a_body_just_over_max_body_length_is_a_400_naming_the_body(api, aws, user, pad, extra):
    body = credit_of_length(user, MAX_BODY_LENGTH + extra, pad)
    writes_before = aws.dynamodb_requests.get("PutItem", 0)

    response = api.transact(raw=body)
    assert_error(response, 400, "VALIDATION_ERROR", "body is too large")
    assert f"{MAX_BODY_LENGTH + extra} characters" in response.json()["error"]["message"]
    assert aws.dynamodb_requests.get("PutItem", 0) == writes_before
    assert api.balance(user).json()["balance"] == "100.00"


@pytest.mark.parametrize(
    "body",
    ["\x01" * MAX_BODY_LENGTH, "😀" * (MAX_BODY_LENGTH // 2), "\x01" * (200 * 1024)],
    ids=["control-characters-at-the-cap", "emoji-at-the-cap", "control-characters-over-it"],
)
def test_a_body_that_escapes_worst_is_a_400_never_a_5xx(api, body):
    # Each of these characters takes 7 after the request template's two escapes.
    response = api.transact(raw=body)
    assert_error(response, 400, "VALIDATION_ERROR", "body")


def test_a_huge_key_header_is_a_400_naming_the_key(api, user):
    # 60000 latin-1 characters: 360 KB once JSON-escaped, were the template to forward them all.
    response = api.transact(credit(user), key="é" * 60_000)
    assert_error(response, 400, "VALIDATION_ERROR", "Idempotent-Key")


@pytest.mark.parametrize("path", ["/transactions", "/balance"])
def test_a_payload_over_api_gateways_10_mb_is_a_400_naming_the_body(api, aws, user, path):
    before = invocations(aws)
    response = api.session.post(
        f"{api.url}{path}", data=b"x" * (MAX_PAYLOAD_BYTES + 1), timeout=60,
        headers={"Content-Type": "application/json", "Idempotent-Key": "k"},
    )  # fmt: skip

    assert_error(response, 400, "VALIDATION_ERROR", "body is too large")
    assert invocations(aws) == before


def test_a_payload_of_10_mb_reaches_the_integration(api, aws):
    before = invocations(aws)
    response = api.session.post(
        f"{api.url}/transactions", data=b" " * MAX_PAYLOAD_BYTES, timeout=60,
        headers={"Content-Type": "application/json", "Idempotent-Key": "k"},
    )  # fmt: skip

    assert_error(response, 400, "VALIDATION_ERROR", "body is too large")
    assert f"{MAX_PAYLOAD_BYTES} characters" in response.json()["error"]["message"]
    assert invocations(aws)["AcquireLockFunction"] == before["AcquireLockFunction"] + 1


# --- Step Functions' own limit, as the local StartSyncExecution applies it ---------------------


def started_executions(aws) -> int:
    paginator = aws.stepfunctions.get_paginator("list_executions")
    pages = paginator.paginate(stateMachineArn=aws.state_machine_arns["TransactionStateMachine"])
    return sum(len(page["executions"]) for page in pages)


def start_sync_execution_request(aws, execution_input: str) -> str:
    return json.dumps(
        {
            "stateMachineArn": aws.state_machine_arns["TransactionStateMachine"],
            "input": execution_input,
        }
    )


@pytest.mark.parametrize("unit", ["a", "é"], ids=["ascii", "non-ascii"])
def test_the_local_start_sync_execution_refuses_an_input_over_256_kib(aws, unit):
    # The limit is in bytes of UTF-8: 131072 "é" are 262144 bytes.
    gateway = LocalGateway(aws)
    padding = unit * (MAX_EXECUTION_INPUT_BYTES // len(unit.encode()))
    oversized = json.dumps({"padding": padding}, ensure_ascii=False)

    status, answer = gateway._call_start_sync_execution(
        start_sync_execution_request(aws, oversized)
    )

    assert status == 400
    assert json.loads(answer)["__type"] == "InvalidExecutionInput"


@pytest.mark.parametrize(
    ("payload", "error"),
    [("not json", "InvalidExecutionInput"),
     ('["a list"]', "InvalidExecutionInput"),
     ('{"input": "{}"}', "InvalidExecutionInput"),
     ('{"stateMachineArn": "{arn}", "input": 5}', "InvalidExecutionInput"),
     ('{"stateMachineArn": "{arn}", "input": "not json"}', "InvalidExecutionInput"),
     ('{"stateMachineArn": "{arn}-other", "input": "{}"}', "StateMachineDoesNotExist")],
    ids=["request-not-json", "request-not-an-object", "no-state-machine", "input-not-a-string",
         "input-not-json", "another-state-machine"],
)  # fmt: skip
def test_the_local_start_sync_execution_refuses_a_malformed_request(aws, payload, error):
    gateway = LocalGateway(aws)
    before = started_executions(aws)

    status, answer = gateway._call_start_sync_execution(
        payload.replace("{arn}", aws.state_machine_arns["TransactionStateMachine"])
    )

    assert status == 400
    assert json.loads(answer)["__type"] == error
    assert started_executions(aws) == before


def test_the_local_start_sync_execution_runs_an_input_of_256_kib(aws):
    gateway = LocalGateway(aws)
    execution_input = json.dumps({"padding": ""})
    execution_input = json.dumps(
        {"padding": "a" * (MAX_EXECUTION_INPUT_BYTES - len(execution_input))}
    )
    assert len(execution_input.encode()) == MAX_EXECUTION_INPUT_BYTES

    status, answer = gateway._call_start_sync_execution(
        start_sync_execution_request(aws, execution_input)
    )

    assert status == 200
    assert json.loads(answer)["status"] == "FAILED"  # started; it is no request, so it fails


# --- API Gateway's own errors ------------------------------------------------------------------


def test_a_failed_proxy_function_is_the_gateways_500_in_the_contract_shape(api, aws, user):
    aws.lambdas.inject_fault("GetBalanceFunction", FaultPoint.BEFORE)
    try:
        response = api.balance(user)
    finally:
        aws.lambdas.clear_faults()

    assert_error(response, 500, "INTERNAL_ERROR")
    assert "InjectedFault" not in response.text


# --- bytes that are not UTF-8 ------------------------------------------------------------------
# API Gateway turns them into U+FFFD before any function sees them; the functions refuse U+FFFD.
# Before, "bad-\xff\xfe" and "bad-\xc0\xaf" both credited the one wallet "bad-\ufffd\ufffd".


@pytest.mark.parametrize(
    "malformed", [b"bad-\xff\xfe", b"bad-\xc0\xaf", b"bad-\xed\xa0\x80", b"bad-\xe2\x82"],
    ids=["ff-fe", "overlong-slash", "encoded-surrogate", "truncated-sequence"],
)  # fmt: skip
def test_a_user_id_that_is_not_utf8_is_a_400_and_credits_no_wallet(api, aws, malformed):
    body = b'{"userId": "' + malformed + b'", "ammount": "10", "type": "credit"}'
    before = aws.lambdas.invocations["PutTransactionFunction"]

    response = api.session.post(f"{api.url}/transactions", data=body, timeout=30,
                                headers={"Content-Type": "application/json",
                                         "Idempotent-Key": uuid.uuid4().hex})  # fmt: skip

    assert_error(response, 400, "VALIDATION_ERROR", "body")
    assert "UTF-8" in response.json()["error"]["message"]
    assert aws.lambdas.invocations["PutTransactionFunction"] == before  # refused before a lock
    merged = malformed.decode("utf-8", "replace")
    assert_error(api.balance(merged), 400, "VALIDATION_ERROR", "userId")


def test_bytes_that_are_not_utf8_anywhere_in_the_body_are_a_400(api, user):
    body = json.dumps({**credit(user), "note": "@"}).encode().replace(b"@", b"\xff")

    response = api.session.post(f"{api.url}/transactions", data=body, timeout=30,
                                headers={"Content-Type": "application/json",
                                         "Idempotent-Key": uuid.uuid4().hex})  # fmt: skip

    assert_error(response, 400, "VALIDATION_ERROR", "body")
    assert api.balance(user).json()["balance"] == "100.00"


def test_a_user_id_holding_the_replacement_character_itself_is_a_400(api):
    response = api.transact({"userId": "bad-\ufffd", "ammount": "10", "type": "credit"})

    assert_error(response, 400, "VALIDATION_ERROR", "userId")


def test_an_idempotency_key_that_is_not_utf8_is_a_400(api, user):
    response = api.session.post(f"{api.url}/transactions", json=credit(user), timeout=30,
                                headers={"Idempotent-Key": b"key-\xff\xfe"})  # fmt: skip

    assert_error(response, 400, "VALIDATION_ERROR", "Idempotent-Key")
    assert api.balance(user).json()["balance"] == "100.00"


def test_an_idempotency_key_in_utf8_is_kept_as_the_client_wrote_it(api, user):
    key = f"ключ-{uuid.uuid4().hex[:8]}"

    response = api.session.post(f"{api.url}/transactions", json=credit(user), timeout=30,
                                headers={"Idempotent-Key": key.encode()})  # fmt: skip

    assert response.status_code == 201, response.text
    assert api.history(user).json()["transactions"][0]["idempotencyKey"] == key


@pytest.mark.parametrize(
    ("path", "query"),
    [("/balance", "userId=bad-%FF%FE"), ("/balance", "userId=1&note=%C0%AF"),
     ("/transactions", "userId=1&cursor=%FF"), ("/summaries", "userId=1&period=%FFday"),
     ("/balance", "userId=1&%FF=1")],
    ids=["user-id", "unread-parameter", "cursor", "period", "parameter-name"],
)  # fmt: skip
def test_a_query_parameter_that_is_not_utf8_is_a_400(api, path, query):
    response = api.session.get(f"{api.url}{path}?{query}", timeout=30)

    assert_error(response, 400, "VALIDATION_ERROR", "UTF-8")


# --- bytes as a client sends them, not as `requests` would escape them ---------------------------


def send_raw(url: str, request: bytes, *, then_stop: bool = False) -> tuple[int, dict, bytes]:
    """`request` written to the server as it is (`then_stop`: and nothing more, the sending half
    of the connection closed); its answer's status, headers and body."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(request)
        if then_stop:
            connection.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(connection)
        response.begin()
        return response.status, dict(response.getheaders()), response.read()


def test_a_user_id_sent_as_utf8_bytes_in_the_query_is_the_one_sent_percent_escaped(api, user):
    # curl sends `?userId=é` as the bytes it is typed as; a browser or requests escapes them.
    user_id = f"{user}-é"
    assert api.transact(credit(user_id)).status_code == 201

    status, _, body = send_raw(api.url, f"GET /balance?userId={user_id} HTTP/1.1\r\n"
                               "Host: x\r\nConnection: close\r\n\r\n".encode())  # fmt: skip

    assert status == 200, body
    assert json.loads(body) == {
        "userId": user_id,
        "balance": "110.00",
        "available": "110.00",
        "currency": "USD",
    }


def test_query_bytes_that_are_not_utf8_are_a_400_as_escaped_ones_are(api, user):
    status, _, body = send_raw(api.url, f"GET /balance?userId={user}-".encode() + b"\xff\xfe"
                               b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")  # fmt: skip

    assert status == 400, body
    assert json.loads(body)["error"]["code"] == "VALIDATION_ERROR"
    assert "UTF-8" in json.loads(body)["error"]["message"]


@pytest.mark.parametrize(
    ("request_bytes", "says"),
    [(b"NOT HTTP AT ALL\r\n\r\n", "not valid HTTP"),
     (b"GET /balance?userId=1 HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 101 + b"\r\n",
      "too many headers"),
     (b"GET /balance?userId=1 HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 70_000 + b"\r\n\r\n",
      "too many headers"),
     (b"GET /balance?userId=" + b"1" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", "too long")],
    ids=["request-line", "header-count", "header-length", "request-line-length"],
)  # fmt: skip
def test_a_request_http_itself_refuses_is_a_400_in_the_contract_shape(api, request_bytes, says):
    status, headers, body = send_raw(api.url, request_bytes)

    assert status == 400, body
    assert headers["Content-Type"] == "application/json"
    assert headers["x-amzn-RequestId"]
    error = json.loads(body)["error"]
    assert error["code"] == "VALIDATION_ERROR" and says in error["message"]


POST_HEAD = (b"POST /transactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             b"Idempotent-Key: k\r\nConnection: close\r\n")  # fmt: skip


def test_a_body_not_in_chunked_encoding_is_a_400_and_calls_nothing(api, aws):
    before = invocations(aws)
    chunked = POST_HEAD + b"Transfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n"

    status, headers, body = send_raw(api.url, chunked)

    assert status == 400, body
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["error"]["code"] == "VALIDATION_ERROR"
    assert invocations(aws) == before


def test_a_body_shorter_than_its_content_length_is_a_400(api):
    short = POST_HEAD + b"Content-Length: 50\r\n\r\n" + b'{"userId": "1"}'

    status, _, body = send_raw(api.url, short, then_stop=True)

    assert status == 400, body
    assert json.loads(body)["error"]["code"] == "VALIDATION_ERROR"
