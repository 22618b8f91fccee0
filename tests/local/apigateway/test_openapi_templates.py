"""infra/openapi.yaml's real mapping templates, rendered with the local Velocity engine."""

import functools
import json
import re

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.definitions import OPENAPI_30

from functions.domain.errors import ValidationError
from functions.domain.money import parse_amount
from functions.domain.requests import MAX_BODY_LENGTH, MAX_IDEMPOTENCY_KEY_LENGTH
from functions.http_errors import HTTP_ERRORS, INTERNAL_ERROR
from infra.local.apigateway.openapi import (
    gateway_response,
    integration_of,
    integration_response,
    load_openapi,
    map_integration_response,
    placeholders,
    read_openapi,
    request_template,
)
from infra.local.apigateway.vtl import render

STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:Transactions"
SUBSTITUTIONS = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "TransactionStateMachine.Arn": STATE_MACHINE_ARN,
    "TransferStateMachine.Arn": "arn:aws:states:us-east-1:123456789012:stateMachine:Transfers",
    "HoldStateMachine.Arn": "arn:aws:states:us-east-1:123456789012:stateMachine:Holds",
    "GetHoldFunction.Arn": "arn:aws:lambda:us-east-1:123456789012:function:GetHold",
    "ReversalStateMachine.Arn": "arn:aws:states:us-east-1:123456789012:stateMachine:Reversals",
    "GetBalanceFunction.Arn": "arn:aws:lambda:us-east-1:123456789012:function:GetBalance",
    "GetTransactionsFunction.Arn": "arn:aws:lambda:us-east-1:123456789012:function:GetHistory",
    "GetSummariesFunction.Arn": "arn:aws:lambda:us-east-1:123456789012:function:GetSummaries",
    "ApiStartSyncExecutionRole.Arn": "arn:aws:iam::123456789012:role/ApiStartSyncExecution",
}
REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
TRANSACTION = {
    "transactionId": "tx-1",
    "userId": "1",
    "type": "credit",
    "amount": "10.00",
    "balance": "110.00",
    "currency": "USD",
    "createdAt": "2024-01-01T00:00:00.000000+00:00",
}


@pytest.fixture(scope="module")
def document():
    return load_openapi(SUBSTITUTIONS)


@pytest.fixture(scope="module")
def post(document):
    return integration_of(document, "/transactions", "POST")


def start_sync_execution_request(
    post, body="", headers=None, querystring=None, request_id=REQUEST_ID
) -> dict:
    template = request_template(post, "application/json")
    assert template is not None
    params = {"path": {}, "querystring": querystring or {}, "header": headers or {}}
    text = render(template, body=body, params=params, context={"requestId": request_id}).text
    return json.loads(text)


def execution_input(post, body="", headers=None, querystring=None) -> dict:
    request = start_sync_execution_request(post, body, headers, querystring)
    assert set(request) == {"stateMachineArn", "name", "input"}
    assert isinstance(request["input"], str)
    return json.loads(request["input"])


def respond(post, answer: dict | str, status_code: int = 200):
    body = answer if isinstance(answer, str) else json.dumps(answer)
    return map_integration_response(
        post, status_code, body, params={}, context={"requestId": REQUEST_ID}
    )


def failed(error: str, cause: str = "") -> dict:
    return {"executionArn": "arn:x", "status": "FAILED", "error": error, "cause": cause}


def lambda_cause(error_type: str, message: str) -> str:
    return json.dumps(
        {
            "errorMessage": message,
            "errorType": error_type,
            "requestId": "r",
            "stackTrace": ['  File "/var/task/functions/handlers/secret.py", line 1'],
        }
    )


def error_body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


# The document


def test_placeholders_are_exactly_the_deploy_time_values():
    assert placeholders(read_openapi()) == set(SUBSTITUTIONS)


def test_the_document_is_valid_openapi_3_0():
    jsonschema.Draft4Validator(OPENAPI_30).validate(read_openapi())


def _refs(node):
    if isinstance(node, dict):
        yield from ([node["$ref"]] if "$ref" in node else [])
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_every_reference_resolves():
    document = read_openapi()
    for ref in _refs(document):
        target = document
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]


def test_every_integration_response_status_is_a_method_response(document):
    for path, item in document["paths"].items():
        for operation in item.values():
            integration = operation["x-amazon-apigateway-integration"]
            for response in (integration.get("responses") or {}).values():
                assert response["statusCode"] in operation["responses"], path


def test_every_contract_status_is_documented(document):
    # 403 and the GET's 429 are API Gateway's own answers (IAM, throttling).
    assert set(document["paths"]["/balance"]["get"]["responses"]) == {
        "200",
        "400",
        "403",
        "429",
        "500",
    }
    assert set(document["paths"]["/transactions"]["post"]["responses"]) == {
        "201",
        "400",
        "403",
        "409",
        "422",
        "429",
        "500",
    }


def _accepted_amount(value: str) -> bool:
    try:
        parse_amount(value)
    except ValidationError:
        return False
    return True


@functools.cache
def _money_pattern() -> str:
    # Read once: parsing the whole document for every generated example ran past the deadline.
    return read_openapi()["components"]["schemas"]["Money"]["pattern"]


def _matches_money_pattern(value: str) -> bool:
    return re.search(_money_pattern(), value) is not None


MONEY_SAMPLES = ["10", "10.5", "10.50", "0.01", "0.1", "0.10", "0.99", "1", "999999999.99",
                 "1000000000", "1000000000.0", "1000000000.00", "0", "0.0", "0.00", "00.1",
                 "01", "1000000000.01", "1000000001", "9999999999", "1.", ".5", "1.005", "-1",
                 "+1", "1e2", " 1", "1 ", "\u0661"]  # fmt: skip


@pytest.mark.parametrize("value", MONEY_SAMPLES)
def test_the_money_pattern_accepts_exactly_what_the_parser_accepts(value):
    assert _matches_money_pattern(value) is _accepted_amount(value)


# No deadline: a timing is no pass/fail criterion, and a loaded machine (2 shared cores) misses it.
@settings(deadline=None)
@given(st.from_regex(r"\A[0-9]{1,11}(\.[0-9]{0,3})?\Z") | st.text("0123456789.", max_size=14))
def test_the_money_pattern_and_the_parser_agree_on_generated_amounts(value):
    assert _matches_money_pattern(value) is _accepted_amount(value)


@pytest.mark.parametrize(
    ("body", "is_valid"),
    [
        ({"userId": "1", "ammount": "10", "type": "credit"}, True),
        ({"userId": "1", "amount": "10", "type": "credit"}, True),
        ({"userId": "1", "ammount": "10", "amount": "10", "type": "credit"}, True),
        ({"userId": "1", "type": "credit"}, False),
        ({"userId": "1", "ammount": "0", "type": "credit"}, False),
    ],
    ids=["ammount", "amount", "both", "neither", "zero"],
)
def test_the_request_schema_requires_one_spelling_of_the_amount(document, body, is_valid):
    # The document's components at the root, so that its "#/components/..." references resolve.
    schemas = document["components"]["schemas"]
    schema = {**schemas["TransactionRequest"], "components": document["components"]}
    errors = list(jsonschema.Draft4Validator(schema).iter_errors(body))
    assert (errors == []) is is_valid, errors


@pytest.mark.parametrize(
    ("path", "function"),
    [("/balance", "GetBalanceFunction"), ("/transactions", "GetTransactionsFunction"),
     ("/summaries", "GetSummariesFunction")],
)  # fmt: skip
def test_each_get_is_a_proxy_to_its_function(document, path, function):
    get = integration_of(document, path, "GET")
    assert get["type"] == "aws_proxy"
    assert get["uri"] == (
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
        f"{SUBSTITUTIONS[function + '.Arn']}/invocations"
    )


def test_integrations_point_at_the_deployed_resources(document, post):
    assert post["type"] == "aws"
    assert post["httpMethod"] == "POST"
    assert post["uri"] == "arn:aws:apigateway:us-east-1:states:action/StartSyncExecution"
    assert post["credentials"] == SUBSTITUTIONS["ApiStartSyncExecutionRole.Arn"]
    assert post["passthroughBehavior"].upper() == "NEVER"


def test_integration_uris_follow_the_partition():
    document = load_openapi({**SUBSTITUTIONS, "AWS::Partition": "aws-cn"})
    for path, method in [("/balance", "GET"), ("/transactions", "POST"),
                         ("/transactions", "GET"), ("/summaries", "GET")]:  # fmt: skip
        assert integration_of(document, path, method)["uri"].startswith("arn:aws-cn:apigateway:")


@pytest.mark.parametrize(
    ("content_type", "has_template"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("Application/JSON", True),
        (None, True),
        ("text/plain", False),
        ("application/x-www-form-urlencoded", False),
    ],
    ids=["json", "json-charset", "json-case", "missing", "text", "form"],
)
def test_only_json_or_a_missing_content_type_has_a_request_template(
    post, content_type, has_template
):
    assert (request_template(post, content_type) is not None) is has_template


def test_an_unsupported_content_type_is_a_validation_error(document):
    response = gateway_response(document, "UNSUPPORTED_MEDIA_TYPE")
    assert response is not None
    assert response.status == 400
    assert json.loads(response.body)["error"]["code"] == "VALIDATION_ERROR"


GATEWAY_RESPONSES = {
    "BAD_REQUEST_BODY": (400, "VALIDATION_ERROR"),
    "REQUEST_TOO_LARGE": (400, "VALIDATION_ERROR"),
    "MISSING_AUTHENTICATION_TOKEN": (403, "FORBIDDEN"),
    "INVALID_SIGNATURE": (403, "FORBIDDEN"),
    "EXPIRED_TOKEN": (403, "FORBIDDEN"),
    "ACCESS_DENIED": (403, "FORBIDDEN"),
    "INVALID_API_KEY": (403, "FORBIDDEN"),
    "WAF_FILTERED": (403, "FORBIDDEN"),
    "THROTTLED": (429, "USER_BUSY"),
    "DEFAULT_4XX": (400, "VALIDATION_ERROR"),
    "DEFAULT_5XX": (500, "INTERNAL_ERROR"),
}


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [(kind, *expected) for kind, expected in GATEWAY_RESPONSES.items()],
    ids=GATEWAY_RESPONSES.keys(),
)
def test_gateway_responses_have_the_contract_error_body(document, kind, status, code):
    response = gateway_response(document, kind)
    assert response is not None
    assert response.status == status
    assert set(json.loads(response.body)["error"]) == {"code", "message"}
    assert json.loads(response.body)["error"]["code"] == code
    if status == 429:
        assert response.headers == {"Retry-After": "1"}


def test_every_gateway_response_is_tested_and_matches_the_error_schema(document):
    responses = document["x-amazon-apigateway-gateway-responses"]
    assert set(responses) == {*GATEWAY_RESPONSES, "UNSUPPORTED_MEDIA_TYPE"}
    schema = {**document["components"]["schemas"]["Error"], "additionalProperties": False}
    for kind in responses:
        response = gateway_response(document, kind)
        assert response is not None, kind
        jsonschema.validate(json.loads(response.body), schema)


def test_the_body_too_large_answers_name_the_body(document):
    response = gateway_response(document, "REQUEST_TOO_LARGE")
    assert response is not None
    message = json.loads(response.body)["error"]["message"]
    assert message.startswith("body is too large")
    assert str(MAX_BODY_LENGTH) in message


# The request template: StartSyncExecution's body


def test_request_names_the_state_machine(post):
    assert start_sync_execution_request(post, "{}")["stateMachineArn"] == STATE_MACHINE_ARN


def test_the_execution_is_named_after_the_request_id(post):
    request = start_sync_execution_request(post, "{}")

    assert request["name"] == REQUEST_ID
    assert json.loads(request["input"])["requestId"] == REQUEST_ID


@pytest.mark.parametrize(
    "request_id",
    ["x" * 81, "a b", 'a"b', "a:b", "a/b", "Zoë", "a\\b", ""],
    ids=["81-chars", "space", "quote", "colon", "slash", "non-ascii", "backslash", "empty"],
)
def test_a_request_id_that_is_no_safe_execution_name_leaves_the_naming_to_step_functions(
    post, request_id
):
    request = start_sync_execution_request(post, "{}", request_id=request_id)

    assert set(request) == {"stateMachineArn", "input"}
    assert json.loads(request["input"])["requestId"] == request_id


def test_an_80_character_request_id_is_still_a_name(post):
    assert start_sync_execution_request(post, "{}", request_id="a-_9" * 20)["name"] == "a-_9" * 20


TRICKY_BODIES = {
    "json": '{"userId": "1", "ammount": "10", "type": "credit"}',
    "double-quotes": '{"userId": "say \\"hi\\""}',
    "single-quotes": '{"userId": "it\'s o\'clock"}',
    "backslashes": '{"userId": "C:\\\\temp\\\\new", "raw": "\\\\\'"}',
    "newlines-and-tabs": '{\n\t"userId": "1"\r\n}',
    "unicode": '{"userId": "Zoë ñ € 中文"}',
    "emoji": '{"userId": "😀🎉"}',
    "escaped-unicode": '{"userId": "\\u00e9\\ud83d\\ude00"}',
    "script": '{"userId": "</script><script>alert(1)</script>"}',
    "not-json": "this is not JSON: ' \" \\ \n",
    "json-array": '[1, "two"]',
    "control-characters": '{"userId": "a\x01b"}',
    "template-syntax": '{"userId": "$input.body #set($x = 1) ${x}"}',
}


@pytest.mark.parametrize("body", TRICKY_BODIES.values(), ids=TRICKY_BODIES.keys())
def test_the_body_reaches_the_state_machine_unchanged(post, body):
    assert execution_input(post, body, {"Idempotent-Key": "k-1"}) == {
        "body": body,
        "idempotencyKey": "k-1",
        "requestId": REQUEST_ID,
    }


def test_an_empty_body_reaches_the_state_machine_as_an_empty_object(post):
    # API Gateway gives templates "{}" for an empty payload; AcquireLock still answers 400.
    assert execution_input(post, "", {"Idempotent-Key": "k-1"})["body"] == "{}"


def test_the_template_caps_the_body_at_max_body_length(post):
    template = request_template(post, "application/json")
    assert template is not None
    assert re.findall(r"\$bodyLength > (\d+)", template) == [str(MAX_BODY_LENGTH)]


@pytest.mark.parametrize(
    ("unit", "count"),
    [("a", MAX_BODY_LENGTH), ("é", MAX_BODY_LENGTH), ("😀", MAX_BODY_LENGTH // 2)],
    ids=["ascii", "non-ascii", "emoji"],
)
def test_a_body_at_the_cap_is_forwarded_and_one_more_unit_is_not(post, unit, count):
    at_cap = unit * count
    assert execution_input(post, at_cap, {"Idempotent-Key": "k"})["body"] == at_cap

    over = at_cap + "a"
    assert execution_input(post, over, {"Idempotent-Key": "k"})["body"] == {
        "tooLarge": True,
        "length": MAX_BODY_LENGTH + 1,
    }


MAX_EXECUTION_INPUT_BYTES = 256 * 1024


@pytest.mark.parametrize(
    "unit", ["\x01", "é", "😀", '"', "\\", "/"], ids=["control", "latin", "emoji", "quote",
                                                    "backslash", "slash"]
)  # fmt: skip
def test_the_worst_case_body_stays_well_under_the_execution_input_limit(post, unit):
    body = unit * (MAX_BODY_LENGTH // (len(unit.encode("utf-16-le")) // 2))
    key = "😀" * 255  # the longest key AcquireLock accepts, in the costliest characters
    request = start_sync_execution_request(post, body, {"Idempotent-Key": key})
    assert json.loads(request["input"])["body"] == body
    # API Gateway sends this request to Step Functions, which limits "input" to 256 KiB.
    assert len(request["input"].encode()) < MAX_EXECUTION_INPUT_BYTES / 2
    assert len(json.dumps(request).encode()) < MAX_EXECUTION_INPUT_BYTES / 2


def test_a_huge_body_is_never_forwarded(post):
    body = "é" * (10 * 1024 * 1024 // 2)  # 10 MB of UTF-8, API Gateway's payload limit
    request = start_sync_execution_request(post, body, {"Idempotent-Key": "k"})
    assert len(request["input"]) < 200
    assert json.loads(request["input"])["body"] == {"tooLarge": True, "length": len(body)}


@pytest.mark.parametrize(
    ("headers", "key"),
    [
        ({"Idempotent-Key": "k-1"}, "k-1"),
        ({"idempotent-key": "k-1"}, "k-1"),
        ({"IDEMPOTENT-KEY": "k-1"}, "k-1"),
        ({"Idempotency-Key": "k-1"}, "k-1"),
        ({"idempotency-key": "k-1"}, "k-1"),
        ({"Idempotency-Key": "alias", "Idempotent-Key": "main"}, "main"),
        ({"Idempotent-Key": "", "Idempotency-Key": "alias"}, "alias"),
        ({}, ""),
        ({"Idempotent-Key": ""}, ""),
        ({"Other": "k-1"}, ""),
        ({"Idempotent-Key": 'it\'s "k" \\ é 😀'}, 'it\'s "k" \\ é 😀'),
    ],
    ids=[
        "canonical",
        "lower-case",
        "upper-case",
        "alias",
        "alias-lower-case",
        "canonical-wins",
        "empty-canonical-uses-alias",
        "absent",
        "empty",
        "other-header",
        "tricky-characters",
    ],
)
def test_the_key_comes_from_either_header_in_any_case(post, headers, key):
    assert execution_input(post, "{}", headers)["idempotencyKey"] == key


def test_a_key_is_cut_where_it_is_too_long_anyway(post):
    template = request_template(post, "application/json")
    assert template is not None
    [cut] = re.findall(
        r"\$key\.length\(\) > (\d+)\)#set\(\$key = \$key\.substring\(0, \1\)", template
    )
    assert int(cut) > 2 * MAX_IDEMPOTENCY_KEY_LENGTH  # a cut key is too long in any characters

    assert execution_input(post, "{}", {"Idempotent-Key": "k" * 1024})["idempotencyKey"] == (
        "k" * 1024
    )
    request = start_sync_execution_request(post, "{}", {"Idempotent-Key": "é" * 60_000})
    assert json.loads(request["input"])["idempotencyKey"] == "é" * int(cut)
    assert len(json.dumps(request)) < 10_000


def test_a_query_parameter_cannot_shadow_the_key_header(post):
    querystring = {"idempotencyKey": "q", "Idempotent-Key": "q", "Idempotency-Key": "q"}
    assert execution_input(post, "{}", {"Idempotent-Key": "h"}, querystring)["idempotencyKey"] == (
        "h"
    )
    assert execution_input(post, "{}", {}, querystring)["idempotencyKey"] == ""


# The response template: the execution's result as the contract's response


def succeeded(transaction: dict, replayed: bool) -> dict:
    output = {"transaction": transaction, "replayed": replayed}
    return {"executionArn": "arn:x", "status": "SUCCEEDED", "output": json.dumps(output)}


@pytest.mark.parametrize(
    ("replayed", "headers"),
    [(False, {}), (True, {"Idempotent-Replayed": "true"})],
    ids=["applied", "replayed"],
)
def test_a_succeeded_execution_is_201_with_the_transaction(post, replayed, headers):
    response = respond(post, succeeded(TRANSACTION, replayed))
    assert (response.status, response.headers) == (201, headers)
    assert json.loads(response.body) == TRANSACTION


def test_only_the_transaction_fields_are_returned(post):
    transaction = {**TRANSACTION, "internal": "lock-owner", "leaseUntil": "x"}
    assert json.loads(respond(post, succeeded(transaction, False)).body) == TRANSACTION


@pytest.mark.parametrize(
    "user_id",
    ['say "hi"', "it's", "back\\slash", "Zoë 中文 😀", "</script>", "tab\there", "\\'"],
    ids=["quotes", "single-quote", "backslash", "unicode", "slash", "tab", "escaped-quote"],
)
def test_a_user_id_survives_the_round_trip(post, user_id):
    body = json.dumps({"userId": user_id, "ammount": "10", "type": "credit"})
    assert json.loads(execution_input(post, body, {"Idempotent-Key": "k"})["body"]) == {
        "userId": user_id,
        "ammount": "10",
        "type": "credit",
    }
    response = respond(post, succeeded({**TRANSACTION, "userId": user_id}, False))
    assert json.loads(response.body)["userId"] == user_id


@pytest.mark.parametrize("error_name", HTTP_ERRORS, ids=HTTP_ERRORS.keys())
def test_each_domain_error_maps_as_http_errors_says(post, error_name):
    expected = HTTP_ERRORS[error_name]
    response = respond(post, failed(error_name, lambda_cause(error_name, "")))
    assert response.status == expected.status
    assert response.headers == expected.headers
    assert json.loads(response.body) == error_body(expected.code, expected.message)


def test_a_validation_error_passes_its_message_through(post):
    message = 'userId must be at most 128 characters: it\'s "x" \\ é 😀'
    response = respond(post, failed("ValidationError", lambda_cause("ValidationError", message)))
    assert response.status == 400
    assert json.loads(response.body) == error_body("VALIDATION_ERROR", message)


@pytest.mark.parametrize(
    "error_name", ["InsufficientFundsError", "IdempotencyKeyReusedError", "UserBusyError"]
)
def test_other_errors_never_pass_their_message_through(post, error_name):
    cause = lambda_cause(error_name, "secret internals: table wallet-transactions")
    response = respond(post, failed(error_name, cause))
    assert json.loads(response.body)["error"]["message"] == HTTP_ERRORS[error_name].message


INTERNAL = error_body(INTERNAL_ERROR.code, INTERNAL_ERROR.message)
INTERNAL_ANSWERS = {
    "unknown-error": failed("LockLostError", lambda_cause("LockLostError", "lock lost")),
    "lambda-crash": failed("Lambda.Unknown", "Traceback (most recent call last): ..."),
    "states-timeout": failed("States.Timeout", ""),
    "states-all": failed("States.TaskFailed", '{"errorMessage": "boom"}'),
    "timed-out": {"executionArn": "arn:x", "status": "TIMED_OUT"},
    "aborted": {"executionArn": "arn:x", "status": "ABORTED"},
    "no-error-name": {"executionArn": "arn:x", "status": "FAILED"},
    "unknown-status": {"status": "SOMETHING_NEW"},
    "succeeded-without-transaction": {"status": "SUCCEEDED", "output": '{"replayed": false}'},
}


@pytest.mark.parametrize("answer", INTERNAL_ANSWERS.values(), ids=INTERNAL_ANSWERS.keys())
def test_anything_else_is_a_generic_internal_error(post, answer):
    response = respond(post, answer)
    assert (response.status, response.headers) == (500, {})
    assert json.loads(response.body) == INTERNAL


@pytest.mark.parametrize(
    "cause",
    ["", "not json", '{"errorType": "ValidationError"}', '{"errorMessage": ""}', "[1]"],
    ids=["empty", "not-json", "no-message", "empty-message", "not-an-object"],
)
def test_a_validation_error_without_a_message_has_the_fixed_one(post, cause):
    response = respond(post, failed("ValidationError", cause))
    assert response.status == 400
    expected = HTTP_ERRORS["ValidationError"]
    assert json.loads(response.body) == error_body(expected.code, expected.message)


def test_a_stack_trace_in_the_cause_never_leaks(post):
    cause = lambda_cause("RuntimeError", "KeyError: 'balance' in /var/task/functions/secret.py")
    response = respond(post, failed("RuntimeError", cause))
    assert response.status == 500
    assert "secret" not in response.body
    assert "stackTrace" not in response.body
    assert "RuntimeError" not in response.body


def test_the_response_template_sets_the_status_exactly_once(post):
    template = integration_response(post, 200)["responseTemplates"]["application/json"]
    assert template.count("$context.responseOverride.status") == 1


@pytest.mark.parametrize(
    ("status_code", "answer", "status", "headers", "code"),
    [
        (400, '{"__type": "InvalidExecutionInput", "message": "x"}', 500, {}, "INTERNAL_ERROR"),
        (400, '{"__type": "ThrottlingException", "message": "slow"}', 429, {"Retry-After": "1"},
         "USER_BUSY"),
        (403, '{"__type": "AccessDeniedException"}', 500, {}, "INTERNAL_ERROR"),
        (500, '{"__type": "InternalServerError"}', 500, {}, "INTERNAL_ERROR"),
        (503, "", 500, {}, "INTERNAL_ERROR"),
        (502, "<html>bad gateway</html>", 500, {}, "INTERNAL_ERROR"),
    ],
    ids=["invalid-input", "throttled", "access-denied", "internal", "unavailable", "not-json"],
)  # fmt: skip
def test_a_failed_start_sync_execution_call_is_mapped(
    post, status_code, answer, status, headers, code
):
    response = respond(post, answer, status_code)
    assert (response.status, response.headers) == (status, headers)
    assert json.loads(response.body)["error"]["code"] == code
    assert "__type" not in response.body


@pytest.mark.parametrize(
    ("answer", "status_code"),
    [
        ({"status": "SUCCEEDED", "output": json.dumps({"transaction": TRANSACTION})}, 200),
        (failed("InsufficientFundsError"), 200),
        (failed("ValidationError", lambda_cause("ValidationError", "ammount is required")), 200),
        (failed("UserBusyError"), 200),
        (failed("States.Timeout"), 200),
        ('{"__type": "ThrottlingException"}', 400),
        ('{"__type": "InvalidArn"}', 400),
    ],
    ids=["applied", "insufficient", "validation", "busy", "internal", "throttled", "refused"],
)
def test_every_answer_is_one_line_of_json_spaced_as_json_dumps(post, answer, status_code):
    body = respond(post, answer, status_code).body

    assert body == json.dumps(json.loads(body))


# POST /transfers: the same integration as POST /transactions, on the transfer machine, with the
# transfer's fields in the 201.

TRANSFER = {
    "transferId": "tr-1",
    "fromUserId": "1",
    "toUserId": "2",
    "amount": "25.00",
    "currency": "USD",
    "balance": "75.00",
    "createdAt": "2026-12-01T00:00:00.000Z",
}
# What differs between the two integrations' response templates, and nothing else.
TRANSFER_RESPONSE_CHANGES = [
    ('["transactionId", "userId", "type", "amount", "balance", "currency", "createdAt"]',
     '["transferId", "fromUserId", "toUserId", "amount", "currency", "balance", "createdAt"]'),
    ("$output.transaction", "$output.transfer"),
]  # fmt: skip


@pytest.fixture(scope="module")
def transfer_post(document):
    return integration_of(document, "/transfers", "POST")


def test_the_transfer_request_template_is_the_transactions_on_the_transfer_machine(
    post, transfer_post
):
    expected = request_template(post, "application/json")
    assert expected is not None
    assert request_template(transfer_post, "application/json") == expected.replace(
        STATE_MACHINE_ARN, SUBSTITUTIONS["TransferStateMachine.Arn"]
    )
    request = start_sync_execution_request(
        transfer_post, '{"fromUserId": "1"}', {"Idempotent-Key": "t-1"}
    )
    assert request["stateMachineArn"] == SUBSTITUTIONS["TransferStateMachine.Arn"]
    assert json.loads(request["input"])["body"] == '{"fromUserId": "1"}'


def test_the_transfer_responses_are_the_transactions_with_the_transfers_fields(post, transfer_post):
    assert transfer_post["responses"].keys() == post["responses"].keys()
    for name, response in post["responses"].items():
        template = response["responseTemplates"]["application/json"]
        for old, new in TRANSFER_RESPONSE_CHANGES:
            template = template.replace(old, new)
        assert transfer_post["responses"][name]["responseTemplates"]["application/json"] == (
            template
        ), name


@pytest.mark.parametrize(
    ("replayed", "headers"),
    [(False, {}), (True, {"Idempotent-Replayed": "true"})],
    ids=["applied", "replayed"],
)
def test_a_succeeded_transfer_is_201_with_the_transfer(transfer_post, replayed, headers):
    output = {"transfer": {**TRANSFER, "internal": "x"}, "replayed": replayed}
    answer = {"executionArn": "arn:x", "status": "SUCCEEDED", "output": json.dumps(output)}

    response = respond(transfer_post, answer)

    assert (response.status, response.headers) == (201, headers)
    assert json.loads(response.body) == TRANSFER


@pytest.mark.parametrize("error_name", HTTP_ERRORS, ids=HTTP_ERRORS.keys())
def test_each_domain_error_of_a_transfer_maps_as_http_errors_says(transfer_post, error_name):
    expected = HTTP_ERRORS[error_name]
    response = respond(transfer_post, failed(error_name, lambda_cause(error_name, "")))
    assert response.status == expected.status
    assert response.headers == expected.headers
    assert json.loads(response.body) == error_body(expected.code, expected.message)


def test_a_transaction_output_is_no_transfer(transfer_post):
    output = {"transaction": TRANSACTION, "replayed": False}
    answer = {"executionArn": "arn:x", "status": "SUCCEEDED", "output": json.dumps(output)}

    assert respond(transfer_post, answer).status == 500


# POST /transactions/{transactionId}/reversal: the transactions' integration on the reversal
# machine, the path's transactionId in place of the key, and the reversal's fields in the 201.

REVERSAL = {**TRANSACTION, "transactionId": "rv-1", "type": "debit", "balance": "100.00",
            "reverses": "tx-1"}  # fmt: skip
REVERSAL_PATH = "/transactions/{transactionId}/reversal"
REVERSAL_RESPONSE_CHANGES = [
    ('["transactionId", "userId", "type", "amount", "balance", "currency", "createdAt"]',
     '["transactionId", "userId", "type", "amount", "balance", "currency", "createdAt", '
     '"reverses"]'),
]  # fmt: skip


@pytest.fixture(scope="module")
def reversal_post(document):
    return integration_of(document, REVERSAL_PATH, "POST")


def reversal_input(reversal_post, body="", path=None, headers=None, querystring=None) -> dict:
    template = request_template(reversal_post, "application/json")
    assert template is not None
    params = {"path": path or {}, "querystring": querystring or {}, "header": headers or {}}
    text = render(template, body=body, params=params, context={"requestId": REQUEST_ID}).text
    request = json.loads(text)
    assert request["stateMachineArn"] == SUBSTITUTIONS["ReversalStateMachine.Arn"]
    assert request["name"] == REQUEST_ID
    return dict(json.loads(request["input"]))


def test_the_reversal_request_template_builds_the_body_as_the_transactions_does(
    post, reversal_post
):
    transaction_template = request_template(post, "application/json")
    reversal_template = request_template(reversal_post, "application/json")
    assert transaction_template is not None and reversal_template is not None
    transaction_lines, reversal_lines = (
        transaction_template.splitlines(), reversal_template.splitlines()
    )  # fmt: skip
    # Everything from the body on (the body's cap and escaping, the request id, the name).
    start = transaction_lines.index('#set($body = "$!input.body")')
    assert (
        reversal_lines[reversal_lines.index(transaction_lines[start]) :][:-1]
        == (transaction_lines[start:-1])
    )


@pytest.mark.parametrize(
    "transaction_id",
    ["tx-1", 'quote"and\\backslash', "it's", "\u00e9\u20ac"],
    ids=["plain", "quote-and-backslash", "apostrophe", "non-ascii"],
)
def test_the_path_id_and_the_body_reach_the_reversal_machine_unchanged(
    reversal_post, transaction_id
):
    body = '{"userId": "it\'s \\"1\\""}'

    sent = reversal_input(reversal_post, body, path={"transactionId": transaction_id})

    assert sent == {"body": body, "transactionId": transaction_id, "requestId": REQUEST_ID}


def test_only_the_path_names_the_transaction(reversal_post):
    sent = reversal_input(
        reversal_post, "{}", path={"transactionId": "from-path"},
        headers={"transactionId": "from-header"}, querystring={"transactionId": "from-query"},
    )  # fmt: skip

    assert sent["transactionId"] == "from-path"


def test_a_path_id_is_cut_where_it_is_too_long_anyway(reversal_post):
    sent = reversal_input(reversal_post, "{}", path={"transactionId": "t" * 5000})

    assert sent["transactionId"] == "t" * 1024


def test_the_reversal_responses_are_the_transactions_with_the_reversals_fields(post, reversal_post):
    assert reversal_post["responses"].keys() == post["responses"].keys()
    for name, response in post["responses"].items():
        template = response["responseTemplates"]["application/json"]
        for old, new in REVERSAL_RESPONSE_CHANGES:
            template = template.replace(old, new)
        assert reversal_post["responses"][name]["responseTemplates"]["application/json"] == (
            template
        ), name


@pytest.mark.parametrize(
    ("replayed", "headers"),
    [(False, {}), (True, {"Idempotent-Replayed": "true"})],
    ids=["reversed", "replayed"],
)
def test_a_succeeded_reversal_is_201_with_the_reversing_entry(reversal_post, replayed, headers):
    output = {"transaction": {**REVERSAL, "internal": "x"}, "replayed": replayed}
    answer = {"executionArn": "arn:x", "status": "SUCCEEDED", "output": json.dumps(output)}

    response = respond(reversal_post, answer)

    assert (response.status, response.headers) == (201, headers)
    assert json.loads(response.body) == REVERSAL


@pytest.mark.parametrize("error_name", HTTP_ERRORS, ids=HTTP_ERRORS.keys())
def test_each_domain_error_of_a_reversal_maps_as_http_errors_says(reversal_post, error_name):
    expected = HTTP_ERRORS[error_name]
    response = respond(reversal_post, failed(error_name, lambda_cause(error_name, "")))
    assert response.status == expected.status
    assert response.headers == expected.headers
    assert json.loads(response.body) == error_body(expected.code, expected.message)


def test_every_reversal_status_is_documented(document):
    assert set(document["paths"][REVERSAL_PATH]["post"]["responses"]) == {
        "201", "400", "403", "404", "422", "429", "500",
    }  # fmt: skip


# Every StartSyncExecution integration (transactions, transfers, reversals and the three hold
# operations): each answers every error of HTTP_ERRORS as the table says.

START_SYNC_EXECUTIONS = [
    (path, method.upper())
    for path, item in read_openapi()["paths"].items()
    for method, operation in item.items()
    if "StartSyncExecution" in str(operation["x-amazon-apigateway-integration"]["uri"])
]


def test_the_start_sync_executions_are_the_six_posts():
    assert sorted(START_SYNC_EXECUTIONS) == sorted([
        ("/transactions", "POST"), ("/transfers", "POST"), (REVERSAL_PATH, "POST"),
        ("/holds", "POST"), ("/holds/{holdId}/capture", "POST"), ("/holds/{holdId}/void", "POST"),
    ])  # fmt: skip


@pytest.mark.parametrize(("path", "method"), START_SYNC_EXECUTIONS, ids=lambda value: value)
@pytest.mark.parametrize("error_name", HTTP_ERRORS, ids=HTTP_ERRORS.keys())
def test_every_start_sync_execution_maps_each_domain_error_as_http_errors_says(
    document, path, method, error_name
):
    expected = HTTP_ERRORS[error_name]
    response = respond(
        integration_of(document, path, method), failed(error_name, lambda_cause(error_name, ""))
    )
    assert response.status == expected.status
    assert response.headers == expected.headers
    assert json.loads(response.body) == error_body(expected.code, expected.message)
