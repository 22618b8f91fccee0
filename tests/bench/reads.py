"""The read side: what GET /transactions, GET /summaries and the summaries consumer make AWS do,
and the projection's lag (a POST answered -> the projection's asOfSequence reaching its entry).

Requests are counted like the saga's (deltas of the runtime's counters around one call); read
units from the bytes each read returned (strongly consistent: 1 RRU per 4 KB, a Query summed over
its items, a GetItem per item).
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections import Counter
from typing import Any

from functions.repositories import dynamodb
from functions.repositories.summaries import SummariesRepository
from functions.settings import get_settings
from tests.bench.counts import item_bytes
from tests.bench.stats import summary_ms
from tests.builders import api_event, execution_input

READ_KB = 4


class ReadBytes:
    """Bytes of the items each read the handlers make returns, for the read units."""

    def __init__(self) -> None:
        self.units = 0
        dynamodb.client().meta.events.register("after-call.dynamodb", self._record)

    def _record(self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "Query":
            size = sum(item_bytes(item) for item in parsed.get("Items", []))
            self.units += max(1, math.ceil(size / (READ_KB * 1024)))
        elif model.name == "GetItem":
            self.units += max(1, math.ceil(item_bytes(parsed.get("Item", {})) / (READ_KB * 1024)))


def _invoke(aws: Any, function: str, event: dict[str, Any]) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    result = aws.lambdas.invoke(function, json.dumps(event).encode())
    return json.loads(result.payload), time.perf_counter() - started


def _measure(aws: Any, recorder: ReadBytes, function: str, event: dict[str, Any],
             repetitions: int) -> dict[str, Any]:  # fmt: skip
    seconds, requests, units = [], Counter[str](), 0
    answer: dict[str, Any] = {}
    for _ in range(repetitions):
        before, before_units = Counter(aws.dynamodb_requests), recorder.units
        answer, elapsed = _invoke(aws, function, event)
        seconds.append(elapsed)
        requests = Counter(aws.dynamodb_requests) - before
        units = recorder.units - before_units
    assert answer.get("statusCode") == 200, answer
    return {
        "dynamodb": dict(sorted(requests.items())),
        "dynamodbTotal": sum(requests.values()),
        "rru": units,
        "lambdaTotal": 1,
        "latencyMs": summary_ms(seconds),
        "body": json.loads(answer["body"]),
    }


def read_counts(aws: Any, entries: int, repetitions: int) -> dict[str, Any]:
    """Each read on a user with `entries` entries, and the consumer's cost per entry."""
    user = f"bench-reads-{uuid.uuid4().hex[:6]}"
    for index in range(entries):
        aws.start_sync_execution(
            "TransactionStateMachine", execution_input(user, "1.00", key=f"r{index}")
        )
    aws.drain_streams()
    recorder = ReadBytes()
    first = _measure(aws, recorder, "GetTransactionsFunction",
                     api_event("/transactions", {"userId": user}), repetitions)  # fmt: skip
    cursor = first["body"]["nextCursor"]
    query = {"userId": user, "limit": "100", "cursor": cursor}
    following = _measure(aws, recorder, "GetTransactionsFunction",
                         api_event("/transactions", query), repetitions)  # fmt: skip
    day, hour = (
        _measure(aws, recorder, "GetSummariesFunction",
                 api_event("/summaries", {"userId": user, "period": period}), repetitions)
        for period in ("day", "hour")
    )  # fmt: skip
    found = {
        "GET /transactions (first page, 20)": first,
        "GET /transactions (next page, limit 100)": following,
        "GET /summaries (day, 30 days)": day,
        "GET /summaries (hour, 24 hours)": hour,
    }
    for measured in found.values():
        measured["entries"] = len(measured["body"].get("transactions", [])) or len(
            measured["body"].get("summaries", [])
        )
        del measured["body"]
    return {"user entries": entries, "reads": found}


def projection_lag(aws: Any, requests: int) -> dict[str, Any]:
    """Sequential POSTs on fresh users; for each, the time from its answer to the projection's
    asOfSequence reaching its entry, polled every millisecond on the summaries table."""
    projection = SummariesRepository(dynamodb.client(), get_settings().summaries_table_name)
    lags, timeouts = [], 0
    for index in range(requests):
        user = f"bench-lag-{index}-{uuid.uuid4().hex[:6]}"
        response = aws.start_sync_execution(
            "TransactionStateMachine", execution_input(user, "1.00")
        )
        answered = time.perf_counter()
        assert response["status"] == "SUCCEEDED", response
        while projection.applied_sequence(user) < 1:
            if time.perf_counter() - answered > 10:
                timeouts += 1
                break
            time.sleep(0.001)
        else:
            lags.append(time.perf_counter() - answered)
    return {"requests": requests, "lagMs": summary_ms(lags), "timeouts": timeouts}
