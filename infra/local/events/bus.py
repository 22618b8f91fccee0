"""EventBridge on one machine: the template's buses on moto, each with a tap, and PutEvents
faults.

Each bus of the template is created under its logical id, with a rule (`<Bus>Tap`) delivering
every event that has a source to an SQS queue of the same name, as a consumer subscribed to the
bus would be. Every event the bus accepts is logged (logger `local_events`), which is how
`make run` shows them; tests read them with `published()`.

The tap is emptied into a record of the newest `kept` events (the runtime's LOCAL_EVENTS_KEPT,
10,000 by default) once it holds `TAP_HELD` events, and whenever `published()` is read: in
`make run` nobody reads the queue, and moto's SendMessage builds every attribute of the queue,
ApproximateNumberOfMessages included (a pass over every message), to read one, so a queue that
only grew made each event slower than the last and the process larger (issue 11). Emptied after
every event, its ReceiveMessage and DeleteMessageBatch calls cost a tenth of the runtime's CPU
under a hot user's load (issue 16); a hundred at a time, a few per cent of that.

moto's delivery to a rule's target parses the JSONPaths of the target's input (eight when it has
no InputTransformer) for every event, building a new parser for each; the runtime keeps what
each path parses to, with Step Functions' paths (infra/local/stepfunctions/interpreter.py).

PutEvents goes through `put_events` (the runtime's request routing sends it here): it can be
made to refuse some entries, answering as EventBridge does on a partial failure (HTTP 200,
FailedEntryCount > 0, an ErrorCode on each refused entry, in the request's order); the others
are delivered by moto. Where it differs: moto checks no quota, size or permission.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, cast

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from moto.core.botocore_stubber import MockRawResponse
from moto.sqs.models import sqs_backends

from infra.local.cloudformation.template import ACCOUNT_ID

log = logging.getLogger("local_events")

EVENTS_KEPT = 10_000
TAP_HELD = 100  # events the tap queue holds before they are moved into the record


def tap_name(bus: str) -> str:
    return f"{bus}Tap"


class LocalEventBridge:
    def __init__(self, buses: tuple[str, ...], kept: int = EVENTS_KEPT) -> None:
        if kept < 1:
            raise ValueError(f"at least one published event must be kept, not {kept}")
        self.buses = buses
        self.kept = kept
        self._lock = threading.Lock()
        self._delivery_lock = threading.Lock()
        self._refuse_next = 0
        self._refusal_rate = 0.0
        self._random = random.Random(0)
        # Each event as the JSON text delivered (parsed, one took about twice the memory).
        self._published: dict[str, deque[str]] = {}
        self.refused = 0  # entries refused so far
        self._events: Any = None
        self._sqs: Any = None
        self._tap_urls: dict[str, str] = {}
        self._tap_queues: dict[str, Any] = {}
        self._held = 0  # events delivered to the taps since they were last emptied

    def start(self, events: Any, sqs: Any, region: str) -> None:
        self._events, self._sqs = events, sqs
        for bus in self.buses:
            bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
            url = sqs.create_queue(QueueName=tap_name(bus))["QueueUrl"]
            queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            events.put_rule(
                Name=tap_name(bus),
                EventBusName=bus,
                EventPattern=json.dumps({"source": [{"exists": True}]}),
            )
            events.put_targets(
                Rule=tap_name(bus), EventBusName=bus, Targets=[{"Id": "tap", "Arn": queue_arn}]
            )
            self._tap_urls[bus_arn] = self._tap_urls[bus] = url
            self._published[url] = deque(maxlen=self.kept)
            self._tap_queues[url] = sqs_backends[ACCOUNT_ID][region].queues[tap_name(bus)]

    def refuse_entries(self, count: int) -> None:
        """Refuse the next `count` entries PutEvents receives (across requests)."""
        with self._lock:
            self._refuse_next = count

    def refuse_at_random(self, rate: float, seed: int = 0) -> None:
        """Refuse each entry with probability `rate` (0 stops it), reproducibly."""
        with self._lock:
            self._refusal_rate = rate
            self._random = random.Random(seed)

    def _refuses(self) -> bool:
        if self._refuse_next > 0:
            self._refuse_next -= 1
            return True
        return self._refusal_rate > 0 and self._random.random() < self._refusal_rate

    def put_events(
        self, request: AWSPreparedRequest, deliver: Callable[[AWSPreparedRequest], AWSResponse]
    ) -> AWSResponse:
        """Answer a PutEvents request: the refused entries here, the rest by `deliver` (moto)."""
        # botocore serialized the request to JSON: bytes, not a stream.
        body = json.loads(cast(bytes, request.body or b"{}"))
        entries = body.get("Entries", [])
        with self._lock:
            refused = [self._refuses() for _ in entries]
            self.refused += sum(refused)
        accepted = [entry for entry, no in zip(entries, refused, strict=True) if not no]
        answers: list[dict[str, Any]] = []
        if accepted:
            request.body = json.dumps({**body, "Entries": accepted}).encode()
            request.headers["Content-Length"] = str(len(request.body))
            with self._delivery_lock:  # moto's SQS, which feeds the tap, is not thread-safe
                response = deliver(request)
                self._held += len(accepted)
                if self._held >= TAP_HELD:
                    self._empty_taps()
            if response.status_code != 200:
                return response
            answers = json.loads(response.content)["Entries"]
            for entry, answer in zip(accepted, answers, strict=True):
                if "EventId" in answer:
                    log.info(
                        "published %s %s on %s", entry["DetailType"], entry["Detail"],
                        entry.get("EventBusName", "default"),
                    )  # fmt: skip
        merged, answered = [], iter(answers)
        for no in refused:
            merged.append(
                {"ErrorCode": "InternalFailure", "ErrorMessage": "refused by a local fault"}
                if no
                else next(answered)
            )
        failed = sum(1 for answer in merged if "ErrorCode" in answer)
        payload = json.dumps({"FailedEntryCount": failed, "Entries": merged}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.1"}
        return AWSResponse(request.url, 200, headers, MockRawResponse(payload))  # type: ignore[arg-type]

    def published(self, bus: str | None = None) -> list[dict[str, Any]]:
        """The newest `kept` events delivered to the tap of `bus` (the only one, by default), in
        the order received; each is the JSON EventBridge delivers to an SQS target."""
        url = self._tap_urls[bus or self.buses[0]]
        with self._delivery_lock:
            self._empty_taps()
            return [json.loads(body) for body in self._published[url]]

    def _empty_taps(self) -> None:
        for url in set(self._tap_urls.values()):
            self._empty_tap(url)
        self._held = 0

    def _empty_tap(self, url: str) -> None:
        """Move what the tap queue holds into the record (with the delivery lock held)."""
        while True:
            messages = self._sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return
            self._published[url].extend(message["Body"] for message in messages)
            self._sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": message["ReceiptHandle"]}
                    for n, message in enumerate(messages)
                ],
            )
            # moto remembers every receipt handle it deleted, to let a second delete pass.
            self._tap_queues[url].deleted_messages.clear()
