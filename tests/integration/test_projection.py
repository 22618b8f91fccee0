"""The consumer on moto: exactly once under redelivery, in order, stopping at a failure."""

import json
import re
from unittest import mock

import pytest
from botocore.exceptions import ClientError

from functions.domain.errors import ProjectionGapError, StorageThrottledError
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


def at(moment):
    return moment.replace("+00:00", "Z")


def dated(user, *moments):
    """Entries 1, 2, ... of `user`, created at `moments` (ISO 8601, UTC)."""
    entries = [ledger_entry(user, n, created_at=at(m)) for n, m in enumerate(moments, start=1)]
    for entry in entries:
        put_ledger_entry(entry)
    return entries


@pytest.fixture
def sent(client):
    """The items of each TransactWriteItems the repository sends, by kind and bucket."""
    writes = []

    def record(params, **kwargs):
        items = [next(iter(item.items())) for item in params["TransactItems"]]
        writes.append([(kind, body["Key"]["bucket"]["S"]) for kind, body in items])

    client.meta.events.register("provide-client-params.dynamodb.TransactWriteItems", record)
    yield writes
    client.meta.events.unregister("provide-client-params.dynamodb.TransactWriteItems", record)


def test_an_entry_reads_the_newest_days_and_writes_its_hour_and_its_day(client, sent):
    entries = dated("u", "2026-12-01T08:00:00", "2026-12-01T09:30:00", "2026-12-02T00:00:01")
    repository = SummariesRepository(client, SUMMARIES)
    queries = []
    client.meta.events.register("provide-client-params.dynamodb.Query",
                                lambda params, **kwargs: queries.append(params))  # fmt: skip

    assert [repository.apply(entry) for entry in entries] == [True] * 3

    # The first entry of a day is no dearer: its predecessor's day was read, not written.
    assert sent == [
        [("Update", "hour#2026-12-01T08:00:00Z"), ("Update", "day#2026-12-01T00:00:00Z")],
        [("Update", "hour#2026-12-01T09:00:00Z"), ("Update", "day#2026-12-01T00:00:00Z")],
        [("Update", "hour#2026-12-02T00:00:00Z"), ("Update", "day#2026-12-02T00:00:00Z")],
    ]
    assert len(queries) == 2  # none for the user's first entry
    assert all(q["ConsistentRead"] and q["Limit"] == 3 for q in queries)
    assert projection_violations(client) == []
    assert as_of(client, "u") == 3


def test_a_gap_across_a_day_boundary_is_refused(client):
    first, _, third = dated("u", "2026-12-01T08:00:00", "2026-12-02T08:00:00",
                            "2026-12-03T08:00:00")  # fmt: skip
    repository = SummariesRepository(client, SUMMARIES)
    repository.apply(first)

    with pytest.raises(ProjectionGapError, match="entry 3 of a user arrived after entry 1"):
        repository.apply(third)
    assert as_of(client, "u") == 1
    assert {key[1].day for key in repository.state_of("u").summaries} == {1}


def test_the_first_entry_of_a_day_redelivered_changes_nothing(client):
    entries = dated("u", "2026-12-01T08:00:00", "2026-12-02T08:00:00", "2026-12-02T09:00:00")
    repository = SummariesRepository(client, SUMMARIES)
    repository.apply(entries[0])
    repository.apply(entries[1])

    assert repository.apply(entries[1]) is False  # its day now ends at it
    repository.apply(entries[2])
    assert repository.apply(entries[1]) is False  # its day has moved past it
    assert repository.apply(entries[0]) is False
    assert projection_violations(client) == []


@pytest.mark.parametrize(
    "moments",
    [
        ("2026-12-01T08:00:00", "2026-12-01T09:00:00"),
        ("2026-12-01T08:00:00", "2026-12-02T09:00:00"),
    ],
    ids=["same day", "first of its day"],
)
def test_two_consumers_racing_apply_an_entry_once(client, moments):
    first, second = dated("u", *moments)
    slow, fast = SummariesRepository(client, SUMMARIES), SummariesRepository(client, SUMMARIES)
    slow.apply(first)
    read = slow.applied_sequence

    def read_then_lose_the_race(user_id):
        found = read(user_id)
        assert fast.apply(second) is True  # the other consumer, between this one's read and write
        return found

    with mock.patch.object(slow, "applied_sequence", read_then_lose_the_race):
        assert slow.apply(second) is False

    assert projection_violations(client) == []
    assert as_of(client, "u") == 2


def test_an_entry_dated_before_the_one_it_follows_is_applied(client):
    # Two sandboxes' clocks disagree at midnight: entry 2 is dated on the day before entry 1.
    entries = dated("u", "2026-12-02T00:00:00.002", "2026-12-01T23:59:59.999",
                    "2026-12-02T00:00:01", "2026-12-02T00:00:02")  # fmt: skip
    repository = SummariesRepository(client, SUMMARIES)

    assert [repository.apply(entry) for entry in entries] == [True] * 4
    assert [repository.apply(entry) for entry in entries] == [False] * 4
    assert projection_violations(client) == []


def test_a_progress_item_of_the_earlier_layout_is_ignored(client):
    first, second = dated("u", "2026-12-01T08:00:00", "2026-12-02T08:00:00")
    repository = SummariesRepository(client, SUMMARIES)
    repository.apply(first)
    client.put_item(TableName=SUMMARIES, Item={"userId": {"S": "u"}, "bucket": {"S": "progress"},
                    "lastSequence": {"N": "1"}})  # fmt: skip

    assert repository.apply(second) is True
    assert repository.state_of("u").last_sequence == 2
    assert projection_violations(client) == []


def test_the_queries_alias_bucket_a_reserved_word(client):
    # DynamoDB refuses a reserved word in any expression; moto checks only some of them.
    queries = []
    client.meta.events.register("provide-client-params.dynamodb.Query",
                                lambda params, **kwargs: queries.append(params))  # fmt: skip
    [first, second] = dated("u", "2026-12-01T08:00:00", "2026-12-01T09:00:00")
    repository = SummariesRepository(client, SUMMARIES)
    repository.apply(first)
    repository.apply(second)
    repository.summaries("u", Period.DAY, entry_time(first), entry_time(second))

    expressions = [q.get(name, "") for q in queries
                   for name in ("KeyConditionExpression", "ProjectionExpression")]  # fmt: skip
    assert len(queries) == 2
    assert not any(re.search(r"(?<![#\w])bucket\b", e) for e in expressions), expressions


def test_a_conflicting_write_is_retried_not_taken_for_a_redelivery(client):
    [entry] = dated("u", "2026-12-01T08:00:00")
    conflict = ClientError(
        {"Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
         "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}]},
        "TransactWriteItems",
    )  # fmt: skip
    repository = SummariesRepository(client, SUMMARIES)

    failing = mock.patch.object(client, "transact_write_items", side_effect=conflict)
    with failing, pytest.raises(StorageThrottledError):
        repository.apply(entry)
    assert repository.apply(entry) is True
