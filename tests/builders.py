"""Minimal events and inputs for the tests."""

import json
import uuid
from pathlib import Path
from typing import Any


def transaction_body(user_id: str = "1", amount: str = "10", type_: str = "credit") -> str:
    return json.dumps({"userId": user_id, "ammount": amount, "type": type_})


def execution_input(
    user_id: str = "1", amount: str = "10", type_: str = "credit", key: str | None = None
) -> str:
    """The execution input API Gateway's request template builds."""
    return json.dumps(
        {
            "body": transaction_body(user_id, amount, type_),
            "idempotencyKey": key or uuid.uuid4().hex,
            "requestId": uuid.uuid4().hex,
        }
    )


def output_of(response: dict[str, Any]) -> dict[str, Any]:
    return json.loads(response["output"])


EVENTS = Path(__file__).parent / "events"


def get_balance_event(query: dict[str, str] | None) -> dict[str, Any]:
    """The recorded API Gateway REST proxy event of GET /balance, with another query string."""
    event = json.loads((EVENTS / "get_balance_rest_api.json").read_text())
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in (query or {}).items()} or None
    return event


def outbox_stream_event() -> dict[str, Any]:
    """A Lambda DynamoDB stream event of the outbox, in the shape Lambda delivers (AWS's
    documented sample event): an INSERT of an event, and a REMOVE of one expiring by TTL."""
    return json.loads((EVENTS / "dynamodb_stream_outbox.json").read_text())
