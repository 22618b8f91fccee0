"""The ledger table: one item per committed entry, keyed by (userId, sequence)."""

from decimal import Decimal
from typing import Any

from functions.domain.models import LedgerEntry, TransactionType


def entry_item(entry: LedgerEntry) -> dict[str, Any]:
    """The DynamoDB item of `entry`."""
    item: dict[str, Any] = {
        "userId": {"S": entry.user_id},
        "sequence": {"N": str(entry.sequence)},
        "entryId": {"S": entry.entry_id},
        "type": {"S": entry.type.value},
        "amount": {"N": str(entry.amount)},
        "balanceAfter": {"N": str(entry.balance_after)},
        "currency": {"S": entry.currency},
        "createdAt": {"S": entry.created_at},
        "idempotencyKey": {"S": entry.idempotency_key},
    }
    if entry.reverses is not None:
        item["reverses"] = {"S": entry.reverses}
    return item


def entry_from_item(item: dict[str, Any]) -> LedgerEntry:
    return LedgerEntry(
        user_id=item["userId"]["S"],
        sequence=int(item["sequence"]["N"]),
        entry_id=item["entryId"]["S"],
        type=TransactionType(item["type"]["S"]),
        amount=Decimal(item["amount"]["N"]),
        balance_after=Decimal(item["balanceAfter"]["N"]),
        currency=item["currency"]["S"],
        created_at=item["createdAt"]["S"],
        idempotency_key=item["idempotencyKey"]["S"],
        reverses=item["reverses"]["S"] if "reverses" in item else None,
    )


def put_entry(table_name: str, entry: LedgerEntry) -> dict[str, Any]:
    """A TransactWriteItems item appending `entry`; it cancels the transaction if the user's
    sequence number is taken (invariant 7: one entry per sequence)."""
    return {
        "Put": {
            "TableName": table_name,
            "Item": entry_item(entry),
            "ConditionExpression": "attribute_not_exists(#sequence)",
            "ExpressionAttributeNames": {"#sequence": "sequence"},
        }
    }
