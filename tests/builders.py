"""Minimal events and inputs for the tests, the tables' names, and in-memory fakes of the
repositories and the clock (the domain's Protocols) written once for every test module."""

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext as PowertoolsLambdaContext

from functions.clock import epoch_seconds
from functions.domain.errors import UserBusyError
from functions.domain.events import OutboxEvent
from functions.domain.lock_wait import LockView
from functions.domain.models import (
    AccountState,
    LedgerEntry,
    Lock,
    PendingHold,
    PendingTransaction,
    StoredTransaction,
    TransactionType,
)
from functions.repositories import ledger
from functions.settings import get_settings

# The tables as the tiers on moto create them from the template: named by their logical ids.
TABLE_NAMES = {
    "TRANSACTIONS_TABLE_NAME": "TransactionsTable",
    "AGGREGATES_TABLE_NAME": "AggregatesTable",
    "LEDGER_TABLE_NAME": "LedgerTable",
    "SUMMARIES_TABLE_NAME": "SummariesTable",
    "OUTBOX_TABLE_NAME": "OutboxTable",
    "HOLDS_TABLE_NAME": "HoldsTable",
}
DEFAULT_BALANCE = Decimal("100.00")


@dataclass
class LambdaContext:
    """The fields of Lambda's context object that Powertools' logger reads."""

    function_name: str = "Function"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:Function"
    aws_request_id: str = "request-1"


def handler_context() -> PowertoolsLambdaContext:
    """A context for calling a handler directly, typed as the handlers declare it."""
    return cast(PowertoolsLambdaContext, LambdaContext())


def transaction_body(user_id: str = "1", amount: str = "10", type_: str = "credit") -> str:
    return json.dumps({"userId": user_id, "ammount": amount, "type": type_})


def execution_input(
    user_id: str = "1", amount: str = "10", type_: str = "credit", key: str | None = None
) -> str:
    """The execution input API Gateway's request template builds."""
    return json.dumps(
        {
            "body": transaction_body(user_id, amount, type_),
            "idempotencyKey": key or uuid.uuid4().hex,
            "requestId": uuid.uuid4().hex,
        }
    )


def lock_input(
    user_id: str, owner: str, started_at: float | None = None, key: str = "k1"
) -> dict[str, Any]:
    """AcquireLock's task input: the API's body and key (a 10.00 credit), the execution and its
    start. `started_at` (epoch seconds, default now) one more than LOCK_WAIT_SECONDS ago makes a
    single attempt, with no waiting."""
    moment = datetime.fromtimestamp(time.time() if started_at is None else started_at, UTC)
    return {
        "body": transaction_body(user_id),
        "idempotencyKey": key,
        "executionId": owner,
        "startedAt": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }


def release_lock(aws: Any, user_id: str, owner: str) -> bool:
    """ReleaseLock's own DynamoDB request, read from the ASL, as the execution `owner` sends it
    (the state calls DynamoDB itself); whether it freed the lock."""
    definition = json.loads(aws.template.state_machines["TransactionStateMachine"].definition)
    parameters = definition["States"]["ReleaseLock"]["Arguments"]
    try:
        aws.dynamodb.update_item(
            TableName=parameters["TableName"],
            Key={"userId": {"S": user_id}},
            UpdateExpression=parameters["UpdateExpression"],
            ConditionExpression=parameters["ConditionExpression"],
            ExpressionAttributeValues={":owner": {"S": owner}},
        )
    except aws.dynamodb.exceptions.ConditionalCheckFailedException:
        return False
    return True


def error_mock(error: str) -> dict[str, Any]:
    """TestState's `mock` of a task that fails with `error`."""
    return {"errorOutput": {"error": error, "cause": f"{error} in a test"}}


def output_of(response: dict[str, Any]) -> dict[str, Any]:
    return json.loads(response["output"])


EVENTS = Path(__file__).parent / "events"


def get_balance_event(query: dict[str, str] | None) -> dict[str, Any]:
    """The recorded API Gateway REST proxy event of GET /balance, with another query string."""
    event = json.loads((EVENTS / "get_balance_rest_api.json").read_text())
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in (query or {}).items()} or None
    return event


def api_event(path: str, query: dict[str, str] | None) -> dict[str, Any]:
    """The recorded REST proxy event, for another GET path and query string."""
    event = get_balance_event(query)
    event["resource"] = event["path"] = path
    event["requestContext"] = {**event["requestContext"], "resourcePath": path, "path": path}
    return event


def ledger_entry(
    user_id: str, sequence: int, amount: str = "10.00", type_: str = "credit",
    created_at: str | None = None, balance_after: str | None = None,
) -> LedgerEntry:  # fmt: skip
    """Entry `sequence` of a user whose every entry so far was a credit of `amount`."""
    moment = datetime(2026, 12, 1, 8, tzinfo=UTC) + timedelta(minutes=sequence)
    balance = Decimal("100.00") + Decimal(amount) * sequence
    return LedgerEntry(
        user_id=user_id,
        sequence=sequence,
        entry_id=f"{user_id}-entry-{sequence}",
        type=TransactionType(type_),
        amount=Decimal(amount),
        balance_after=Decimal(balance_after) if balance_after else balance,
        currency="USD",
        created_at=created_at or moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        idempotency_key=f"key-{sequence}",
    )


def put_ledger_entry(entry: LedgerEntry, client: Any = None) -> None:
    """Append `entry` to the ledger table, as the saga's commit does."""
    client = client or boto3.client("dynamodb")
    client.transact_write_items(
        TransactItems=[ledger.put_entry(get_settings().ledger_table_name, entry)]
    )


def stream_record(entry: LedgerEntry, stream_sequence: str | None = None) -> dict[str, Any]:
    """The record Lambda delivers for the ledger item's INSERT (StreamViewType NEW_IMAGE)."""
    keys = {"userId": {"S": entry.user_id}, "sequence": {"N": str(entry.sequence)}}
    return {
        "eventID": uuid.uuid4().hex,
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1764576000.0,
            "Keys": keys,
            "NewImage": ledger.entry_item(entry),
            "SequenceNumber": stream_sequence or f"{entry.sequence:021d}",
            "SizeBytes": 256,
            "StreamViewType": "NEW_IMAGE",
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/LedgerTable/stream/"
        "2026-12-01T00:00:00.000",
    }


def stream_event(entries: list[LedgerEntry]) -> dict[str, Any]:
    return {"Records": [stream_record(entry) for entry in entries]}


def outbox_stream_event() -> dict[str, Any]:
    """A Lambda DynamoDB stream event of the outbox, in the shape Lambda delivers (AWS's
    documented sample event): an INSERT of an event, and a REMOVE of one expiring by TTL."""
    return json.loads((EVENTS / "dynamodb_stream_outbox.json").read_text())


def hold_lock(
    client: Any,
    user_id: str,
    owner: str = "other",
    lease_until: datetime | None = None,
    balance: str = "100.00",
) -> None:
    """Write the aggregate row of a user whose lock `owner` holds (by default for a minute more),
    as an execution elsewhere would have left it."""
    lease_until = lease_until or datetime.now(UTC) + timedelta(minutes=1)
    client.put_item(
        TableName=TABLE_NAMES["AGGREGATES_TABLE_NAME"],
        Item={
            "userId": {"S": user_id},
            "balance": {"N": balance},
            "lockOwner": {"S": owner},
            "leaseUntil": {"N": str(epoch_seconds(lease_until))},
        },
    )


def at(seconds: float) -> datetime:
    """A moment given in seconds since the epoch, as the fakes and the tests' tables write it."""
    return datetime.fromtimestamp(seconds, UTC)


@dataclass
class FakeClock:
    """Time moves only when the code under test sleeps; `jitter()` answers `jitter_value`."""

    time: datetime
    jitter_value: float = 0.5
    slept: list[float] = field(default_factory=list)

    def now(self) -> datetime:
        return self.time

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.time += timedelta(seconds=seconds)

    def jitter(self) -> float:
        return self.jitter_value


@dataclass
class FakeLocks:
    """One user's lock in memory, with the repository's conditions (LockView's tests, which
    mirror them); the holder lets go at `release_at`, read on `clock`. Records each call."""

    clock: FakeClock
    owner: str | None = None
    release_at: datetime | None = None
    next_owner: str | None = None
    next_since: datetime | None = None
    next_until: datetime | None = None
    balance: Decimal = DEFAULT_BALANCE
    calls: list[str] = field(default_factory=list)

    def _view(self) -> LockView:
        if self.owner is not None and self.release_at and self.clock.time >= self.release_at:
            self.owner = None
        lease_until = self.clock.time + timedelta(seconds=25) if self.owner else None
        return LockView(self.owner, lease_until, self.next_owner, self.next_since, self.next_until)

    def take(self, user_id: str, owner: str, now: datetime, lease_until: datetime) -> Lock:
        self.calls.append("take")
        if not self._view().may_take(owner, now):
            raise UserBusyError("busy")
        self.owner, self.release_at = owner, None
        self.next_owner = self.next_since = self.next_until = None
        return Lock(user_id, owner, self.balance, lease_until)

    def read(self, user_id: str) -> LockView | None:
        self.calls.append("read")
        return self._view()

    def claim_next(
        self, user_id: str, owner: str, since: datetime, until: datetime, now: datetime
    ) -> bool:
        self.calls.append("claim_next")
        if not self._view().may_claim_next(owner, since, now):
            return False
        self.next_owner, self.next_since, self.next_until = owner, since, until
        return True

    def release(self, user_id: str, owner: str) -> bool:
        self.calls.append("release")
        if self.owner != owner:
            return False
        self.owner = None
        return True


@dataclass
class FakeCommits:
    """The unit of work in memory: the pending records written, the commits and the reverts.
    `stored` is what put_pending finds under the key (None: nothing committed there)."""

    stored: StoredTransaction | None = None
    written: list[tuple[PendingTransaction, datetime]] = field(default_factory=list)
    commits: list[tuple[LedgerEntry, str, Decimal, datetime]] = field(default_factory=list)
    reverts: list[tuple[LedgerEntry, LedgerEntry, str, datetime]] = field(default_factory=list)

    def put_pending(self, pending: PendingTransaction, now: datetime) -> StoredTransaction | None:
        self.written.append((pending, now))
        return self.stored

    def commit(self, entry: LedgerEntry, owner: str, seen_balance: Decimal, now: datetime) -> None:
        self.commits.append((entry, owner, seen_balance, now))

    def revert(
        self, committed: LedgerEntry, compensating: LedgerEntry, owner: str, now: datetime
    ) -> None:
        self.reverts.append((committed, compensating, owner, now))


@dataclass
class FakeTransactions:
    """delete_pending finds `committed_by_owner` (None: the record was pending, or not ours)."""

    committed_by_owner: LedgerEntry | None = None
    deleted: list[tuple[str, str, str]] = field(default_factory=list)

    def delete_pending(self, user_id: str, key: str, owner: str) -> LedgerEntry | None:
        self.deleted.append((user_id, key, owner))
        return self.committed_by_owner

    def delete_pending_record(self, user_id: str, key: str, owner: str) -> bool:
        self.deleted.append((user_id, key, owner))
        return self.committed_by_owner is None


@dataclass
class FakeBalances:
    balances: dict[str, Decimal] = field(default_factory=dict)
    holds: dict[str, tuple[PendingHold, ...]] = field(default_factory=dict)

    def find_account(self, user_id: str) -> AccountState | None:
        if user_id not in self.balances:
            return None
        return AccountState(self.balances[user_id], 0, self.holds.get(user_id, ()))


@dataclass
class FakeLedger:
    """The ledger's reads over `entries`; `calls` records each page asked for."""

    entries: list[LedgerEntry]
    calls: list[tuple[str, int, int | None]] = field(default_factory=list)

    def newest(
        self, user_id: str, limit: int, before_sequence: int | None = None
    ) -> tuple[list[LedgerEntry], bool]:
        self.calls.append((user_id, limit, before_sequence))
        mine = [e for e in self.entries if e.user_id == user_id]
        below = [e for e in mine if before_sequence is None or e.sequence < before_sequence]
        ordered = sorted(below, key=lambda e: -e.sequence)
        return ordered[:limit], len(ordered) > limit

    def entries_of(self, user_id: str) -> list[LedgerEntry]:
        return [e for e in self.entries if e.user_id == user_id]

    def user_ids(self) -> set[str]:
        return {e.user_id for e in self.entries}


@dataclass
class FakeBus:
    """Refuses each event the first `refusals[event_id]` times it is sent."""

    refusals: dict[str, int] = field(default_factory=dict)
    calls: list[list[str]] = field(default_factory=list)

    def put_events(self, events: Sequence[OutboxEvent]) -> list[OutboxEvent]:
        self.calls.append([event.event_id for event in events])
        failed = [event for event in events if self.refusals.get(event.event_id, 0) > 0]
        for event in failed:
            self.refusals[event.event_id] -= 1
        return failed


def transfer_body(from_user_id: str = "a", to_user_id: str = "b", amount: str = "25.00") -> str:
    return json.dumps({"fromUserId": from_user_id, "toUserId": to_user_id, "amount": amount})


def hold_input(operation: str, body: dict, key: str = "", hold_id: str = "") -> str:
    """The hold machine's execution input, as API Gateway's request templates build it."""
    return json.dumps(
        {"operation": operation, "holdId": hold_id, "body": json.dumps(body),
         "idempotencyKey": key, "requestId": uuid.uuid4().hex}
    )  # fmt: skip


def transfer_input(
    from_user_id: str = "a", to_user_id: str = "b", amount: str = "25.00", key: str | None = None
) -> str:
    """The transfer machine's execution input, as API Gateway's request template builds it."""
    return json.dumps(
        {
            "body": transfer_body(from_user_id, to_user_id, amount),
            "idempotencyKey": key or uuid.uuid4().hex,
            "requestId": uuid.uuid4().hex,
        }
    )


def reversal_input(user_id: str = "a", transaction_id: str = "tx-1") -> str:
    """The reversal machine's execution input, as API Gateway's request template builds it."""
    return json.dumps(
        {
            "body": json.dumps({"userId": user_id}),
            "transactionId": transaction_id,
            "requestId": uuid.uuid4().hex,
        }
    )
