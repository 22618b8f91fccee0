"""The shared DynamoDB client and the mapping of its transient errors."""

from functools import cache
from typing import TYPE_CHECKING, Any, cast

import boto3
from botocore.exceptions import ClientError

from functions.domain.errors import StorageThrottledError

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient

# Errors that mean "try again": the state machine retries StorageThrottledError.
TRANSIENT_ERROR_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TransactionConflictException",
        "InternalServerError",
    }
)


@cache
def client() -> "DynamoDBClient":
    """One client per process: each handler module builds it at import (Lambda's INIT, before the
    first event), and every invocation reuses it."""
    return boto3.client("dynamodb")


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


# Reasons for cancelling one item of a transaction that mean the same: try again.
TRANSIENT_CANCELLATION_CODES = frozenset(
    {"TransactionConflict", "ProvisionedThroughputExceeded", "ThrottlingError"}
)


def raise_if_transient(error: ClientError) -> None:
    """Raises: StorageThrottledError if DynamoDB asked us to back off."""
    if error_code(error) in TRANSIENT_ERROR_CODES:
        raise StorageThrottledError(error_code(error)) from error


def conditional_update(client: "DynamoDBClient", **request: Any) -> bool:
    """UpdateItem with a ConditionExpression: True if it wrote, False if the condition refused it.

    Raises: StorageThrottledError if DynamoDB asked us to back off; other ClientErrors as they are.
    """
    try:
        client.update_item(**request)
    except ClientError as error:
        if error_code(error) == "ConditionalCheckFailedException":
            return False
        raise_if_transient(error)
        raise
    return True


def failed_conditions(error: ClientError) -> list[dict[str, Any] | None]:
    """Per item of a cancelled TransactWriteItems: its reason if its condition failed, else None.

    Raises: StorageThrottledError if an item was cancelled by a conflict or throttling (every
    step is idempotent, so the state machine retries the whole write); the error itself if it is
    no cancellation for failed conditions.
    """
    if error_code(error) != "TransactionCanceledException":
        raise_if_transient(error)
        raise error
    # Plain dicts: botocore-stubs types a reason's Item as one {key, value} pair, where DynamoDB
    # sends the item's attribute map.
    reasons = cast(list[dict[str, Any]], error.response.get("CancellationReasons", []))
    # DynamoDB gives every reason a Code ("None" for an item that was not at fault).
    codes = cast(set[str], {reason.get("Code") for reason in reasons})
    if codes & TRANSIENT_CANCELLATION_CODES:
        raise StorageThrottledError(", ".join(sorted(codes - {"None"}))) from error
    if "ConditionalCheckFailed" not in codes:
        raise error
    return [r if r.get("Code") == "ConditionalCheckFailed" else None for r in reasons]


def user_ids(client: "DynamoDBClient", table_name: str) -> set[str]:
    """Every userId in a table keyed by userId (a consistent, paginated Scan of the keys)."""
    users: set[str] = set()
    kwargs: dict[str, Any] = {
        "TableName": table_name,
        "ConsistentRead": True,
        "ProjectionExpression": "userId",
    }
    while True:
        page = client.scan(**kwargs)
        users.update(item["userId"]["S"] for item in page["Items"])
        if "LastEvaluatedKey" not in page:
            return users
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
