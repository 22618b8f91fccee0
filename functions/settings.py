"""Deploy-time settings, read from the environment once per process."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

DEFAULTS = {
    "TRANSACTIONS_TABLE_NAME": "transactions",
    "AGGREGATES_TABLE_NAME": "transactions_aggregate",
    "DEFAULT_BALANCE": "100.00",
    "CURRENCY": "USD",
    # Longer than the state machine's TimeoutSeconds, so a live execution never outlives its lease.
    "LOCK_LEASE_SECONDS": "25",
    # How long after its execution started a request may wait for the lock inside AcquireLock.
    "LOCK_WAIT_SECONDS": "7",
}


@dataclass(frozen=True)
class Settings:
    transactions_table_name: str
    aggregates_table_name: str
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
            default_balance=Decimal(value("DEFAULT_BALANCE")),
            currency=value("CURRENCY"),
            lock_lease_seconds=int(value("LOCK_LEASE_SECONDS")),
            lock_wait_seconds=float(value("LOCK_WAIT_SECONDS")),
        )


@cache
def get_settings() -> Settings:
    return Settings.from_env()
