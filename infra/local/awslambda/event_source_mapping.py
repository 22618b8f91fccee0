"""What a Lambda event source mapping does for a DynamoDB stream, in-process.

The event sources are the template's own (SAM `Events` of Type DynamoDB): each one gets a
poller that reads its table's stream from the position it has reached, in a background thread
while the runtime runs, and hands batches, shaped exactly as Lambda's DynamoDB stream event, to
the function through LocalLambdas (so fault points apply). As on AWS:

- records that match none of the FilterCriteria patterns are dropped (and passed);
- a batch is at most BatchSize records, in stream order;
- a function error retries the batch; with BisectBatchOnFunctionError it is split in halves
  first, and each half is delivered on its own (splitting counts as no retry);
- with ReportBatchItemFailures, `{"batchItemFailures": [{"itemIdentifier": seq}]}` checkpoints
  before the lowest reported record and delivers again from it (a retry); an answer naming a
  record not in the batch fails the whole batch;
- after MaximumRetryAttempts retries, the batch's stream positions go to the OnFailure SQS queue
  in Lambda's on-failure record shape, and the poller moves past it.

Where it differs: retries follow each other at once (no backoff); an infinite
MaximumRetryAttempts (-1) is capped at LOCAL_STREAM_MAX_RETRIES (100), so a poison record cannot
hold a test forever; a stream has one shard and one poller; MaximumRecordAgeInSeconds,
ParallelizationFactor, batching and tumbling windows are not modelled (a template setting one is
refused by infra/local/cloudformation/template.py). moto's own Lambda event source
mappings are never created: they try Docker on every write and drop the records.

A poller sleeps until its table is written (the runtime's request routing calls `written`),
or IDLE_POLL_SECONDS pass, instead of polling on a timer: a poll is two moto requests that take
the DynamoDB lock, and twenty of them a second per poller took CPU from the requests themselves
and, each registering a shard iterator kept 15 minutes, grew the process (issue 11). It reads on
with the NextShardIterator of its last GetRecords, as Lambda does, and opens a fresh iterator
from its position only when it has none or its position was moved.

moto traps handled here: ApproximateCreationDateTime comes back as a datetime and is
turned into epoch seconds, as Lambda sends it. Not handled: moto emits two INSERTs for an
UpdateItem that creates an item (the first with the keys only); the tables streamed here are
only written with PutItem.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from infra.local.awslambda.functions import LocalLambdas
from infra.local.cloudformation.template import ACCOUNT_ID, StreamSource

log = logging.getLogger("local_streams")

DEFAULT_MAX_RETRIES = 100
IDLE_POLL_SECONDS = 1.0  # a poll nobody woke, in case a write reached moto another way
RECORDS_PER_READ = 1000  # GetRecords' Limit


def local_max_retries() -> int:
    return int(os.environ.get("LOCAL_STREAM_MAX_RETRIES", DEFAULT_MAX_RETRIES))


def matches(pattern: Any, value: Any) -> bool:
    """An event filtering pattern against a record: the subset Lambda's filters use here
    (nested objects, lists of accepted values, `exists`, `prefix`, `anything-but`)."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        return all(matches(p, value.get(key, _MISSING)) for key, p in pattern.items())
    if isinstance(pattern, list):
        return any(_matches_one(p, value) for p in pattern)
    raise ValueError(f"a filter pattern's leaves are lists, not {pattern!r}")


_MISSING = object()


def _matches_one(accepted: Any, value: Any) -> bool:
    if isinstance(accepted, dict):
        [(operator, operand)] = accepted.items()
        if operator == "exists":
            return (value is not _MISSING) is operand
        if operator == "prefix":
            return isinstance(value, str) and value.startswith(operand)
        if operator == "anything-but":
            excluded = operand if isinstance(operand, list) else [operand]
            return value is not _MISSING and value not in excluded
        raise ValueError(f"the local runtime does not filter on {operator!r}")
    return value is not _MISSING and value == accepted


def lambda_record(record: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A GetRecords record as Lambda puts it in the event it invokes the function with."""
    change = dict(record["dynamodb"])
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        change["ApproximateCreationDateTime"] = float(int(created.timestamp()))
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": change,
        "eventSourceARN": stream_arn,
    }


@dataclass
class _Outcome:
    """What an invocation said about a batch: None failed, or the index of the first record
    to deliver again, or the whole batch (index 0) on a function error."""

    first_failed: int | None
    function_error: str | None = None


class StreamPoller:
    """One event source mapping: a table's stream, polled into one function."""

    def __init__(
        self,
        source: StreamSource,
        stream_arn: str,
        streams: Any,
        lambdas: LocalLambdas,
        send_to_queue: Callable[[str, str], None],
        region: str,
    ) -> None:
        self.source = source
        self.stream_arn = stream_arn
        self._streams = streams
        self._lambdas = lambdas
        self._send_to_queue = send_to_queue
        self._region = region
        self._polling = threading.Lock()  # one poll at a time (the thread, or a drain)
        # The sequence number of the last record handled; None before the first.
        self.position: str | None = None
        self.delivered = 0  # records handed to the function, retries included
        self.failed_batches = 0  # batches sent to the on-failure destination
        self._consumers: list[Callable[[str], None]] = []
        self._shard_id: str | None = None
        # NextShardIterator of the last read, and the position it continues from.
        self._next: tuple[str | None, str] | None = None
        if source.starting_position == "LATEST":
            self.position = self._latest_sequence_number()

    def on_passed(self, callback: Callable[[str], None]) -> None:
        """Call `callback(sequence_number)` each time the poller has moved past a record."""
        self._consumers.append(callback)

    def poll_once(self) -> int:
        """Read what the stream holds past the position and deliver it; returns how many
        records were read (0 when the poller has caught up)."""
        with self._polling:
            records = self._read()
            if not records:
                return 0
            matching = [r for r in records if self._is_wanted(r)]
            for start in range(0, len(matching), self.source.batch_size):
                self._deliver(matching[start : start + self.source.batch_size])
            self._advance(records[-1]["dynamodb"]["SequenceNumber"])
            return len(records)

    def _read(self) -> list[dict[str, Any]]:
        try:
            return self._read_from_position()
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code == "ExpiredIteratorException":
                # Nothing was written for 15 minutes: open a fresh iterator from the position.
                return self._read_from_position()
            if code != "TrimmedDataAccessException":
                raise
            # Records were dropped before this poller read them (the runtime's bound on what a
            # stream keeps): as past a stream's retention on AWS, read on from the oldest kept.
            log.warning("%s: records trimmed before they were read", self.source.function)
            self.position = None
            return self._read_from_position()

    def _read_from_position(self) -> list[dict[str, Any]]:
        iterator: str | None = None
        if self._next is not None and self._next[0] == self.position:
            iterator = self._next[1]
        else:
            iterator = self._open_iterator()
        self._next = None
        if iterator is None:
            return []
        answer = self._streams.get_records(ShardIterator=iterator, Limit=RECORDS_PER_READ)
        records = list(answer["Records"])
        if "NextShardIterator" in answer:
            position = records[-1]["dynamodb"]["SequenceNumber"] if records else self.position
            self._next = (position, answer["NextShardIterator"])
        return records

    def _open_iterator(self) -> str | None:
        if self._shard_id is None:
            description = self._streams.describe_stream(StreamArn=self.stream_arn)
            shards = description["StreamDescription"]["Shards"]
            if not shards:
                return None
            self._shard_id = shards[0]["ShardId"]
        kwargs: dict[str, Any] = {"ShardIteratorType": "TRIM_HORIZON"}
        if self.position is not None:
            kwargs = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": self.position}
        return str(
            self._streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=self._shard_id, **kwargs
            )["ShardIterator"]
        )

    def _latest_sequence_number(self) -> str | None:
        records = self._read()
        return records[-1]["dynamodb"]["SequenceNumber"] if records else None

    def _is_wanted(self, record: dict[str, Any]) -> bool:
        patterns = self.source.filter_patterns
        if not patterns:
            return True
        shaped = lambda_record(record, self.stream_arn, self._region)
        return any(matches(pattern, shaped) for pattern in patterns)

    def _advance(self, sequence_number: str) -> None:
        self.position = sequence_number
        for callback in self._consumers:
            callback(sequence_number)

    def _deliver(self, batch: Sequence[dict[str, Any]]) -> None:
        """Deliver `batch` until it succeeds, or is bisected, or its retries run out."""
        retries = 0
        limit = self.source.maximum_retry_attempts
        if limit < 0:
            limit = local_max_retries()
        while batch:
            outcome = self._invoke(batch)
            if outcome.first_failed is None:
                return
            bisect = outcome.function_error is not None and self.source.bisect_on_error
            if bisect and len(batch) > 1:
                half = len(batch) // 2
                self._deliver(batch[:half])
                self._deliver(batch[half:])
                return
            batch = batch[outcome.first_failed :]
            if retries >= limit:
                self._give_up(batch, retries + 1, outcome)
                return
            retries += 1

    def _invoke(self, batch: Sequence[dict[str, Any]]) -> _Outcome:
        event = {"Records": [lambda_record(r, self.stream_arn, self._region) for r in batch]}
        self.delivered += len(batch)
        result = self._lambdas.invoke(self.source.function, json.dumps(event).encode())
        if result.function_error:
            return _Outcome(0, result.function_error)
        if not self.source.report_batch_item_failures:
            return _Outcome(None)
        return _Outcome(_first_reported(json.loads(result.payload or b"null"), batch))

    def _give_up(
        self, batch: Sequence[dict[str, Any]], invocations: int, outcome: _Outcome
    ) -> None:
        self.failed_batches += 1
        log.warning(
            "%s: gave up on %d record(s) from %s after %d invocation(s)",
            self.source.function,
            len(batch),
            batch[0]["dynamodb"]["SequenceNumber"],
            invocations,
        )
        if self.source.on_failure_queue is None:
            return
        self._send_to_queue(
            self.source.on_failure_queue,
            json.dumps(self._on_failure_record(batch, invocations, outcome)),
        )

    def _on_failure_record(
        self, batch: Sequence[dict[str, Any]], invocations: int, outcome: _Outcome
    ) -> dict[str, Any]:
        """What Lambda sends to a stream mapping's on-failure destination: where the batch is in
        the stream, not its records (they are read again from there)."""

        def arrival(record: dict[str, Any]) -> str:
            created = lambda_record(record, self.stream_arn, self._region)["dynamodb"].get(
                "ApproximateCreationDateTime", 0
            )
            return _iso(datetime.fromtimestamp(float(created), UTC))

        function_arn = f"arn:aws:lambda:{self._region}:{ACCOUNT_ID}:function:{self.source.function}"
        return {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": function_arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": invocations,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": outcome.function_error or "",
            },
            "version": "1.0",
            "timestamp": _iso(datetime.now(UTC)),
            "DDBStreamBatchInfo": {
                "shardId": self._shard_id,
                "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": arrival(batch[0]),
                "approximateArrivalOfLastRecord": arrival(batch[-1]),
                "batchSize": len(batch),
                "streamArn": self.stream_arn,
            },
        }


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _first_reported(response: Any, batch: Sequence[dict[str, Any]]) -> int | None:
    """The index of the lowest record a partial batch response reports; 0 (the whole batch)
    when the response is malformed or names a record not in the batch, as Lambda treats it."""
    if not isinstance(response, dict) or not response.get("batchItemFailures"):
        return None
    positions = {r["dynamodb"]["SequenceNumber"]: i for i, r in enumerate(batch)}
    indexes = []
    for failure in response["batchItemFailures"]:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if identifier not in positions:
            return 0
        indexes.append(positions[identifier])
    return min(indexes)


class LocalStreams:
    """Every stream event source of the template, each with its poller and thread.

    `trim(table, through_sequence_number)`, if given, is called once every poller of a table's
    stream has moved past a record, so the runtime can drop the records nobody will read again.
    Where AWS keeps a record 24 hours whoever read it, a rewound poller here finds only what was
    not trimmed yet: `keeping_read_records()` holds the trimming off for a test that rewinds.
    """

    def __init__(
        self, pollers: list[StreamPoller], trim: Callable[[str, str], object] | None = None
    ) -> None:
        self.pollers = pollers
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._trim = trim
        self._trim_lock = threading.Lock()
        self._trimmed: dict[str, int] = {}
        self._keeping = 0
        self._wakes = {id(poller): threading.Event() for poller in pollers}
        for poller in pollers:
            poller.on_passed(functools.partial(self._passed, poller.source.table))

    @contextmanager
    def keeping_read_records(self) -> Iterator[None]:
        """Trim no read record meanwhile (the runtime's cap on a stream's records still holds),
        so that a poller moved back to TRIM_HORIZON reads them again, as on AWS within 24 h."""
        with self._trim_lock:
            self._keeping += 1
        try:
            yield
        finally:
            with self._trim_lock:
                self._keeping -= 1

    def _passed(self, table: str, _sequence_number: str) -> None:
        if self._trim is None or self._keeping:
            return
        positions = [p.position for p in self.pollers if p.source.table == table]
        if any(position is None for position in positions):
            return
        through = min(int(position) for position in positions if position is not None)
        with self._trim_lock:
            if self._trimmed.get(table, -1) >= through:
                return
            self._trimmed[table] = through
        self._trim(table, str(through))

    def written(self, tables: Iterable[str]) -> None:
        """Wake the pollers of these tables' streams (the runtime calls it after each write)."""
        names = set(tables)
        for poller in self.pollers:
            if poller.source.table in names:
                self._wakes[id(poller)].set()

    def start(self) -> None:
        self._stop.clear()
        for poller in self.pollers:
            thread = threading.Thread(
                target=self._run,
                args=(poller,),
                name=f"stream-{poller.source.function}-{poller.source.name}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop polling in the background (drain() still consumes the streams)."""
        self._stop.set()
        for wake in self._wakes.values():
            wake.set()
        for thread in self._threads:
            thread.join()
        self._threads.clear()

    def _run(self, poller: StreamPoller) -> None:
        wake = self._wakes[id(poller)]
        while not self._stop.is_set():
            wake.clear()  # before the read: a write during it wakes the next wait at once
            try:
                if poller.poll_once() >= RECORDS_PER_READ:
                    continue  # more may be waiting
            except Exception:  # a broken poll must not end the thread; the next one retries
                log.exception("%s: poll failed", poller.source.function)
            wake.wait(IDLE_POLL_SECONDS)

    def drain(self, timeout_seconds: float = 60.0) -> None:
        """Return once every stream has been consumed up to its end (a consumer that writes to
        another stream is followed too). Raises: TimeoutError if that takes longer."""
        deadline = time.monotonic() + timeout_seconds
        while any(poller.poll_once() for poller in list(self.pollers)):
            if time.monotonic() > deadline:
                raise TimeoutError("the streams did not drain in time")
