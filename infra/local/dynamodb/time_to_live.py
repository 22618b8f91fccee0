"""DynamoDB's time to live, which moto does not implement.

`TimeToLive` deletes the items of the tables whose
TimeToLiveSpecification is enabled once their attribute (epoch seconds) is in the past, through
DeleteItem conditioned on it still being so, as DynamoDB's background deletion does (an item
rewritten with a later time stays). AWS deletes within a few days of the time; the runtime
sweeps every SWEEP_SECONDS.

The sweep finds the expired items by reading moto's table in-process, not with a Scan: moto
evaluates a Scan's filter item by item through its expression parser and sorts the whole table
first, so a sweep of 10,000 outbox items (none expired: they live 2 days) held the process for
about a second every minute, the slowest request of `make run` after a few thousand
transactions. Reading the items' attribute directly costs a few milliseconds.

A known gap: the REMOVE stream record carries no `userIdentity` of
the DynamoDB service, as AWS's does.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, cast

from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import Item

from infra.local.cloudformation.template import ACCOUNT_ID, REGION

log = logging.getLogger("local_dynamodb")
SWEEP_SECONDS = 60.0


class TimeToLive:
    """Deletes expired items of the tables that enable TTL: `{table name: attribute}`."""

    def __init__(
        self,
        client: Any,
        attributes: dict[str, str],
        clock: Callable[[], float] = time.time,
        account_id: str = ACCOUNT_ID,
        region: str = REGION,
    ) -> None:
        self._client = client
        self._attributes = attributes
        self._clock = clock
        self._account_id = account_id
        self._region = region
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep(self) -> int:
        """Delete every item whose time to live has passed; returns how many were deleted."""
        deleted = 0
        for table, attribute in self._attributes.items():
            seconds = int(self._clock())
            now = {":now": {"N": str(seconds)}}
            names = {"#ttl": attribute}
            for key in self._expired_keys(table, attribute, seconds):
                try:
                    self._client.delete_item(
                        TableName=table,
                        Key=key,
                        ConditionExpression="#ttl < :now",
                        ExpressionAttributeNames=names,
                        ExpressionAttributeValues=now,
                    )
                    deleted += 1
                except self._client.exceptions.ConditionalCheckFailedException:
                    pass  # rewritten with a later time since it was read
        return deleted

    def _expired_keys(self, table_name: str, attribute: str, now: int) -> list[dict[str, Any]]:
        """The keys of the items whose `attribute` is a number below `now` (DynamoDB ignores an
        attribute of another type), read from moto's table as it stands."""
        table = dynamodb_backends[self._account_id][self._region].get_table(table_name)
        # Copies, each made at once (other threads write the table meanwhile).
        partitions = list(table.items.values())
        # moto types a table's items loosely: a partition is an Item, or {range key: Item}.
        items = cast(
            "list[Item]",
            [item for partition in partitions for item in list(partition.values())]
            if table.range_key_attr
            else partitions,
        )
        keys = []
        for item in items:
            value = item.attrs.get(attribute)
            if value is not None and value.type == "N" and Decimal(value.value) < now:
                key = {table.hash_key_attr: item.hash_key.to_json()}
                if table.range_key_attr and item.range_key is not None:
                    key[table.range_key_attr] = item.range_key.to_json()
                keys.append(key)
        return keys

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="dynamodb-ttl", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(SWEEP_SECONDS):
            try:
                self.sweep()
            except Exception:  # a failed sweep must not end the thread; the next one retries
                log.exception("the time-to-live sweep failed")
