"""The wallet's EventBridge bus: PutEvents, reporting which entries it refused."""

from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import ClientError

from functions.domain.events import SOURCE, OutboxEvent
from functions.settings import Settings

if TYPE_CHECKING:
    from types_boto3_events import EventBridgeClient
    from types_boto3_events.type_defs import PutEventsRequestEntryTypeDef

# PutEvents takes at most 10 entries per request.
MAX_ENTRIES = 10
# Errors of the whole request that mean "try again": its entries are refused, not lost.
TRANSIENT_ERROR_CODES = frozenset({"ThrottlingException", "InternalException", "InternalFailure"})


@cache
def client() -> "EventBridgeClient":
    return boto3.client("events")


class EventBusRepository:
    def __init__(self, client: "EventBridgeClient", bus_name: str) -> None:
        self._client = client
        self._bus = bus_name

    def put_events(self, events: Sequence[OutboxEvent]) -> list[OutboxEvent]:
        """Publish `events`; returns, in order, those the bus refused: a PutEvents answer with
        FailedEntryCount > 0 names them by position (an entry with an ErrorCode).

        Raises: ClientError if the request itself is refused for a reason other than throttling
        or an internal error (a missing bus, no permission): a retry would not help.
        """
        refused: list[OutboxEvent] = []
        for start in range(0, len(events), MAX_ENTRIES):
            chunk = events[start : start + MAX_ENTRIES]
            try:
                response = self._client.put_events(Entries=[self._entry(e) for e in chunk])
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") not in TRANSIENT_ERROR_CODES:
                    raise
                refused += chunk
                continue
            if response.get("FailedEntryCount", 0):
                refused += [
                    event
                    for event, result in zip(chunk, response["Entries"], strict=True)
                    if result.get("ErrorCode")
                ]
        return refused

    def _entry(self, event: OutboxEvent) -> "PutEventsRequestEntryTypeDef":
        return {
            "EventBusName": self._bus,
            "Source": SOURCE,
            "DetailType": event.detail_type,
            "Detail": event.detail,
        }


def repository(settings: Settings) -> EventBusRepository:
    return repository_for(settings.event_bus_name)


def repository_for(bus_name: str) -> EventBusRepository:
    return EventBusRepository(client(), bus_name)
