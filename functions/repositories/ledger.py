"""The ledger table: one item per committed entry, keyed by (userId, sequence)."""

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from functions.domain.models import LedgerEntry, TransactionType
from functions.repositories import dynamodb
from functions.settings import Settings

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient
    from types_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

# find_entry's pages, in entries read (a page also stops at 1 MB).
_FIRST_SEARCH_PAGE = 25
_LAST_SEARCH_PAGE = 1000


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
    if entry.transfer_id is not None and entry.counterparty_user_id is not None:
        item["transferId"] = {"S": entry.transfer_id}
        item["counterpartyUserId"] = {"S": entry.counterparty_user_id}
    if entry.hold_id is not None:
        item["holdId"] = {"S": entry.hold_id}
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
        transfer_id=item["transferId"]["S"] if "transferId" in item else None,
        counterparty_user_id=(
            item["counterpartyUserId"]["S"] if "counterpartyUserId" in item else None
        ),
        hold_id=item["holdId"]["S"] if "holdId" in item else None,
    )


def put_entry(table_name: str, entry: LedgerEntry) -> "TransactWriteItemTypeDef":
    """A TransactWriteItems item appending `entry`; it cancels the write if the user's sequence
    number is taken."""
    return {
        "Put": {
            "TableName": table_name,
            "Item": entry_item(entry),
            "ConditionExpression": "attribute_not_exists(#sequence)",
            "ExpressionAttributeNames": {"#sequence": "sequence"},
        }
    }


class LedgerRepository:
    """Reads of the ledger, all strongly consistent: an entry is visible once its commit is."""

    def __init__(self, client: "DynamoDBClient", table_name: str) -> None:
        self._client = client
        self._table = table_name

    def newest(
        self, user_id: str, limit: int, before_sequence: int | None = None
    ) -> tuple[list[LedgerEntry], bool]:
        """Up to `limit` of the user's entries, newest first, below `before_sequence` if given;
        and whether older ones exist."""
        request: dict[str, Any] = {
            "KeyConditionExpression": "userId = :user",
            "ExpressionAttributeValues": {":user": {"S": user_id}},
        }
        if before_sequence is not None:
            request["KeyConditionExpression"] += " AND #sequence < :before"
            request["ExpressionAttributeValues"][":before"] = {"N": str(before_sequence)}
            request["ExpressionAttributeNames"] = {"#sequence": "sequence"}  # a reserved word
        # One more than asked for tells whether this is the last page, with no second request.
        items = self._query(ScanIndexForward=False, wanted=limit + 1, **request)
        entries = [entry_from_item(item) for item in items]
        return entries[:limit], len(entries) > limit

    def entries_of(self, user_id: str) -> list[LedgerEntry]:
        """Every entry of the user, oldest first."""
        items = self._query(
            KeyConditionExpression="userId = :user",
            ExpressionAttributeValues={":user": {"S": user_id}},
        )
        return [entry_from_item(item) for item in items]

    def find_entry(
        self, user_id: str, entry_id: str
    ) -> tuple[LedgerEntry | None, LedgerEntry | None]:
        """The user's entry `entry_id` and the entry reversing it, either None if absent.

        The ledger is keyed by sequence, so this reads the user's entries newest first (a
        filtered, consistent Query, in pages that double) and stops at the entry: a reversing
        entry is always newer than the one it reverses. Its read units grow with the entry's age,
        not with the ledger, and the usual reversal (of a recent entry) reads one small page.
        """
        request: dict[str, Any] = {
            "TableName": self._table,
            "ConsistentRead": True,
            "ScanIndexForward": False,
            "KeyConditionExpression": "userId = :user",
            "FilterExpression": "entryId = :entry OR reverses = :entry",
            "ExpressionAttributeValues": {":user": {"S": user_id}, ":entry": {"S": entry_id}},
            "Limit": _FIRST_SEARCH_PAGE,
        }
        reversing = None
        while True:
            page = self._client.query(**request)
            for entry in map(entry_from_item, page["Items"]):
                if entry.entry_id == entry_id:
                    return entry, reversing
                reversing = reversing or entry
            if "LastEvaluatedKey" not in page:
                return None, reversing
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            request["Limit"] = min(request["Limit"] * 2, _LAST_SEARCH_PAGE)

    def user_ids(self) -> set[str]:
        """Every user with at least one entry (a consistent Scan of the keys)."""
        return dynamodb.user_ids(self._client, self._table)

    def _query(self, wanted: int | None = None, **request: Any) -> list[dict[str, Any]]:
        """The items of a consistent Query, page after page (a page stops at 1 MB), until
        `wanted` items are read or there are no more."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self._table, "ConsistentRead": True, **request}
        while True:
            if wanted is not None:
                kwargs["Limit"] = wanted - len(items)
            page = self._client.query(**kwargs)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page or (wanted is not None and len(items) >= wanted):
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def repository(settings: Settings) -> LedgerRepository:
    return LedgerRepository(dynamodb.client(), settings.ledger_table_name)
