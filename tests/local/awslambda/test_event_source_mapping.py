"""The runtime's event source mapping (infra/local/awslambda/event_source_mapping.py) and bus
(infra/local/events/bus.py): the outbox's events reach the bus through the same path as on AWS,
and nothing is lost when the forwarder or PutEvents fails."""

import json
import threading
import time
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamModel

from functions.repositories import event_bus
from functions.settings import get_settings
from infra.local.awslambda.event_source_mapping import lambda_record, matches
from infra.local.awslambda.functions import FaultPoint
from tests.builders import execution_input, outbox_stream_event
from tests.invariants import event_violations, scan, stream_records, violations

FORWARDER = "ForwardEventsFunction"


def commit(aws, user="u1", amount="10", type_="credit", key=None) -> dict:
    response = aws.start_sync_execution(
        "TransactionStateMachine", execution_input(user, amount, type_, key)
    )
    assert response["status"] == "SUCCEEDED", response
    return json.loads(response["output"])["transaction"]


def poller(aws):
    [outbox] = [p for p in aws.streams.pollers if p.source.function == FORWARDER]
    return outbox


def fails_once(call, error: Exception):
    """`call` that raises `error` the first time, then calls through."""
    errors = iter([error])

    def failing_once(*args, **kwargs):
        if (raised := next(errors, None)) is not None:
            raise raised
        return call(*args, **kwargs)

    return failing_once


def published_ids(aws) -> list[str]:
    return [event["detail"]["eventId"] for event in aws.published_events()]


def keys_and_types(node):
    """The shape of a JSON value: its keys and leaf types, not its values."""
    if isinstance(node, dict):
        return {key: keys_and_types(value) for key, value in node.items()}
    if isinstance(node, list):
        return [keys_and_types(value) for value in node]
    return type(node).__name__


def test_the_local_records_have_the_shape_of_the_recorded_lambda_event(local_aws):
    local_aws.streams.stop()  # the record stays until read (read records are trimmed)
    commit(local_aws)
    outbox = poller(local_aws)
    iterator = outbox._streams.get_shard_iterator(
        StreamArn=outbox.stream_arn,
        ShardId=outbox._streams.describe_stream(StreamArn=outbox.stream_arn)[
            "StreamDescription"]["Shards"][0]["ShardId"],
        ShardIteratorType="TRIM_HORIZON",
    )["ShardIterator"]  # fmt: skip
    [raw] = outbox._streams.get_records(ShardIterator=iterator)["Records"]

    local = lambda_record(raw, outbox.stream_arn, "us-east-1")
    recorded = outbox_stream_event()["Records"][0]

    assert keys_and_types(local) == keys_and_types(recorded)
    DynamoDBStreamModel.model_validate({"Records": [local]})  # Powertools' model of the event


def test_a_commit_is_published_once_and_matches_the_schema_and_its_entry(local_aws):
    transaction = commit(local_aws)

    [event] = local_aws.published_events()

    assert event["detail"]["eventId"] == transaction["transactionId"]
    assert event["detail"]["balanceAfter"] == transaction["balance"]
    assert event_violations(local_aws.dynamodb, [event]) == []
    assert local_aws.lambdas.invocations[FORWARDER] == 1


def test_a_reverted_commit_publishes_both_entries(local_aws):
    local_aws.lambdas.inject_fault("UpdateBalanceFunction", FaultPoint.AFTER)
    response = local_aws.start_sync_execution(
        "TransactionStateMachine", execution_input("u1", "10", "debit")
    )
    assert response["status"] == "FAILED"

    events = local_aws.published_events()

    assert sorted(e["detail-type"] for e in events) == ["TransactionCommitted",
                                                        "TransactionReverted"]  # fmt: skip
    committed, reverted = sorted(events, key=lambda e: e["detail"]["sequence"])
    assert reverted["detail"]["reverses"] == committed["detail"]["eventId"]
    assert reverted["detail"]["balanceAfter"] == "100.00"
    assert event_violations(local_aws.dynamodb, events) == []
    assert violations(local_aws.dynamodb) == []


@pytest.mark.parametrize("point", [FaultPoint.BEFORE, FaultPoint.AFTER, FaultPoint.SERVICE_ERROR])
def test_a_failing_forwarder_is_retried_and_a_redelivery_is_deduped(local_aws, point):
    local_aws.lambdas.inject_fault(FORWARDER, point, times=2)
    commit(local_aws)
    commit(local_aws)

    ids = published_ids(local_aws)

    assert event_violations(local_aws.dynamodb, local_aws.published_events()) == []
    assert len(set(ids)) == 2
    # After its work, the failed invocations had published: the stream delivered them again.
    assert (len(ids) > 2) is (point is not FaultPoint.BEFORE)


def test_refused_put_events_entries_are_retried_until_published(local_aws):
    local_aws.streams.stop()  # so the four reach the forwarder as one batch, at the drain
    for _ in range(4):
        commit(local_aws)
    local_aws.eventbridge.refuse_entries(2)  # the first two entries of the next PutEvents

    events = local_aws.published_events()

    assert local_aws.eventbridge.refused == 2
    assert len(events) == 4
    assert event_violations(local_aws.dynamodb, events) == []


def test_entries_refused_past_the_forwarders_attempts_are_delivered_again(local_aws):
    local_aws.eventbridge.refuse_entries(get_settings().put_events_attempts)
    commit(local_aws)

    events = local_aws.published_events()

    assert len(events) == 1 and local_aws.lambdas.invocations[FORWARDER] == 2
    assert event_violations(local_aws.dynamodb, events) == []


def test_a_function_error_bisects_the_batch(local_aws):
    local_aws.streams.stop()  # so the four reach the forwarder as one batch, at the drain
    for _ in range(4):
        commit(local_aws)
    local_aws.lambdas.inject_fault(FORWARDER, FaultPoint.BEFORE, times=1)

    local_aws.drain_streams()

    # The batch of four failed once, then each half was delivered on its own.
    assert local_aws.lambdas.invocations[FORWARDER] == 3
    ids = published_ids(local_aws)
    assert len(ids) == len(set(ids)) == 4


def test_retries_exhausted_send_the_batch_to_the_dead_letter_queue(local_aws):
    local_aws.lambdas.inject_fault(FORWARDER, FaultPoint.BEFORE, times=100)
    transaction = commit(local_aws)

    events = local_aws.published_events()

    outbox = poller(local_aws)
    invocations = outbox.source.maximum_retry_attempts + 1
    assert local_aws.lambdas.invocations[FORWARDER] == invocations
    url = local_aws.sqs.get_queue_url(QueueName="OutboxDeadLetterQueue")["QueueUrl"]
    [message] = local_aws.sqs.receive_message(QueueUrl=url)["Messages"]
    failure = json.loads(message["Body"])
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == invocations
    info = failure["DDBStreamBatchInfo"]
    assert (info["batchSize"], info["streamArn"]) == (1, outbox.stream_arn)
    # The oracle sees the event that never reached the bus.
    assert event_violations(local_aws.dynamodb, events) == [
        f"ledger entries never published: {[transaction['transactionId']]}"
    ]


def test_a_forwarder_that_ignores_failed_entry_count_loses_an_event_and_the_check_sees_it(
    local_aws, monkeypatch
):
    def put_events_ignoring_failures(self, events):
        self._client.put_events(Entries=[self._entry(e) for e in events])
        return []  # FailedEntryCount is never read: the seed's bug

    monkeypatch.setattr(event_bus.EventBusRepository, "put_events", put_events_ignoring_failures)
    commit(local_aws)
    local_aws.drain_streams()  # the first commit's event is out before the refusal is armed
    local_aws.eventbridge.refuse_entries(1)
    lost = commit(local_aws)

    events = local_aws.published_events()

    assert event_violations(local_aws.dynamodb, events) == [
        f"ledger entries never published: {[lost['transactionId']]}"
    ]


def test_an_answer_naming_a_record_not_in_the_batch_fails_the_whole_batch(local_aws, monkeypatch):
    from functions.handlers import forward_events

    answers = iter([{"batchItemFailures": [{"itemIdentifier": "not-in-the-batch"}]}])
    original = forward_events.outbox.batch_response
    monkeypatch.setattr(
        forward_events.outbox, "batch_response",
        lambda records, failed: next(answers, None) or original(records, failed),
    )  # fmt: skip
    commit(local_aws)

    ids = published_ids(local_aws)

    assert local_aws.lambdas.invocations[FORWARDER] == 2
    assert len(ids) == 2 and len(set(ids)) == 1  # delivered again, deduped by the consumer


def test_removes_do_not_reach_the_forwarder(local_aws):
    commit(local_aws)
    local_aws.drain_streams()
    [item] = scan(local_aws.dynamodb, get_settings().outbox_table_name)
    local_aws.dynamodb.delete_item(
        TableName=get_settings().outbox_table_name, Key={"eventId": item["eventId"]}
    )  # as TTL would

    local_aws.drain_streams()

    assert local_aws.lambdas.invocations[FORWARDER] == 1


@pytest.mark.parametrize(
    ("pattern", "record", "expected"),
    [({"eventName": ["INSERT"]}, {"eventName": "INSERT"}, True),
     ({"eventName": ["INSERT"]}, {"eventName": "REMOVE"}, False),
     ({"dynamodb": {"NewImage": {"x": {"S": ["a"]}}}}, {"dynamodb": {}}, False),
     ({"eventName": [{"anything-but": ["REMOVE"]}]}, {"eventName": "MODIFY"}, True),
     ({"eventName": [{"prefix": "INS"}]}, {"eventName": "INSERT"}, True),
     ({"userIdentity": [{"exists": False}]}, {"eventName": "INSERT"}, True)],
    ids=["equal", "other-value", "missing-nested", "anything-but", "prefix", "not-exists"],
)  # fmt: skip
def test_filter_patterns(pattern, record, expected):
    assert matches(pattern, record) is expected


def test_a_record_is_offered_for_trimming_once_every_consumer_passed_it():
    from infra.local.awslambda.event_source_mapping import LocalStreams

    trimmed = []

    class Poller:
        def __init__(self, table):
            self.source = type("Source", (), {"table": table, "function": "F", "name": "S"})
            self.position = None
            self.callbacks = []

        def on_passed(self, callback):
            self.callbacks.append(callback)

        def passes(self, sequence_number):
            self.position = sequence_number
            for callback in self.callbacks:
                callback(sequence_number)

    first, second, other = Poller("T"), Poller("T"), Poller("U")
    LocalStreams(
        [first, second, other],  # type: ignore[list-item]  # fakes of what LocalStreams uses
        trim=lambda table, through: trimmed.append((table, through)),
    )

    first.passes("12")
    second.passes("10")
    second.passes("15")
    other.passes("7")
    first.passes("12")  # nothing new passed by everyone

    assert trimmed == [("T", "10"), ("T", "12"), ("U", "7")]


def test_records_trimmed_before_they_were_read_are_skipped_from_the_oldest_kept(
    local_aws, monkeypatch
):
    from botocore.exceptions import ClientError

    local_aws.streams.stop()
    commit(local_aws)
    outbox = poller(local_aws)
    outbox.position = "1"  # a position whose records are gone
    trimmed = ClientError({"Error": {"Code": "TrimmedDataAccessException"}}, "GetRecords")
    monkeypatch.setattr(
        outbox, "_read_from_position", fails_once(outbox._read_from_position, trimmed)
    )

    assert outbox.poll_once() == 1  # read again from TRIM_HORIZON
    assert len(local_aws.eventbridge.published()) == 1


def test_records_every_consumer_has_read_are_trimmed_from_the_stream(local_aws):
    commit(local_aws)
    local_aws.drain_streams()
    outbox = poller(local_aws)
    shard = outbox._streams.describe_stream(StreamArn=outbox.stream_arn)["StreamDescription"][
        "Shards"][0]  # fmt: skip
    iterator = outbox._streams.get_shard_iterator(
        StreamArn=outbox.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]

    assert outbox._streams.get_records(ShardIterator=iterator)["Records"] == []
    assert int(shard["SequenceNumberRange"]["StartingSequenceNumber"]) > int(outbox.position)


class CountingStreams:
    """The poller's DynamoDB Streams client, counting the requests it sends."""

    def __init__(self, client):
        self._client = client
        self.calls: dict[str, int] = {}

    def __getattr__(self, name):
        method = getattr(self._client, name)

        def counted(**kwargs):
            self.calls[name] = self.calls.get(name, 0) + 1
            return method(**kwargs)

        return counted


def test_a_poller_reads_on_with_the_next_iterator_instead_of_opening_one_per_poll(local_aws):
    local_aws.streams.stop()
    outbox = poller(local_aws)
    outbox.poll_once()
    counting = CountingStreams(outbox._streams)
    outbox._streams = counting

    for n in range(5):
        commit(local_aws, key=f"k{n}")
        assert outbox.poll_once() == 1

    assert counting.calls == {"get_records": 5}
    assert len(local_aws.eventbridge.published()) == 5


def test_a_poller_moved_to_another_position_opens_an_iterator_there(local_aws):
    local_aws.streams.stop()
    outbox = poller(local_aws)
    commit(local_aws)
    assert outbox.poll_once() == 1

    outbox.position = None  # moved back to TRIM_HORIZON (a rewind)
    with local_aws.streams.keeping_read_records():
        commit(local_aws, key="k2")
        assert outbox.poll_once() == 1  # only the new one: the first was trimmed once read


def test_an_idle_pollers_expired_iterator_is_replaced(local_aws, monkeypatch):
    from infra.local.dynamodb import streams as dynamodb_streams

    local_aws.streams.stop()
    outbox = poller(local_aws)
    outbox.poll_once()
    now = [dynamodb_streams._clock()]
    monkeypatch.setattr(dynamodb_streams, "_clock", lambda: now[0])
    outbox.poll_once()  # its next iterator is stamped now
    now[0] += dynamodb_streams.ITERATOR_LIFETIME_SECONDS + 1  # nothing written for 15 minutes

    commit(local_aws)

    assert outbox.poll_once() == 1
    assert len(local_aws.eventbridge.published()) == 1


def test_a_write_wakes_the_pollers_of_its_table_and_no_other_request_does(local_aws, monkeypatch):
    from infra.local.awslambda import event_source_mapping as streams

    local_aws.streams.stop()
    monkeypatch.setattr(streams, "IDLE_POLL_SECONDS", 3600.0)  # only a write can wake them
    counting = {}
    for each in local_aws.streams.pollers:
        counting[each.source.function] = each._streams = CountingStreams(each._streams)
    local_aws.streams.start()
    commit(local_aws)

    deadline = time.monotonic() + 30
    while not local_aws.eventbridge.published() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(local_aws.eventbridge.published()) == 1  # woken, not left for the hour
    reads = {name: dict(c.calls) for name, c in counting.items()}
    local_aws.dynamodb.get_item(TableName="OutboxTable", Key={"eventId": {"S": "nothing"}})
    local_aws.dynamodb.put_item(TableName="AggregatesTable", Item={"userId": {"S": "other"}})
    time.sleep(0.3)  # would be several polls each at the old 20 a second

    assert {name: dict(c.calls) for name, c in counting.items()} == reads


def test_the_tap_holds_at_most_a_hundred_messages_and_the_record_the_newest_events():
    import boto3
    from moto.sqs.models import sqs_backends

    from infra.local.cloudformation.template import ACCOUNT_ID
    from infra.local.events.bus import TAP_HELD
    from infra.local.runtime import LocalAws

    with LocalAws(events_kept=3) as aws:
        [bus] = aws.eventbridge.buses
        [tap] = [q for q in sqs_backends[ACCOUNT_ID]["us-east-1"].queues.values()
                 if q.name.endswith("Tap")]  # fmt: skip
        events = boto3.client("events", region_name="us-east-1")
        held = []
        for batch in range(15):
            answer = events.put_events(Entries=[
                {"Source": "test", "DetailType": "T", "EventBusName": bus,
                 "Detail": json.dumps({"n": batch * 10 + n})}
                for n in range(10)
            ])  # fmt: skip
            assert answer["FailedEntryCount"] == 0
            held.append(len(tap._messages))

        # Emptied once it held 100: a SendMessage to it passes over at most that many.
        assert max(held) < TAP_HELD
        assert held == [*range(10, 100, 10), 0, *range(10, 60, 10)]
        assert [e["detail"]["n"] for e in aws.eventbridge.published()] == [147, 148, 149]
        assert tap._messages == []
        assert tap.deleted_messages == set()


def test_the_jsonpaths_of_a_target_input_are_parsed_once_not_per_event(local_aws, monkeypatch):
    import jsonpath_ng.parser
    from jsonpath_ng.ext import parser

    commit(local_aws, key="first")  # the first execution and event parse what they read
    local_aws.drain_streams()
    built = []

    def counting(parser_class: Any) -> Any:
        class CountingParser(parser_class):
            def __init__(self, *args, **kwargs):
                built.append(parser_class.__name__)
                super().__init__(*args, **kwargs)

        return CountingParser

    monkeypatch.setattr(parser, "ExtendedJsonPathParser", counting(parser.ExtendedJsonPathParser))
    # The other parser, which a task's ResultPath uses.
    monkeypatch.setattr(
        jsonpath_ng.parser, "JsonPathParser", counting(jsonpath_ng.parser.JsonPathParser)
    )
    for n in range(5):
        commit(local_aws, key=f"k{n}")
    local_aws.drain_streams()

    assert len(local_aws.published_events()) == 6
    assert built == []  # moto built one for each of eight paths per event, and per state path


# Failure paths of the event source mapping and of the bus.


@pytest.mark.parametrize(
    ("pattern", "message"),
    [({"eventName": "INSERT"}, "leaves are lists"),
     ({"n": [{"numeric": [">", 1]}]}, "does not filter on 'numeric'")],
    ids=["leaf-not-a-list", "unknown-operator"],
)  # fmt: skip
def test_a_filter_the_runtime_cannot_apply_is_refused_not_guessed(pattern, message):
    with pytest.raises(ValueError, match=message):
        matches(pattern, {"eventName": "INSERT", "n": 2})


def test_another_stream_error_is_raised_and_the_position_kept(local_aws, monkeypatch):
    from botocore.exceptions import ClientError

    local_aws.streams.stop()
    commit(local_aws)
    outbox = poller(local_aws)
    before = outbox.position
    missing = ClientError({"Error": {"Code": "ResourceNotFoundException"}}, "GetRecords")
    monkeypatch.setattr(outbox, "_read_from_position", lambda: (_ for _ in ()).throw(missing))

    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        outbox.poll_once()
    assert outbox.position == before


def test_a_stream_without_shards_reads_nothing(local_aws):
    from infra.local.awslambda.event_source_mapping import StreamPoller

    class NoShards:
        def describe_stream(self, **_):
            return {"StreamDescription": {"Shards": []}}

        def get_records(self, **_):
            raise AssertionError("nothing to read from")

    source = poller(local_aws).source

    def no_queue(queue: str, body: str) -> None:
        raise AssertionError("no record, so nothing to send to a queue")

    empty = StreamPoller(source, "arn:stream", NoShards(), local_aws.lambdas, no_queue, "us-east-1")
    assert empty.poll_once() == 0


def test_an_unbounded_retry_is_capped_by_the_local_setting(local_aws, monkeypatch):
    import dataclasses

    local_aws.streams.stop()
    monkeypatch.setenv("LOCAL_STREAM_MAX_RETRIES", "2")
    outbox = poller(local_aws)
    outbox.source = dataclasses.replace(outbox.source, maximum_retry_attempts=-1)
    local_aws.lambdas.inject_fault(FORWARDER, FaultPoint.BEFORE, times=100)
    commit(local_aws)

    outbox.poll_once()

    assert local_aws.lambdas.invocations[FORWARDER] == 3  # the first and two retries
    assert outbox.failed_batches == 1


def test_without_an_on_failure_destination_a_batch_given_up_is_only_passed(local_aws):
    import dataclasses

    local_aws.streams.stop()
    outbox = poller(local_aws)
    outbox.source = dataclasses.replace(outbox.source, on_failure_queue=None)
    local_aws.lambdas.inject_fault(FORWARDER, FaultPoint.BEFORE, times=100)
    commit(local_aws)

    assert outbox.poll_once() == 1

    assert outbox.failed_batches == 1
    url = local_aws.sqs.get_queue_url(QueueName="OutboxDeadLetterQueue")["QueueUrl"]
    assert "Messages" not in local_aws.sqs.receive_message(QueueUrl=url)
    assert outbox.poll_once() == 0  # moved past it


@pytest.mark.parametrize(
    ("answer", "invocations"),
    [(None, 1), ([], 1), ({"batchItemFailures": ["not-an-object"]}, 2)],
    ids=["null", "not-an-object", "failure-not-an-object"],
)  # fmt: skip
def test_a_malformed_partial_batch_answer(local_aws, monkeypatch, answer, invocations):
    """null or a non-object means success, as Lambda reads it; an unreadable failure entry
    fails the whole batch."""
    from functions.handlers import forward_events

    answers = iter([answer])
    original = forward_events.outbox.batch_response

    def answer_once(records, failed):
        given = next(answers, "original")
        return original(records, failed) if given == "original" else given

    monkeypatch.setattr(forward_events.outbox, "batch_response", answer_once)
    commit(local_aws)

    local_aws.drain_streams()

    assert local_aws.lambdas.invocations[FORWARDER] == invocations


def test_a_broken_poll_is_logged_and_polling_goes_on(local_aws, monkeypatch, caplog):
    local_aws.streams.stop()
    outbox = poller(local_aws)
    monkeypatch.setattr(
        outbox, "poll_once", fails_once(outbox.poll_once, RuntimeError("a broken poll"))
    )
    local_aws.streams.start()
    commit(local_aws)

    deadline = time.monotonic() + 30
    while not local_aws.eventbridge.published() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(local_aws.eventbridge.published()) == 1
    assert "ForwardEventsFunction: poll failed" in caplog.text


def test_a_stream_that_never_drains_is_a_timeout():
    from infra.local.awslambda.event_source_mapping import LocalStreams

    class Endless:
        source = type("Source", (), {"table": "T", "function": "F", "name": "S"})

        def on_passed(self, callback):
            pass

        def poll_once(self):
            return 1

    with pytest.raises(TimeoutError, match="did not drain in time"):
        LocalStreams([Endless()]).drain(0.01)  # type: ignore[list-item]  # a fake poller


def test_a_bus_keeping_no_event_is_refused(monkeypatch):
    from infra.local.events.bus import LocalEventBridge
    from infra.local.runtime import LocalAws

    with pytest.raises(ValueError, match="at least one published event"):
        LocalEventBridge(("WalletEventBus",), kept=0)
    monkeypatch.setenv("LOCAL_EVENTS_KEPT", "0")
    with pytest.raises(ValueError, match="LOCAL_EVENTS_KEPT"):
        LocalAws()


def test_put_events_refused_by_the_bus_itself_is_answered_as_it_is(local_aws):
    from botocore.exceptions import ClientError

    entry = {
        "Source": "wallet",
        "DetailType": "T",
        "Detail": "{}",
        "EventBusName": "WalletEventBus",
    }
    events = local_aws.eventbridge._events
    with pytest.raises(ClientError):
        events.put_events(Entries=[entry] * 11)  # PutEvents takes at most 10 entries

    assert local_aws.eventbridge.published() == []


@pytest.mark.parametrize(
    ("props", "message"),
    [({"ParallelizationFactor": 2}, "does not model"),
     ({"MaximumBatchingWindowInSeconds": 1}, "does not model"),
     ({"MaximumRecordAgeInSeconds": 60}, "does not model"),
     ({"TumblingWindowInSeconds": 60}, "does not model"),
     ({"Enabled": False}, "does not model"),
     ({"MetricsConfig": {"Metrics": ["EventCount"]}}, "does not model"),
     ({"DestinationConfig": {"OnFailure": {"Type": "SNS", "Destination": "x"}}},
      "only delivers failures to SQS")],
    ids=["parallelization", "batching-window", "record-age", "tumbling-window", "disabled",
         "metrics", "sns-on-failure"],
)  # fmt: skip
def test_a_mapping_setting_the_runtime_does_not_model_is_refused(props, message):
    from infra.local.cloudformation import template

    base = {"Stream": {"Fn::GetAtt": ["OutboxTable", "StreamArn"]}, "StartingPosition": "LATEST"}

    assert template._stream_source("E", "F", base).table == "OutboxTable"
    assert template._stream_source("E", "F", {**base, "Enabled": True}).table == "OutboxTable"
    with pytest.raises(ValueError, match=message):
        template._stream_source("E", "F", {**base, **props})


# Known gaps (docs/known-gaps.md): where the runtime differs from AWS, pinned.


def test_retries_follow_each_other_at_once_without_a_backoff(local_aws, monkeypatch):
    local_aws.streams.stop()
    local_aws.lambdas.inject_fault(FORWARDER, FaultPoint.BEFORE, times=2)
    commit(local_aws)
    waits, sleep, polling = [], time.sleep, threading.current_thread()
    monkeypatch.setattr(
        time,
        "sleep",
        lambda s: waits.append(s) if threading.current_thread() is polling else sleep(s),
    )

    poller(local_aws).poll_once()

    assert local_aws.lambdas.invocations[FORWARDER] == 3  # AWS backs off between these
    assert waits == []
    assert len(local_aws.published_events()) == 1


def test_an_event_larger_than_aws_takes_is_published_here(local_aws):
    entry = {
        "Source": "wallet",
        "DetailType": "T",
        "Detail": json.dumps({"pad": "x" * 300 * 1024}),  # AWS refuses an entry over 256 KB
        "EventBusName": "WalletEventBus",
    }

    answer = local_aws.eventbridge._events.put_events(Entries=[entry])

    assert answer["FailedEntryCount"] == 0
    assert [len(e["detail"]["pad"]) for e in local_aws.eventbridge.published()] == [300 * 1024]


def keys_only_inserts(aws, table: str) -> list:
    return [
        r
        for r in stream_records(aws.dynamodb, table)
        if r["eventName"] == "INSERT" and r["dynamodb"]["NewImage"] == r["dynamodb"]["Keys"]
    ]


def test_the_streamed_tables_get_no_keys_only_insert_from_the_saga(local_aws):
    local_aws.streams.stop()
    commit(local_aws)
    local_aws.lambdas.inject_fault("UpdateBalanceFunction", FaultPoint.AFTER)  # a revert
    assert (
        local_aws.start_sync_execution(
            "TransactionStateMachine", execution_input("u1", "5", "debit")
        )["status"]
        == "FAILED"
    )
    ledger, outbox = get_settings().ledger_table_name, get_settings().outbox_table_name

    assert (
        len(stream_records(local_aws.dynamodb, ledger))
        == len(stream_records(local_aws.dynamodb, outbox))
        == 3
    )
    assert keys_only_inserts(local_aws, ledger) == keys_only_inserts(local_aws, outbox) == []
    # The moto trap this relies on avoiding: an UpdateItem that creates an item.
    local_aws.dynamodb.update_item(
        TableName=outbox, Key={"eventId": {"S": "made-by-update"}},
        UpdateExpression="SET detailType = :t", ExpressionAttributeValues={":t": {"S": "T"}},
    )  # fmt: skip
    assert len(keys_only_inserts(local_aws, outbox)) == 1
