"""One execution, two sources, one page: the view reading the log group the runtime writes, and
the view reading events in AWS's documented Express log format, show it the same way in Chromium.

tests/browser/fixtures/express_credit_log_events.json is a credit of 12.50 to a new user
(`log-fixture-user`, key `log-fixture-key`) through the transaction machine, written by hand in
the shape AWS documents for an Express workflow's log events (every field a string: `id`,
`type`, `details`, `previous_event_id`, `event_timestamp`, `execution_arn` as an Express ARN,
`...:express:<machine>:<name>:<uuid>`, `redrive_count`); the states' inputs and outputs are
this machine's, taken from its GetExecutionHistory (not from the runtime's log writer). AWS's
own example events were not found by the documentation search, so the envelope follows the
documented field list rather than a copied example.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from infra.composition import create_server
from infra.console.app import Console
from infra.console.log_records import LogGroupRecords
from infra.console.source import Executions
from infra.local.http_server import in_thread
from infra.local.runtime import LocalAws

FIXTURE = Path(__file__).parent / "fixtures" / "express_credit_log_events.json"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:TransactionStateMachine"
GROUP = "/aws/vendedlogs/states/wallet-transactions"
# What differs between two runs of one execution, whatever reads it: ids, times, ARNs.
VARYING = [
    (re.compile(r"arn:aws:states:[^\s\"\\]*"), "<arn>"),
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ][\d:.]+Z?"), "<instant>"),
    (re.compile(r"\b\d{2}:\d{2}:\d{2}\.\d+"), "<clock>"),
    (re.compile(r"\d+(?:\.\d+)? ?ms\b"), "<duration>"),
    (re.compile(r"\b1\d{9}(?:\d{3})?\b"), "<epoch>"),
]
SHOWN = """() => {
  const text = (element) => element ? element.textContent.replace(/\\s+/g, " ").trim() : null;
  return {
    heading: text(document.querySelector(".summary h1")),
    summary: [...document.querySelectorAll(".summary dl > div")].map(text),
    banner: text(document.querySelector(".banner")),
    states: [...document.querySelectorAll("svg.machine g.state")].map(
      (g) => [g.dataset.state, g.dataset.status, g.classList.contains("selected")]),
    edges: [...document.querySelectorAll("svg.machine g.edge")].map(
      (g) => [g.dataset.from, g.dataset.to, g.dataset.kind, g.dataset.taken, text(g)]),
    path: [...document.querySelectorAll(".panel .path a")].map((a) => [text(a), a.className]),
    panels: [...document.querySelectorAll(".state-detail")].map((panel) => ({
      id: panel.id,
      status: panel.dataset.status,
      visible: panel.checkVisibility(),
      changes: [...panel.querySelectorAll("tr.change")].map(text),
      input: text(panel.querySelector("details.input pre")),
      output: text(panel.querySelector("details.output pre")),
      error: text(panel.querySelector(".error-box")),
      attempts: [...panel.querySelectorAll("tr.attempt-row")].map(text),
    })),
    timeline: [...document.querySelectorAll(".timeline .row")].map((row) => row.dataset.state),
    history: [...document.querySelectorAll("table.events tbody tr")].map(
      (row) => text(row.children[2])),
  };
}"""


class FixtureLogs:
    """FilterLogEvents of the one log group, the fixture's events in one page."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events

    def get_paginator(self, operation: str) -> Any:
        assert operation == "filter_log_events"
        return self

    def paginate(self, logGroupName: str) -> list[dict[str, Any]]:
        assert logGroupName == GROUP
        return [{"events": [{"message": json.dumps(event)} for event in self.events]}]


@pytest.fixture(scope="module")
def runtime_with_logs() -> Iterator[tuple[LocalAws, str]]:
    """make run with CONSOLE_SOURCE=logs: the view reads the runtime's log group."""
    before = os.environ.get("CONSOLE_SOURCE")
    os.environ["CONSOLE_SOURCE"] = "logs"
    try:
        with LocalAws() as aws, in_thread(create_server(aws, "127.0.0.1", 0), "api") as url:
            yield aws, url
    finally:
        if before is None:
            os.environ.pop("CONSOLE_SOURCE", None)
        else:
            os.environ["CONSOLE_SOURCE"] = before


@pytest.fixture(scope="module")
def fixture_view(runtime_with_logs) -> Iterator[str]:
    """The view of a deployed stack's log group holding the fixture's events (the definition
    is the deployed one, as DescribeStateMachine gives it)."""
    aws, _ = runtime_with_logs
    definition = json.loads(aws.template.state_machines["TransactionStateMachine"].definition)
    records = LogGroupRecords(FixtureLogs(json.loads(FIXTURE.read_text())), {MACHINE: GROUP})
    executions = Executions(None, [MACHINE], records=records)
    console = Console(executions, {MACHINE: definition}, "AggregatesTable")
    with in_thread(make_server("127.0.0.1", 0, console, threaded=True), "fixture-view") as url:
        yield url


def shown(browser, url: str) -> dict[str, Any]:
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    response = page.goto(url)
    assert response is not None and response.status == 200, url
    seen = page.evaluate(SHOWN)
    context.close()
    text = json.dumps(seen, indent=1)
    for pattern, replacement in VARYING:
        text = pattern.sub(replacement, text)
    return json.loads(text)


def test_the_runtimes_log_group_and_aws_format_events_show_one_execution_the_same_way(
    browser, runtime_with_logs, fixture_view
):
    _, url = runtime_with_logs
    response = requests.post(
        f"{url}/transactions",
        json={"userId": "log-fixture-user", "ammount": "12.50", "type": "credit"},
        headers={"Idempotent-Key": "log-fixture-key"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    fixture_name = json.loads(FIXTURE.read_text())[0]["execution_arn"].split(":")[-2]

    from_runtime = shown(browser, f"{url}/_console/requests/{response.headers['x-amzn-RequestId']}")
    from_fixture = shown(browser, f"{fixture_view}/_console/executions/{fixture_name}")

    assert from_runtime["states"] and from_runtime["panels"]
    assert [s for s in from_runtime["states"] if s[1] == "succeeded"] == [
        [name, "succeeded", name == "TransactionSucceeded"]
        for name in ("AcquireLock", "PutTransaction", "IsReplay", "UpdateBalance",
                     "ReleaseLock", "TransactionSucceeded")
    ]  # fmt: skip
    assert from_fixture == from_runtime


def test_the_fixture_is_in_the_documented_shape():
    events = json.loads(FIXTURE.read_text())

    fields = {"id", "type", "previous_event_id", "event_timestamp", "execution_arn",
              "redrive_count"}  # fmt: skip
    for event in events:
        assert fields <= set(event) <= fields | {"details"}
        assert all(isinstance(event[field], str) for field in fields)
    arn = events[0]["execution_arn"]
    assert re.fullmatch(r"arn:aws:states:[\w-]+:\d{12}:express:[\w-]+:[\w-]+:[\w-]+", arn)
    assert {event["execution_arn"] for event in events} == {arn}
    assert str(uuid.UUID(arn.split(":")[-1])) == arn.split(":")[-1]
    assert [int(event["id"]) for event in events] == list(range(1, len(events) + 1))
