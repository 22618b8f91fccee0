"""Minimal events and inputs for the tests."""

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3

from functions.domain.models import LedgerEntry, TransactionType
from functions.repositories import ledger
from functions.settings import get_settings


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


def lock_input(
    user_id: str, owner: str, started_at: float | None = None, key: str = "k1"
) -> dict[str, Any]:
    """AcquireLock's task input: the API's body and key (a 10.00 credit), the execution and its
    start. `started_at` (epoch seconds, default now) one more than LOCK_WAIT_SECONDS ago makes a
    single attempt, with no waiting."""
    moment = datetime.fromtimestamp(time.time() if started_at is None else started_at, UTC)
    return {
        "body": transaction_body(user_id),
        "idempotencyKey": key,
        "executionId": owner,
        "startedAt": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }


def release_lock(aws: Any, user_id: str, owner: str) -> bool:
    """ReleaseLock's own DynamoDB request, read from the ASL, as the execution `owner` sends it
    (the state calls DynamoDB itself); whether it freed the lock."""
    definition = json.loads(aws.template.state_machines["TransactionStateMachine"].definition)
    parameters = definition["States"]["ReleaseLock"]["Parameters"]
    try:
        aws.dynamodb.update_item(
            TableName=parameters["TableName"],
            Key={"userId": {"S": user_id}},
            UpdateExpression=parameters["UpdateExpression"],
            ConditionExpression=parameters["ConditionExpression"],
            ExpressionAttributeValues={":owner": {"S": owner}},
        )
    except aws.dynamodb.exceptions.ConditionalCheckFailedException:
        return False
    return True


def output_of(response: dict[str, Any]) -> dict[str, Any]:
    return json.loads(response["output"])


EVENTS = Path(__file__).parent / "events"


def get_balance_event(query: dict[str, str] | None) -> dict[str, Any]:
    """The recorded API Gateway REST proxy event of GET /balance, with another query string."""
    event = json.loads((EVENTS / "get_balance_rest_api.json").read_text())
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in (query or {}).items()} or None
    return event


def api_event(path: str, query: dict[str, str] | None) -> dict[str, Any]:
    """The recorded REST proxy event, for another GET path and query string."""
    event = get_balance_event(query)
    event["resource"] = event["path"] = path
    event["requestContext"] = {**event["requestContext"], "resourcePath": path, "path": path}
    return event


def ledger_entry(
    user_id: str, sequence: int, amount: str = "10.00", type_: str = "credit",
    created_at: str | None = None, balance_after: str | None = None,
) -> LedgerEntry:  # fmt: skip
    """Entry `sequence` of a user whose every entry so far was a credit of `amount`."""
    moment = datetime(2026, 12, 1, 8, tzinfo=UTC) + timedelta(minutes=sequence)
    balance = Decimal("100.00") + Decimal(amount) * sequence
    return LedgerEntry(
        user_id=user_id,
        sequence=sequence,
        entry_id=f"{user_id}-entry-{sequence}",
        type=TransactionType(type_),
        amount=Decimal(amount),
        balance_after=Decimal(balance_after) if balance_after else balance,
        currency="USD",
        created_at=created_at or moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        idempotency_key=f"key-{sequence}",
    )


def put_ledger_entry(entry: LedgerEntry, client: Any = None) -> None:
    """Append `entry` to the ledger table, as the saga's commit does."""
    client = client or boto3.client("dynamodb")
    client.transact_write_items(
        TransactItems=[ledger.put_entry(get_settings().ledger_table_name, entry)]
    )


def stream_record(entry: LedgerEntry, stream_sequence: str | None = None) -> dict[str, Any]:
    """The record Lambda delivers for the ledger item's INSERT (StreamViewType NEW_IMAGE)."""
    keys = {"userId": {"S": entry.user_id}, "sequence": {"N": str(entry.sequence)}}
    return {
        "eventID": uuid.uuid4().hex,
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1764576000.0,
            "Keys": keys,
            "NewImage": ledger.entry_item(entry),
            "SequenceNumber": stream_sequence or f"{entry.sequence:021d}",
            "SizeBytes": 256,
            "StreamViewType": "NEW_IMAGE",
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/LedgerTable/stream/"
        "2026-12-01T00:00:00.000",
    }


def stream_event(entries: list[LedgerEntry]) -> dict[str, Any]:
    return {"Records": [stream_record(entry) for entry in entries]}


def outbox_stream_event() -> dict[str, Any]:
    """A Lambda DynamoDB stream event of the outbox, in the shape Lambda delivers (AWS's
    documented sample event): an INSERT of an event, and a REMOVE of one expiring by TTL."""
    return json.loads((EVENTS / "dynamodb_stream_outbox.json").read_text())


@dataclass
class FakeClock:
    """Time moves only when the code under test sleeps; `jitter()` answers `jitter_value`."""

    time: float
    jitter_value: float = 0.5
    slept: list[float] = field(default_factory=list)

    def now(self) -> float:
        return self.time

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.time += seconds

    def jitter(self) -> float:
        return self.jitter_value
