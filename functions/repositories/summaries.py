"""The summaries table: per user, one item per period's totals and one progress item.

Keyed (userId, bucket): a period's bucket is "hour#2026-12-01T08:00:00Z" or
"day#2026-12-01T00:00:00Z", so a range of periods is one Query in time order; the progress item
("progress") holds the last sequence applied. An entry is applied by one TransactWriteItems that
moves the progress from sequence - 1 to sequence and adds the entry to its hour and its day: a
redelivered entry fails the condition and changes nothing.
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

PROGRESS = "progress"
# A rebuild's writes per TransactWriteItems (its limit is 100 items; one is the progress check).
_REBUILD_CHUNK = 99


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


class SummariesRepository:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def apply(self, entry: LedgerEntry) -> bool:
        """Count `entry` in its hour and its day and make it the last applied, atomically;
        False (nothing written) if it was applied before.

        Raises: ProjectionGapError if the entry before it has not been applied (the caller stops
        there, so entries are applied in sequence order); StorageThrottledError to retry.
        """
        is_credit = entry.type is TransactionType.CREDIT
        moment = entry_time(entry)
        buckets: list[TransactWriteItemTypeDef] = [
            {
                "Update": {
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
            }
            for period in Period
        ]
        # Exactly once (invariant 9): the entry is applied only right after the one before it,
        # in the same write as its totals; a redelivery finds the progress already past it.
        previous = (
            "attribute_not_exists(lastSequence)"
            if entry.sequence == 1
            else "lastSequence = :previous"
        )
        progress: TransactWriteItemTypeDef = {
            "Update": {
                "TableName": self._table,
                "Key": {"userId": {"S": entry.user_id}, "bucket": {"S": PROGRESS}},
                "UpdateExpression": "SET lastSequence = :sequence",
                "ConditionExpression": previous,
                "ExpressionAttributeValues": {
                    ":sequence": {"N": str(entry.sequence)},
                    **({":previous": {"N": str(entry.sequence - 1)}} if entry.sequence > 1 else {}),
                },
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }
        try:
            self._client.transact_write_items(TransactItems=[progress, *buckets])
        except ClientError as error:
            reason = dynamodb.failed_conditions(error)[0]
            if reason is None:
                raise
            applied = int(reason.get("Item", {}).get("lastSequence", {}).get("N", "0"))
            if applied >= entry.sequence:
                return False
            raise ProjectionGapError(
                f"entry {entry.sequence} of a user arrived after entry {applied}"
            ) from error
        return True

    def applied_sequence(self, user_id: str) -> int:
        item = self._client.get_item(
            TableName=self._table,
            Key={"userId": {"S": user_id}, "bucket": {"S": PROGRESS}},
            ConsistentRead=True,
        ).get("Item")
        return int(item["lastSequence"]["N"]) if item else 0

    def summaries(
        self, user_id: str, period: Period, first: datetime, last: datetime
    ) -> list[Summary]:
        """The periods starting from `first` to `last`, both included, oldest first."""
        items = self._query(
            KeyConditionExpression="userId = :user AND bucket BETWEEN :first AND :last",
            ExpressionAttributeValues={
                ":user": {"S": user_id},
                ":first": {"S": bucket_key(period, first)},
                ":last": {"S": bucket_key(period, last)},
            },
        )
        return [_summary_from_item(item) for item in items]

    def state_of(self, user_id: str) -> ProjectedState:
        """Everything the projection holds for the user."""
        items = self._query(
            KeyConditionExpression="userId = :user",
            ExpressionAttributeValues={":user": {"S": user_id}},
        )
        last = 0
        summaries = {}
        for item in items:
            if item["bucket"]["S"] == PROGRESS:
                last = int(item["lastSequence"]["N"])
            else:
                summary = _summary_from_item(item)
                summaries[(summary.period, summary.start)] = summary
        return ProjectedState(last, summaries)

    def user_ids(self) -> set[str]:
        return dynamodb.user_ids(self._client, self._table)

    def replace(self, user_id: str, expected: ProjectedState, found: ProjectedState) -> bool:
        """Make the user's projection `expected`, if it is still `found`; False if the consumer
        moved it meanwhile (nothing of this chunk written: read again and retry).

        Only what differs is written, in chunks; each chunk checks the progress is still what was
        found, and the progress moves last, so an interrupted rebuild is found again and redone.
        """
        writes: list[TransactWriteItemTypeDef] = []
        for key, summary in expected.summaries.items():
            if found.summaries.get(key) != summary:
                writes.append({"Put": {"TableName": self._table,
                                       "Item": _summary_item(user_id, summary)}})  # fmt: skip
        for key in found.summaries.keys() - expected.summaries.keys():
            bucket = {"userId": {"S": user_id}, "bucket": {"S": bucket_key(*key)}}
            writes.append({"Delete": {"TableName": self._table, "Key": bucket}})
        if not writes and expected.last_sequence == found.last_sequence:
            return True
        progress_key = {"userId": {"S": user_id}, "bucket": {"S": PROGRESS}}
        # The rebuild writes only while the consumer has not moved the progress on since it read.
        unchanged: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(lastSequence)"}
            if found.last_sequence == 0
            else {
                "ConditionExpression": "lastSequence = :found",
                "ExpressionAttributeValues": {":found": {"N": str(found.last_sequence)}},
            }
        )
        check = {"ConditionCheck": {"TableName": self._table, "Key": progress_key, **unchanged}}
        progress = (
            {"Put": {"TableName": self._table,
                     "Item": {**progress_key, "lastSequence": {"N": str(expected.last_sequence)}},
                     **unchanged}}
            if expected.last_sequence
            else {"Delete": {"TableName": self._table, "Key": progress_key, **unchanged}}
        )  # fmt: skip
        chunks = [writes[i : i + _REBUILD_CHUNK] for i in range(0, len(writes), _REBUILD_CHUNK)]
        for number, chunk in enumerate(chunks or [[]]):
            is_last = number == max(len(chunks), 1) - 1
            # A cast: mypy cannot check a TypedDict spread from `unchanged`, a plain dict.
            last = cast("TransactWriteItemTypeDef", progress if is_last else check)
            try:
                self._client.transact_write_items(TransactItems=[*chunk, last])
            except ClientError as error:
                if dynamodb.failed_conditions(error)[-1] is None:
                    raise
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
