"""Secrets Manager: the key that signs history cursors, read once per Lambda sandbox."""

from functools import cache
from typing import TYPE_CHECKING

import boto3

if TYPE_CHECKING:
    from types_boto3_secretsmanager import SecretsManagerClient


@cache
def client() -> "SecretsManagerClient":
    return boto3.client("secretsmanager")


@cache
def cursor_key(secret_id: str) -> bytes:
    """The key's bytes. Kept for the sandbox's life: a cursor must verify with the key that
    signed it, and one read per sandbox keeps GetSecretValue off the request path."""
    return client().get_secret_value(SecretId=secret_id)["SecretString"].encode("utf-8")
