"""Deploy-time settings, read from the environment once per process."""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal
from functools import cache

import msgspec

DEFAULTS = {
    "TRANSACTIONS_TABLE_NAME": "transactions",
    "AGGREGATES_TABLE_NAME": "transactions_aggregate",
    "LEDGER_TABLE_NAME": "ledger",
    "SUMMARIES_TABLE_NAME": "summaries",
    # The Secrets Manager secret (name or ARN) holding the key that signs history cursors.
    "CURSOR_KEY_SECRET_ID": "CursorKeySecret",
    "OUTBOX_TABLE_NAME": "outbox",
    "HOLDS_TABLE_NAME": "holds",
    # How long a hold is kept after its expiresAt (then DynamoDB's TTL deletes it): a capture or
    # void repeated within it gets its first answer, GET /holds finds it.
    "HOLD_RETENTION_SECONDS": "2592000",
    # Longer than a stream keeps its records (24 h), so an event is never deleted unread.
    "OUTBOX_TTL_SECONDS": "172800",
    "EVENT_BUS_NAME": "wallet",
    # PutEvents requests per batch before the refused events are left to the stream's retry.
    "PUT_EVENTS_ATTEMPTS": "3",
    "DEFAULT_BALANCE": "100.00",
    "CURRENCY": "USD",
    # Longer than the state machine's TimeoutSeconds, so a live execution never outlives its lease.
    "LOCK_LEASE_SECONDS": "25",
    # How long after its execution started a request may wait for the lock inside AcquireLock.
    "LOCK_WAIT_SECONDS": "7",
}


class Settings(msgspec.Struct, frozen=True):
    transactions_table_name: str
    aggregates_table_name: str
    ledger_table_name: str
    summaries_table_name: str
    cursor_key_secret_id: str
    outbox_table_name: str
    outbox_ttl_seconds: int
    holds_table_name: str
    hold_retention_seconds: int
    event_bus_name: str
    put_events_attempts: int
    default_balance: Decimal
    currency: str
    lock_lease_seconds: int
    lock_wait_seconds: float

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        def value(name: str) -> str:
            return env.get(name) or DEFAULTS[name]

        return cls(
            transactions_table_name=value("TRANSACTIONS_TABLE_NAME"),
            aggregates_table_name=value("AGGREGATES_TABLE_NAME"),
            ledger_table_name=value("LEDGER_TABLE_NAME"),
            summaries_table_name=value("SUMMARIES_TABLE_NAME"),
            cursor_key_secret_id=value("CURSOR_KEY_SECRET_ID"),
            outbox_table_name=value("OUTBOX_TABLE_NAME"),
            outbox_ttl_seconds=int(value("OUTBOX_TTL_SECONDS")),
            holds_table_name=value("HOLDS_TABLE_NAME"),
            hold_retention_seconds=int(value("HOLD_RETENTION_SECONDS")),
            event_bus_name=value("EVENT_BUS_NAME"),
            put_events_attempts=int(value("PUT_EVENTS_ATTEMPTS")),
            default_balance=Decimal(value("DEFAULT_BALANCE")),
            currency=value("CURRENCY"),
            lock_lease_seconds=int(value("LOCK_LEASE_SECONDS")),
            lock_wait_seconds=float(value("LOCK_WAIT_SECONDS")),
        )


@cache
def get_settings() -> Settings:
    return Settings.from_env()
