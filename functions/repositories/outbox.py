"""The outbox table: one item per event to publish, written in the transaction that commits
its ledger entry; the table's stream carries it to the event bus. Items expire by TTL."""

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from functions.clock import epoch_seconds
from functions.domain import events
from functions.domain.events import OutboxEvent
from functions.domain.models import LedgerEntry

if TYPE_CHECKING:
    from types_boto3_dynamodb.type_defs import TransactWriteItemTypeDef


def put_event(
    table_name: str, entry: LedgerEntry, expires_at: datetime
) -> "TransactWriteItemTypeDef":
    """A TransactWriteItems item writing `entry`'s event, to expire at `expires_at` (stored in
    epoch seconds, as DynamoDB's TTL reads it); it cancels the write if the event was already
    written."""
    return {
        "Put": {
            "TableName": table_name,
            "Item": {
                "eventId": {"S": entry.entry_id},
                "detailType": {"S": events.detail_type(entry)},
                "detail": {"S": json.dumps(events.detail(entry), separators=(",", ":"))},
                "userId": {"S": entry.user_id},
                "sequence": {"N": str(entry.sequence)},
                "expiresAt": {"N": str(epoch_seconds(expires_at))},
            },
            "ConditionExpression": "attribute_not_exists(eventId)",
        }
    }


def event_from_image(image: dict[str, Any]) -> OutboxEvent:
    """The event of an outbox item, as a stream record's NewImage carries it."""
    return OutboxEvent(image["eventId"]["S"], image["detailType"]["S"], image["detail"]["S"])


def stream_events(event: dict[str, Any]) -> list[tuple[str, OutboxEvent]]:
    """The new events of a Lambda DynamoDB stream event, each with its record's sequence number
    (the batch item failure's identifier). Only INSERTs carry a new event: a REMOVE is an item
    expiring by TTL (the event source's filter keeps those from the function on AWS)."""
    return [
        (record["dynamodb"]["SequenceNumber"], event_from_image(record["dynamodb"]["NewImage"]))
        for record in event["Records"]
        if record["eventName"] == "INSERT"
    ]


def batch_response(records: list[tuple[str, OutboxEvent]], first_failed: str | None) -> dict:
    """The partial batch response: the first record not published, from which the stream
    delivers again (the records after it too; the bus may then see some twice)."""
    failures = [
        {"itemIdentifier": sequence_number}
        for sequence_number, event in records
        if event.event_id == first_failed
    ][:1]
    return {"batchItemFailures": failures}
