"""The state machine's log group, read as a user of `make run` reads a deployed one: with the AWS
CLI (`aws logs filter-log-events`, `get-log-events`) and boto3, in processes of their own."""

from __future__ import annotations

import json
from typing import Any

import requests

from tests.builders import transaction_body
from tests.endpoint.conftest import aws_cli_json, boto3_process
from tests.endpoint.test_aws_clients import new_user, post_credit

LOG_GROUP = "/aws/vendedlogs/states/local-transactions"
# What AWS writes of each event of an Express execution, in its order.
FIELDS = [
    "id",
    "type",
    "details",
    "previous_event_id",
    "event_timestamp",
    "execution_arn",
    "redrive_count",
]


def post_overdraft(api: str, user_id: str) -> requests.Response:
    response = requests.post(
        f"{api}/transactions",
        data=transaction_body(user_id, "100.01", "debit"),
        headers={"Content-Type": "application/json", "Idempotent-Key": "overdraft"},
        timeout=60,
    )
    assert response.status_code == 422, response.text
    return response


def executions_of(events: list[dict[str, Any]], user_id: str) -> list[list[dict[str, Any]]]:
    """Each execution's logged events (in the order written) whose input names `user_id`."""
    by_execution: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        message = json.loads(event["message"])
        by_execution.setdefault(message["execution_arn"], []).append(message)
    return [
        messages
        for messages in by_execution.values()
        if messages[0]["type"] == "ExecutionStarted"
        and json.loads(json.loads(messages[0]["details"]["input"])["body"])["userId"] == user_id
    ]


def test_the_cli_reads_a_credit_and_an_overdraft_from_the_log_group(make_run):
    creditor, debtor = new_user(), new_user()
    post_credit(make_run.api, creditor, "k1")
    post_overdraft(make_run.api, debtor)

    events = aws_cli_json(make_run.aws, "logs", "filter-log-events", "--log-group-name", LOG_GROUP)[
        "events"
    ]
    [credit] = executions_of(events, creditor)
    [overdraft] = executions_of(events, debtor)
    streams = aws_cli_json(
        make_run.aws, "logs", "describe-log-streams", "--log-group-name", LOG_GROUP
    )["logStreams"]
    in_stream = [
        event
        for stream in streams
        for event in aws_cli_json(
            make_run.aws,
            "logs",
            "get-log-events",
            "--log-group-name",
            LOG_GROUP,
            "--log-stream-name",
            stream["logStreamName"],
            "--start-from-head",
        )["events"]
    ]

    assert credit[-1]["type"] == "ExecutionSucceeded"
    assert overdraft[-1]["type"] == "ExecutionFailed"
    assert overdraft[-1]["details"]["error"] == "InsufficientFundsError"
    for messages in (credit, overdraft):
        assert [m["id"] for m in messages] == [str(n) for n in range(1, len(messages) + 1)]
        for message in messages:
            assert list(message) == FIELDS
    assert all(stream["logStreamName"].startswith("states/") for stream in streams)
    assert executions_of(in_stream, debtor) == [overdraft]


def test_boto3_reads_the_same_events(make_run):
    user = new_user()
    post_overdraft(make_run.api, user)

    events = boto3_process(
        make_run.aws,
        "pages = client('logs').get_paginator('filter_log_events').paginate("
        f"logGroupName={LOG_GROUP!r})\n"
        "result = [event for page in pages for event in page['events']]",
    )
    [overdraft] = executions_of(events, user)

    assert [m["type"] for m in overdraft][-2:] == ["FailStateEntered", "ExecutionFailed"]
    assert json.loads(overdraft[-1]["details"]["cause"])["errorType"] == "InsufficientFundsError"
