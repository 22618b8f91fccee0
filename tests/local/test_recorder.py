"""The recorder: attributes DynamoDB requests to the invocation that made them, and is bounded."""

import json
import sys
from dataclasses import dataclass

from infra.local.recorder import HttpExchange, Recorder


@dataclass
class FakeResponse:
    status_code: int
    content: bytes


class Table:
    def __init__(self):
        self.items = {}

    def read(self, table, attributes):
        key = {"userId": attributes["userId"]}
        return key, self.items.get((table, attributes["userId"]["S"]))


def payload(execution_id):
    return json.dumps({"executionId": execution_id, "userId": "u1"}).encode()


def update(user="u1"):
    return json.dumps({"TableName": "Aggregates", "Key": {"userId": {"S": user}}}).encode()


def test_requests_inside_an_invocation_are_recorded_with_the_item_before_and_after():
    recorder, table = Recorder(), Table()

    def send():
        table.items[("Aggregates", "u1")] = {"userId": {"S": "u1"}, "balance": {"N": "100"}}
        return FakeResponse(200, b"{}")

    with recorder.invocation("AcquireLockFunction", payload("exec-1")):
        recorder.dynamodb_request("UpdateItem", update(), send, table.read)

    [invocation] = recorder.invocations("exec-1")
    [call] = invocation.calls
    assert invocation.function == "AcquireLockFunction"
    assert call.operation == "UpdateItem" and call.status == 200 and call.error is None
    assert call.items == [{"table": "Aggregates", "key": {"userId": {"S": "u1"}}, "before": None,
                           "after": {"userId": {"S": "u1"}, "balance": {"N": "100"}}}]  # fmt: skip
    assert invocation.started <= call.started <= call.ended <= invocation.ended


def test_a_refused_conditional_check_is_recorded_with_its_error():
    recorder, table = Recorder(), Table()
    refused = {"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
               "message": "The conditional request failed"}  # fmt: skip

    with recorder.invocation("AcquireLockFunction", payload("exec-1")):
        answer = recorder.dynamodb_request(
            "UpdateItem", update(), lambda: FakeResponse(400, json.dumps(refused).encode()),
            table.read,
        )  # fmt: skip

    assert answer.status_code == 400  # passed on unchanged
    [call] = recorder.invocations("exec-1")[0].calls
    assert call.error == {"code": "ConditionalCheckFailedException",
                          "message": "The conditional request failed"}  # fmt: skip


def test_transact_write_items_names_every_item_and_puts_are_keyed_from_their_item():
    recorder, table = Recorder(), Table()
    body = json.dumps({"TransactItems": [
        {"Put": {"TableName": "Transactions", "Item": {"userId": {"S": "u1"}, "x": {"N": "1"}}}},
        {"Update": {"TableName": "Aggregates", "Key": {"userId": {"S": "u1"}}}},
    ]})  # fmt: skip

    with recorder.invocation("PutTransactionFunction", payload("exec-1")):
        recorder.dynamodb_request("TransactWriteItems", body, lambda: FakeResponse(200, b"{}"),
                                  table.read)  # fmt: skip

    [call] = recorder.invocations("exec-1")[0].calls
    assert [(i["table"], i["key"]) for i in call.items] == [
        ("Transactions", {"userId": {"S": "u1"}}),
        ("Aggregates", {"userId": {"S": "u1"}}),
    ]


def test_requests_outside_an_invocation_or_without_an_execution_are_not_recorded():
    recorder, table = Recorder(), Table()
    sent = []

    recorder.dynamodb_request("GetItem", update(), lambda: sent.append(1), table.read)
    with recorder.invocation("GetBalanceFunction", b'{"httpMethod": "GET"}'):
        recorder.dynamodb_request("GetItem", update(), lambda: sent.append(2), table.read)
    with recorder.invocation("GetBalanceFunction", b"not json"):
        recorder.dynamodb_request("GetItem", update(), lambda: sent.append(3), table.read)

    assert sent == [1, 2, 3]
    assert recorder._invocations == {}


def test_only_the_newest_executions_and_exchanges_are_kept():
    recorder = Recorder(max_executions=2)
    for number in range(3):
        with recorder.invocation("F", payload(f"exec-{number}")):
            pass
        recorder.record_http(HttpExchange(f"req-{number}", "POST", "/transactions", {}, "", 201,
                                          {}, "", 0.0, 0.0))  # fmt: skip

    assert recorder.invocations("exec-0") == []
    assert [len(recorder.invocations(f"exec-{n}")) for n in (1, 2)] == [1, 1]
    assert recorder.http_exchange("req-0") is None
    kept = recorder.http_exchange("req-2")
    assert kept is not None and kept.status == 201


def test_an_execution_touched_again_is_the_newest():
    recorder = Recorder(max_executions=2)
    for execution in ("exec-0", "exec-1", "exec-0", "exec-2"):
        with recorder.invocation("F", payload(execution)):
            pass

    assert len(recorder.invocations("exec-0")) == 2
    assert recorder.invocations("exec-1") == []


def deep_size(value, seen=None):
    """Bytes held by `value` and everything it references (strings, containers, slots)."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return 0
    seen.add(id(value))
    size = sys.getsizeof(value)
    if isinstance(value, dict):
        size += sum(deep_size(k, seen) + deep_size(v, seen) for k, v in value.items())
    elif isinstance(value, list | tuple):
        size += sum(deep_size(v, seen) for v in value)
    for name in getattr(type(value), "__slots__", ()):
        size += deep_size(getattr(value, name, None), seen)
    if hasattr(value, "__dict__"):
        size += deep_size(vars(value), seen)
    return size


def test_a_recorded_call_is_kept_as_text_not_as_parsed_items():
    recorder, table = Recorder(), Table()
    item = {"userId": {"S": "u1"}, **{f"attribute{n}": {"N": str(n)} for n in range(20)}}

    def send():
        table.items[("Aggregates", "u1")] = item
        return FakeResponse(200, json.dumps({"Attributes": item}).encode())

    with recorder.invocation("AcquireLockFunction", payload("exec-1")):
        recorder.dynamodb_request("UpdateItem", update(), send, table.read)

    [call] = recorder.invocations("exec-1")[0].calls
    text = len(json.dumps([call.request, call.response, call.items]))
    assert deep_size(call) < 2 * text  # parsed, the same call held about ten times its text
    assert call.response == {"Attributes": item}
    call.items[0]["after"] = None  # what a reader gets is its own copy
    assert call.items[0]["after"] == item
