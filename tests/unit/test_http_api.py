"""functions/http_api.py: the GET handlers' resolver, in the REST proxy integration's shape."""

import json
import threading
from typing import Any

import pytest

from functions.domain.errors import ValidationError
from functions.http_api import resolver
from tests.builders import api_event, handler_context

JSON_HEADERS = {"Content-Type": ["application/json"]}
INTERNAL_ERROR = {
    "error": {"code": "INTERNAL_ERROR", "message": "the request could not be processed"}
}


def routed() -> Any:
    app = resolver()

    @app.get("/echo")
    def echo() -> dict:
        query = app.current_event.get_query_string_value
        return {"userId": query("userId"), "missing": query("missing"), "text": "é"}

    @app.get("/invalid")
    def invalid() -> dict:
        raise ValidationError("userId must be 1-128 characters")

    @app.get("/broken")
    def broken() -> dict:
        raise RuntimeError("a bug")

    return app


def resolve(event: dict) -> tuple[int, Any]:
    response = routed().resolve(event, handler_context())
    assert set(response) == {"statusCode", "body", "isBase64Encoded", "multiValueHeaders"}
    assert response["isBase64Encoded"] is False
    assert response["multiValueHeaders"] == JSON_HEADERS
    return response["statusCode"], json.loads(response["body"])


def test_a_route_answers_200_with_its_dict_as_spaced_json():
    response = routed().resolve(api_event("/echo", {"userId": "u1"}), handler_context())

    assert response == {
        "statusCode": 200,
        "body": '{"userId": "u1", "missing": null, "text": "\\u00e9"}',
        "isBase64Encoded": False,
        "multiValueHeaders": JSON_HEADERS,
    }


def test_a_parameter_given_twice_reads_as_api_gateway_puts_it_in_the_single_value_map():
    event = api_event("/echo", {"userId": "second"})
    event["multiValueQueryStringParameters"] = {"userId": ["first", "second"]}

    assert resolve(event) == (200, {"userId": "second", "missing": None, "text": "é"})


def test_no_query_string_reads_as_none():
    assert resolve(api_event("/echo", None)) == (
        200,
        {"userId": None, "missing": None, "text": "é"},
    )


def test_a_validation_error_is_a_400_with_its_message():
    assert resolve(api_event("/invalid", None)) == (
        400,
        {"error": {"code": "VALIDATION_ERROR", "message": "userId must be 1-128 characters"}},
    )


def test_any_other_error_is_a_bare_500():
    assert resolve(api_event("/broken", None)) == (500, INTERNAL_ERROR)


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/elsewhere"), ("POST", "/echo")], ids=["path", "method"]
)
def test_a_request_the_function_has_no_route_for_is_a_bare_500(method, path):
    event = api_event(path, None)
    event["httpMethod"] = method

    assert resolve(event) == (500, INTERNAL_ERROR)


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"userId": "bad-\ufffd"}, "userId"),
        ({"other": "\ufffd"}, "other"),
        ({"\ufffd": "1"}, "name"),
    ],
    ids=["value-read", "value-not-read", "name"],
)
def test_query_text_that_was_not_utf8_is_a_400_naming_the_parameter(query, named):
    assert resolve(api_event("/echo", query)) == (
        400,
        {
            "error": {
                "code": "VALIDATION_ERROR",
                "message": f"query parameter {named} must be valid UTF-8 text",
            }
        },
    )


def test_two_resolves_at_once_on_one_resolver_each_read_their_own_event():
    # Given a route that, for user a, waits inside until the resolve for user b has run
    app = resolver()
    a_inside, b_done = threading.Event(), threading.Event()
    read: dict[str, list[str | None]] = {}

    @app.get("/who")
    def who() -> dict:
        user = app.current_event.get_query_string_value("userId")
        if user == "a":
            a_inside.set()
            assert b_done.wait(30)
        read.setdefault(str(user), []).append(user)
        read[str(user)].append(app.current_event.get_query_string_value("userId"))
        return {}

    first = threading.Thread(target=app.resolve, args=(api_event("/who", {"userId": "a"}), None))
    first.start()
    assert a_inside.wait(30)
    # When b is resolved meanwhile, in another thread
    app.resolve(api_event("/who", {"userId": "b"}), None)
    b_done.set()
    first.join(30)

    # Then each read its own query, before and after the other
    assert read == {"a": ["a", "a"], "b": ["b", "b"]}
