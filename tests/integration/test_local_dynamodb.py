"""infra/local/dynamodb.py: TransactWriteItems with an undo log answers exactly as moto's own.

The same random sequence of requests goes to two DynamoDB backends: one runs moto's
implementation as released (every table deep-copied before each transaction), the other the
runtime's (an undo log of the items touched). After every request both must have given the same
answer (the same error, message and cancellation reasons, items included) and hold the same
items and the same stream records.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto.core.exceptions import JsonRESTError
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import Item

from infra.local import dynamodb as local_dynamodb

local_dynamodb.install()
RUNTIME = DynamoDBBackend.transact_write_items
MOTO = RUNTIME.__wrapped__  # type: ignore[attr-defined]

AGGREGATES = "Aggregates"  # hash key only, no stream
TRANSACTIONS = "Transactions"  # hash and range key, NEW_AND_OLD_IMAGES stream


@contextmanager
def moto_as_released() -> Iterator[None]:
    """moto's module as it ships: deepcopy copies tables too."""
    shim = dynamodb_models.copy
    dynamodb_models.copy = copy  # type: ignore[assignment]
    try:
        yield
    finally:
        dynamodb_models.copy = shim


def backend(account_id: str) -> DynamoDBBackend:
    created = DynamoDBBackend("us-east-1", account_id)
    common: dict[str, Any] = {
        "throughput": None,
        "global_indexes": None,
        "indexes": None,
        "billing_mode": "PAY_PER_REQUEST",
        "sse_specification": None,
        "tags": [],
        "deletion_protection_enabled": False,
        "warm_throughput": None,
    }
    created.create_table(
        AGGREGATES,
        schema=[{"AttributeName": "userId", "KeyType": "HASH"}],
        attr=[{"AttributeName": "userId", "AttributeType": "S"}],
        streams=None,
        **common,
    )
    created.create_table(
        TRANSACTIONS,
        schema=[
            {"AttributeName": "userId", "KeyType": "HASH"},
            {"AttributeName": "idempotencyKey", "KeyType": "RANGE"},
        ],
        attr=[
            {"AttributeName": "userId", "AttributeType": "S"},
            {"AttributeName": "idempotencyKey", "AttributeType": "S"},
        ],
        streams={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        **common,
    )
    return created


# --- The requests: few keys, so that transactions meet the items earlier ones wrote. ---

users = st.sampled_from(["u1", "u2", "u3"])
keys = st.sampled_from(["k1", "k2"])
numbers = st.sampled_from(["0", "5", "10", "100"]).map(lambda n: {"N": n})
statuses = st.sampled_from(["PENDING", "COMMITTED"]).map(lambda s: {"S": s})
return_values = st.sampled_from([None, "ALL_OLD", "NONE"])

# (expression, names, values) triples; values may be drawn per request.
conditions = st.one_of(
    st.none(),
    st.just(("attribute_not_exists(userId)", None, None)),
    st.just(("attribute_exists(userId)", None, None)),
    numbers.map(lambda n: ("balance = :v", None, {":v": n})),
    numbers.map(lambda n: ("balance >= :v", None, {":v": n})),
    statuses.map(lambda s: ("#s = :s", {"#s": "status"}, {":s": s})),
    # Refers to a placeholder it does not define: a validation error, the whole request refused.
    st.just(("balance = :undefined", None, None)),
)
updates = st.one_of(
    numbers.map(lambda n: ("SET balance = :u", None, {":u": n})),
    # Fails on an item without a balance, after the items before it were written.
    numbers.map(lambda n: ("SET balance = balance + :u", None, {":u": n})),
    statuses.map(lambda s: ("SET #t = :t", {"#t": "status"}, {":t": s})),
    st.just(("REMOVE lockOwner", None, None)),
    # A string added to a number: an error of this item only, the transaction cancelled.
    st.just(("ADD balance :t", None, {":t": {"S": "x"}})),
)


def key_of(table: str, user: str, key: str) -> dict[str, Any]:
    if table == AGGREGATES:
        return {"userId": {"S": user}}
    return {"userId": {"S": user}, "idempotencyKey": {"S": key}}


def with_expression(
    operation: dict[str, Any], name: str, triple: tuple[str, Any, Any] | None
) -> dict[str, Any]:
    if triple is None:
        return operation
    expression, names, values = triple
    operation[name] = expression
    if names:
        operation["ExpressionAttributeNames"] = {
            **operation.get("ExpressionAttributeNames", {}),
            **names,
        }
    if values:
        operation["ExpressionAttributeValues"] = {
            **operation.get("ExpressionAttributeValues", {}),
            **values,
        }
    return operation


@st.composite
def transact_items(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["Put", "Update", "Delete", "ConditionCheck"]))
    table = draw(st.sampled_from([AGGREGATES, TRANSACTIONS, "NoSuchTable"]))
    key = key_of(table, draw(users), draw(keys))
    operation: dict[str, Any] = {"TableName": table}
    if kind == "Put":
        item = {**key, "balance": draw(numbers), "status": draw(statuses)}
        if draw(st.booleans()) and table == TRANSACTIONS:
            del item["idempotencyKey"]  # an item without its range key
        operation["Item"] = item
    else:
        operation["Key"] = key
    if kind == "Update":
        with_expression(operation, "UpdateExpression", draw(updates))
    condition = draw(conditions)
    if kind == "ConditionCheck" and condition is None:
        condition = ("attribute_exists(userId)", None, None)
    with_expression(operation, "ConditionExpression", condition)
    returned = draw(return_values)
    if returned is not None:
        operation["ReturnValuesOnConditionCheckFailure"] = returned
    return {kind: operation}


requests = st.lists(
    st.one_of(
        # Duplicates of a key are likely with so few: MultipleTransactions, refused whole.
        st.lists(transact_items(), min_size=1, max_size=4).map(lambda items: ("transact", items)),
        st.tuples(users, keys, numbers).map(lambda t: ("put", t)),
    ),
    min_size=1,
    max_size=12,
)


def send(target: DynamoDBBackend, request: tuple[str, Any], implementation: Any) -> Any:
    """The answer to one request: None on success, else the error as the client would see it."""
    kind, body = request
    try:
        if kind == "put":
            user, key, balance = body
            target.put_item(TRANSACTIONS, {**key_of(TRANSACTIONS, user, key), "balance": balance})
        else:
            implementation(target, copy.deepcopy(body))
    except JsonRESTError as error:
        return (type(error).__name__, error.code, json.loads(error.get_body()))
    return None


def state(target: DynamoDBBackend) -> dict[str, Any]:
    items = {}
    for name, table in target.tables.items():
        items[name] = sorted(
            (json.dumps(item.to_json(), sort_keys=True) for item in table.all_items()),
        )
    shard = target.tables[TRANSACTIONS].stream_shard
    assert shard is not None
    records = []
    for record in shard.items:
        body = copy.deepcopy(record.to_json())
        del body["eventID"]  # random
        del body["dynamodb"]["ApproximateCreationDateTime"]
        del body["dynamodb"]["SizeBytes"]  # counts the characters of that date
        records.append(body)
    return {"items": items, "records": records, "first": shard.starting_sequence_number}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests)
def test_the_undo_log_answers_as_moto_and_leaves_the_same_items_and_records(sequence):
    reference, runtime = backend("111111111111"), backend("222222222222")
    for request in sequence:
        with moto_as_released():
            expected = send(reference, request, MOTO)
        answered = send(runtime, request, RUNTIME)
        assert answered == expected, request
        assert state(runtime) == state(reference), request


def test_a_cancelled_transaction_changes_no_item_and_leaves_no_stream_record():
    runtime = backend("333333333333")
    runtime.put_item(TRANSACTIONS, {**key_of(TRANSACTIONS, "u1", "k1"), "balance": {"N": "1"}})
    before = state(runtime)
    items = [
        {"Put": {"TableName": TRANSACTIONS, "Item": key_of(TRANSACTIONS, "u1", "k2")}},
        {"Update": {"TableName": TRANSACTIONS, "Key": key_of(TRANSACTIONS, "u1", "k1"),
                    "UpdateExpression": "SET balance = :b",
                    "ExpressionAttributeValues": {":b": {"N": "2"}}}},
        {"ConditionCheck": {"TableName": AGGREGATES, "Key": key_of(AGGREGATES, "u1", ""),
                            "ConditionExpression": "attribute_exists(userId)"}},
    ]  # fmt: skip
    answer = send(runtime, ("transact", items), RUNTIME)

    assert answer is not None and answer[0] == "TransactionCanceledException"
    reasons = answer[2]["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "None", "ConditionalCheckFailed"]
    assert state(runtime) == before


def test_the_items_a_transaction_copies_do_not_grow_with_the_table(monkeypatch):
    """moto copies every item of each table a transaction names; the runtime, the items named."""
    copied: list[Item] = []
    item_deepcopy = Item.__deepcopy__

    def counted(self: Item, memo: dict[int, Any]) -> Item:
        copied.append(self)
        return item_deepcopy(self, memo)

    monkeypatch.setattr(Item, "__deepcopy__", counted)
    target = backend("444444444444")
    transaction = [
        {"Update": {"TableName": TRANSACTIONS, "Key": key_of(TRANSACTIONS, "u1", "k1"),
                    "UpdateExpression": "SET balance = :b",
                    "ExpressionAttributeValues": {":b": {"N": "2"}}}},
        {"Put": {"TableName": AGGREGATES, "Item": key_of(AGGREGATES, "u1", "")}},
    ]  # fmt: skip
    target.put_item(TRANSACTIONS, key_of(TRANSACTIONS, "u1", "k1"))
    target.put_item(AGGREGATES, key_of(AGGREGATES, "u1", ""))
    copies = []
    for size in (10, 200):
        for n in range(size):
            target.put_item(TRANSACTIONS, key_of(TRANSACTIONS, f"user{n}", "k"))
            target.put_item(AGGREGATES, key_of(AGGREGATES, f"user{n}", ""))
        copied.clear()
        target.transact_write_items(copy.deepcopy(transaction))
        copies.append(len(copied))

    assert copies[0] == copies[1]
    # The undo log's copy of both items, and moto's own of the item before an update.
    assert copies[1] == 3


def test_an_entry_with_two_operations_undoes_the_entries_written_before_it():
    """moto raises at such an entry without putting the tables back; the runtime undoes them."""
    runtime = backend("555555555555")
    before = state(runtime)
    items = [
        {"Put": {"TableName": TRANSACTIONS, "Item": key_of(TRANSACTIONS, "u1", "k1")}},
        {"Put": {"TableName": AGGREGATES, "Item": key_of(AGGREGATES, "u1", "")},
         "Delete": {"TableName": AGGREGATES, "Key": key_of(AGGREGATES, "u2", "")}},
    ]  # fmt: skip
    answer = send(runtime, ("transact", items), RUNTIME)

    assert answer is not None
    assert state(runtime) == before


@pytest.mark.parametrize("table", [AGGREGATES, TRANSACTIONS])
def test_a_transaction_keeps_the_table_object_so_stream_readers_keep_reading_it(table):
    runtime = backend("666666666666")
    tables_before = dict(runtime.tables)
    failing = [
        {"Put": {"TableName": table, "Item": key_of(table, "u1", "k1")}},
        {"ConditionCheck": {"TableName": table, "Key": key_of(table, "u2", "k1"),
                            "ConditionExpression": "attribute_exists(userId)"}},
    ]  # fmt: skip
    assert send(runtime, ("transact", failing), RUNTIME) is not None

    assert all(runtime.tables[name] is tables_before[name] for name in tables_before)


# Time to live: the outbox's items expire as DynamoDB's TTL deletes them.


def outbox_keys(aws) -> list[str]:
    items = aws.dynamodb.scan(TableName="OutboxTable", ConsistentRead=True)["Items"]
    return sorted(item["eventId"]["S"] for item in items)


def expires_at(aws, event_id: str) -> int:
    item = aws.dynamodb.get_item(TableName="OutboxTable", Key={"eventId": {"S": event_id}})
    return int(item["Item"]["expiresAt"]["N"])


def test_expired_outbox_items_are_deleted_and_the_rest_kept():
    from infra.local.aws import LocalAws
    from tests.builders import execution_input

    with LocalAws() as aws:
        aws.time_to_live.stop()  # swept here, on a clock of the test's
        for key in ("k1", "k2"):
            aws.start_sync_execution(execution_input("ttl-user", "5", "credit", key))
        aws.drain_streams()
        first, second = outbox_keys(aws)
        aws.dynamodb.update_item(
            TableName="OutboxTable", Key={"eventId": {"S": second}},
            UpdateExpression="SET expiresAt = :later",
            ExpressionAttributeValues={":later": {"N": str(expires_at(aws, first) + 100)}},
        )  # fmt: skip
        published = len(aws.published_events())
        just_after = expires_at(aws, first) + 1
        ttl = local_dynamodb.TimeToLive(
            aws.dynamodb, {"OutboxTable": "expiresAt"}, clock=lambda: just_after
        )

        assert ttl.sweep() == 1
        assert outbox_keys(aws) == [second]
        assert ttl.sweep() == 0
        ledger = aws.dynamodb.query(
            TableName="LedgerTable", KeyConditionExpression="userId = :u",
            ExpressionAttributeValues={":u": {"S": "ttl-user"}},
        )["Items"]  # fmt: skip
        assert len(ledger) == 2  # the ledger has no TTL
        assert len(aws.published_events()) == published  # the REMOVE is no event


def test_a_ttl_delete_is_a_remove_without_the_service_identity_aws_gives_it():
    """Known gap: AWS marks a TTL delete's record with userIdentity (type Service,
    principal dynamodb.amazonaws.com); here it is a plain REMOVE. The wallet filters on INSERT."""
    from infra.local.aws import LocalAws
    from tests.builders import execution_input
    from tests.invariants import stream_records

    with LocalAws() as aws:
        aws.time_to_live.stop()
        aws.streams.stop()  # nothing reads the stream, so nothing trims it
        aws.start_sync_execution(execution_input("ttl-user", "5", "credit", "k1"))
        [event_id] = outbox_keys(aws)
        after = expires_at(aws, event_id) + 1
        assert (
            local_dynamodb.TimeToLive(
                aws.dynamodb, {"OutboxTable": "expiresAt"}, clock=lambda: after
            ).sweep()
            == 1
        )
        records = stream_records(aws.dynamodb, "OutboxTable")

    assert [r["eventName"] for r in records] == ["INSERT", "REMOVE"]
    assert "userIdentity" not in records[-1]


class RewritingClient:
    """A DynamoDB client that rewrites each item with a later time just before deleting it."""

    def __init__(self, client, later: int):
        self._client, self._later = client, later
        self.exceptions = client.exceptions

    def __getattr__(self, name):
        return getattr(self._client, name)

    def delete_item(self, **request):
        self._client.update_item(
            TableName=request["TableName"], Key=request["Key"],
            UpdateExpression="SET expiresAt = :later",
            ExpressionAttributeValues={":later": {"N": str(self._later)}},
        )  # fmt: skip
        return self._client.delete_item(**request)


def test_an_item_given_a_later_time_after_the_scan_is_kept():
    from infra.local.aws import LocalAws

    with LocalAws() as aws:
        aws.time_to_live.stop()
        aws.streams.stop()
        aws.dynamodb.put_item(
            TableName="OutboxTable", Item={"eventId": {"S": "e1"}, "expiresAt": {"N": "100"}}
        )
        ttl = local_dynamodb.TimeToLive(
            RewritingClient(aws.dynamodb, later=1_000), {"OutboxTable": "expiresAt"}, lambda: 500
        )

        assert ttl.sweep() == 0
        assert outbox_keys(aws) == ["e1"]


def test_a_failed_sweep_does_not_stop_the_sweeper(monkeypatch):
    import threading

    from infra.local.aws import LocalAws

    with LocalAws() as aws:
        aws.time_to_live.stop()
        aws.streams.stop()
        aws.dynamodb.put_item(
            TableName="OutboxTable", Item={"eventId": {"S": "e1"}, "expiresAt": {"N": "100"}}
        )
        calls = []
        swept = threading.Event()

        class FailingOnce(RewritingClient):
            def get_paginator(self, name):
                calls.append(name)
                if len(calls) == 1:
                    raise RuntimeError("a broken sweep")
                return self._client.get_paginator(name)

            def delete_item(self, **request):
                swept.set()
                return self._client.delete_item(**request)

        monkeypatch.setattr(local_dynamodb, "SWEEP_SECONDS", 0.01)
        ttl = local_dynamodb.TimeToLive(
            FailingOnce(aws.dynamodb, later=0), {"OutboxTable": "expiresAt"}, lambda: 500
        )
        ttl.start()
        try:
            assert swept.wait(30)
        finally:
            ttl.stop()
        assert len(calls) >= 2
        assert outbox_keys(aws) == []


def test_the_runtime_sweeps_the_tables_the_template_gives_a_time_to_live():
    import threading

    from infra.local.aws import LocalAws
    from infra.local.template import Template

    ttl_tables = {
        name: table.time_to_live_attribute
        for name, table in Template.load().tables.items()
        if table.time_to_live_attribute
    }
    assert ttl_tables == {"OutboxTable": "expiresAt"}

    def sweeping() -> bool:
        return any(thread.name == "dynamodb-ttl" for thread in threading.enumerate())

    with LocalAws():
        assert sweeping()
    assert not sweeping()
