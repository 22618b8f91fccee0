"""Requests per outcome, counted from the calls the runtime made, and the no-orchestration baseline.

Counts are deltas of `aws.dynamodb_requests` and `aws.lambdas.invocations` around single,
sequential executions. A botocore hook on the handlers' own DynamoDB client (registered from here,
not in product code) records how many items each TransactWriteItems carried, for the WRU count.
"""

from __future__ import annotations

import math
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from functions.domain import use_cases
from functions.domain.requests import parse_transaction_request
from functions.repositories import aggregates, dynamodb, transactions
from functions.settings import get_settings
from infra.local.executions import history
from tests.bench.histories import ExecutionTrace, trace_of
from tests.bench.load import Job
from tests.bench.stats import summary_ms

WRITE_OPERATIONS = {"PutItem", "UpdateItem", "DeleteItem"}
READ_OPERATIONS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}


class TransactItemsRecorder:
    """Counts the items of each TransactWriteItems the handlers send."""

    def __init__(self) -> None:
        self.items: list[int] = []
        dynamodb.client().meta.events.register(
            "provide-client-params.dynamodb.TransactWriteItems", self._record
        )

    def _record(self, params: dict[str, Any], **kwargs: Any) -> None:
        self.items.append(len(params.get("TransactItems", [])))


def _snapshot(aws: Any) -> tuple[Counter[str], Counter[str]]:
    return Counter(aws.dynamodb_requests), Counter(aws.lambdas.invocations)


def _delta(aws: Any, before: tuple[Counter[str], Counter[str]]) -> tuple[dict, dict]:
    after = _snapshot(aws)
    dynamo = {k: v for k, v in (after[0] - before[0]).items() if v}
    lambdas = {k: v for k, v in (after[1] - before[1]).items() if v}
    return dict(sorted(dynamo.items())), dict(sorted(lambdas.items()))


def _request_units(dynamo: dict[str, int], transact_items: list[int], item_kb: int) -> dict:
    """On-demand request units: 1 WRU per standard write per KB, 2 per item per KB in a
    transaction; a failed conditional write is billed as well; strongly consistent reads 1 RRU."""
    wru = sum(v for k, v in dynamo.items() if k in WRITE_OPERATIONS) * item_kb
    wru += 2 * sum(transact_items) * item_kb
    rru = sum(v for k, v in dynamo.items() if k in READ_OPERATIONS)
    return {"wru": wru, "rru": rru}


def _measure(aws: Any, recorder: TransactItemsRecorder, job: Job) -> dict[str, Any]:
    before = _snapshot(aws)
    recorded = len(recorder.items)
    started = time.perf_counter()
    response = aws.start_sync_execution(job.execution_input())
    seconds = time.perf_counter() - started
    dynamo, lambdas = _delta(aws, before)
    trace = trace_of(history(aws.stepfunctions, response["executionArn"]), response["executionArn"])
    return {
        "status": response["status"],
        "error": response.get("error"),
        "seconds": seconds,
        "dynamodb": dynamo,
        "lambda": lambdas,
        "transactItems": recorder.items[recorded:],
        "trace": trace,
    }


def hold_lock(aws: Any, user_id: str, seconds: int = 60) -> None:
    """A lock held by an execution that will not release it (as after a crash), lease running."""
    aws.dynamodb.put_item(
        TableName=get_settings().aggregates_table_name,
        Item={
            "userId": {"S": user_id},
            "balance": {"N": "100.00"},
            "lockOwner": {"S": "bench-crashed-holder"},
            "leaseUntil": {"N": str(int(time.time()) + seconds)},
        },
    )


def _free_lock(aws: Any, user_id: str) -> None:
    aws.dynamodb.update_item(
        TableName=get_settings().aggregates_table_name,
        Key={"userId": {"S": user_id}},
        UpdateExpression="REMOVE lockOwner, leaseUntil",
    )


def max_item_bytes(aws: Any) -> dict[str, int]:
    """The largest item of each table, sized as DynamoDB sizes items (names plus values)."""
    sizes = {}
    for table in aws.dynamodb.list_tables()["TableNames"]:
        items = aws.dynamodb.scan(TableName=table)["Items"]
        sizes[table] = max((item_bytes(item) for item in items), default=0)
    return sizes


def item_bytes(item: dict[str, Any]) -> int:
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        ((kind, data),) = value.items()
        if kind == "S":
            size += len(data.encode())
        elif kind == "N":
            digits = data.lstrip("-").replace(".", "").strip("0") or "0"
            size += math.ceil(len(digits) / 2) + 1
        else:
            size += len(str(data).encode())
    return size


def request_counts(aws: Any, *, repetitions: int, include_busy: bool) -> dict[str, Any]:
    """Per committed transaction, replay, rejected overdraft and (optionally) 429 USER_BUSY."""
    recorder = TransactItemsRecorder()
    # The first execution imports the handlers (a cold start); it is reported, not counted.
    cold = _measure(aws, recorder, Job("count-cold", uuid.uuid4().hex))
    runs: dict[str, list[dict[str, Any]]] = {"committed": [], "replay": [], "overdraft": []}
    for index in range(repetitions):
        job = Job(f"count-{index}", uuid.uuid4().hex)
        runs["committed"].append(_measure(aws, recorder, job))
        runs["replay"].append(_measure(aws, recorder, job))
        overdraft = Job(f"overdraft-{index}", uuid.uuid4().hex, amount="1000.00", type="debit")
        runs["overdraft"].append(_measure(aws, recorder, overdraft))
    if include_busy:
        hold_lock(aws, "busy-0")
        runs["userBusy"] = [_measure(aws, recorder, Job("busy-0", uuid.uuid4().hex))]
        _free_lock(aws, "busy-0")
    item_kb = max(1, math.ceil(max(max_item_bytes(aws).values()) / 1024))
    result: dict[str, Any] = {}
    for outcome, measured in runs.items():
        first = measured[0]
        traces: list[ExecutionTrace] = [m["trace"] for m in measured]
        consistent = all(
            (m["dynamodb"], m["lambda"], m["status"])
            == (first["dynamodb"], first["lambda"], first["status"])
            for m in measured
        )
        result[outcome] = {
            "status": first["status"],
            "error": first["error"],
            "repetitions": len(measured),
            "consistent": consistent,
            "dynamodb": first["dynamodb"],
            "dynamodbTotal": sum(first["dynamodb"].values()),
            "transactItems": first["transactItems"],
            "lambda": first["lambda"],
            "lambdaTotal": sum(first["lambda"].values()),
            **_request_units(first["dynamodb"], first["transactItems"], item_kb),
            "expressDurationMs": round(sorted(t.duration_ms for t in traces)[len(traces) // 2], 1),
            "billedExpressMs": sorted(t.billed_express_ms for t in traces)[len(traces) // 2],
            "billedLambdaMs": sorted(t.billed_lambda_ms for t in traces)[len(traces) // 2],
            "logEvents": first["trace"].log_events,
            "logBytes": first["trace"].log_bytes,
            "latencyMs": summary_ms([m["seconds"] for m in measured]),
        }
    result["coldStart"] = {
        "latencyMs": round(cold["seconds"] * 1000, 1),
        "expressDurationMs": round(cold["trace"].duration_ms, 1),
        "billedLambdaMs": cold["trace"].billed_lambda_ms,
    }
    result["itemKb"] = item_kb
    result["maxItemBytes"] = max_item_bytes(aws)
    return result


def direct_transaction(job: Job) -> None:
    """The committed transaction without state machine or HTTP: parse, lock, put, commit, unlock,
    on the same repositories and DynamoDB requests as the saga's tasks."""
    settings = get_settings()
    aggregates_repository = aggregates.repository(settings)
    transactions_repository = transactions.repository(settings)
    request = parse_transaction_request(job.body, job.key)
    owner = uuid.uuid4().hex
    now = int(time.time())
    lock = use_cases.acquire_lock(
        aggregates_repository,
        request.user_id,
        owner,
        now,
        settings.lock_lease_seconds,
        settings.default_balance,
    )
    outcome = use_cases.put_transaction(transactions_repository, request, owner, datetime.now(UTC))
    use_cases.update_balance(
        aggregates_repository,
        request,
        owner,
        lock.balance,
        outcome.transaction_id,
        outcome.created_at,
        settings.currency,
        now,
    )
    use_cases.release_lock(aggregates_repository, request.user_id, owner)


def baseline(aws: Any, count: int, ticker: Any = None) -> dict[str, Any]:
    before = _snapshot(aws)
    seconds = []
    for index in range(count):
        job = Job(f"baseline-{index}", uuid.uuid4().hex)
        started = time.perf_counter()
        direct_transaction(job)
        seconds.append(time.perf_counter() - started)
        if ticker is not None:
            ticker.advance()
    dynamo, lambdas = _delta(aws, before)
    return {
        "transactions": count,
        "latencyMs": summary_ms(seconds),
        "dynamodbPerTransaction": {k: v / count for k, v in dynamo.items()},
        "lambdaInvocations": sum(lambdas.values()),
    }
