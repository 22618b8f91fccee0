"""The transactions_aggregate table: one row per user with the balance and the user's lock."""

from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from functions.domain.errors import LockLostError, UserBusyError
from functions.domain.lock_wait import LockView
from functions.domain.models import LedgerEntry, Lock
from functions.repositories import dynamodb, ledger, outbox
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
    def __init__(
        self,
        client: Any,
        table_name: str,
        transactions_table_name: str,
        ledger_table_name: str,
        outbox_table_name: str,
        outbox_ttl_seconds: int,
    ) -> None:
        self._client = client
        self._table = table_name
        self._transactions_table = transactions_table_name
        self._ledger_table = ledger_table_name
        self._outbox_table = outbox_table_name
        self._outbox_ttl = outbox_ttl_seconds

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
                    "lastSequence = if_not_exists(lastSequence, :none), "
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
                    ":none": {"N": "0"},
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
        return Lock(
            user_id,
            owner,
            Decimal(item["balance"]["N"]),
            int(item["leaseUntil"]["N"]),
            int(item["lastSequence"]["N"]),
        )

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
        return dynamodb.conditional_update(
            self._client,
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

    def release_lock(self, user_id: str, owner: str) -> bool:
        return dynamodb.conditional_update(
            self._client,
            TableName=self._table,
            Key={"userId": {"S": user_id}},
            UpdateExpression="REMOVE lockOwner, leaseUntil",
            # Owner token check: never free a lock someone else holds (invariant 5).
            ConditionExpression="lockOwner = :owner",
            ExpressionAttributeValues={":owner": {"S": owner}},
        )

    def commit(self, entry: LedgerEntry, owner: str, seen_balance: Decimal, now: int) -> None:
        """In one atomic write: set the balance and the user's last sequence, commit the pending
        record, append `entry` to the ledger and write its event to the outbox.

        Succeeds again, writing nothing, when this owner's commit already landed (a step retried
        after a Lambda service error), so a retry never turns a done commit into a failure and
        never appends twice.
        Raises: LockLostError if `owner` no longer holds a live lease or its record is gone.
        """
        try:
            self._client.transact_write_items(
                TransactItems=[
                    self._move_balance(entry, owner, seen_balance, now),
                    {
                        "Update": {
                            "TableName": self._transactions_table,
                            "Key": {
                                "userId": {"S": entry.user_id},
                                "idempotencyKey": {"S": entry.idempotency_key},
                            },
                            "UpdateExpression": (
                                "SET #status = :committed, balanceAfter = :balance, "
                                "#sequence = :sequence"
                            ),
                            # Only the record this execution wrote, once: invariant 3.
                            "ConditionExpression": "#status = :pending AND #owner = :owner",
                            "ExpressionAttributeNames": {
                                "#status": "status",
                                "#owner": "owner",
                                "#sequence": "sequence",
                            },
                            "ExpressionAttributeValues": {
                                ":committed": {"S": "COMMITTED"},
                                ":pending": {"S": "PENDING"},
                                ":balance": {"N": str(entry.balance_after)},
                                ":sequence": {"N": str(entry.sequence)},
                                ":owner": {"S": owner},
                            },
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                        }
                    },
                    ledger.put_entry(self._ledger_table, entry),
                    outbox.put_event(self._outbox_table, entry, now + self._outbox_ttl),
                ]
            )
        except ClientError as error:
            _, record, *_ = dynamodb.failed_conditions(error)
            if record is not None and _is_committed_by(record, entry, owner):
                return
            raise LockLostError("this execution no longer holds the user's lock") from error

    def revert(self, committed: LedgerEntry, reversal: LedgerEntry, owner: str, now: int) -> None:
        """Undo what `owner` committed, atomically: restore the balance, delete the record (so
        its key can be used again), and append `reversal` to the ledger with its event.

        Raises: LockLostError if `owner` no longer holds a live lease (the commit then stands).
        """
        try:
            self._client.transact_write_items(
                TransactItems=[
                    self._move_balance(reversal, owner, committed.balance_after, now),
                    {
                        "Delete": {
                            "TableName": self._transactions_table,
                            "Key": {
                                "userId": {"S": committed.user_id},
                                "idempotencyKey": {"S": committed.idempotency_key},
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
                    ledger.put_entry(self._ledger_table, reversal),
                    outbox.put_event(self._outbox_table, reversal, now + self._outbox_ttl),
                ]
            )
        except ClientError as error:
            dynamodb.failed_conditions(error)
            raise LockLostError("this execution no longer holds the user's lock") from error

    def _move_balance(
        self, entry: LedgerEntry, owner: str, seen_balance: Decimal, now: int
    ) -> dict[str, Any]:
        """The aggregate row's part of a write appending `entry`: its balance and sequence."""
        return {
            "Update": {
                "TableName": self._table,
                "Key": {"userId": {"S": entry.user_id}},
                "UpdateExpression": "SET balance = :balance, lastSequence = :sequence",
                # Owner token and live lease: invariant 5. The balance and the sequence are the
                # ones seen under this lock, so nothing can have moved them in between, and the
                # entry takes the next sequence, with no gap (invariant 7).
                "ConditionExpression": (
                    f"{LOCK_HELD} AND balance = :seen AND lastSequence = :seenSequence"
                ),
                "ExpressionAttributeValues": {
                    ":balance": {"N": str(entry.balance_after)},
                    ":sequence": {"N": str(entry.sequence)},
                    ":owner": {"S": owner},
                    ":now": {"N": str(now)},
                    ":seen": {"N": str(seen_balance)},
                    ":seenSequence": {"N": str(entry.sequence - 1)},
                },
            }
        }

    def find_balance(self, user_id: str) -> Decimal | None:
        response = self._client.get_item(
            TableName=self._table,
            Key={"userId": {"S": user_id}},
            ProjectionExpression="balance",
            ConsistentRead=True,
        )
        item = response.get("Item")
        return Decimal(item["balance"]["N"]) if item else None


def _is_committed_by(reason: dict[str, Any], entry: LedgerEntry, owner: str) -> bool:
    """Whether the record's cancellation reason shows `owner` already committed `entry`."""
    item = reason.get("Item", {})
    return (
        item.get("status", {}).get("S") == "COMMITTED"
        and item.get("owner", {}).get("S") == owner
        and item.get("transactionId", {}).get("S") == entry.entry_id
    )


def repository(settings: Settings) -> AggregatesRepository:
    return AggregatesRepository(
        dynamodb.client(),
        settings.aggregates_table_name,
        settings.transactions_table_name,
        settings.ledger_table_name,
        settings.outbox_table_name,
        settings.outbox_ttl_seconds,
    )
