"""The transactions table: one item per (userId, idempotencyKey), pending until committed."""

from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from functions.domain.errors import LockLostError
from functions.domain.models import (
    LedgerEntry,
    PendingTransaction,
    StoredTransaction,
    Transaction,
    TransactionType,
)
from functions.repositories import dynamodb
from functions.repositories.aggregates import lock_held_check
from functions.settings import Settings

PENDING = "PENDING"
COMMITTED = "COMMITTED"


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
    def __init__(
        self, client: Any, table_name: str, aggregates_table_name: str, currency: str
    ) -> None:
        self._client = client
        self._table = table_name
        self._aggregates_table = aggregates_table_name
        self._currency = currency

    def put_pending(self, pending: PendingTransaction, now: int) -> StoredTransaction | None:
        """Write `pending` unless a committed record holds its key; return that record if so.

        Written only while `pending.owner` holds a live lease on the user's lock, checked in the
        same transaction. A pending record can only be left by an execution whose lease is gone,
        so it is overwritten rather than replayed.
        Raises: LockLostError if `pending.owner` no longer holds the lock.
        """
        request = pending.request
        try:
            self._client.transact_write_items(
                TransactItems=[
                    # Owner token and live lease: invariant 5.
                    lock_held_check(self._aggregates_table, request.user_id, pending.owner, now),
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {
                                "userId": {"S": request.user_id},
                                "idempotencyKey": {"S": request.idempotency_key},
                                "transactionId": {"S": pending.transaction_id},
                                "type": {"S": request.type.value},
                                "amount": {"N": str(request.amount)},
                                "currency": {"S": self._currency},
                                "fingerprint": {"S": request.fingerprint},
                                "status": {"S": PENDING},
                                "owner": {"S": pending.owner},
                                "createdAt": {"S": pending.created_at},
                            },
                            # At most one committed transaction per (userId, key): invariant 3.
                            "ConditionExpression": (
                                "attribute_not_exists(userId) OR #status = :pending"
                            ),
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": {":pending": {"S": PENDING}},
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                        }
                    },
                ]
            )
        except ClientError as error:
            lock, record = dynamodb.failed_conditions(error)
            if lock is not None:
                raise LockLostError("this execution no longer holds the user's lock") from error
            assert record is not None
            item = record["Item"]
            return StoredTransaction(item["fingerprint"]["S"], _committed_transaction(item))
        return None

    def delete_pending(self, user_id: str, key: str, owner: str) -> LedgerEntry | None:
        """Delete the pending record `owner` wrote.

        Returns the ledger entry of the record instead if `owner` already committed it (only a
        revert may undo it); None when there was nothing of this owner's to delete.
        """
        try:
            self._client.delete_item(
                TableName=self._table,
                Key={"userId": {"S": user_id}, "idempotencyKey": {"S": key}},
                # Only this execution's uncommitted record: invariant 3's record is never lost.
                ConditionExpression="#status = :pending AND #owner = :owner",
                ExpressionAttributeNames={"#status": "status", "#owner": "owner"},
                ExpressionAttributeValues={":pending": {"S": PENDING}, ":owner": {"S": owner}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if dynamodb.error_code(error) == "ConditionalCheckFailedException":
                item = error.response.get("Item")
                if item and item["owner"]["S"] == owner and item["status"]["S"] == COMMITTED:
                    return _committed_entry(item)
                return None
            dynamodb.raise_if_transient(error)
            raise
        return None


def repository(settings: Settings) -> TransactionsRepository:
    return TransactionsRepository(
        dynamodb.client(),
        settings.transactions_table_name,
        settings.aggregates_table_name,
        settings.currency,
    )
