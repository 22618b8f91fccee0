"""infra/local/dynamodb/expressions.py: update expressions whose parse trees free themselves,
applied exactly as moto applies them."""

from __future__ import annotations

import copy
import gc
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]

from infra.local.patches import RUNTIME_PATCHES

PATCH = "moto.dynamodb.parsing.ast_nodes:Node.parent"
# Each update is applied to the item the previous ones left; an update moto refuses is recorded.
UPDATES: list[tuple[str, dict[str, Any] | None, dict[str, str] | None]] = [
    ("SET balance = :b, #s = :s", {":b": {"N": "100"}, ":s": {"S": "open"}}, {"#s": "status"}),
    ("SET balance = balance + :d", {":d": {"N": "7.5"}}, None),
    ("SET balance = balance - :d, seq = if_not_exists(seq, :zero) + :one",
     {":d": {"N": "2"}, ":zero": {"N": "0"}, ":one": {"N": "1"}}, None),
    ("SET entries = list_append(if_not_exists(entries, :empty), :e)",
     {":empty": {"L": []}, ":e": {"L": [{"S": "a"}, {"S": "b"}]}}, None),
    ("SET entries[1] = :x, nested = :m", {":x": {"S": "B"}, ":m": {"M": {"k": {"N": "1"}}}}, None),
    ("SET nested.k = nested.k + :one, nested.#n = :v",
     {":one": {"N": "1"}, ":v": {"S": "deep"}}, {"#n": "name"}),
    ("ADD tags :t, hits :one", {":t": {"SS": ["x", "y"]}, ":one": {"N": "1"}}, None),
    ("DELETE tags :t", {":t": {"SS": ["x"]}}, None),
    ("REMOVE entries[0], #s", None, {"#s": "status"}),
    ("SET absent.child = :v", {":v": {"S": "no parent"}}, None),  # refused: no such path
    ("SET balance = balance + :s", {":s": {"S": "not a number"}}, None),  # refused: wrong type
]  # fmt: skip


def applied_updates() -> list[Any]:
    """What each update leaves (the item, or moto's error), on a fresh moto."""
    outcomes: list[Any] = []
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for expression, values, names in UPDATES:
            request: dict[str, Any] = {
                "TableName": "t",
                "Key": {"id": {"S": "1"}},
                "UpdateExpression": expression,
            }
            if values:
                request["ExpressionAttributeValues"] = values
            if names:
                request["ExpressionAttributeNames"] = names
            try:
                client.update_item(**request)
            except client.exceptions.ClientError as error:
                outcomes.append(error.response["Error"])
                continue
            outcomes.append(client.get_item(TableName="t", Key={"id": {"S": "1"}})["Item"])
    return outcomes


@pytest.fixture
def weak_parents() -> Iterator[None]:
    with RUNTIME_PATCHES.applied(PATCH):
        yield


def test_updates_are_applied_as_moto_applies_them():
    unpatched = applied_updates()
    with RUNTIME_PATCHES.applied(PATCH):
        patched = applied_updates()

    assert patched == unpatched
    assert sum(isinstance(o, dict) and "Code" in o for o in unpatched) == 2  # both refusals ran


def test_a_parsed_tree_is_freed_without_the_cyclic_collector(weak_parents):
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        tree = UpdateExpressionParser.make("SET a = a + :one, b = list_append(b, :c) REMOVE d")
        assert tree.children[0].parent is tree
        del tree
        gc.collect()
        left = [o for o in gc.garbage if type(o).__module__ == "moto.dynamodb.parsing.ast_nodes"]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()

    assert left == []


def test_without_the_patch_a_parsed_tree_is_cyclic_garbage():
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        tree = UpdateExpressionParser.make("SET a = a + :one")
        del tree
        gc.collect()
        left = [o for o in gc.garbage if type(o).__module__ == "moto.dynamodb.parsing.ast_nodes"]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()

    assert left  # why the patch


def test_a_copied_tree_points_to_its_own_parents(weak_parents):
    tree = UpdateExpressionParser.make("SET a = :v, b = :w")
    copied = copy.deepcopy(tree)

    def nodes(root: Any) -> Iterator[Any]:
        yield root
        for child in root.children or []:
            if hasattr(child, "children"):
                yield from nodes(child)

    pairs = list(zip(nodes(tree), nodes(copied), strict=True))
    assert len(pairs) > 3
    originals = {id(original) for original, _ in pairs}
    for original, twin in pairs[1:]:
        assert twin.parent is not None
        assert id(twin.parent) not in originals  # the copy's own parent, not the original's
        assert type(twin.parent) is type(original.parent)
    assert copied.parent is None
