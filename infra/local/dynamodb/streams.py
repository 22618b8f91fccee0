"""The records moto's DynamoDB streams keep: trimmed once read, and bounded when nobody reads.

What moto 5.2.5 does: a table's stream shard keeps every record ever written, for the life of
the process, and every GetShardIterator or GetRecords registers one more shard iterator that is
never forgotten. A long `make run` grows without end (issue 11).

The interface, for the local stream consumers (infra/local/awslambda/event_source_mapping.py):

    trim(table_name, through_sequence_number) -> int
        Drop the records of the table's stream up to and including `through_sequence_number`
        (an int or the string of a record's `dynamodb.SequenceNumber`): call it with the lowest
        sequence number that every consumer of the stream has processed. Returns how many
        records were dropped (0 when they already were). Safe from any thread: it takes the
        runtime's DynamoDB lock, the one every DynamoDB and DynamoDB Streams request holds.
        Raises LookupError for a table without a stream, RuntimeError with no runtime running.

    After a trim, the kept records answer as before: sequence numbers never change;
    GetShardIterator TRIM_HORIZON starts at the oldest kept record, LATEST after the newest,
    AT_SEQUENCE_NUMBER/AFTER_SEQUENCE_NUMBER of a kept record where they did; GetRecords of an
    iterator positioned at a dropped record answers TrimmedDataAccessException (HTTP 400), as
    AWS does for records past the stream's 24-hour retention. The shard's
    StartingSequenceNumber (DescribeStream) is that of the oldest kept record.

    StreamRetention(lock, kept).apply()
        The bound for streams nobody reads (or a consumer that fell behind): the runtime calls
        it after every DynamoDB request; a stream holding more than `kept` records drops the
        oldest, in chunks of a tenth of `kept`, so a write costs no list shift. A reader more
        than `kept` records behind sees TrimmedDataAccessException.

    Shard iterators expire 15 minutes after they are handed out, as on AWS
    (ExpiredIteratorException), and are then forgotten; so is every iterator older than the
    newest SHARD_ITERATORS_KEPT (1,000) handed out, which AWS would still honour (a known gap:
    a reader holding an old iterator while many newer ones are handed out must reopen one).

Proven by tests/local/dynamodb/test_streams.py.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import StreamShard
from moto.dynamodbstreams.models import DynamoDBStreamsBackend, ShardIterator

STREAM_RECORDS_KEPT = 10_000
ITERATOR_LIFETIME_SECONDS = 15 * 60
# Beyond it the oldest iterators are forgotten early: each GetRecords hands out one more, and
# 15 minutes of a busy runtime's polls kept tens of thousands (a consumer reads on with the newest).
SHARD_ITERATORS_KEPT = 1000
_ISSUED = "local_issued_at"
_clock = time.monotonic


class TrimmedDataAccessError(JsonRESTError):
    def __init__(self) -> None:
        super().__init__(
            "TrimmedDataAccessException",
            "the iterator points at records trimmed from the stream",
        )


class ExpiredIteratorError(JsonRESTError):
    def __init__(self) -> None:
        super().__init__("ExpiredIteratorException", "the shard iterator has expired")


class StreamRetention:
    """Trims the stream shards of one runtime's tables, under its DynamoDB lock."""

    def __init__(self, lock: threading.Lock, kept: int, account_id: str, region: str) -> None:
        if kept < 1:
            raise ValueError(f"at least one stream record must be kept, not {kept}")
        self.kept = kept
        self._lock = lock
        self._account_id = account_id
        self._region = region

    def _shards(self) -> dict[str, StreamShard]:
        tables = dynamodb_backends[self._account_id][self._region].tables
        return {name: t.stream_shard for name, t in tables.items() if t.stream_shard is not None}

    def trim(self, table_name: str, through_sequence_number: int | str) -> int:
        with self._lock:
            shard = self._shards().get(table_name)
            if shard is None:
                raise LookupError(f"table {table_name!r} has no stream")
            return _drop(shard, int(through_sequence_number) + 1 - shard.starting_sequence_number)

    def apply(self) -> None:
        """Call with the DynamoDB lock held (the runtime does, after each request)."""
        chunk = max(1, self.kept // 10)
        for shard in self._shards().values():
            if len(shard.items) >= self.kept + chunk:
                _drop(shard, len(shard.items) - self.kept)


def _drop(shard: StreamShard, count: int) -> int:
    """Drop the oldest `count` records; sequence numbers stay (moto's are offsets from the
    shard's starting number, which moves by as much)."""
    count = max(0, min(count, len(shard.items)))
    if count:
        del shard.items[:count]
        shard.starting_sequence_number += count
    return count


_active: StreamRetention | None = None


def retain(retention: StreamRetention | None) -> None:
    """Make `retention` the one `trim` uses (the runtime calls it when it starts and stops)."""
    global _active
    _active = retention


def trim(table_name: str, through_sequence_number: int | str) -> int:
    """See the module's docstring."""
    if _active is None:
        raise RuntimeError("no local runtime is running")
    return _active.trim(table_name, through_sequence_number)


def refusing_trimmed(get: Callable[[StreamShard, int, int], Any]) -> Callable[..., Any]:
    @functools.wraps(get)
    def get_kept(self: StreamShard, start: int, quantity: int) -> Any:
        if start < self.starting_sequence_number:
            raise TrimmedDataAccessError()
        return get(self, start, quantity)

    return get_kept


def _forget_expired(iterators: dict[str, ShardIterator], now: float) -> None:
    # Insertion order is issue order: the expired ones, and the oldest, are at the front.
    while iterators:
        oldest = next(iter(iterators))
        expired = now - getattr(iterators[oldest], _ISSUED, now) >= ITERATOR_LIFETIME_SECONDS
        if not expired and len(iterators) <= SHARD_ITERATORS_KEPT:
            return
        del iterators[oldest]


def stamped(get_shard_iterator: Callable[..., ShardIterator]) -> Callable[..., ShardIterator]:
    @functools.wraps(get_shard_iterator)
    def get_shard_iterator_stamped(
        self: DynamoDBStreamsBackend, *args: Any, **kwargs: Any
    ) -> ShardIterator:
        iterator = get_shard_iterator(self, *args, **kwargs)
        now = _clock()
        setattr(iterator, _ISSUED, now)
        _forget_expired(self.shard_iterators, now)
        return iterator

    return get_shard_iterator_stamped


def get_records(original: Callable[..., Any]) -> Callable[..., Any]:
    """GetRecords in place of `original`: an expired iterator is refused, the next one stamped."""
    return _get_records


def _get_records(self: DynamoDBStreamsBackend, iterator_arn: str, limit: int) -> Any:
    now = _clock()
    _forget_expired(self.shard_iterators, now)
    iterator = self.shard_iterators.get(iterator_arn)
    if iterator is None:
        raise ExpiredIteratorError()
    result = iterator.get(limit)
    setattr(self.shard_iterators[result["NextShardIterator"]], _ISSUED, now)
    return result
