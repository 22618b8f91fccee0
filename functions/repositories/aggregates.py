"""The transactions_aggregate table: one row per user with the balance and the user's lock."""

from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from functions.domain.errors import LockLostError, UserBusyError
from functions.domain.lock_wait import LockView
from functions.domain.models import Lock, Transaction, TransactionType
from functions.repositories import dynamodb
from functions.settings import Settings

# Owner token and live lease (invariant 5): every write made under the lock is conditional on it.
LOCK_HELD = "lockOwner = :owner AND leaseUntil >= :now"


def lock_held_check(table_name: str, user_id: str, owner: str, now: int) -> dict[str, Any]:
    """A TransactWriteItems item that cancels the transaction unless `owner` holds the lock."""
    return {
        "ConditionCheck": {
            "TableName": table_name,
            "Key": {"userId": {"S": user_id}},
            "ConditionExpression": LOCK_HELD,
            "ExpressionAttributeValues": {":owner": {"S": owner}, ":now": {"N": str(now)}},
        }
    }


class AggregatesRepository:
    def __init__(self, client: Any, table_name: str, transactions_table_name: str) -> None:
        self._client = client
        self._table = table_name
        self._transactions_table = transactions_table_name

    def take_lock(
        self,
        user_id: str,
        owner: str,
        now: int,
        lease_until: int,
        default_balance: Decimal,
        now_ms: int | None = None,
    ) -> Lock:
        """Create the row with the default balance if missing, and lock it for `owner`.

        Succeeds again for the same owner (a retried step) and over an expired lease. A free
        lock goes to the next in line while its claim runs (functions/domain/lock_wait.py);
        taking the lock frees the place in line.
        Raises: UserBusyError while another owner's lease runs, or another's claim to be next.
        """
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key={"userId": {"S": user_id}},
                UpdateExpression=(
                    "SET balance = if_not_exists(balance, :default), "
                    "lockOwner = :owner, leaseUntil = :leaseUntil "
                    "REMOVE nextOwner, nextSince, nextUntil"
                ),
                # Already ours, or free (or its holder's lease ran out: invariant 4) and nobody
                # else is next in line: the line keeps a waiter from being starved.
                ConditionExpression=(
                    "lockOwner = :owner OR ("
                    "(attribute_not_exists(lockOwner) OR leaseUntil < :now) AND "
                    "(attribute_not_exists(nextOwner) OR nextOwner = :owner "
                    "OR nextUntil < :nowMs))"
                ),
                ExpressionAttributeValues={
                    ":default": {"N": str(default_balance)},
                    ":owner": {"S": owner},
                    ":leaseUntil": {"N": str(lease_until)},
                    ":now": {"N": str(now)},
                    ":nowMs": {"N": str(now * 1000 if now_ms is None else now_ms)},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if dynamodb.error_code(error) == "ConditionalCheckFailedException":
                raise UserBusyError("another transaction of this user is in progress") from error
            dynamodb.raise_if_transient(error)
            raise
        item = response["Attributes"]
        return Lock(user_id, owner, Decimal(item["balance"]["N"]), int(item["leaseUntil"]["N"]))

    def read_lock(self, user_id: str) -> LockView | None:
        """The lock and the next in line, read consistently (a poll: 1 read unit, no write)."""
        try:
            response = self._client.get_item(
                TableName=self._table,
                Key={"userId": {"S": user_id}},
                ProjectionExpression="lockOwner, leaseUntil, nextOwner, nextSince, nextUntil",
                ConsistentRead=True,
            )
        except ClientError as error:
            dynamodb.raise_if_transient(error)
            raise
        item = response.get("Item")
        if item is None:
            return None

        def text(name: str) -> str | None:
            return item[name]["S"] if name in item else None

        def number(name: str) -> int | None:
            return int(item[name]["N"]) if name in item else None

        return LockView(
            owner=text("lockOwner"),
            lease_until=number("leaseUntil"),
            next_owner=text("nextOwner"),
            next_since_ms=number("nextSince"),
            next_until_ms=number("nextUntil"),
        )

    def claim_next(
        self, user_id: str, owner: str, since_ms: int, until_ms: int, now_ms: int
    ) -> bool:
        """Become the next in line until `until_ms`; False if another has the better claim."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"userId": {"S": user_id}},
                UpdateExpression=("SET nextOwner = :owner, nextSince = :since, nextUntil = :until"),
                # Only on an existing row (never one without a balance), and only if the place
                # is free, lapsed, ours, or held by a request that started later.
                ConditionExpression=(
                    "attribute_exists(balance) AND (attribute_not_exists(nextOwner) "
                    "OR nextOwner = :owner OR nextUntil < :nowMs OR nextSince > :since)"
                ),
                ExpressionAttributeValues={
                    ":owner": {"S": owner},
                    ":since": {"N": str(since_ms)},
                    ":until": {"N": str(until_ms)},
                    ":nowMs": {"N": str(now_ms)},
                },
            )
        except ClientError as error:
            if dynamodb.error_code(error) == "ConditionalCheckFailedException":
                return False
            dynamodb.raise_if_transient(error)
            raise
        return True

    def release_lock(self, user_id: str, owner: str) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"userId": {"S": user_id}},
                UpdateExpression="REMOVE lockOwner, leaseUntil",
                # Owner token check: never free a lock someone else holds (invariant 5).
                ConditionExpression="lockOwner = :owner",
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        except ClientError as error:
            if dynamodb.error_code(error) == "ConditionalCheckFailedException":
                return False
            dynamodb.raise_if_transient(error)
            raise
        return True

    def commit(
        self, transaction: Transaction, key: str, owner: str, seen_balance: Decimal, now: int
    ) -> None:
        """Set the new balance and commit the pending record in one atomic write.

        Succeeds again, writing nothing, when this owner's commit already landed (a step retried
        after a Lambda service error), so a retry never turns a done commit into a failure.
        Raises: LockLostError if `owner` no longer holds a live lease or its record is gone.
        """
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": {"userId": {"S": transaction.user_id}},
                            "UpdateExpression": "SET balance = :balance",
                            # Owner token and live lease: invariant 5. The balance is the one
                            # seen under this lock, so nothing can have moved it in between.
                            "ConditionExpression": f"{LOCK_HELD} AND balance = :seen",
                            "ExpressionAttributeValues": {
                                ":balance": {"N": str(transaction.balance)},
                                ":owner": {"S": owner},
                                ":now": {"N": str(now)},
                                ":seen": {"N": str(seen_balance)},
                            },
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._transactions_table,
                            "Key": {
                                "userId": {"S": transaction.user_id},
                                "idempotencyKey": {"S": key},
                            },
                            "UpdateExpression": "SET #status = :committed, balanceAfter = :balance",
                            # Only the record this execution wrote, once: invariant 3.
                            "ConditionExpression": "#status = :pending AND #owner = :owner",
                            "ExpressionAttributeNames": {"#status": "status", "#owner": "owner"},
                            "ExpressionAttributeValues": {
                                ":committed": {"S": "COMMITTED"},
                                ":pending": {"S": "PENDING"},
                                ":balance": {"N": str(transaction.balance)},
                                ":owner": {"S": owner},
                            },
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                        }
                    },
                ]
            )
        except ClientError as error:
            _, record = dynamodb.failed_conditions(error)
            if record is not None and _is_committed_by(record, transaction, owner):
                return
            raise LockLostError("this execution no longer holds the user's lock") from error

    def revert(self, transaction: Transaction, key: str, owner: str, now: int) -> None:
        """Undo what `owner` committed: restore the balance and delete the record, atomically.

        Raises: LockLostError if `owner` no longer holds a live lease (the commit then stands).
        """
        signed = (
            transaction.amount
            if transaction.type is TransactionType.CREDIT
            else -transaction.amount
        )
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": {"userId": {"S": transaction.user_id}},
                            "UpdateExpression": "SET balance = balance - :signed",
                            # Owner token and live lease: invariant 5.
                            "ConditionExpression": LOCK_HELD,
                            "ExpressionAttributeValues": {
                                ":signed": {"N": str(signed)},
                                ":owner": {"S": owner},
                                ":now": {"N": str(now)},
                            },
                        }
                    },
                    {
                        "Delete": {
                            "TableName": self._transactions_table,
                            "Key": {
                                "userId": {"S": transaction.user_id},
                                "idempotencyKey": {"S": key},
                            },
                            # The very record this owner committed, and only while committed.
                            "ConditionExpression": "#status = :committed AND #owner = :owner",
                            "ExpressionAttributeNames": {"#status": "status", "#owner": "owner"},
                            "ExpressionAttributeValues": {
                                ":committed": {"S": "COMMITTED"},
                                ":owner": {"S": owner},
                            },
                        }
                    },
                ]
            )
        except ClientError as error:
            dynamodb.failed_conditions(error)
            raise LockLostError("this execution no longer holds the user's lock") from error

    def find_balance(self, user_id: str) -> Decimal | None:
        response = self._client.get_item(
            TableName=self._table,
            Key={"userId": {"S": user_id}},
            ProjectionExpression="balance",
            ConsistentRead=True,
        )
        item = response.get("Item")
        return Decimal(item["balance"]["N"]) if item else None


def _is_committed_by(reason: dict[str, Any], transaction: Transaction, owner: str) -> bool:
    """Whether the record's cancellation reason shows `owner` already committed `transaction`."""
    item = reason.get("Item", {})
    return (
        item.get("status", {}).get("S") == "COMMITTED"
        and item.get("owner", {}).get("S") == owner
        and item.get("transactionId", {}).get("S") == transaction.transaction_id
    )


def repository(settings: Settings) -> AggregatesRepository:
    return AggregatesRepository(
        dynamodb.client(), settings.aggregates_table_name, settings.transactions_table_name
    )
