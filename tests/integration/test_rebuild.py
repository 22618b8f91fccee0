"""make rebuild-summaries on moto: every kind of difference is reported, repaired, and gone."""

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from functions.domain.summaries import summarize
from functions.repositories.summaries import SummariesRepository
from infra import rebuild
from tests.builders import TABLE_NAMES, ledger_entry, put_ledger_entry
from tests.invariants import projection_violations

ROOT = Path(__file__).resolve().parents[2]

SUMMARIES = TABLE_NAMES["SUMMARIES_TABLE_NAME"]
TABLES = ["--ledger-table", TABLE_NAMES["LEDGER_TABLE_NAME"], "--summaries-table", SUMMARIES]


def hourly(user, count):
    """`count` entries an hour apart: as many hour periods."""
    start = datetime(2026, 11, 1, tzinfo=UTC)
    return [
        ledger_entry(user, n, created_at=(start + timedelta(hours=n)).isoformat().replace(
            "+00:00", "Z"))
        for n in range(1, count + 1)
    ]  # fmt: skip


@pytest.fixture
def projection(client):
    return SummariesRepository(client, SUMMARIES)


def test_every_difference_is_reported_then_repaired(client, projection, capsys):
    lagging, corrupted, ghost = hourly("lagging", 3), hourly("corrupted", 30), "ghost"
    lost = hourly("lost", 100)  # 105 periods: more than one TransactWriteItems can repair
    for entry in lagging + corrupted + lost:
        put_ledger_entry(entry, client)
    for entry in lagging[:1] + corrupted:  # the stream lost "lagging"'s last two
        projection.apply(entry)
    client.delete_item(TableName=SUMMARIES, Key={"userId": {"S": "corrupted"},
                       "bucket": {"S": "hour#2026-11-01T05:00:00Z"}})  # fmt: skip
    client.update_item(TableName=SUMMARIES, Key={"userId": {"S": "corrupted"},
                       "bucket": {"S": "day#2026-11-02T00:00:00Z"}},
                       UpdateExpression="ADD credits :ten",
                       ExpressionAttributeValues={":ten": {"N": "10"}})  # fmt: skip
    projection.apply(ledger_entry(ghost, 1))  # in the projection, not in the ledger

    checked = rebuild.main([*TABLES, "--check-only"], boto3.session.Session())
    report = capsys.readouterr().out
    repaired = rebuild.main(TABLES, boto3.session.Session())
    repair_report = capsys.readouterr().out
    again = rebuild.main([*TABLES, "--check-only"], boto3.session.Session())

    assert checked == 1
    assert "asOfSequence 1, the ledger's last is 3" in report
    assert "hour 2026-11-01T05:00:00Z: missing" in report
    assert "day 2026-11-02T00:00:00Z: {" in report
    assert "asOfSequence 1, the ledger's last is 0" in report  # the ghost
    assert "asOfSequence 0, the ledger's last is 100" in report  # the lost one
    assert "4 users, 4 differing, checked only" in report
    assert (repaired, again) == (0, 0)
    assert "4 users, 4 differing, 4 repaired" in repair_report
    assert projection_violations(client) == []
    assert "ghost" not in projection.user_ids()


def test_the_consumer_skips_what_the_rebuild_applied(client, projection):
    entries = hourly("u", 4)
    for entry in entries:
        put_ledger_entry(entry, client)

    assert rebuild.main(TABLES, boto3.session.Session()) == 0
    assert [projection.apply(entry) for entry in entries] == [False] * 4
    assert projection_violations(client) == []


def test_a_rebuild_write_loses_to_a_consumer_that_moved_on(client, projection):
    entries = hourly("u", 3)
    for entry in entries:
        put_ledger_entry(entry, client)
    projection.apply(entries[0])
    found = projection.state_of("u")
    projection.apply(entries[1])  # the consumer, between the rebuild's read and its write

    assert projection.replace("u", summarize(entries), found) is False
    assert projection.state_of("u") == summarize(entries[:2])  # nothing of the rebuild landed


def test_a_user_with_no_difference_is_not_written(client, projection):
    entries = hourly("u", 2)
    projection.apply(entries[0])
    state = projection.state_of("u")
    projection.apply(entries[1])  # any write conditioned on the state read would now fail

    assert projection.replace("u", state, state) is True
    assert projection.state_of("u").last_sequence == 2


def test_a_rebuild_write_loses_to_a_consumer_that_started_a_day(client, projection):
    entries = [ledger_entry("u", 1, created_at="2026-11-01T08:00:00.000Z"),
               ledger_entry("u", 2, created_at="2026-11-02T08:00:00.000Z")]  # fmt: skip
    projection.apply(entries[0])
    found = projection.state_of("u")
    projection.apply(entries[1])  # a day and an hour the rebuild read as absent

    assert projection.replace("u", summarize(entries), found) is False
    assert projection.state_of("u") == summarize(entries)  # the consumer's write stands


def test_a_rebuild_writes_the_days_last_oldest_first(client, projection):
    entries = hourly("u", 100)  # 100 hours and 5 days: two TransactWriteItems
    chunks = []
    client.meta.events.register(
        "provide-client-params.dynamodb.TransactWriteItems",
        lambda params, **kwargs: chunks.append(
            [next(iter(item.values()))["Item"] for item in params["TransactItems"]]
        ),
    )

    assert projection.replace("u", summarize(entries), projection.state_of("u")) is True

    written = [item for chunk in chunks for item in chunk]
    kinds = [item["bucket"]["S"].split("#")[0] for item in written]
    days = [int(item["lastSequence"]["N"]) for item in written if item["bucket"]["S"] < "e"]
    assert [len(chunk) for chunk in chunks] == [100, 5]
    assert kinds == ["hour"] * 100 + ["day"] * 5
    assert days == sorted(days)
    assert projection.state_of("u") == summarize(entries)


def test_a_progress_item_of_the_earlier_layout_is_no_difference(client, projection):
    entries = hourly("u", 2)
    for entry in entries:
        put_ledger_entry(entry, client)
        projection.apply(entry)
    client.put_item(TableName=SUMMARIES, Item={"userId": {"S": "u"}, "bucket": {"S": "progress"},
                    "lastSequence": {"N": "2"}})  # fmt: skip

    assert rebuild.main([*TABLES, "--check-only"], boto3.session.Session()) == 0
    assert projection.state_of("u") == summarize(entries)


def test_the_tables_come_from_the_stacks_outputs():
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    outputs = [
        {"OutputKey": "LedgerTableName", "OutputValue": "wallet-LedgerTable-1"},
        {"OutputKey": "SummariesTableName", "OutputValue": "wallet-SummariesTable-1"},
    ]
    with Stubber(cloudformation) as stub:
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "wallet",
                        "CreationTime": datetime.now(UTC),
                        "StackStatus": "CREATE_COMPLETE",
                        "Outputs": outputs,
                    }
                ]
            },
            {"StackName": "wallet"},
        )
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "old",
                        "CreationTime": datetime.now(UTC),
                        "StackStatus": "CREATE_COMPLETE",
                        "Outputs": outputs[:1],
                    }
                ]
            },
            {"StackName": "old"},
        )

        tables = rebuild.stack_tables(cloudformation, "wallet")
        with pytest.raises(SystemExit, match="no output SummariesTableName"):
            rebuild.stack_tables(cloudformation, "old")

    assert tables == ("wallet-LedgerTable-1", "wallet-SummariesTable-1")


def test_without_tables_or_a_stack_it_says_what_it_needs(capsys):
    with pytest.raises(SystemExit) as exit_:
        rebuild.main(["--ledger-table", "L"], boto3.session.Session(region_name="us-east-1"))

    assert exit_.value.code == 2
    assert "give --stack, or both" in capsys.readouterr().err


def test_a_stack_that_cannot_be_read_is_a_message_not_a_traceback():
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    with Stubber(cloudformation) as stub:
        stub.add_client_error(
            "describe_stacks",
            service_error_code="ValidationError",
            service_message="Stack with id nope does not exist",
            expected_params={"StackName": "nope"},
        )
        stub.add_response(
            "describe_stacks",
            {"Stacks": [{"StackName": "bare", "CreationTime": datetime.now(UTC),
                         "StackStatus": "CREATE_IN_PROGRESS"}]},
            {"StackName": "bare"},
        )  # fmt: skip

        with pytest.raises(SystemExit, match=r"stack nope cannot be read: .*does not exist"):
            rebuild.stack_tables(cloudformation, "nope")
        with pytest.raises(SystemExit, match="no output LedgerTableName, SummariesTableName"):
            rebuild.stack_tables(cloudformation, "bare")  # no Outputs at all yet


def test_without_a_region_it_says_how_to_give_one_instead_of_a_traceback(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE")
    }
    env |= {"AWS_CONFIG_FILE": str(tmp_path / "none"), "PYTHONPATH": str(ROOT)}

    done = subprocess.run(
        [sys.executable, "-m", "infra.rebuild", "--stack", "wallet", "--check-only"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip() == rebuild.NO_REGION


@pytest.mark.parametrize(
    "arguments",
    [["--stack", "wallet"], ["--ledger-table", "L", "--summaries-table", "S"]],
    ids=["stack", "tables"],
)
def test_an_unreachable_endpoint_is_a_message_not_a_traceback(monkeypatch, arguments):
    # Nothing listens on port 9 (discard): the connection is refused at once.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")

    with pytest.raises(SystemExit, match="Could not connect to the endpoint URL") as exit_:
        rebuild.main([*arguments, "--region", "us-east-1"])

    assert str(exit_.value).startswith(("stack wallet cannot be read: ", "the rebuild stopped: "))
