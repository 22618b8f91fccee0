"""Minimal events and inputs for the tests."""

import json
import time
import uuid
from datetime import UTC, datetime
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


def lock_input(user_id: str, owner: str, started_at: float | None = None) -> dict[str, Any]:
    """AcquireLock's task input. `started_at` (epoch seconds, default now) is the execution's
    start: one more than LOCK_WAIT_SECONDS ago makes a single attempt, with no waiting."""
    moment = datetime.fromtimestamp(time.time() if started_at is None else started_at, UTC)
    return {
        "userId": user_id,
        "executionId": owner,
        "startedAt": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }


def output_of(response: dict[str, Any]) -> dict[str, Any]:
    return json.loads(response["output"])


EVENTS = Path(__file__).parent / "events"


def get_balance_event(query: dict[str, str] | None) -> dict[str, Any]:
    """The recorded API Gateway REST proxy event of GET /balance, with another query string."""
    event = json.loads((EVENTS / "get_balance_rest_api.json").read_text())
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in (query or {}).items()} or None
    return event
