"""The events the wallet publishes: one per ledger entry (docs/events.md has their schema)."""

from typing import Any

import msgspec

from functions.domain.models import LedgerEntry

SOURCE = "wallet"
SCHEMA_VERSION = "1"
COMMITTED = "TransactionCommitted"
REVERTED = "TransactionReverted"


def detail_type(entry: LedgerEntry) -> str:
    return REVERTED if entry.reverses is not None else COMMITTED


def detail(entry: LedgerEntry) -> dict[str, Any]:
    """The event's `detail`: its eventId is the entry's id, the one consumers dedupe on."""
    body = entry.to_dict()
    event: dict[str, Any] = {
        "eventId": body["transactionId"],
        "schemaVersion": SCHEMA_VERSION,
        "userId": entry.user_id,
        "sequence": body["sequence"],
        "type": body["type"],
        "amount": body["amount"],
        "balanceAfter": body["balanceAfter"],
        "currency": body["currency"],
        "occurredAt": body["createdAt"],
        "idempotencyKey": body["idempotencyKey"],
    }
    if entry.reverses is not None:
        event["reverses"] = entry.reverses
    if "transferId" in body:
        event["transferId"] = body["transferId"]
        event["counterpartyUserId"] = body["counterpartyUserId"]
    if "holdId" in body:
        event["holdId"] = body["holdId"]
    return event


class OutboxEvent(msgspec.Struct, frozen=True):
    """An event as the outbox holds it, on its way to the bus; `detail` is its JSON text."""

    event_id: str
    detail_type: str
    detail: str
