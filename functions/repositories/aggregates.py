"""The transactions_aggregate table: one row per user with the balance, the last sequence, the
user's pending holds and the user's lock. This module reads the balance and builds the row's part
of a multi-table write (unit_of_work.py); locks.py takes and frees the lock kept on the same row.

The pending holds are a map on the row, `holds`: holdId -> [amount, expiresAt in epoch
milliseconds], so that `available` is computed from the one row a step reads under the lock (and
GET /balance reads with one GetItem). Each change to a hold rewrites the map, without the entries
that have expired by then.
"""

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from functions.clock import epoch_millis, epoch_seconds, from_epoch_millis
from functions.domain.models import AccountState, LedgerEntry, PendingHold
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


def holds_value(holds: Iterable[PendingHold]) -> dict[str, Any]:
    """The row's `holds` map, as an attribute value."""
    return {
        "M": {
            hold.hold_id: {
                "L": [{"N": str(hold.amount)}, {"N": str(epoch_millis(hold.expires_at))}]
            }
            for hold in holds
        }
    }


def holds_from_item(item: dict[str, Any]) -> tuple[PendingHold, ...]:
    """The pending holds a row (an item as DynamoDB returns it) keeps; none if it has no map."""
    entries = item.get("holds", {}).get("M", {})
    return tuple(
        PendingHold(
            hold_id, Decimal(value["L"][0]["N"]), from_epoch_millis(int(value["L"][1]["N"]))
        )
        for hold_id, value in entries.items()
    )


def holds_update(
    table_name: str,
    user_id: str,
    owner: str,
    seen: AccountState,
    holds_after: Iterable[PendingHold],
    now: datetime,
    entry: LedgerEntry | None = None,
) -> "TransactWriteItemTypeDef":
    """A TransactWriteItems item replacing the row's pending holds with `holds_after` (and, for a
    capture, moving the row to `entry`'s balance and sequence); it cancels the write unless
    `owner` holds the lock and the row still has the balance and sequence `seen` under it. The
    map is only ever changed under the lock, so the one the lock's step read is the one replaced.
    """
    sets = ["holds = :holds"]
    values = {
        **lock_held_values(owner, now),
        ":holds": holds_value(holds_after),
        ":seen": {"N": str(seen.balance)},
        ":seenSequence": {"N": str(seen.last_sequence)},
    }
    if entry is not None:
        sets += ["balance = :balance", "lastSequence = :sequence"]
        values[":balance"] = {"N": str(entry.balance_after)}
        values[":sequence"] = {"N": str(entry.sequence)}
    return {
        "Update": {
            "TableName": table_name,
            "Key": key(user_id),
            "UpdateExpression": "SET " + ", ".join(sets),
            "ConditionExpression": (
                f"{LOCK_HELD} AND balance = :seen AND lastSequence = :seenSequence"
            ),
            "ExpressionAttributeValues": values,
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

    def find_account(self, user_id: str) -> AccountState | None:
        """The balance, last sequence and pending holds, in one consistent GetItem."""
        response = self._client.get_item(
            TableName=self._table,
            Key=key(user_id),
            ProjectionExpression="balance, lastSequence, holds",
            ConsistentRead=True,
        )
        item = response.get("Item")
        if item is None:
            return None
        last_sequence = int(item["lastSequence"]["N"]) if "lastSequence" in item else 0
        return AccountState(Decimal(item["balance"]["N"]), last_sequence, holds_from_item(item))


def repository(settings: Settings) -> AggregatesRepository:
    return AggregatesRepository(dynamodb.client(), settings.aggregates_table_name)
