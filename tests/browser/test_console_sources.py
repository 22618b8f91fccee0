"""One execution, two sources, one page: the view reading the log group the runtime writes, and
the view reading events in AWS's documented Express log format, show it the same way in Chromium.

The AWS-format events are the execution's GetExecutionHistory (Step Functions' own record, not
the runtime's log writer) put in the shape AWS documents for an Express workflow's log events,
by `aws_log_events` below: every field a string (`id`, `type`, `details`, `previous_event_id`,
`event_timestamp` in epoch milliseconds, `execution_arn` as an Express ARN,
`...:express:<machine>:<name>:<uuid>`, `redrive_count`). tests/browser/fixtures/
express_credit_log_events.json is one such execution written out (a credit of 12.50 to a new
user), the reference for that shape: the conversion is held to it. Built at test time, the
events follow the machine as it is (a rewrite of its states needs no new fixture). AWS's own
example events were not found by the documentation search, so the shape follows the documented
field list rather than a copied example.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
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


def aws_log_events(history: list[dict[str, Any]], express_arn: str) -> list[dict[str, Any]]:
    """GetExecutionHistory's events as AWS logs them for an Express execution."""
    logged = []
    for event in history:
        entry: dict[str, Any] = {"id": str(event["id"]), "type": event["type"]}
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), None)
        if details is not None:
            entry["details"] = details
        entry["previous_event_id"] = str(event["previousEventId"])
        entry["event_timestamp"] = str(int(event["timestamp"].timestamp() * 1000))
        entry["execution_arn"] = express_arn
        entry["redrive_count"] = "0"
        logged.append(entry)
    return logged


@contextmanager
def view_of(events: list[dict[str, Any]], definition: dict[str, Any]) -> Iterator[str]:
    """The view of a deployed stack whose log group holds `events` (the definition is the
    deployed one, as DescribeStateMachine gives it)."""
    records = LogGroupRecords(FixtureLogs(events), {MACHINE: GROUP})
    executions = Executions(None, [MACHINE], records=records)
    console = Console(executions, {MACHINE: definition}, "AggregatesTable")
    with in_thread(make_server("127.0.0.1", 0, console, threaded=True), "aws-format") as url:
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
    browser, runtime_with_logs
):
    aws, url = runtime_with_logs
    response = requests.post(
        f"{url}/transactions",
        json={"userId": "log-fixture-user", "ammount": "12.50", "type": "credit"},
        headers={"Idempotent-Key": "log-fixture-key"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    request_id = response.headers["x-amzn-RequestId"]
    history = aws.stepfunctions.get_execution_history(executionArn=aws.execution_arn(request_id))[
        "events"
    ]
    express_arn = MACHINE.replace(":stateMachine:", ":express:") + f":{request_id}:{uuid.uuid4()}"
    events = aws_log_events(history, express_arn)
    definition = json.loads(aws.template.state_machines["TransactionStateMachine"].definition)

    from_runtime = shown(browser, f"{url}/_console/requests/{request_id}")
    with view_of(events, definition) as aws_format:
        from_aws_format = shown(browser, f"{aws_format}/_console/requests/{request_id}")

    succeeded = [state for state in from_runtime["states"] if state[1] == "succeeded"]
    assert len(succeeded) >= 3 and from_runtime["panels"]
    assert from_aws_format == from_runtime


def test_the_conversion_writes_the_shape_of_the_reference_fixture(runtime_with_logs):
    """Each event type the reference holds has, once converted, the same fields, of the same
    types, in its envelope and its details."""
    aws, url = runtime_with_logs
    response = requests.post(
        f"{url}/transactions",
        json={"userId": "shape-user", "ammount": "1.00", "type": "credit"},
        headers={"Idempotent-Key": "shape-key"},
        timeout=30,
    )
    history = aws.stepfunctions.get_execution_history(
        executionArn=aws.execution_arn(response.headers["x-amzn-RequestId"])
    )["events"]
    express_arn = MACHINE.replace(":stateMachine:", ":express:") + f":n:{uuid.uuid4()}"

    def shapes(events: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            event["type"]: (
                sorted((k, type(v).__name__) for k, v in event.items()),
                sorted((k, type(v).__name__) for k, v in event.get("details", {}).items()),
            )
            for event in events
        }

    reference = shapes(json.loads(FIXTURE.read_text()))
    converted = shapes(aws_log_events(history, express_arn))
    assert set(converted) == set(reference)
    for kind, shape in converted.items():
        assert shape[0] == reference[kind][0], kind
        assert shape[1] == reference[kind][1], kind


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
