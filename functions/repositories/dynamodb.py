"""The shared DynamoDB client and the mapping of its transient errors."""

from functools import cache
from typing import Any

import boto3
from botocore.exceptions import ClientError

from functions.domain.errors import StorageThrottledError

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
def client() -> Any:
    """One client per process, created on first use and reused across invocations."""
    return boto3.client("dynamodb")


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def raise_if_transient(error: ClientError) -> None:
    """Raises: StorageThrottledError if DynamoDB asked us to back off."""
    if error_code(error) in TRANSIENT_ERROR_CODES:
        raise StorageThrottledError(error_code(error)) from error
