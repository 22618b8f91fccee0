"""infra/local/dynamodb/streams.py: trimming a stream, its bound, and shard iterators' expiry.

Through the embedded runtime and boto3's DynamoDB Streams client, as the local consumers read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.dynamodbstreams.models import dynamodbstreams_backends

from infra.local.cloudformation.template import ACCOUNT_ID
from infra.local.dynamodb import streams as dynamodb_streams
from infra.local.runtime import REGION, LocalAws

if TYPE_CHECKING:
    from types_boto3_dynamodbstreams.literals import ShardIteratorTypeType
    from types_boto3_dynamodbstreams.type_defs import RecordTypeDef

TABLE = "OutboxTable"  # the runtime's pollers are stopped: nothing else reads or trims it


@pytest.fixture
def aws():
    with LocalAws(stream_records_kept=1000) as runtime:
        runtime.streams.stop()
        yield runtime


class Stream:
    def __init__(self, aws: LocalAws) -> None:
        self.aws = aws
        self.client = boto3.client("dynamodbstreams", region_name=REGION)
        self.arn = aws.dynamodb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
        shards = self.client.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]
        self.shard_id = shards[0]["ShardId"]

    def write(self, count: int, start: int = 0) -> None:
        for n in range(start, start + count):
            self.aws.dynamodb.put_item(
                TableName=TABLE,
                Item={"eventId": {"S": f"k{n}"}},
            )

    def iterator(self, kind: ShardIteratorTypeType, sequence_number: str | None = None) -> str:
        extra: dict[str, Any] = {"SequenceNumber": sequence_number} if sequence_number else {}
        return self.client.get_shard_iterator(
            StreamArn=self.arn, ShardId=self.shard_id, ShardIteratorType=kind, **extra
        )["ShardIterator"]

    def read(self, iterator: str) -> list[str]:
        """The keys of the records from `iterator` on, as sequence numbers and keys."""
        records = self.client.get_records(ShardIterator=iterator)["Records"]
        return [r["dynamodb"]["Keys"]["eventId"]["S"] for r in records]

    def records(self) -> list[RecordTypeDef]:
        return self.client.get_records(ShardIterator=self.iterator("TRIM_HORIZON"))["Records"]


def sequence_numbers(records: list[RecordTypeDef]) -> list[str]:
    return [r["dynamodb"]["SequenceNumber"] for r in records]


def test_trim_drops_the_records_through_the_sequence_number_and_keeps_the_rest(aws):
    stream = Stream(aws)
    stream.write(6)
    before = stream.records()

    dropped = dynamodb_streams.trim(TABLE, before[2]["dynamodb"]["SequenceNumber"])

    assert dropped == 3
    after = stream.records()
    assert after == before[3:]  # the same records, sequence numbers unchanged
    assert stream.read(stream.iterator("AT_SEQUENCE_NUMBER", sequence_numbers(after)[1])) == [
        "k4",
        "k5",
    ]
    assert stream.read(stream.iterator("AFTER_SEQUENCE_NUMBER", sequence_numbers(after)[1])) == [
        "k5"
    ]
    shards = stream.client.describe_stream(StreamArn=stream.arn)["StreamDescription"]["Shards"]
    assert shards[0]["SequenceNumberRange"]["StartingSequenceNumber"] == sequence_numbers(after)[0]


def test_records_written_after_a_trim_follow_on_without_a_gap(aws):
    stream = Stream(aws)
    stream.write(4)
    latest = stream.iterator("LATEST")
    dynamodb_streams.trim(TABLE, sequence_numbers(stream.records())[-1])
    assert stream.records() == []

    stream.write(2, start=4)

    assert stream.read(latest) == ["k4", "k5"]
    numbers = [int(n) for n in sequence_numbers(stream.records())]
    assert numbers[1] == numbers[0] + 1
    assert dynamodb_streams.trim(TABLE, numbers[0] - 1) == 0  # already gone: nothing to do


def test_an_iterator_at_a_trimmed_record_answers_trimmed_data_access(aws):
    stream = Stream(aws)
    stream.write(3)
    horizon = stream.iterator("TRIM_HORIZON")
    dynamodb_streams.trim(TABLE, sequence_numbers(stream.records())[0])

    with pytest.raises(ClientError) as raised:
        stream.client.get_records(ShardIterator=horizon)

    assert raised.value.response["Error"]["Code"] == "TrimmedDataAccessException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_trim_of_a_table_without_a_stream_is_refused(aws):
    with pytest.raises(LookupError, match="AggregatesTable"):
        dynamodb_streams.trim("AggregatesTable", 1)


def test_trim_without_a_runtime_is_refused():
    with pytest.raises(RuntimeError, match="no local runtime"):
        dynamodb_streams.trim(TABLE, 1)


def test_a_stream_nobody_reads_keeps_at_most_its_bound():
    with LocalAws(stream_records_kept=10) as aws:
        aws.streams.stop()
        stream = Stream(aws)
        stream.write(35)

        records = stream.records()
        assert 10 <= len(records) <= 11  # dropped a tenth of the bound at a time
        keys = [r["dynamodb"]["Keys"]["eventId"]["S"] for r in records]
        assert keys == [f"k{n}" for n in range(35 - len(records), 35)]
        assert sequence_numbers(records) == sorted(sequence_numbers(records), key=int)


def test_an_expired_iterator_answers_expired_and_is_forgotten(aws, monkeypatch):
    stream = Stream(aws)
    stream.write(1)
    # From the real clock on: the iterators issued before the patch are older, not newer.
    now = [dynamodb_streams._clock()]
    monkeypatch.setattr(dynamodb_streams, "_clock", lambda: now[0])
    first = stream.iterator("TRIM_HORIZON")
    for _ in range(20):
        now[0] += dynamodb_streams.ITERATOR_LIFETIME_SECONDS / 2
        stream.read(stream.iterator("LATEST"))

    with pytest.raises(ClientError) as raised:
        stream.client.get_records(ShardIterator=first)

    assert raised.value.response["Error"]["Code"] == "ExpiredIteratorException"
    # Each loop issued two (GetShardIterator, then GetRecords' next); those of the last two stay.
    assert len(dynamodbstreams_backends[ACCOUNT_ID][REGION].shard_iterators) <= 4


def test_a_cancelled_transaction_leaves_no_stream_record(aws):
    stream = Stream(aws)
    stream.write(1)
    before = stream.records()
    with pytest.raises(ClientError):
        aws.dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE,
                         "Item": {"eventId": {"S": "new"}}}},
                {"ConditionCheck": {"TableName": "AggregatesTable", "Key": {"userId": {"S": "u"}},
                                    "ConditionExpression": "attribute_exists(userId)"}},
            ]
        )  # fmt: skip

    assert stream.records() == before


def test_only_the_newest_iterators_are_kept(aws, monkeypatch):
    monkeypatch.setattr(dynamodb_streams, "SHARD_ITERATORS_KEPT", 10)
    stream = Stream(aws)
    stream.write(1)
    first = stream.iterator("TRIM_HORIZON")
    for _ in range(15):
        stream.iterator("LATEST")

    assert len(dynamodbstreams_backends[ACCOUNT_ID][REGION].shard_iterators) <= 10
    with pytest.raises(ClientError) as raised:
        stream.client.get_records(ShardIterator=first)
    assert raised.value.response["Error"]["Code"] == "ExpiredIteratorException"
    assert stream.read(stream.iterator("TRIM_HORIZON")) == ["k0"]  # a fresh one reads


def test_a_stream_keeps_one_shard_however_much_is_written(aws):
    """Known gap: on AWS a busy table's shards split into children, and Lambda reads a
    parent before its children; here a stream has one shard for good."""
    stream = Stream(aws)
    stream.write(500)

    shards = stream.client.describe_stream(StreamArn=stream.arn)["StreamDescription"]["Shards"]

    assert [shard["ShardId"] for shard in shards] == [stream.shard_id]
    assert "ParentShardId" not in shards[0]
