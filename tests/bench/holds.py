"""`make bench`'s holds section: the DynamoDB requests, write and read units and Lambda
invocations of placing, capturing and voiding one hold, counted on the embedded runtime and
priced per million with cost.py's prices (the request-priced lines only: API Gateway, the
Express request, Lambda requests, WRU, RRU, the capture's event).

`python -m tests.bench --sections holds` runs the section alone (a few executions, seconds).
"""

from __future__ import annotations

import json
import math
import uuid
from typing import Any

from tests.bench import cost
from tests.bench.counts import TransactItemsRecorder, _delta, _snapshot, max_item_bytes

OPERATIONS = ("place", "capture", "void")


def _input(operation: str, body: dict[str, Any], key: str = "", hold_id: str = "") -> str:
    return json.dumps(
        {"operation": operation, "holdId": hold_id, "body": json.dumps(body),
         "idempotencyKey": key, "requestId": uuid.uuid4().hex}
    )  # fmt: skip


def _measure(aws: Any, recorder: TransactItemsRecorder, execution_input: str) -> dict[str, Any]:
    aws.drain_streams()
    before, recorded = _snapshot(aws), len(recorder.items)
    published = len(aws.eventbridge.published())
    response = aws.start_sync_execution("HoldStateMachine", execution_input)
    answered_items = len(recorder.items)
    dynamo, lambdas = _delta(aws, before)
    aws.drain_streams()
    consumers = {source.function for source in aws.template.stream_sources}
    return {
        "status": response["status"],
        "output": json.loads(response.get("output") or "{}"),
        "dynamodb": dynamo,
        "lambda": {name: n for name, n in lambdas.items() if name not in consumers},
        "transactItems": recorder.items[recorded:answered_items],
        "events": len(aws.eventbridge.published()) - published,
    }


def hold_counts(aws: Any, user_id: str = "bench-holds") -> dict[str, Any]:
    """Per operation: its requests, units, invocations and request-priced cost per million."""
    recorder = TransactItemsRecorder()
    aws.streams.stop()
    try:
        # A warm-up hold imports the handlers; it is not counted.
        _measure(aws, recorder, _input("place", {"userId": user_id, "amount": "1"}, "warm"))
        placed = _measure(
            aws, recorder, _input("place", {"userId": user_id, "amount": "30"}, uuid.uuid4().hex)
        )
        hold_id = placed["output"]["hold"]["holdId"]
        captured = _measure(aws, recorder, _input("capture", {"userId": user_id}, hold_id=hold_id))
        other = _measure(
            aws, recorder, _input("place", {"userId": user_id, "amount": "5"}, uuid.uuid4().hex)
        )
        voided = _measure(
            aws, recorder,
            _input("void", {"userId": user_id}, hold_id=other["output"]["hold"]["holdId"]),
        )  # fmt: skip
    finally:
        aws.streams.start()
    item_kb = max(1, math.ceil(max(max_item_bytes(aws).values()) / 1024))
    result: dict[str, Any] = {"itemKb": item_kb}
    for name, measured in zip(OPERATIONS, (placed, captured, voided), strict=True):
        assert measured["status"] == "SUCCEEDED", (name, measured)
        units = cost.request_units(measured["dynamodb"], measured["transactItems"], item_kb)
        invocations = sum(measured["lambda"].values())
        usd = {
            "apiGateway": cost._price("apiGatewayRestPerMillion"),
            "expressRequests": cost._price("stepFunctionsExpressPerMillion"),
            "lambdaRequests": invocations * cost._price("lambdaPerMillion"),
            "dynamodbWrites": units["wru"] * cost._price("dynamodbWruPerMillion"),
            "dynamodbReads": units["rru"] * cost._price("dynamodbRruPerMillion"),
            "events": measured["events"] * cost._price("eventBridgeCustomEventsPerMillion"),
        }
        result[name] = {
            "dynamodb": measured["dynamodb"],
            "transactItems": measured["transactItems"],
            **units,
            "lambdaInvocations": invocations,
            "lambda": measured["lambda"],
            "events": measured["events"],
            "usdPerMillion": {k: round(v, 4) for k, v in usd.items()},
            "usdPerMillionTotal": round(sum(usd.values()), 4),
        }
    return result


def table(counts: dict[str, Any]) -> tuple[str, list[str], list[list[str]]]:
    """The report's table: one row per operation."""
    headers = ["operation", "WRU", "RRU", "Lambda invocations", "events",
               "USD per million (request-priced lines)"]  # fmt: skip
    rows = [
        [name, str(counts[name]["wru"]), str(counts[name]["rru"]),
         str(counts[name]["lambdaInvocations"]), str(counts[name]["events"]),
         f"{counts[name]['usdPerMillionTotal']:.2f}"]
        for name in OPERATIONS
    ]  # fmt: skip
    alone = f", run alone at git {counts['git']['sha'][:10]}" if "git" in counts else ""
    title = (
        f"Holds: placing, capturing and voiding one (items priced at {counts['itemKb']} KB; "
        f"API Gateway, the Express request, Lambda requests, write and read units, events{alone})"
    )
    return title, headers, rows
