"""infra/local/dynamodb/time_to_live.py: outbox items expire as DynamoDB's TTL deletes them."""

from infra.local.dynamodb import time_to_live
from infra.local.dynamodb.time_to_live import TimeToLive


def outbox_keys(aws) -> list[str]:
    items = aws.dynamodb.scan(TableName="OutboxTable", ConsistentRead=True)["Items"]
    return sorted(item["eventId"]["S"] for item in items)


def expires_at(aws, event_id: str) -> int:
    item = aws.dynamodb.get_item(TableName="OutboxTable", Key={"eventId": {"S": event_id}})
    return int(item["Item"]["expiresAt"]["N"])


def test_expired_outbox_items_are_deleted_and_the_rest_kept():
    from infra.local.runtime import LocalAws
    from tests.builders import execution_input

    with LocalAws() as aws:
        aws.time_to_live.stop()  # swept here, on a clock of the test's
        for key in ("k1", "k2"):
            aws.start_sync_execution(
                "TransactionStateMachine", execution_input("ttl-user", "5", "credit", key)
            )
        aws.drain_streams()
        first, second = outbox_keys(aws)
        aws.dynamodb.update_item(
            TableName="OutboxTable", Key={"eventId": {"S": second}},
            UpdateExpression="SET expiresAt = :later",
            ExpressionAttributeValues={":later": {"N": str(expires_at(aws, first) + 100)}},
        )  # fmt: skip
        published = len(aws.published_events())
        just_after = expires_at(aws, first) + 1
        ttl = TimeToLive(aws.dynamodb, {"OutboxTable": "expiresAt"}, clock=lambda: just_after)

        assert ttl.sweep() == 1
        assert outbox_keys(aws) == [second]
        assert ttl.sweep() == 0
        ledger = aws.dynamodb.query(
            TableName="LedgerTable", KeyConditionExpression="userId = :u",
            ExpressionAttributeValues={":u": {"S": "ttl-user"}},
        )["Items"]  # fmt: skip
        assert len(ledger) == 2  # the ledger has no TTL
        assert len(aws.published_events()) == published  # the REMOVE is no event


def test_a_ttl_delete_is_a_remove_without_the_service_identity_aws_gives_it():
    """Known gap: AWS marks a TTL delete's record with userIdentity (type Service,
    principal dynamodb.amazonaws.com); here it is a plain REMOVE. The wallet filters on INSERT."""
    from infra.local.runtime import LocalAws
    from tests.builders import execution_input
    from tests.invariants import stream_records

    with LocalAws() as aws:
        aws.time_to_live.stop()
        aws.streams.stop()  # nothing reads the stream, so nothing trims it
        aws.start_sync_execution(
            "TransactionStateMachine", execution_input("ttl-user", "5", "credit", "k1")
        )
        [event_id] = outbox_keys(aws)
        after = expires_at(aws, event_id) + 1
        assert (
            TimeToLive(aws.dynamodb, {"OutboxTable": "expiresAt"}, clock=lambda: after).sweep() == 1
        )
        records = stream_records(aws.dynamodb, "OutboxTable")

    assert [r["eventName"] for r in records] == ["INSERT", "REMOVE"]
    assert "userIdentity" not in records[-1]


class RewritingClient:
    """A DynamoDB client that rewrites each item with a later time just before deleting it."""

    def __init__(self, client, later: int):
        self._client, self._later = client, later
        self.exceptions = client.exceptions

    def __getattr__(self, name):
        return getattr(self._client, name)

    def delete_item(self, **request):
        self._client.update_item(
            TableName=request["TableName"], Key=request["Key"],
            UpdateExpression="SET expiresAt = :later",
            ExpressionAttributeValues={":later": {"N": str(self._later)}},
        )  # fmt: skip
        return self._client.delete_item(**request)


def test_an_item_given_a_later_time_after_it_was_read_is_kept():
    from infra.local.runtime import LocalAws

    with LocalAws() as aws:
        aws.time_to_live.stop()
        aws.streams.stop()
        aws.dynamodb.put_item(
            TableName="OutboxTable", Item={"eventId": {"S": "e1"}, "expiresAt": {"N": "100"}}
        )
        ttl = TimeToLive(
            RewritingClient(aws.dynamodb, later=1_000), {"OutboxTable": "expiresAt"}, lambda: 500
        )

        assert ttl.sweep() == 0
        assert outbox_keys(aws) == ["e1"]


def test_a_failed_sweep_does_not_stop_the_sweeper(monkeypatch):
    import threading

    from infra.local.runtime import LocalAws

    with LocalAws() as aws:
        aws.time_to_live.stop()
        aws.streams.stop()
        aws.dynamodb.put_item(
            TableName="OutboxTable", Item={"eventId": {"S": "e1"}, "expiresAt": {"N": "100"}}
        )
        calls = []
        swept = threading.Event()

        class FailingOnce(RewritingClient):
            def delete_item(self, **request):
                calls.append(request)
                if len(calls) == 1:
                    raise RuntimeError("a broken sweep")
                swept.set()
                return self._client.delete_item(**request)

        monkeypatch.setattr(time_to_live, "SWEEP_SECONDS", 0.01)
        ttl = TimeToLive(
            FailingOnce(aws.dynamodb, later=0), {"OutboxTable": "expiresAt"}, lambda: 500
        )
        ttl.start()
        try:
            assert swept.wait(30)
        finally:
            ttl.stop()
        assert len(calls) >= 2
        assert outbox_keys(aws) == []


def test_the_runtime_sweeps_the_tables_the_template_gives_a_time_to_live():
    import threading

    from infra.local.cloudformation.template import Template
    from infra.local.runtime import LocalAws

    ttl_tables = {
        name: table.time_to_live_attribute
        for name, table in Template.load().tables.items()
        if table.time_to_live_attribute
    }
    assert ttl_tables == {"OutboxTable": "expiresAt", "HoldsTable": "purgeAt"}

    def sweeping() -> bool:
        return any(thread.name == "dynamodb-ttl" for thread in threading.enumerate())

    with LocalAws():
        assert sweeping()
    assert not sweeping()


def test_a_sweep_reads_the_tables_without_a_request_and_deletes_only_the_expired():
    """No Scan: moto's scans the whole table through its expression parser, which held `make
    run` for about a second a minute at 10,000 outbox items."""
    from infra.local.runtime import LocalAws

    with LocalAws() as aws:
        aws.time_to_live.stop()
        aws.streams.stop()
        for n, expires in enumerate((100, 499, 500, 900)):
            item = {"eventId": {"S": f"e{n}"}, "expiresAt": {"N": str(expires)}}
            aws.dynamodb.put_item(TableName="OutboxTable", Item=item)
        aws.dynamodb.put_item(
            TableName="OutboxTable", Item={"eventId": {"S": "text"}, "expiresAt": {"S": "1"}}
        )
        requests: list[str] = []

        class Counting(RewritingClient):
            def __getattr__(self, name):
                requests.append(name)
                return getattr(self._client, name)

            def delete_item(self, **request):
                requests.append("delete_item")
                return self._client.delete_item(**request)

        swept = TimeToLive(Counting(aws.dynamodb, later=0), {"OutboxTable": "expiresAt"},
                           lambda: 500).sweep()  # fmt: skip

        assert swept == 2
        assert requests == ["delete_item", "delete_item"]
        assert outbox_keys(aws) == ["e2", "e3", "text"]  # a string is no time to live


def test_a_table_with_a_sort_key_is_swept_by_its_whole_key():
    from infra.local.runtime import LocalAws

    with LocalAws() as aws:
        aws.time_to_live.stop()
        for hold, purge in (("h1", 100), ("h2", 900), ("h3", 200)):
            item = {"userId": {"S": "u1"}, "holdId": {"S": hold}, "purgeAt": {"N": str(purge)}}
            aws.dynamodb.put_item(TableName="HoldsTable", Item=item)

        swept = TimeToLive(aws.dynamodb, {"HoldsTable": "purgeAt"}, lambda: 500).sweep()

        left = aws.dynamodb.scan(TableName="HoldsTable", ConsistentRead=True)["Items"]
        assert swept == 2
        assert [item["holdId"]["S"] for item in left] == ["h2"]
