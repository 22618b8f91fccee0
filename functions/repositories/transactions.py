"""The transactions table: one item per (userId, idempotencyKey), pending until committed; and
one per reversed transaction, under a key of its own (reversal_key).

This module owns the item's attributes and status literals: it deletes a pending record itself,
and builds the record's part of the multi-table writes that unit_of_work.py assembles.
"""

from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from functions.domain.models import (
    Hold,
    LedgerEntry,
    PendingTransaction,
    PendingTransfer,
    StoredPlacement,
    StoredReversal,
    StoredTransaction,
    StoredTransfer,
    Transaction,
    TransactionType,
    Transfer,
)
from functions.repositories import dynamodb
from functions.settings import Settings

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient
    from types_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

PENDING = "PENDING"
COMMITTED = "COMMITTED"


def key(user_id: str, idempotency_key: str) -> dict[str, Any]:
    return {"userId": {"S": user_id}, "idempotencyKey": {"S": idempotency_key}}


def reversal_key(transaction_id: str) -> str:
    """The sort key of the record of `transaction_id`'s reversal, in its user's key namespace.

    It holds a control character (U+001F), which no client's Idempotent-Key may (requests.py
    refuses them), so no request's key can ever name it, nor a reversal's any client's record.
    """
    return f"reversal\x1f{transaction_id}"


def put_pending(
    table_name: str, pending: PendingTransaction, currency: str
) -> "TransactWriteItemTypeDef":
    """A TransactWriteItems item writing `pending`; it cancels the write, returning the stored
    record, if a committed record holds the key (an abandoned pending one is overwritten)."""
    request = pending.request
    return _put_pending_record(
        table_name,
        {
            **key(request.user_id, request.idempotency_key),
            "transactionId": {"S": pending.transaction_id},
            "type": {"S": request.type.value},
            "amount": {"N": str(request.amount)},
            "currency": {"S": currency},
            "fingerprint": {"S": request.fingerprint},
            "owner": {"S": pending.owner},
            "createdAt": {"S": pending.created_at},
        },
    )


def put_pending_transfer(
    table_name: str, pending: PendingTransfer, currency: str
) -> "TransactWriteItemTypeDef":
    """A TransactWriteItems item writing the pending transfer under the source's key, in the same
    namespace as the source's transactions; it cancels the write, returning the stored record, if
    a committed record (a transaction's or a transfer's) holds the key.

    The record is the source's side: a debit of the amount, so that what reads a user's records
    as transactions (a reused key's check, the invariants) reads it as what it did to the source.
    """
    request = pending.request
    return _put_pending_record(
        table_name,
        {
            **key(request.from_user_id, request.idempotency_key),
            "transactionId": {"S": pending.transfer_id},
            "transferId": {"S": pending.transfer_id},
            "toUserId": {"S": request.to_user_id},
            "type": {"S": TransactionType.DEBIT.value},
            "amount": {"N": str(request.amount)},
            "currency": {"S": currency},
            "fingerprint": {"S": request.fingerprint},
            "owner": {"S": pending.owner},
            "createdAt": {"S": pending.created_at},
        },
    )


def _put_pending_record(table_name: str, item: dict[str, Any]) -> "TransactWriteItemTypeDef":
    return {
        "Put": {
            "TableName": table_name,
            "Item": {**item, "status": {"S": PENDING}},
            # At most one committed record per (userId, key), whichever endpoint: invariant 3;
            # an abandoned pending record is overwritten.
            "ConditionExpression": "attribute_not_exists(userId) OR #status = :pending",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":pending": {"S": PENDING}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


def put_placement(
    table_name: str, hold: Hold, fingerprint: str, placed: dict[str, str], owner: str
) -> "TransactWriteItemTypeDef":
    """A TransactWriteItems item recording, committed at once, that the key placed a hold and
    what POST /holds answered (`placed`, replayed from here); it cancels the write, returning the
    stored record, if a committed record holds the key (an abandoned pending one is overwritten).
    It moves no money: what reads records as transactions skips a record with a holdId."""
    return {
        "Put": {
            "TableName": table_name,
            "Item": {
                **key(hold.user_id, hold.idempotency_key),
                "holdId": {"S": hold.hold_id},
                "fingerprint": {"S": fingerprint},
                "owner": {"S": owner},
                "createdAt": {"S": placed["createdAt"]},
                "placed": {"M": {name: {"S": value} for name, value in placed.items()}},
                "status": {"S": COMMITTED},
            },
            # At most one committed record per (userId, key), whichever endpoint: invariant 3.
            "ConditionExpression": "attribute_not_exists(userId) OR #status = :pending",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":pending": {"S": PENDING}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


def stored_placement(item: dict[str, Any]) -> StoredPlacement:
    """What a record holds for a hold's replay: its payload's fingerprint, and POST /holds'
    answer if it is a hold's record."""
    placed = None
    if item["status"]["S"] == COMMITTED and "placed" in item:
        placed = {name: value["S"] for name, value in item["placed"]["M"].items()}
    return StoredPlacement(item["fingerprint"]["S"], placed)


def mark_committed(table_name: str, entry: LedgerEntry, owner: str) -> "TransactWriteItemTypeDef":
    """A TransactWriteItems item committing `owner`'s pending record with `entry`'s balance and
    sequence; it cancels the write, returning the record, unless the record is `owner`'s and
    still pending."""
    return {
        "Update": {
            "TableName": table_name,
            "Key": key(entry.user_id, entry.idempotency_key),
            "UpdateExpression": (
                "SET #status = :committed, balanceAfter = :balance, #sequence = :sequence"
            ),
            "ConditionExpression": "#status = :pending AND #owner = :owner",
            "ExpressionAttributeNames": {
                "#status": "status",
                "#owner": "owner",
                "#sequence": "sequence",
            },
            "ExpressionAttributeValues": {
                ":committed": {"S": COMMITTED},
                ":pending": {"S": PENDING},
                ":balance": {"N": str(entry.balance_after)},
                ":sequence": {"N": str(entry.sequence)},
                ":owner": {"S": owner},
            },
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


def delete_committed(table_name: str, entry: LedgerEntry, owner: str) -> "TransactWriteItemTypeDef":
    """A TransactWriteItems item deleting the record `owner` committed with `entry` (so its key
    can be used again); it cancels the write unless that record is still there, committed."""
    return {
        "Delete": {
            "TableName": table_name,
            "Key": key(entry.user_id, entry.idempotency_key),
            "ConditionExpression": "#status = :committed AND #owner = :owner",
            "ExpressionAttributeNames": {"#status": "status", "#owner": "owner"},
            "ExpressionAttributeValues": {":committed": {"S": COMMITTED}, ":owner": {"S": owner}},
        }
    }


def put_reversal(table_name: str, entry: LedgerEntry, owner: str) -> "TransactWriteItemTypeDef":
    """A TransactWriteItems item recording the reversal `entry` (committed, by `owner`) under its
    reversed transaction's reversal_key; it cancels the write, returning the stored record, if
    that transaction already has one."""
    assert entry.reverses is not None
    return {
        "Put": {
            "TableName": table_name,
            "Item": {
                **key(entry.user_id, reversal_key(entry.reverses)),
                "transactionId": {"S": entry.entry_id},
                "reverses": {"S": entry.reverses},
                "type": {"S": entry.type.value},
                "amount": {"N": str(entry.amount)},
                "currency": {"S": entry.currency},
                "balanceAfter": {"N": str(entry.balance_after)},
                "sequence": {"N": str(entry.sequence)},
                "owner": {"S": owner},
                "createdAt": {"S": entry.created_at},
                "status": {"S": COMMITTED},
            },
            # A transaction is reversed at most once: invariant 12.
            "ConditionExpression": "attribute_not_exists(userId)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


def stored_reversal(item: dict[str, Any]) -> StoredReversal:
    """The committed reversal a reversal record holds, as its 201 answered it."""
    transaction = _committed_transaction(item)
    assert transaction is not None
    return StoredReversal(transaction, item["owner"]["S"])


def stored_transaction(item: dict[str, Any]) -> StoredTransaction:
    """What a record holds for a replay: its payload's fingerprint, and the transaction if
    committed (a hold's record is none)."""
    if "holdId" in item:
        return StoredTransaction(item["fingerprint"]["S"], None, is_hold=True)
    return StoredTransaction(item["fingerprint"]["S"], _committed_transaction(item))


def stored_transfer(item: dict[str, Any]) -> StoredTransfer:
    """What a record holds for a transfer's replay: its payload's fingerprint, and the transfer
    if it is a committed transfer's record."""
    committed = None
    if item["status"]["S"] == COMMITTED and "transferId" in item:
        committed = Transfer(
            transfer_id=item["transferId"]["S"],
            from_user_id=item["userId"]["S"],
            to_user_id=item["toUserId"]["S"],
            amount=Decimal(item["amount"]["N"]),
            currency=item["currency"]["S"],
            balance=Decimal(item["balanceAfter"]["N"]),
            created_at=item["createdAt"]["S"],
        )
    return StoredTransfer(item["fingerprint"]["S"], committed)


def is_committed_by(item: dict[str, Any], entry: LedgerEntry, owner: str) -> bool:
    """Whether the record `item` shows `owner` already committed `entry`."""
    return (
        item.get("status", {}).get("S") == COMMITTED
        and item.get("owner", {}).get("S") == owner
        and item.get("transactionId", {}).get("S") == entry.entry_id
    )


def _committed_transaction(item: dict[str, Any]) -> Transaction | None:
    if item["status"]["S"] != COMMITTED:
        return None
    return Transaction(
        transaction_id=item["transactionId"]["S"],
        user_id=item["userId"]["S"],
        type=TransactionType(item["type"]["S"]),
        amount=Decimal(item["amount"]["N"]),
        balance=Decimal(item["balanceAfter"]["N"]),
        currency=item["currency"]["S"],
        created_at=item["createdAt"]["S"],
        reverses=item["reverses"]["S"] if "reverses" in item else None,
    )


def _committed_entry(item: dict[str, Any]) -> LedgerEntry:
    """The ledger entry a committed record was committed with (same id, sequence, balance)."""
    return LedgerEntry(
        user_id=item["userId"]["S"],
        sequence=int(item["sequence"]["N"]),
        entry_id=item["transactionId"]["S"],
        type=TransactionType(item["type"]["S"]),
        amount=Decimal(item["amount"]["N"]),
        balance_after=Decimal(item["balanceAfter"]["N"]),
        currency=item["currency"]["S"],
        created_at=item["createdAt"]["S"],
        idempotency_key=item["idempotencyKey"]["S"],
    )


class TransactionsRepository:
    def __init__(self, client: "DynamoDBClient", table_name: str) -> None:
        self._client = client
        self._table = table_name

    def find_placement(self, user_id: str, idempotency_key: str) -> StoredPlacement | None:
        """The committed record under the key, read consistently, as a hold's replay reads it;
        None if there is none (or only an abandoned pending one)."""
        try:
            item = self._client.get_item(
                TableName=self._table, Key=key(user_id, idempotency_key), ConsistentRead=True
            ).get("Item")
        except ClientError as error:
            dynamodb.raise_if_transient(error)
            raise
        if item is None or item["status"]["S"] != COMMITTED:
            return None
        return stored_placement(item)

    def find_reversal(self, user_id: str, transaction_id: str) -> StoredReversal | None:
        """The committed reversal of the user's transaction, if any (a consistent read)."""
        item = self._client.get_item(
            TableName=self._table,
            Key=key(user_id, reversal_key(transaction_id)),
            ConsistentRead=True,
        ).get("Item")
        return None if item is None else stored_reversal(item)

    def delete_pending(self, user_id: str, idempotency_key: str, owner: str) -> LedgerEntry | None:
        """Delete the pending record `owner` wrote.

        Returns the ledger entry of the record instead if `owner` already committed it (only a
        revert may undo it); None when there was nothing of this owner's to delete.
        """
        item = self._delete_pending(user_id, idempotency_key, owner)
        if item and item["owner"]["S"] == owner and item["status"]["S"] == COMMITTED:
            return _committed_entry(item)
        return None

    def delete_pending_record(self, user_id: str, idempotency_key: str, owner: str) -> bool:
        """Delete the pending record `owner` wrote; False when there was none (never written,
        already deleted, another owner's, or committed: a committed record is never deleted)."""
        return self._delete_pending(user_id, idempotency_key, owner) is None

    def _delete_pending(
        self, user_id: str, idempotency_key: str, owner: str
    ) -> dict[str, Any] | None:
        """Delete `owner`'s pending record: None if deleted, else the record that stood in the
        way ({} when there was none)."""
        try:
            self._delete(user_id, idempotency_key, owner)
        except ClientError as error:
            if dynamodb.error_code(error) == "ConditionalCheckFailedException":
                # ReturnValuesOnConditionCheckFailure's item (a key botocore-stubs does not type)
                return cast("dict[str, Any] | None", error.response.get("Item")) or {}
            dynamodb.raise_if_transient(error)
            raise
        return None

    def _delete(self, user_id: str, idempotency_key: str, owner: str) -> None:
        self._client.delete_item(
            TableName=self._table,
            Key=key(user_id, idempotency_key),
            # Only this execution's uncommitted record: invariant 3's record is never lost.
            ConditionExpression="#status = :pending AND #owner = :owner",
            ExpressionAttributeNames={"#status": "status", "#owner": "owner"},
            ExpressionAttributeValues={":pending": {"S": PENDING}, ":owner": {"S": owner}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )


def repository(settings: Settings) -> TransactionsRepository:
    return TransactionsRepository(dynamodb.client(), settings.transactions_table_name)
