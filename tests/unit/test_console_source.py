"""What the console reads out of an execution: names, users, request ids, outbox events."""

import json

import pytest

from infra.console.app import pretty
from infra.console.source import (
    Executions,
    UnknownExecutionError,
    is_execution_name,
    outbox_events,
    request_id_of,
    user_of,
    users_of,
)
from infra.local.recorder import DynamoDbCall, Invocation


@pytest.mark.parametrize(
    "name",
    ["a", "x" * 80, "3f2c1a9e-8d7b-4c6a-9f1e-2b3c4d5e6f70", "8dbd60711eba4c9987b4423496243aa5"],
    ids=["one-char", "80-chars", "api-request-id", "uuid-hex"],
)
def test_names_step_functions_accepts(name):
    assert is_execution_name(name)


@pytest.mark.parametrize(
    "name",
    ["", "x" * 81, "a b", "a/b", "a:b", "a$b", "a#b", "a\tb", "a[b]", "a*b", 'a"b', "a\x7fb"],
    ids=["empty", "81-chars", "space", "slash", "colon", "dollar", "hash", "tab", "brackets",
         "wildcard", "quote", "control"],
)  # fmt: skip
def test_names_step_functions_refuses(name):
    assert not is_execution_name(name)


def test_the_user_and_request_id_come_from_the_execution_input():
    execution_input = json.dumps(
        {"body": json.dumps({"userId": "u1", "ammount": "1"}), "requestId": "r-1"}
    )

    assert user_of(execution_input) == "u1"
    assert request_id_of(execution_input) == "r-1"


@pytest.mark.parametrize(
    "execution_input",
    [None, "not json", "[]", json.dumps({"body": "not json"}), json.dumps({"body": "[1]"}),
     json.dumps({"body": json.dumps({"userId": 7})}), json.dumps({"body": {"tooLarge": True}}),
     json.dumps({"body": "[" * 5000 + "]" * 5000}),
     json.dumps({"body": '{"userId": "u1", "x": ' + "[" * 5000 + "]" * 5000 + "}"})],
    ids=["none", "not-json", "not-an-object", "body-not-json", "body-not-an-object",
         "user-not-a-string", "body-too-large-marker", "body-nested-too-deep",
         "body-nesting-too-deep-beside-the-user"],
)  # fmt: skip
def test_an_input_without_a_readable_user_has_none(execution_input):
    assert user_of(execution_input) is None


def test_outbox_events_are_the_outbox_puts_of_successful_transactions():
    def call(operation, items, error=None):
        request = {"TransactItems": [{"Put": {"TableName": t, "Item": i}} for t, i in items]}
        return DynamoDbCall(operation, request, 0.0, error=error)

    event = {"eventId": {"S": "e-1"}}
    invocation = Invocation("UpdateBalanceFunction", 0.0, calls=[
        call("TransactWriteItems", [("wallet-OutboxTable", event), ("Transactions", {})]),
        call("TransactWriteItems", [("OutboxTable", {"eventId": {"S": "e-2"}})],
             error={"code": "TransactionCanceledException", "message": ""}),
        call("PutItem", [("OutboxTable", {"eventId": {"S": "e-3"}})]),
    ])  # fmt: skip

    published = outbox_events({"wallet-OutboxTable", "OutboxTable"})
    assert published("arn", [invocation]) == [{"table": "wallet-OutboxTable", "item": event}]
    assert outbox_events(())("arn", [invocation]) == []


class _NoClient:
    """A Step Functions client no call may reach."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the lookup called {name}")


def test_with_an_index_a_request_id_is_looked_up_there_only():
    index = {"r-1": "arn:aws:states:us-east-1:1:execution:m:r-1"}
    executions = Executions(_NoClient(), "arn:m", request_index=index.get)

    assert executions.find_by_request_id("r-1") == index["r-1"]
    with pytest.raises(UnknownExecutionError, match="r-2"):
        executions.find_by_request_id("r-2")


def test_a_transfer_is_listed_under_its_source_and_shows_both_users():
    body = json.dumps({"fromUserId": "u1", "toUserId": "u2", "amount": "1"})
    execution_input = json.dumps({"body": body, "idempotencyKey": "k", "requestId": "r"})

    assert users_of(execution_input) == ["u1", "u2"]
    assert user_of(execution_input) == "u1"


def test_a_document_nested_deeper_than_the_parser_goes_is_shown_as_it_was_sent():
    deep = "[" * 5000 + "]" * 5000

    assert pretty(deep) == deep
    assert pretty('{"a": [1]}') == '{\n  "a": [\n    1\n  ]\n}'
