"""DynamoDB's time to live, which moto does not implement.

`TimeToLive` deletes the items of the tables whose
TimeToLiveSpecification is enabled once their attribute (epoch seconds) is in the past, through
DeleteItem conditioned on it still being so, as DynamoDB's background deletion does (an item
rewritten with a later time stays). AWS deletes within a few days of the time; the runtime
sweeps every SWEEP_SECONDS. A known gap: the REMOVE stream record carries no `userIdentity` of
the DynamoDB service, as AWS's does.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("local_dynamodb")
SWEEP_SECONDS = 60.0


class TimeToLive:
    """Deletes expired items of the tables that enable TTL: `{table name: attribute}`."""

    def __init__(
        self, client: Any, attributes: dict[str, str], clock: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._attributes = attributes
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep(self) -> int:
        """Delete every item whose time to live has passed; returns how many were deleted."""
        deleted = 0
        for table, attribute in self._attributes.items():
            now = {":now": {"N": str(int(self._clock()))}}
            names = {"#ttl": attribute}
            key_names = self._key_names(table)
            aliases = {f"#k{n}": name for n, name in enumerate(key_names)}
            pages = self._client.get_paginator("scan").paginate(
                TableName=table,
                FilterExpression="#ttl < :now",
                ProjectionExpression=", ".join(aliases),
                ExpressionAttributeNames={**names, **aliases},
                ExpressionAttributeValues=now,
            )
            for page in pages:
                for key in page["Items"]:
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
                        pass  # rewritten with a later time since the scan
        return deleted

    def _key_names(self, table: str) -> list[str]:
        schema = self._client.describe_table(TableName=table)["Table"]["KeySchema"]
        return [part["AttributeName"] for part in schema]

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
