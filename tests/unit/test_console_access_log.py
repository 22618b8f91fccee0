"""Requests by x-amzn-RequestId in an API Gateway access log (a fake FilterLogEvents)."""

from __future__ import annotations

import json
from typing import Any

from infra.console.access_log import AccessLog, AccessLogEntry


class FakeLogs:
    """FilterLogEvents answering what a pattern finds: every message holding the quoted term,
    in pages of one."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        self.patterns: list[str] = []

    def get_paginator(self, operation: str) -> Any:
        assert operation == "filter_log_events"
        return self

    def paginate(self, logGroupName: str, filterPattern: str) -> list[dict[str, Any]]:
        assert logGroupName == "access"
        self.patterns.append(filterPattern)
        term = json.loads(filterPattern)
        return [{"events": [{"message": m}]} for m in self.messages if term in m]


def line(**fields: str) -> str:
    return json.dumps({"httpMethod": "GET", "resourcePath": "/balance", "status": "200",
                       "errorMessage": "-", **fields})  # fmt: skip


def test_the_entry_of_the_request_is_found_by_its_id_as_a_quoted_term():
    logs = FakeLogs([
        "a line that is not JSON: r-1",
        line(requestId="r-10"),  # holds "r-1" but is another request
        json.dumps(["r-1"]),
        line(requestId="r-1", status="429", errorType="THROTTLED"),
    ])  # fmt: skip

    entry = AccessLog(logs, "access").find("r-1")

    assert logs.patterns == ['"r-1"']
    assert entry is not None
    assert (entry.request_id, entry.method, entry.path, entry.status) == (
        "r-1", "GET", "/balance", 429)  # fmt: skip
    # Known fields first, in the view's order, without API Gateway's "-" for no value.
    assert entry.shown() == [("Method", "GET"), ("Resource", "/balance"), ("Status", "429"),
                             ("Error type", "THROTTLED")]  # fmt: skip


def test_an_id_the_log_does_not_hold_or_that_no_pattern_can_quote_is_none():
    logs = FakeLogs([line(requestId="r-1")])

    assert AccessLog(logs, "access").find("r-2") is None
    assert AccessLog(logs, "access").find('r"1') is None
    assert AccessLog(logs, "access").find("") is None
    assert logs.patterns == ['"r-2"']


def test_fields_the_template_does_not_name_are_shown_after_the_known_ones():
    entry = AccessLogEntry("r-1", {"requestId": "r-1", "status": "x", "custom": "1"})

    assert entry.status is None
    assert entry.shown() == [("Status", "x"), ("custom", "1")]
