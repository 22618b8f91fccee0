"""The user's lock: its owner token and lease, and the one place in line for the next owner
(domain/lock_wait.py), kept on the user's aggregate row.

A module of its own, beside aggregates.py which owns the row: the lock changes for other reasons
than the balance does (the lease, the line), and it shares the row so that one conditional write
can check the lock and move the balance together.
"""

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from functions.clock import epoch_millis, epoch_seconds, from_epoch_millis, from_epoch_seconds
from functions.domain.errors import UserBusyError
from functions.domain.lock_wait import LockView
from functions.domain.models import Lock
from functions.repositories import dynamodb
from functions.repositories.aggregates import holds_from_item, key
from functions.settings import Settings

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient


class LocksRepository:
    """The lock's operations on the row: conditional UpdateItems, and a consistent GetItem to
    poll. The row keeps the lease in whole epoch seconds and the line in epoch milliseconds
    (LockView compares in the same units)."""

    def __init__(self, client: "DynamoDBClient", table_name: str, default_balance: Decimal) -> None:
        self._client = client
        self._table = table_name
        self._default_balance = default_balance

    def take(self, user_id: str, owner: str, now: datetime, lease_until: datetime) -> Lock:
        """Lock the user's row for `owner`, creating it with the default balance if missing.

        Succeeds again for the same owner (a retried step) and over an expired lease. A free
        lock goes to the next in line while its claim runs (functions/domain/lock_wait.py);
        taking the lock frees the place in line.
        Raises: UserBusyError while another owner's lease runs, or another's claim to be next.
        """
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=key(user_id),
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
                    ":default": {"N": str(self._default_balance)},
                    ":none": {"N": "0"},
                    ":owner": {"S": owner},
                    ":leaseUntil": {"N": str(epoch_seconds(lease_until))},
                    ":now": {"N": str(epoch_seconds(now))},
                    ":nowMs": {"N": str(epoch_millis(now))},
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
            from_epoch_seconds(int(item["leaseUntil"]["N"])),
            int(item["lastSequence"]["N"]),
            holds_from_item(item),
        )

    def read(self, user_id: str) -> LockView | None:
        """The lock and the next in line, read consistently (a poll: 1 read unit, no write)."""
        try:
            response = self._client.get_item(
                TableName=self._table,
                Key=key(user_id),
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

        lease_until, since, until = number("leaseUntil"), number("nextSince"), number("nextUntil")
        return LockView(
            owner=text("lockOwner"),
            lease_until=None if lease_until is None else from_epoch_seconds(lease_until),
            next_owner=text("nextOwner"),
            next_since=None if since is None else from_epoch_millis(since),
            next_until=None if until is None else from_epoch_millis(until),
        )

    def claim_next(
        self, user_id: str, owner: str, since: datetime, until: datetime, now: datetime
    ) -> bool:
        """Become the next in line until `until`; False if another has the better claim (it
        started waiting earlier than `since`)."""
        return dynamodb.conditional_update(
            self._client,
            TableName=self._table,
            Key=key(user_id),
            UpdateExpression="SET nextOwner = :owner, nextSince = :since, nextUntil = :until",
            # Only on an existing row (never one without a balance), and only if the place
            # is free, lapsed, ours, or held by a request that started later.
            ConditionExpression=(
                "attribute_exists(balance) AND (attribute_not_exists(nextOwner) "
                "OR nextOwner = :owner OR nextUntil < :nowMs OR nextSince > :since)"
            ),
            ExpressionAttributeValues={
                ":owner": {"S": owner},
                ":since": {"N": str(epoch_millis(since))},
                ":until": {"N": str(epoch_millis(until))},
                ":nowMs": {"N": str(epoch_millis(now))},
            },
        )

    def release(self, user_id: str, owner: str) -> bool:
        return dynamodb.conditional_update(
            self._client,
            TableName=self._table,
            Key=key(user_id),
            UpdateExpression="REMOVE lockOwner, leaseUntil",
            # Owner token check: never free a lock someone else holds (invariant 5).
            ConditionExpression="lockOwner = :owner",
            ExpressionAttributeValues={":owner": {"S": owner}},
        )


def repository(settings: Settings) -> LocksRepository:
    return LocksRepository(
        dynamodb.client(), settings.aggregates_table_name, settings.default_balance
    )
