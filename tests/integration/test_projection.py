"""The consumer on moto: exactly once under redelivery, in order, stopping at a failure."""

import json
from unittest import mock

import pytest
from botocore.exceptions import ClientError

from functions.domain.errors import ProjectionGapError
from functions.domain.summaries import Period, entry_time
from functions.handlers import project_summaries
from functions.repositories.summaries import SummariesRepository, bucket_key
from tests.builders import (
    EVENTS,
    TABLE_NAMES,
    handler_context,
    ledger_entry,
    put_ledger_entry,
    stream_event,
)
from tests.invariants import projection_violations

SUMMARIES = TABLE_NAMES["SUMMARIES_TABLE_NAME"]


def consume(event):
    return project_summaries.lambda_handler(event, handler_context())


def as_of(client, user):
    return SummariesRepository(client, SUMMARIES).applied_sequence(user)


def written(client, user, count):
    entries = [ledger_entry(user, n) for n in range(1, count + 1)]
    for entry in entries:
        put_ledger_entry(entry, client)
    return entries


def test_the_recorded_lambda_event_is_projected(client):
    event = json.loads((EVENTS / "ledger_stream_insert.json").read_text())

    assert consume(event) == {"batchItemFailures": []}
    state = SummariesRepository(client, SUMMARIES).state_of("1")
    [day] = [s for (period, _), s in state.summaries.items() if period.value == "day"]
    assert state.last_sequence == 2
    assert day.to_dict() == {"start": "2026-12-01T00:00:00Z", "credits": "10.00",
                             "debits": "5.00", "net": "5.00", "count": 2,
                             "closingBalance": "105.00"}  # fmt: skip


def test_a_redelivered_batch_changes_nothing(client):
    entries = written(client, "u", 4)

    consume(stream_event(entries[:3]))
    consume(stream_event(entries[:3]))  # the same batch again, as after a timeout
    consume(stream_event(entries[1:]))  # overlapping: 2 and 3 again, then 4

    assert projection_violations(client) == []
    assert as_of(client, "u") == 4


def test_an_entry_whose_predecessor_is_missing_is_not_applied_and_stops_the_batch(client):
    entries = written(client, "u", 3)
    other = written(client, "v", 1)

    response = consume(stream_event([entries[0], entries[2], other[0]]))

    # 3 waits for 2; v's entry comes after the failure and is not applied either.
    assert response == {"batchItemFailures": [{"itemIdentifier": f"{3:021d}"}]}
    assert (as_of(client, "u"), as_of(client, "v")) == (1, 0)
    consume(stream_event(entries[1:] + other))  # Lambda retries from the failed record
    assert projection_violations(client) == []


def test_a_failed_write_stops_at_its_record_and_the_retry_completes(client):
    entries = written(client, "u", 3)
    throttled = ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}},
                            "TransactWriteItems")  # fmt: skip
    original = SummariesRepository.apply
    calls = []

    def flaky(self, entry):
        calls.append(entry.sequence)
        if entry.sequence == 2 and calls.count(2) == 1:
            raise throttled
        return original(self, entry)

    with mock.patch.object(SummariesRepository, "apply", flaky):
        first = consume(stream_event(entries))
        second = consume(stream_event(entries[1:]))

    assert first == {"batchItemFailures": [{"itemIdentifier": f"{2:021d}"}]}
    assert calls == [1, 2, 2, 3]  # nothing after the failure was tried
    assert second == {"batchItemFailures": []}
    assert projection_violations(client) == []


def test_a_record_that_is_not_an_insert_is_skipped(client):
    [entry] = written(client, "u", 1)
    event = stream_event([entry])
    event["Records"][0]["eventName"] = "MODIFY"

    assert consume(event) == {"batchItemFailures": []}
    assert as_of(client, "u") == 0


def test_a_malformed_record_fails_at_itself(client):
    entries = written(client, "u", 2)
    event = stream_event(entries)
    del event["Records"][1]["dynamodb"]["NewImage"]["amount"]

    assert consume(event) == {"batchItemFailures": [{"itemIdentifier": f"{2:021d}"}]}
    assert as_of(client, "u") == 1


def test_the_gap_error_names_both_sequences(client):
    [_, second] = written(client, "u", 2)
    with pytest.raises(ProjectionGapError, match="entry 2 of a user arrived after entry 0"):
        SummariesRepository(client, SUMMARIES).apply(second)


class NaiveRepository(SummariesRepository):
    """Seed 001's consumer: adds each record, with no condition on what was applied."""

    def apply(self, entry):
        for chosen in Period:
            start = chosen.start_of(entry_time(entry))
            is_credit = entry.type.value == "credit"
            self._client.update_item(
                TableName=self._table,
                Key={"userId": {"S": entry.user_id}, "bucket": {"S": bucket_key(chosen, start)}},
                UpdateExpression="ADD credits :c, debits :d, entryCount :one "
                "SET closingBalance = :b, lastSequence = :s",
                ExpressionAttributeValues={
                    ":c": {"N": str(entry.amount if is_credit else 0)},
                    ":d": {"N": str(0 if is_credit else entry.amount)},
                    ":one": {"N": "1"},
                    ":b": {"N": str(entry.balance_after)},
                    ":s": {"N": str(entry.sequence)},
                },
            )
        self._client.put_item(
            TableName=self._table,
            Item={"userId": {"S": entry.user_id}, "bucket": {"S": "progress"},
                  "lastSequence": {"N": str(entry.sequence)}},
        )  # fmt: skip
        return True


def test_the_oracle_fails_a_naive_consumer_under_redelivery(client):
    entries = written(client, "u", 3)

    with mock.patch.object(project_summaries.summaries, "repository",
                           lambda settings: NaiveRepository(client, SUMMARIES)):  # fmt: skip
        consume(stream_event(entries))
        assert projection_violations(client) == []  # delivered once, even the naive one is right
        consume(stream_event(entries[1:]))  # a redelivery

    problems = projection_violations(client)
    assert any("'count': 5" in line for line in problems), problems
