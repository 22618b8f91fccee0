"""The contract's rows of GET /summaries, over HTTP against the local server."""

import json
import time

import pytest

from tests.builders import ledger_entry, put_ledger_entry, stream_event
from tests.contract.test_contract import assert_error

DAY = {"period": "day", "from": "2026-12-01T00:00:00Z", "to": "2026-12-02T00:00:00Z"}


def project(aws, entries):
    """Write the entries to the ledger and hand them to the consumer, as the stream does."""
    for entry in entries:
        put_ledger_entry(entry, aws.dynamodb)
    event = json.dumps(stream_event(entries)).encode()
    result = aws.lambdas.invoke("ProjectSummariesFunction", event)
    assert json.loads(result.payload) == {"batchItemFailures": []}


def test_the_contracts_example(api, aws, user):
    project(aws, [
        ledger_entry(user, 1, "10.00", created_at="2026-12-01T08:00:00.000Z"),
        ledger_entry(user, 2, "5.00", "debit", "2026-12-01T09:30:00.000Z", "105.00"),
        ledger_entry(user, 3, "2.50", created_at="2026-12-01T23:59:59.999Z",
                     balance_after="107.50"),
    ])  # fmt: skip

    response = api.summaries(user, **DAY)

    assert response.status_code == 200
    assert response.json() == {
        "userId": user, "period": "day", "asOfSequence": 3,
        "summaries": [{"start": "2026-12-01T00:00:00Z", "credits": "12.50", "debits": "5.00",
                       "net": "7.50", "count": 3, "closingBalance": "107.50"}],
    }  # fmt: skip


def test_hours_with_entries_are_listed_oldest_first_within_from_and_to(api, aws, user):
    project(aws, [
        ledger_entry(user, 1, created_at="2026-12-01T07:59:00.000Z"),
        ledger_entry(user, 2, created_at="2026-12-01T08:10:00.000Z"),
        ledger_entry(user, 3, created_at="2026-12-01T10:10:00.000Z"),
    ])  # fmt: skip

    body = api.summaries(
        user, period="hour", **{"from": "2026-12-01T08:00:00Z", "to": "2026-12-01T11:00:00Z"}
    ).json()

    assert [(s["start"], s["count"]) for s in body["summaries"]] == [
        ("2026-12-01T08:00:00Z", 1), ("2026-12-01T10:00:00Z", 1)]  # fmt: skip
    assert body["asOfSequence"] == 3


def test_a_user_without_entries_has_no_periods_as_of_sequence_0(api, user):
    body = api.summaries(user, period="hour").json()
    assert body == {"userId": user, "period": "hour", "asOfSequence": 0, "summaries": []}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"userId": ""}, "userId"),
        ({"userId": "u" * 129}, "userId"),
        ({"period": "week"}, "period"),
        ({"period": None}, "period"),
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-12-01T00:00:00+02:00"}, "to"),
        ({"from": "2026-12-03T00:00:00Z", "to": "2026-12-02T00:00:00Z"}, "from"),
        ({"period": "hour", "from": "2026-10-01T00:00:00Z"}, "periods"),
    ],
    ids=["empty-user", "long-user", "period", "no-period", "from", "to", "from-after-to",
         "over-744"],
)  # fmt: skip
def test_invalid_queries_are_a_400_naming_the_parameter(api, user, params, field):
    query = {"userId": user, **DAY, **params}
    query = {k: v for k, v in query.items() if v is not None}
    assert_error(api.summaries(None, **query), 400, "VALIDATION_ERROR", field)


def test_a_missing_user_id_is_a_400(api):
    assert_error(api.summaries(None, **DAY), 400, "VALIDATION_ERROR", "userId")


def test_posts_reach_the_summaries_through_the_stream_on_their_own(api, user):
    """The runtime's poller feeds the consumer in the background, as the event source mapping
    does: no test hook is needed for asOfSequence to reach the last POST's entry."""
    api.transact({"userId": user, "ammount": "10", "type": "credit"})
    api.transact({"userId": user, "ammount": "4", "type": "debit"})

    deadline = time.monotonic() + 30
    while (body := api.summaries(user, period="day").json())["asOfSequence"] < 2:
        assert time.monotonic() < deadline, body
        time.sleep(0.05)

    [day] = body["summaries"]
    assert (day["credits"], day["debits"], day["count"], day["closingBalance"]) == (
        "10.00", "4.00", 2, "106.00")  # fmt: skip
