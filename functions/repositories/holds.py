"""The holds table: one item per hold, keyed by (userId, holdId), pending until captured or
voided; DynamoDB's TTL deletes it a retention period after its expiresAt.

This module reads a hold and builds the hold's part of the writes unit_of_work.py assembles.
Expiry is never written: a pending item past its expiresAt reads as expired (Hold.status_at).
"""

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from functions.clock import epoch_millis, epoch_seconds, from_epoch_millis
from functions.domain.models import Hold, HoldStatus
from functions.repositories import dynamodb
from functions.settings import Settings

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient
    from types_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

PENDING = "PENDING"
STORED_STATUS = {
    HoldStatus.PENDING: PENDING,
    HoldStatus.CAPTURED: "CAPTURED",
    HoldStatus.VOIDED: "VOIDED",
}
# DynamoDB's TTL attribute (epoch seconds), named apart from the hold's own expiresAt.
TTL_ATTRIBUTE = "purgeAt"


def key(user_id: str, hold_id: str) -> dict[str, Any]:
    return {"userId": {"S": user_id}, "holdId": {"S": hold_id}}


def put_hold(table_name: str, hold: Hold, retention: timedelta) -> "TransactWriteItemTypeDef":
    """A TransactWriteItems item storing a new pending hold; it cancels the write if the id is
    taken (a retried step finds its own hold)."""
    return {
        "Put": {
            "TableName": table_name,
            "Item": {
                **key(hold.user_id, hold.hold_id),
                "amount": {"N": str(hold.amount)},
                "currency": {"S": hold.currency},
                "status": {"S": PENDING},
                "createdAt": {"S": hold.created_at},
                "expiresAt": {"N": str(epoch_millis(hold.expires_at))},
                "idempotencyKey": {"S": hold.idempotency_key},
                TTL_ATTRIBUTE: {"N": str(epoch_seconds(hold.expires_at + retention))},
            },
            "ConditionExpression": "attribute_not_exists(holdId)",
        }
    }


def mark_ended(table_name: str, ended: Hold, now: datetime) -> "TransactWriteItemTypeDef":
    """A TransactWriteItems item marking the hold captured or voided, with the answer it gave;
    it cancels the write, returning the hold, unless it is still pending and not yet expired at
    `now` (invariant 12: captured or voided once, never both, never once expired)."""
    assert ended.status is not HoldStatus.PENDING and ended.available_after is not None
    sets = ["#status = :status", "availableAfter = :available", "changedBy = :owner"]
    values: dict[str, Any] = {
        ":status": {"S": STORED_STATUS[ended.status]},
        ":available": {"N": str(ended.available_after)},
        ":owner": {"S": str(ended.changed_by)},
        ":pending": {"S": PENDING},
        ":nowMs": {"N": str(epoch_millis(now))},
    }
    if ended.status is HoldStatus.CAPTURED:
        sets += [
            "capturedAmount = :captured",
            "transactionId = :transaction",
            "balanceAfter = :balance",
        ]
        values[":captured"] = {"N": str(ended.captured_amount)}
        values[":transaction"] = {"S": str(ended.transaction_id)}
        values[":balance"] = {"N": str(ended.balance_after)}
    return {
        "Update": {
            "TableName": table_name,
            "Key": key(ended.user_id, ended.hold_id),
            "UpdateExpression": "SET " + ", ".join(sets),
            "ConditionExpression": "#status = :pending AND expiresAt > :nowMs",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": values,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


def is_ended_by(item: dict[str, Any], ended: Hold) -> bool:
    """Whether the stored hold `item` shows the change `ended` (by the same owner) landed."""
    return (
        item.get("status", {}).get("S") == STORED_STATUS[ended.status]
        and item.get("changedBy", {}).get("S") == ended.changed_by
    )


def hold_from_item(item: dict[str, Any]) -> Hold:
    def number(name: str) -> Decimal | None:
        return Decimal(item[name]["N"]) if name in item else None

    status = {stored: status for status, stored in STORED_STATUS.items()}[item["status"]["S"]]
    return Hold(
        hold_id=item["holdId"]["S"],
        user_id=item["userId"]["S"],
        amount=Decimal(item["amount"]["N"]),
        currency=item["currency"]["S"],
        status=status,
        created_at=item["createdAt"]["S"],
        expires_at=from_epoch_millis(int(item["expiresAt"]["N"])),
        idempotency_key=item["idempotencyKey"]["S"],
        captured_amount=number("capturedAmount"),
        transaction_id=item["transactionId"]["S"] if "transactionId" in item else None,
        balance_after=number("balanceAfter"),
        available_after=number("availableAfter"),
        changed_by=item["changedBy"]["S"] if "changedBy" in item else None,
    )


class HoldsRepository:
    def __init__(self, client: "DynamoDBClient", table_name: str) -> None:
        self._client = client
        self._table = table_name

    def find_hold(self, user_id: str, hold_id: str) -> Hold | None:
        """The hold, read consistently (a change under the lock is seen at once)."""
        try:
            response = self._client.get_item(
                TableName=self._table, Key=key(user_id, hold_id), ConsistentRead=True
            )
        except ClientError as error:
            dynamodb.raise_if_transient(error)
            raise
        item = response.get("Item")
        return None if item is None else hold_from_item(item)


def repository(settings: Settings) -> HoldsRepository:
    return HoldsRepository(dynamodb.client(), settings.holds_table_name)
