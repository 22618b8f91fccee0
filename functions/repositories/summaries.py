"""The summaries table: per user, one item per period's totals.

Keyed (userId, bucket): a period's bucket is "hour#2026-12-01T08:00:00Z" or
"day#2026-12-01T00:00:00Z", so a range of periods is one Query in time order. Every item carries
the last sequence it counts (lastSequence), and the user's days say how far the projection is:
the highest of them is the last entry applied. An entry is applied by one read of the newest
days (its predecessor applied?) and one TransactWriteItems of 2 Updates, its hour and its day,
the day conditioned on not having counted it: a redelivered entry changes nothing.

A table written by the earlier layout also holds one "progress" item per user. It is left as it
is: nothing reads it (its days already carry their lastSequence, so the projection goes on from
them), and the rebuild neither reports nor writes it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from functions.domain.errors import ProjectionGapError
from functions.domain.models import LedgerEntry, TransactionType
from functions.domain.summaries import (
    Period,
    ProjectedState,
    Summary,
    entry_time,
    format_instant,
)
from functions.repositories import dynamodb
from functions.settings import Settings

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient
    from types_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

_PERIODS = {period.value for period in Period}
# The newest day items read to find the last applied sequence: two would do (see applied_sequence),
# and a few cost the same read unit.
_NEWEST_DAYS = 3
# A rebuild's writes per TransactWriteItems (its limit is 100 items).
_REBUILD_CHUNK = 100


def bucket_key(period: Period, start: datetime) -> str:
    return f"{period.value}#{format_instant(start)}"


def _summary_item(user_id: str, summary: Summary) -> dict[str, Any]:
    return {
        "userId": {"S": user_id},
        "bucket": {"S": bucket_key(summary.period, summary.start)},
        "credits": {"N": str(summary.credits)},
        "debits": {"N": str(summary.debits)},
        "entryCount": {"N": str(summary.count)},
        "closingBalance": {"N": str(summary.closing_balance)},
        "lastSequence": {"N": str(summary.last_sequence)},
    }


def _summary_from_item(item: dict[str, Any]) -> Summary:
    period, start = item["bucket"]["S"].split("#", 1)
    return Summary(
        period=Period(period),
        start=datetime.fromisoformat(start.replace("Z", "+00:00")),
        credits=Decimal(item["credits"]["N"]),
        debits=Decimal(item["debits"]["N"]),
        count=int(item["entryCount"]["N"]),
        closing_balance=Decimal(item["closingBalance"]["N"]),
        last_sequence=int(item["lastSequence"]["N"]),
    )


def _as_found(summary: Summary | None) -> dict[str, Any]:
    """The condition that an item is still as the rebuild read it: the consumer raises an item's
    lastSequence with every entry it counts there."""
    if summary is None:
        return {"ConditionExpression": "attribute_not_exists(lastSequence)"}
    return {
        "ConditionExpression": "lastSequence = :found",
        "ExpressionAttributeValues": {":found": {"N": str(summary.last_sequence)}},
    }


class SummariesRepository:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def apply(self, entry: LedgerEntry) -> bool:
        """Count `entry` in its hour and its day, atomically, once and in sequence order; False
        (nothing written) if it was applied before.

        In order: a consistent read of the user's newest days shows the entry before it applied
        (the highest lastSequence they carry), and an applied entry stays applied. Once: the
        write is conditioned on the entry's own day not having counted it (applying it there
        set the day's lastSequence to it, and later entries only raise it), so a redelivery, or
        another consumer that applied it between the read and the write, changes nothing.

        Raises: ProjectionGapError if the entry before it has not been applied (the caller stops
        there, so entries are applied in sequence order); StorageThrottledError to retry.
        """
        if entry.sequence > 1:  # nothing comes before the first entry
            applied = self.applied_sequence(entry.user_id)
            if applied >= entry.sequence:
                return False
            if applied < entry.sequence - 1:
                raise ProjectionGapError(
                    f"entry {entry.sequence} of a user arrived after entry {applied}"
                )
        is_credit = entry.type is TransactionType.CREDIT
        moment = entry_time(entry)
        items: list[TransactWriteItemTypeDef] = []
        for period in Period:
            update: dict[str, Any] = {
                "TableName": self._table,
                "Key": {
                    "userId": {"S": entry.user_id},
                    "bucket": {"S": bucket_key(period, period.start_of(moment))},
                },
                "UpdateExpression": (
                    "ADD credits :credit, debits :debit, entryCount :one "
                    "SET closingBalance = :balance, lastSequence = :sequence"
                ),
                "ExpressionAttributeValues": {
                    ":credit": {"N": str(entry.amount if is_credit else 0)},
                    ":debit": {"N": str(0 if is_credit else entry.amount)},
                    ":one": {"N": "1"},
                    ":balance": {"N": str(entry.balance_after)},
                    ":sequence": {"N": str(entry.sequence)},
                },
            }
            if period is Period.DAY:
                # Exactly once (invariant 9): the day has not counted the entry yet; the hour
                # moves with it in the same transaction.
                update["ConditionExpression"] = (
                    "attribute_not_exists(lastSequence) OR lastSequence < :sequence"
                )
            items.append(cast("TransactWriteItemTypeDef", {"Update": update}))
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as error:
            dynamodb.failed_conditions(error)  # raises unless the day's condition failed
            return False
        return True

    def applied_sequence(self, user_id: str) -> int:
        """The last sequence the projection applied for the user (0 for a user it has not seen):
        the highest lastSequence of the newest days.

        Entries are dated by the sandbox that committed them, so near midnight two sandboxes'
        clocks may put an entry on the day before the one it follows; the day holding the last
        applied sequence is then the newest but one, never older. One consistent Query of a few
        small items: one read unit.
        """
        items = self._client.query(
            TableName=self._table,
            KeyConditionExpression="userId = :user AND begins_with(#bucket, :day)",
            ExpressionAttributeValues={":user": {"S": user_id}, ":day": {"S": f"{Period.DAY}#"}},
            ExpressionAttributeNames={"#bucket": "bucket"},  # a reserved word
            ProjectionExpression="lastSequence",
            ScanIndexForward=False,
            Limit=_NEWEST_DAYS,
            ConsistentRead=True,
        )["Items"]
        return max((int(item["lastSequence"]["N"]) for item in items), default=0)

    def summaries(
        self, user_id: str, period: Period, first: datetime, last: datetime
    ) -> list[Summary]:
        """The periods starting from `first` to `last`, both included, oldest first."""
        items = self._query(
            KeyConditionExpression="userId = :user AND #bucket BETWEEN :first AND :last",
            ExpressionAttributeNames={"#bucket": "bucket"},  # a reserved word
            ExpressionAttributeValues={
                ":user": {"S": user_id},
                ":first": {"S": bucket_key(period, first)},
                ":last": {"S": bucket_key(period, last)},
            },
        )
        return [_summary_from_item(item) for item in items]

    def state_of(self, user_id: str) -> ProjectedState:
        """Everything the projection holds for the user; its last sequence is its days' highest."""
        items = self._query(
            KeyConditionExpression="userId = :user",
            ExpressionAttributeValues={":user": {"S": user_id}},
        )
        summaries = {}
        for item in items:
            if item["bucket"]["S"].split("#", 1)[0] in _PERIODS:  # not an earlier layout's item
                summary = _summary_from_item(item)
                summaries[(summary.period, summary.start)] = summary
        days = [s.last_sequence for (period, _), s in summaries.items() if period is Period.DAY]
        return ProjectedState(max(days, default=0), summaries)

    def user_ids(self) -> set[str]:
        return dynamodb.user_ids(self._client, self._table)

    def replace(self, user_id: str, expected: ProjectedState, found: ProjectedState) -> bool:
        """Make the user's projection `expected`, if it is still `found`; False if the consumer
        moved it meanwhile (nothing of that chunk written: read again and retry).

        Only what differs is written, in chunks, each item conditioned on being as found (the
        consumer moves every item it writes to a higher lastSequence). The days go last, oldest
        sequence first, so a rebuild cut short claims no more than it wrote; run again, it
        finds what is left.
        """
        writes: list[tuple[int, TransactWriteItemTypeDef]] = []
        for key, summary in expected.summaries.items():
            if found.summaries.get(key) != summary:
                put = {"TableName": self._table, "Item": _summary_item(user_id, summary),
                       **_as_found(found.summaries.get(key))}  # fmt: skip
                order = summary.last_sequence if key[0] is Period.DAY else 0
                writes.append((order, cast("TransactWriteItemTypeDef", {"Put": put})))
        for key in found.summaries.keys() - expected.summaries.keys():
            delete = {"TableName": self._table,
                      "Key": {"userId": {"S": user_id}, "bucket": {"S": bucket_key(*key)}},
                      **_as_found(found.summaries[key])}  # fmt: skip
            writes.append((0, cast("TransactWriteItemTypeDef", {"Delete": delete})))
        ordered = [write for _, write in sorted(writes, key=lambda pair: pair[0])]
        for start in range(0, len(ordered), _REBUILD_CHUNK):
            try:
                self._client.transact_write_items(
                    TransactItems=ordered[start : start + _REBUILD_CHUNK]
                )
            except ClientError as error:
                dynamodb.failed_conditions(error)
                return False
        return True

    def _query(self, **request: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self._table, "ConsistentRead": True, **request}
        while True:
            page = self._client.query(**kwargs)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def repository(settings: Settings) -> SummariesRepository:
    return SummariesRepository(dynamodb.client(), settings.summaries_table_name)
