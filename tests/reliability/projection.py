"""The summaries projection under everything a stream does to its consumer: the consumer crashing
before or after its work, Lambda's service errors, batches delivered twice, old batches replayed
(out of order too), and a full rewind of the stream to its oldest record. The oracle is invariant
9 (tests/invariants.py: for every user the summaries equal the ledger grouped by period, and
asOfSequence is the ledger's last sequence), checked from the tables and through GET /summaries.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from typing import Any

from functions.settings import get_settings
from infra.local.awslambda.event_source_mapping import lambda_record
from infra.local.awslambda.functions import FaultPoint
from tests.builders import api_event, transaction_body
from tests.invariants import projection_violations
from tests.reliability.runtime import transact

CONSUMER = "ProjectSummariesFunction"
# A consumer fault and how often one is armed before a request: crashes before the work (nothing
# applied), after it (applied, yet the batch comes again) and Lambda's service errors (likewise).
CONSUMER_FAULTS = ((FaultPoint.BEFORE, 0.12), (FaultPoint.AFTER, 0.12),
                   (FaultPoint.SERVICE_ERROR, 0.06))  # fmt: skip


def consumer_poller(aws: Any) -> Any:
    [poller] = [p for p in aws.streams.pollers if p.source.function == CONSUMER]
    return poller


def stream_records(aws: Any) -> list[dict[str, Any]]:
    """Every record the ledger's stream holds, oldest first, as Lambda would deliver them."""
    poller = consumer_poller(aws)
    shard = poller._streams.describe_stream(StreamArn=poller.stream_arn)["StreamDescription"]
    iterator = poller._streams.get_shard_iterator(
        StreamArn=poller.stream_arn,
        ShardId=shard["Shards"][0]["ShardId"],
        ShardIteratorType="TRIM_HORIZON",
    )["ShardIterator"]
    records = poller._streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]
    return [lambda_record(r, poller.stream_arn, "us-east-1") for r in records]


def deliver(aws: Any, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Invoke the consumer with a batch of our own, as a redelivery would."""
    result = aws.lambdas.invoke(CONSUMER, json.dumps({"Records": records}).encode())
    return dict(json.loads(result.payload))


def rewind(aws: Any) -> int:
    """Move the consumer's mapping back to the stream's oldest record and let it consume all of
    it again; returns how many records it was handed."""
    poller = consumer_poller(aws)
    with poller._polling:
        poller.position = None
    before = poller.delivered
    aws.drain_streams()
    return int(poller.delivered - before)


def summaries_as_of(aws: Any, user: str) -> int:
    event = api_event("/summaries", {"userId": user, "period": "day"})
    result = aws.lambdas.invoke("GetSummariesFunction", json.dumps(event).encode())
    return int(json.loads(json.loads(result.payload)["body"])["asOfSequence"])


def last_sequences(aws: Any, users: list[str]) -> dict[str, int]:
    last = {}
    for user in users:
        items = aws.dynamodb.query(
            TableName=get_settings().ledger_table_name,
            KeyConditionExpression="userId = :u",
            ExpressionAttributeValues={":u": {"S": user}},
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )["Items"]
        last[user] = int(items[0]["sequence"]["N"]) if items else 0
    return last


def run(aws: Any, seed: int, operations: int, users: int = 4) -> tuple[list[str], Counter[str]]:
    """`operations` requests through the saga with the consumer under fire; (problems, figures).

    The stream keeps what the consumer read meanwhile, as AWS does for 24 hours, so that the
    rewind replays every record (the runtime trims read records otherwise)."""
    with aws.streams.keeping_read_records():
        return _run(aws, seed, operations, users)


def _run(aws: Any, seed: int, operations: int, users: int) -> tuple[list[str], Counter[str]]:
    rng = random.Random(seed)
    names = [f"projection-{seed}-{i}-{uuid.uuid4().hex[:4]}" for i in range(users)]
    figures: Counter[str] = Counter()
    for index in range(operations):
        for point, chance in CONSUMER_FAULTS:
            if rng.random() < chance:
                aws.lambdas.inject_fault(CONSUMER, point)
                figures[f"consumer {point.value}"] += 1
                break
        kind = "credit" if rng.random() < 0.6 else "debit"
        amount = f"{rng.randint(1, 4000) / 100:.2f}"
        answer = transact(aws, transaction_body(rng.choice(names), amount, kind), f"k{index}")
        figures[answer.label] += 1
        if rng.random() < 0.25:
            aws.drain_streams()
            records = stream_records(aws)
            start = rng.randrange(len(records)) if records else 0
            window = records[start : start + rng.randint(1, 12)]
            if rng.random() < 0.3:
                window.reverse()  # a replay out of order: refused from its first gap
                figures["replayed out of order"] += 1
            else:
                figures["duplicated or replayed batches"] += 1
            deliver(aws, window)
    aws.lambdas.clear_faults()
    aws.drain_streams()
    problems = [f"before the rewind: {line}" for line in projection_violations(aws.dynamodb)]
    figures["records rewound"] = rewind(aws)
    problems += [f"after the rewind: {line}" for line in projection_violations(aws.dynamodb)]
    for user, last in last_sequences(aws, names).items():
        answered = summaries_as_of(aws, user)
        if answered != last:
            problems.append(f"GET /summaries of {user!r}: asOfSequence {answered}, last {last}")
    queued = aws.sqs.get_queue_attributes(
        QueueUrl=aws.sqs.get_queue_url(QueueName="ProjectSummariesFailuresQueue")["QueueUrl"],
        AttributeNames=["ApproximateNumberOfMessages"],
    )["Attributes"]["ApproximateNumberOfMessages"]
    figures["batches given up"] = int(queued)
    return problems, figures
