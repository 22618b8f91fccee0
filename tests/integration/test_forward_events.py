"""The forwarder: the outbox's stream event in, PutEvents out, refused entries never lost."""

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from functions.domain.events import OutboxEvent
from functions.handlers import forward_events
from functions.repositories import event_bus, outbox
from tests.builders import outbox_stream_event

INSERT_SEQUENCE = "4421584500000000017450439091"


@pytest.fixture
def bus(client, settings, monkeypatch):
    """The bus on moto, with a queue subscribed to it."""
    monkeypatch.setenv("EVENT_BUS_NAME", "WalletEventBus")
    from functions.settings import get_settings

    get_settings.cache_clear()
    event_bus.client.cache_clear()
    events, sqs = boto3.client("events"), boto3.client("sqs")
    events.create_event_bus(Name="WalletEventBus")
    url = sqs.create_queue(QueueName="tap")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    events.put_rule(Name="tap", EventBusName="WalletEventBus",
                    EventPattern=json.dumps({"source": ["wallet"]}))  # fmt: skip
    events.put_targets(Rule="tap", EventBusName="WalletEventBus",
                       Targets=[{"Id": "q", "Arn": arn["QueueArn"]}])  # fmt: skip
    yield lambda: [
        json.loads(m["Body"])
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    ]
    event_bus.client.cache_clear()


def test_the_recorded_stream_event_publishes_its_insert_only(bus, lambda_context):
    response = forward_events.lambda_handler(outbox_stream_event(), lambda_context)

    assert response == {"batchItemFailures": []}
    [event] = bus()
    assert (event["source"], event["detail-type"]) == ("wallet", "TransactionCommitted")
    assert event["detail"]["eventId"] == "3295e9a4-1c0b-5b8e-9d57-2f3c1a0e7b11"


def put_events_answer(*codes: str | None) -> dict:
    entries = [{"ErrorCode": c, "ErrorMessage": "x"} if c else {"EventId": "e"} for c in codes]
    return {"FailedEntryCount": sum(1 for c in codes if c), "Entries": entries}


def two_inserts() -> dict:
    event = outbox_stream_event()
    second = json.loads(json.dumps(event["Records"][0]))
    second["dynamodb"]["SequenceNumber"] = "4421584500000000017450439093"
    second["dynamodb"]["NewImage"]["eventId"] = {"S": "second"}
    return {"Records": [event["Records"][0], second]}


def entries_of(*ids: str) -> dict:
    """What PutEvents is sent for the events `ids` of two_inserts()."""
    entry = {"EventBusName": "WalletEventBus", "Source": "wallet",
             "DetailType": "TransactionCommitted", "Detail": _detail()}  # fmt: skip
    return {"Entries": [entry for _ in ids]}


def _detail() -> str:
    return outbox_stream_event()["Records"][0]["dynamodb"]["NewImage"]["detail"]["S"]


def test_a_partially_failed_put_events_is_retried_for_exactly_the_refused_entry(
    bus, lambda_context
):
    with Stubber(event_bus.client()) as stub:
        stub.add_response("put_events", put_events_answer(None, "ThrottlingException"),
                          entries_of("first", "second"))  # fmt: skip
        stub.add_response("put_events", put_events_answer(None), entries_of("second"))
        response = forward_events.lambda_handler(two_inserts(), lambda_context)
        stub.assert_no_pending_responses()

    assert response == {"batchItemFailures": []}


def test_an_entry_refused_at_every_attempt_is_reported_with_what_follows_it(bus, lambda_context):
    with Stubber(event_bus.client()) as stub:
        stub.add_response("put_events", put_events_answer("InternalFailure", None))
        stub.add_response("put_events", put_events_answer("InternalFailure"))
        stub.add_client_error("put_events", "ThrottlingException")  # the whole request refused
        response = forward_events.lambda_handler(two_inserts(), lambda_context)

    # The stream delivers again from the first record not published.
    assert response == {"batchItemFailures": [{"itemIdentifier": INSERT_SEQUENCE}]}


def test_a_refusal_no_retry_can_help_fails_the_invocation(bus, lambda_context):
    with Stubber(event_bus.client()) as stub:
        stub.add_client_error("put_events", "AccessDeniedException")
        with pytest.raises(ClientError):
            forward_events.lambda_handler(two_inserts(), lambda_context)


def test_put_events_sends_at_most_ten_entries_a_request(bus):
    repository = event_bus.repository_for("WalletEventBus")
    events = [OutboxEvent(f"e{i}", "TransactionCommitted", _detail()) for i in range(23)]
    sizes = []
    event_bus.client().meta.events.register(
        "provide-client-params.events.PutEvents",
        lambda params, **_: sizes.append(len(params["Entries"])),
    )

    assert repository.put_events(events) == []
    assert sizes == [10, 10, 3]
    assert len(outbox.stream_events(two_inserts())) == 2
