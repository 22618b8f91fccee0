"""GET /holds/{holdId}'s function on moto: the proxy event in, the contract's answers out."""

import json

import pytest

from functions.handlers import get_hold
from tests.builders import api_event, handler_context


def call(hold_id: str, query: dict[str, str] | None) -> tuple[int, dict]:
    event = api_event(f"/holds/{hold_id}", query)
    event["resource"] = "/holds/{holdId}"
    event["pathParameters"] = {"holdId": hold_id}
    answer = get_hold.lambda_handler(event, handler_context())
    return answer["statusCode"], json.loads(answer["body"])


@pytest.mark.parametrize(
    ("hold_id", "status", "code"),
    [("no-such-hold", 404, "NOT_FOUND"), ("Ä\x03|f", 400, "VALIDATION_ERROR"),
     ("line\nbreak", 400, "VALIDATION_ERROR"), ("😀", 404, "NOT_FOUND")],
    ids=["unknown", "control-character", "newline", "emoji"],
)  # fmt: skip
def test_any_hold_id_gets_a_contract_answer(client, hold_id, status, code):
    assert call(hold_id, {"userId": "u"}) == (status, {"error": {"code": code, "message": (
        "holdId must not contain control characters" if status == 400
        else "no hold with this id for this user")}})  # fmt: skip


def test_a_missing_user_is_a_400(client):
    status, body = call("h", None)
    assert (status, body["error"]["code"]) == (400, "VALIDATION_ERROR")
