"""The transactions_aggregate table: one row per user with the balance, the last sequence and the
user's lock. This module reads the balance and builds the row's part of a multi-table write
(unit_of_work.py); locks.py takes and frees the lock kept on the same row."""

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from functions.clock import epoch_seconds
from functions.domain.models import LedgerEntry
from functions.repositories import dynamodb
from functions.settings import Settings

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient
    from types_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

# Owner token and live lease: the condition of every write made under the lock.
LOCK_HELD = "lockOwner = :owner AND leaseUntil >= :now"


def key(user_id: str) -> dict[str, Any]:
    return {"userId": {"S": user_id}}


def lock_held_values(owner: str, now: datetime) -> dict[str, Any]:
    """The values LOCK_HELD reads: the lease is kept in whole epoch seconds."""
    return {":owner": {"S": owner}, ":now": {"N": str(epoch_seconds(now))}}


def lock_held_check(
    table_name: str, user_id: str, owner: str, now: datetime
) -> "TransactWriteItemTypeDef":
    """A TransactWriteItems item that cancels the write unless `owner` holds the lock."""
    return {
        "ConditionCheck": {
            "TableName": table_name,
            "Key": key(user_id),
            "ConditionExpression": LOCK_HELD,
            "ExpressionAttributeValues": lock_held_values(owner, now),
        }
    }


def balance_update(
    table_name: str, entry: LedgerEntry, owner: str, seen_balance: Decimal, now: datetime
) -> "TransactWriteItemTypeDef":
    """A TransactWriteItems item moving the row to `entry`'s balance and sequence; it cancels the
    write unless `owner` holds the lock and the row still has the balance and the sequence seen
    under it (`entry` takes the next sequence, with no gap)."""
    return {
        "Update": {
            "TableName": table_name,
            "Key": key(entry.user_id),
            "UpdateExpression": "SET balance = :balance, lastSequence = :sequence",
            "ConditionExpression": (
                f"{LOCK_HELD} AND balance = :seen AND lastSequence = :seenSequence"
            ),
            "ExpressionAttributeValues": {
                **lock_held_values(owner, now),
                ":balance": {"N": str(entry.balance_after)},
                ":sequence": {"N": str(entry.sequence)},
                ":seen": {"N": str(seen_balance)},
                ":seenSequence": {"N": str(entry.sequence - 1)},
            },
        }
    }


class AggregatesRepository:
    def __init__(self, client: "DynamoDBClient", table_name: str) -> None:
        self._client = client
        self._table = table_name

    def find_balance(self, user_id: str) -> Decimal | None:
        response = self._client.get_item(
            TableName=self._table,
            Key=key(user_id),
            ProjectionExpression="balance",
            ConsistentRead=True,
        )
        item = response.get("Item")
        return Decimal(item["balance"]["N"]) if item else None


def repository(settings: Settings) -> AggregatesRepository:
    return AggregatesRepository(dynamodb.client(), settings.aggregates_table_name)
