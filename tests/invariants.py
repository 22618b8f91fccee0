"""The contract's invariants, checked from the tables alone."""

import json
import time
from collections import Counter, defaultdict
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema

from functions.domain import events
from functions.domain.transfers import credit_entry_id
from functions.repositories.ledger import entry_from_item
from functions.settings import get_settings

if TYPE_CHECKING:
    from types_boto3_dynamodbstreams.type_defs import RecordTypeDef

EVENT_SCHEMA = Path(__file__).resolve().parent.parent / "docs" / "events.schema.json"


def scan(client: Any, table: str) -> list[dict[str, Any]]:
    """Every item of `table`, read consistently, page by page."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def stream_records(client: Any, table: str) -> "list[RecordTypeDef]":
    """Every record `table`'s stream still holds (from its one shard), oldest first."""
    import boto3

    streams = boto3.client("dynamodbstreams", region_name=client.meta.region_name)
    arn = client.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    [shard] = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    return list(streams.get_records(ShardIterator=iterator)["Records"])


def violations(
    client: Any,
    *,
    allow_held_locks: bool = False,
    allow_pending: bool = False,
    allow_expired_locks: bool = False,
    now_ms: int | None = None,
) -> list[str]:
    """Every broken invariant, as readable lines; an empty list when all hold.

    1 balance = default + committed credits - committed debits (a hold's capture included);
    2 never below zero;
    3 one committed transaction per (userId, key) (the table key makes it structural, so a
    duplicate transactionId is what is checked); 4 no lock held and no pending record left;
    7 the ledger, 10 a transfer's two entries both or neither and 12 a transaction reversed at
    most once (see ledger_violations); 11 and 12, available and the holds (see hold_violations).
    allow_*: a lock or pending record left to the lease (by a crash, or a broken compensation);
    allow_expired_locks only a lock whose lease has run out (free, by invariant 4), for a caller
    that has checked who left it (the workload's settle). now_ms: the instant holds are judged
    at (epoch milliseconds; now if None), for a test on a frozen clock.
    """
    settings = get_settings()
    found: list[str] = []
    expected: dict[str, Decimal] = defaultdict(lambda: settings.default_balance)
    transaction_ids: set[str] = set()
    for item in scan(client, settings.transactions_table_name):
        user, key = item["userId"]["S"], item["idempotencyKey"]["S"]
        if item["status"]["S"] != "COMMITTED":
            if not allow_pending:
                found.append(f"pending record left for user {user!r} key {key!r}")
            continue
        if "holdId" in item:
            continue  # the key placed a hold: no money moved (its capture is counted below)
        if item["transactionId"]["S"] in transaction_ids:
            found.append(f"transactionId {item['transactionId']['S']} committed twice")
        transaction_ids.add(item["transactionId"]["S"])
        amount = Decimal(item["amount"]["N"])
        expected[user] += amount if item["type"]["S"] == "credit" else -amount
        if "transferId" in item:
            # A transfer's record is the source's debit; its credit is the destination's entry.
            expected[item["toUserId"]["S"]] += amount
            transaction_ids.add(credit_entry_id(item["transferId"]["S"]))
    # A captured hold moved its capturedAmount once, by the ledger entry it names.
    holds = scan(client, settings.holds_table_name)
    for item in holds:
        if item["status"]["S"] == "CAPTURED":
            expected[item["userId"]["S"]] -= Decimal(item["capturedAmount"]["N"])
            transaction_ids.add(item["transactionId"]["S"])
    aggregates = {i["userId"]["S"]: i for i in scan(client, settings.aggregates_table_name)}
    found += hold_violations(client, aggregates, holds, now_ms)
    for user in set(expected) | set(aggregates):
        row = aggregates.get(user)
        balance = Decimal(row["balance"]["N"]) if row else settings.default_balance
        if balance != expected[user]:
            found.append(
                f"user {user!r}: balance {balance} but transactions add up to {expected[user]}"
            )
        if balance < 0:
            found.append(f"user {user!r}: negative balance {balance}")
        expired = row is not None and int(row.get("leaseUntil", {}).get("N", "0")) < time.time()
        if (
            row
            and "lockOwner" in row
            and not allow_held_locks
            and not (allow_expired_locks and expired)
        ):
            found.append(f"user {user!r}: lock still held by {row['lockOwner']['S']}")
    found += ledger_violations(client, aggregates, transaction_ids)
    return found


def hold_violations(
    client: Any,
    aggregates: dict[str, dict[str, Any]],
    holds: list[dict[str, Any]],
    now_ms: int | None = None,
) -> list[str]:
    """Invariants 11 and 12, at `now_ms` (epoch milliseconds; now if None).

    11: available = balance - the pending holds not expired at now >= 0, where the pending holds
    are the row's map, and the map agrees with the holds table (a pending, unexpired hold is on
    its user's row with its amount and expiry, and nothing else unexpired is).
    12: a hold is captured or voided at most once, never both: its capture is exactly one debit
    entry naming it (none for a voided or pending hold), of its capturedAmount, which is at most
    its amount.
    """
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    found: list[str] = []
    captures: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in scan(client, get_settings().ledger_table_name):
        if "holdId" in item:
            captures[item["holdId"]["S"]].append(item)
    on_rows = {
        (user, hold_id): (Decimal(value["L"][0]["N"]), int(value["L"][1]["N"]))
        for user, row in aggregates.items()
        for hold_id, value in row.get("holds", {}).get("M", {}).items()
    }
    stored = {(i["userId"]["S"], i["holdId"]["S"]): i for i in holds}
    for (user, hold_id), item in stored.items():
        status, amount = item["status"]["S"], Decimal(item["amount"]["N"])
        expires_ms = int(item["expiresAt"]["N"])
        entries = captures.get(hold_id, [])
        if status == "CAPTURED":
            captured = Decimal(item["capturedAmount"]["N"])
            if captured > amount:
                found.append(f"hold {hold_id}: captured {captured} above its amount {amount}")
            if [(i["type"]["S"], Decimal(i["amount"]["N"]), i["userId"]["S"]) for i in entries] != [
                ("debit", captured, user)
            ]:
                found.append(f"hold {hold_id}: captured {captured} but its entries are {entries}")
        elif entries:
            found.append(f"hold {hold_id} is {status} but has {len(entries)} capture entries")
        counts = status == "PENDING" and expires_ms > now_ms
        on_row = on_rows.get((user, hold_id))
        if counts and on_row != (amount, expires_ms):
            found.append(f"user {user!r}: pending hold {hold_id} is {on_row} on the row")
        if not counts and on_row is not None and on_row[1] > now_ms:
            found.append(f"user {user!r}: hold {hold_id} ({status}) still counts on the row")
    for (user, hold_id), (_, expires_ms) in on_rows.items():
        if (user, hold_id) not in stored and expires_ms > now_ms:
            found.append(f"user {user!r}: the row holds {hold_id}, which is no stored hold")
    for hold_id in set(captures) - {hold_id for _, hold_id in stored}:
        found.append(f"capture entries of hold {hold_id}, which is no stored hold")
    for user, row in aggregates.items():
        held = sum(
            (amount for (u, _), (amount, expires_ms) in on_rows.items()
             if u == user and expires_ms > now_ms),
            Decimal(0),
        )  # fmt: skip
        available = Decimal(row["balance"]["N"]) - held
        if available < 0:
            found.append(f"user {user!r}: available {available} below zero")
    return found


def ledger_violations(
    client: Any, aggregates: dict[str, dict[str, Any]], committed_ids: set[str]
) -> list[str]:
    """Invariant 7: each user's entries have sequences 1..N with no gap, each balanceAfter is the
    previous one (the default for the first) plus or minus its amount, the last is the balance
    and N is the row's lastSequence. And the ledger agrees with the records: the commits that no
    compensation undid are exactly the committed transactions; a reversal asked for (POST
    /transactions/{id}/reversal) is a committed record of its own, and leaves the transaction it
    reverses committed. Invariant 12: no entry is reversed twice (by requests or
    compensations)."""
    settings = get_settings()
    found: list[str] = []
    entries: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in scan(client, settings.ledger_table_name):
        entries[item["userId"]["S"]].append(item)
    reversing = [i for e in entries.values() for i in e if "reverses" in i]
    times_reversed = Counter(i["reverses"]["S"] for i in reversing)
    for reversed_id, count in sorted(times_reversed.items()):
        if count > 1:
            found.append(f"transaction {reversed_id} is reversed {count} times")
    # A compensation's entry has no record of its own: it undid its commit, whose record went.
    undone_ids = {i["reverses"]["S"] for i in reversing if i["entryId"]["S"] not in committed_ids}
    standing = {
        i["entryId"]["S"]
        for e in entries.values()
        for i in e
        if ("reverses" not in i or i["entryId"]["S"] in committed_ids)
        and i["entryId"]["S"] not in undone_ids
    }
    # Invariant 10: a transfer's entries are its source's debit and its destination's credit,
    # both present or both absent, naming each other's user.
    sides: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in (i for e in entries.values() for i in e if "transferId" in i):
        sides[item["transferId"]["S"]].append(item)
    for transfer_id, items in sides.items():
        shape = sorted(
            (i["type"]["S"], i["userId"]["S"], i["counterpartyUserId"]["S"]) for i in items
        )
        if (
            len(shape) != 2
            or shape[0][0] != "credit"
            or shape[1][0] != "debit"
            or (shape[0][1:] != (shape[1][2], shape[1][1]))
        ):
            found.append(
                f"transfer {transfer_id}: entries {shape} are not one debit and its credit"
            )
    if standing != committed_ids:
        found.append(
            f"ledger commits not undone {sorted(standing - committed_ids)} are no committed "
            f"transaction; committed transactions {sorted(committed_ids - standing)} have no entry"
        )
    for user in set(entries) | set(aggregates):
        ordered = sorted(entries[user], key=lambda i: int(i["sequence"]["N"]))
        sequences = [int(i["sequence"]["N"]) for i in ordered]
        if sequences != list(range(1, len(ordered) + 1)):
            found.append(f"user {user!r}: ledger sequences {sequences} are not 1..{len(ordered)}")
        running = settings.default_balance
        for item in ordered:
            amount = Decimal(item["amount"]["N"])
            running += amount if item["type"]["S"] == "credit" else -amount
            if Decimal(item["balanceAfter"]["N"]) != running:
                found.append(
                    f"user {user!r}: entry {item['sequence']['N']} has balanceAfter "
                    f"{item['balanceAfter']['N']}, the entries before it add up to {running}"
                )
                break
        row = aggregates.get(user)
        balance = Decimal(row["balance"]["N"]) if row else settings.default_balance
        if ordered and Decimal(ordered[-1]["balanceAfter"]["N"]) != balance:
            found.append(
                f"user {user!r}: last entry's balanceAfter {ordered[-1]['balanceAfter']['N']} "
                f"is not the balance {balance}"
            )
        last = int(row["lastSequence"]["N"]) if row and "lastSequence" in row else 0
        if last != len(ordered):
            found.append(f"user {user!r}: lastSequence {last} but {len(ordered)} entries")
    return found


def balance_of(client: Any, user_id: str) -> Decimal:
    settings = get_settings()
    item = client.get_item(
        TableName=settings.aggregates_table_name,
        Key={"userId": {"S": user_id}},
        ConsistentRead=True,
    ).get("Item")
    return Decimal(item["balance"]["N"]) if item else settings.default_balance


def lock_owner(client: Any, user_id: str) -> str | None:
    item = client.get_item(
        TableName=get_settings().aggregates_table_name,
        Key={"userId": {"S": user_id}},
        ConsistentRead=True,
    ).get("Item")
    return item["lockOwner"]["S"] if item and "lockOwner" in item else None


def transaction_items(client: Any, user_id: str) -> list[dict[str, Any]]:
    return [
        item
        for item in scan(client, get_settings().transactions_table_name)
        if item["userId"]["S"] == user_id
    ]


@cache
def event_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(EVENT_SCHEMA.read_text()))


def event_violations(client: Any, published: list[dict[str, Any]]) -> list[str]:
    """Invariant 8 and the events' contract: every event published matches the schema in
    docs/events.schema.json and its entry; deduped on detail.eventId, the published events are
    exactly the ledger's entries (a redelivered event is no violation: delivery is at least
    once)."""
    found: list[str] = []
    entries = {
        item["entryId"]["S"]: entry_from_item(item)
        for item in scan(client, get_settings().ledger_table_name)
    }
    seen: Counter[str] = Counter()
    for event in published:
        for error in event_validator().iter_errors(event):
            found.append(f"event {event.get('id')}: {error.message} at {list(error.path)}")
        detail = event.get("detail", {})
        event_id = detail.get("eventId")
        seen[event_id] += 1
        entry = entries.get(event_id)
        if entry is None:
            found.append(f"event {event_id} was published but is no ledger entry")
        elif seen[event_id] == 1 and (
            detail != events.detail(entry) or event["detail-type"] != events.detail_type(entry)
        ):
            found.append(f"event {event_id} does not say what its entry says: {detail}")
    missing = sorted(set(entries) - set(seen))
    if missing:
        found.append(f"ledger entries never published: {missing}")
    return found


def projection_violations(client: Any) -> list[str]:
    """Invariant 9, for a projection that has caught up: for every user, the summaries equal the
    ledger grouped by period, and the last sequence they carry (the highest of the user's days,
    read whole and as GET /summaries reads it) is the ledger's last."""
    from functions.domain.summaries import differences, summarize
    from functions.repositories.ledger import LedgerRepository
    from functions.repositories.summaries import SummariesRepository

    settings = get_settings()
    ledger = LedgerRepository(client, settings.ledger_table_name)
    projection = SummariesRepository(client, settings.summaries_table_name)
    found = []
    for user in sorted(ledger.user_ids() | projection.user_ids()):
        state = projection.state_of(user)
        for line in differences(summarize(ledger.entries_of(user)), state):
            found.append(f"user {user!r} summaries: {line}")
        answered = projection.applied_sequence(user)
        if answered != state.last_sequence:
            found.append(
                f"user {user!r} summaries: asOfSequence answered {answered}, "
                f"its days say {state.last_sequence}"
            )
    return found
