"""TransactWriteItems whose cost is the items it touches, not the tables they live in.

What moto 5.2.5 does: before every TransactWriteItems, `DynamoDBBackend.transact_write_items`
deep-copies each table the transaction names (every item, and the stream shard with every record
it ever kept) so that a cancelled transaction can put the copies back in place of the tables.

Why that is wrong for us: the wallet writes every transaction through TransactWriteItems, so
each one copies everything ever written: `make run` slowed from 135 ms to 1.4 s per transaction
over 800 of them, grew by gigabytes, and its executions started timing out. Putting a copy back
also replaces the Table object, so a stream shard iterator handed out before a cancelled
transaction keeps reading a shard the table no longer has.

What this does instead: the tables are never copied (moto's own loop still decides every answer:
conditions, cancellation reasons, ReturnValuesOnConditionCheckFailure); before it runs, an undo
log keeps a copy of each item the transaction names and the length of each stream shard; if the
transaction raises, for whatever reason, those items are put back and the records it appended
are dropped. The runtime serializes DynamoDB requests, so nothing else writes in between.

Proven by tests/local/dynamodb/test_transactions.py: a differential Hypothesis test against moto's
own implementation (same answers, items and stream records), and a count of the items copied,
which does not grow with the table. The patches are declared in infra/local/patches.py.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table

_TransactWrite = Callable[[DynamoDBBackend, list[dict[str, Any]]], None]


class _CopyingAllButTables:
    """The `copy` module as moto's DynamoDB backend sees it: a Table comes back as itself."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        if isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)


_Key = tuple[str, DynamoType, DynamoType | None]


class UndoLog:
    """What a transaction may change, kept before it runs: the items it names and the shards."""

    def __init__(self, backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        self._backend = backend
        self.items: dict[_Key, Item | None] = {}
        self.shard_lengths: dict[str, int] = {}
        for entry in transact_items:
            key = _touched_key(backend, entry)
            if key is None or key in self.items:
                continue
            table = backend.get_table(key[0])
            current = table.get_item(key[1], key[2])
            self.items[key] = copy.deepcopy(current)
            if table.stream_shard is not None:
                self.shard_lengths.setdefault(key[0], len(table.stream_shard.items))

    def undo(self) -> None:
        for (table_name, hash_key, range_key), item in self.items.items():
            table = self._backend.tables[table_name]
            if range_key is None:
                if item is None:
                    table.items.pop(hash_key, None)
                else:
                    table.items[hash_key] = item  # type: ignore[assignment]
            elif item is None:
                table.items[hash_key].pop(range_key, None)
            else:
                table.items[hash_key][range_key] = item
        for table_name, length in self.shard_lengths.items():
            shard = self._backend.tables[table_name].stream_shard
            if shard is not None:
                del shard.items[length:]


def _touched_key(backend: DynamoDBBackend, entry: Any) -> _Key | None:
    """The item one entry of TransactItems may write, or None when it cannot write any: moto
    looks its key up the same way before writing, and refuses the entry when that fails."""
    if not isinstance(entry, dict) or not entry:
        return None
    operation = next(iter(entry.values()))
    if not isinstance(operation, dict):
        return None
    try:
        table = backend.get_table(operation["TableName"])  # a name or an ARN
        if next(iter(entry)) == "Put":
            attributes = operation["Item"]
            key_names = (table.hash_key_attr, table.range_key_attr or "")
            key = {name: attributes[name] for name in key_names if name in attributes}
        else:
            key = operation["Key"]
        hash_key, range_key = backend.get_keys_value(table, key)
    except Exception:
        return None
    return table.name, hash_key, range_key


def with_undo_log(transact_write_items: _TransactWrite) -> _TransactWrite:
    @functools.wraps(transact_write_items)
    def transact_write_items_logged(
        self: DynamoDBBackend, transact_items: list[dict[str, Any]]
    ) -> None:
        log = UndoLog(self, transact_items)
        try:
            transact_write_items(self, transact_items)
        except BaseException:
            log.undo()
            raise

    return transact_write_items_logged


def copying_all_but_tables(original: Any) -> Any:
    """The `copy` module moto's DynamoDB backend imported, in place of `original` (that module)."""
    return _CopyingAllButTables()


def written_tables(operation: str, body: bytes | str | None) -> list[str]:
    """The tables a DynamoDB request writes to, from its JSON body ([] for a read)."""
    if operation not in _WRITES or not body:
        return []
    request = json.loads(body)
    if operation == "TransactWriteItems":
        return [
            action["TableName"]
            for entry in request.get("TransactItems", [])
            for action in entry.values()
            if isinstance(action, dict) and "TableName" in action
        ]
    if operation == "BatchWriteItem":
        return list(request.get("RequestItems", {}))
    return [request["TableName"]] if "TableName" in request else []


_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})
