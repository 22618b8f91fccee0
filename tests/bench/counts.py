"""Requests per outcome, counted from the calls the runtime made, and the no-orchestration baseline.

Counts are deltas of `aws.dynamodb_requests` and `aws.lambdas.invocations` around single,
sequential executions. A botocore hook on the handlers' own DynamoDB client (registered from here,
not in product code) records the items of each TransactWriteItems by kind, for the WRU count.
"""

from __future__ import annotations

import math
import time
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

from functions.clock import SystemClock
from functions.domain.lock_wait import WaitPolicy
from functions.domain.locks import LockRequest, acquire_lock, release_lock
from functions.domain.models import PendingTransaction
from functions.domain.requests import parse_transaction_request
from functions.domain.transactions import put_transaction, update_balance
from functions.repositories import dynamodb, locks, unit_of_work
from functions.settings import get_settings
from infra.local.stepfunctions.executions import history
from tests.bench import cost
from tests.bench.histories import ACQUIRE_LOCK, TRANSFER_LOCK_STATE, ExecutionTrace, trace_of
from tests.bench.load import TRANSFER_MACHINE, Job, Sender, TransferJob
from tests.bench.stats import summary_ms


class TransactItemsRecorder:
    """Records the items of each TransactWriteItems the handlers send, by kind."""

    def __init__(self) -> None:
        self.items: list[dict[str, int]] = []
        dynamodb.client().meta.events.register(
            "provide-client-params.dynamodb.TransactWriteItems", self._record
        )

    def _record(self, params: dict[str, Any], **kwargs: Any) -> None:
        kinds = Counter(kind for item in params.get("TransactItems", []) for kind in item)
        self.items.append(dict(sorted(kinds.items())))


def _snapshot(aws: Any) -> tuple[Counter[str], Counter[str]]:
    return Counter(aws.dynamodb_requests), Counter(aws.lambdas.invocations)


def _delta(aws: Any, before: tuple[Counter[str], Counter[str]]) -> tuple[dict, dict]:
    after = _snapshot(aws)
    dynamo = {k: v for k, v in (after[0] - before[0]).items() if v}
    lambdas = {k: v for k, v in (after[1] - before[1]).items() if v}
    return dict(sorted(dynamo.items())), dict(sorted(lambdas.items()))


def _stream_consumers(aws: Any) -> set[str]:
    return {source.function for source in aws.template.stream_sources}


def _measure(
    aws: Any,
    recorder: TransactItemsRecorder,
    job: Job | TransferJob,
    machine: str = "TransactionStateMachine",
) -> dict[str, Any]:
    aws.drain_streams()  # what earlier requests left on the streams is not this one's
    before = _snapshot(aws)
    refused_before, published_before = aws.eventbridge.refused, len(aws.eventbridge.published())
    recorded = len(recorder.items)
    started = time.perf_counter()
    response = aws.start_sync_execution(machine, job.execution_input())
    seconds = time.perf_counter() - started
    # The stream consumers' own requests (the summaries projection) are counted apart: they
    # are made after the answer, by the consumers (request_counts stops background polling).
    answered, answered_items = _snapshot(aws), len(recorder.items)
    # The outbox's events, forwarded one record per batch here (sequential requests): the
    # forwarder's invocations are counted apart from the state machine's tasks.
    streams_started = time.perf_counter()
    aws.drain_streams()
    stream_seconds = time.perf_counter() - streams_started
    dynamo, lambdas = _delta(aws, before)
    stream_dynamo, _ = _delta(aws, answered)
    dynamo = {op: n - stream_dynamo.get(op, 0) for op, n in dynamo.items()}
    dynamo = {op: n for op, n in dynamo.items() if n}
    consumers = _stream_consumers(aws)
    lock_state = TRANSFER_LOCK_STATE if machine == TRANSFER_MACHINE else ACQUIRE_LOCK
    trace = trace_of(
        history(aws.stepfunctions, response["executionArn"]), response["executionArn"], lock_state
    )
    return {
        "status": response["status"],
        "error": response.get("error"),
        "seconds": seconds,
        "dynamodb": dynamo,
        "lambda": {name: n for name, n in lambdas.items() if name not in consumers},
        "streamLambda": {name: n for name, n in lambdas.items() if name in consumers},
        "streamSeconds": stream_seconds,
        "events": len(aws.eventbridge.published()) - published_before,
        "refusedEntries": aws.eventbridge.refused - refused_before,
        "transactItems": recorder.items[recorded:answered_items],
        "streamDynamodb": stream_dynamo,
        "streamTransactItems": recorder.items[answered_items:],
        "trace": trace,
    }


def hold_lock(aws: Any, user_id: str, lease_seconds: int) -> None:
    """A lock held by an execution that will not release it (as after a crash), with the lease
    an execution takes, starting now."""
    aws.dynamodb.put_item(
        TableName=get_settings().aggregates_table_name,
        Item={
            "userId": {"S": user_id},
            "balance": {"N": "100.00"},
            "lockOwner": {"S": "bench-crashed-holder"},
            "leaseUntil": {"N": str(int(time.time()) + lease_seconds)},
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


class BusyScenarioError(RuntimeError):
    """The "user busy" execution did not end in UserBusyError, so it does not count a 429."""


def request_counts(
    aws: Any, *, repetitions: int, include_busy: bool, lease_seconds: int
) -> dict[str, Any]:
    """Per committed transaction, replay, rejected overdraft and (optionally) 429 USER_BUSY.

    The 429 is counted against a lock held with the configured lease (`lease_seconds`), as a
    crashed holder leaves it.
    Raises: BusyScenarioError if that lease ran out before AcquireLock's retries did.
    """
    recorder = TransactItemsRecorder()
    aws.streams.stop()  # the streams are consumed by _measure, so each request's are its own
    try:
        return _request_counts(aws, recorder, repetitions, include_busy, lease_seconds)
    finally:
        aws.streams.start()


def _request_counts(
    aws: Any,
    recorder: TransactItemsRecorder,
    repetitions: int,
    include_busy: bool,
    lease_seconds: int,
) -> dict[str, Any]:
    # The first execution imports the handlers (a cold start); it is reported, not counted.
    cold = _measure(aws, recorder, Job("count-cold", uuid.uuid4().hex))
    runs: dict[str, list[dict[str, Any]]] = {"committed": [], "replay": [], "overdraft": []}
    for index in range(repetitions):
        job = Job(f"count-{index}", uuid.uuid4().hex)
        # Each user's second entry is counted: the summaries projection reads the user's newest
        # days before it writes, except for a user's first entry ever (the steady state is priced).
        _measure(aws, recorder, Job(job.user_id, uuid.uuid4().hex))
        runs["committed"].append(_measure(aws, recorder, job))
        runs["replay"].append(_measure(aws, recorder, job))
        overdraft = Job(f"overdraft-{index}", uuid.uuid4().hex, amount="1000.00", type="debit")
        runs["overdraft"].append(_measure(aws, recorder, overdraft))
    if include_busy:
        hold_lock(aws, "busy-0", lease_seconds)
        busy = _measure(aws, recorder, Job("busy-0", uuid.uuid4().hex))
        _free_lock(aws, "busy-0")
        if busy["error"] != "UserBusyError":
            raise BusyScenarioError(
                f"with a {lease_seconds} s lease the busy execution ended {busy['status']} "
                f"({busy['error']}): the lease ran out before AcquireLock's retries did"
            )
        runs["userBusy"] = [busy]
    result, sizes = summarize(aws, runs)
    result["coldStart"] = {
        "latencyMs": round(cold["seconds"] * 1000, 1),
        "expressDurationMs": round(cold["trace"].duration_ms, 1),
        "billedLambdaMs": cold["trace"].billed_lambda_ms,
    }
    return {**result, **sizes}


def summarize(
    aws: Any, runs: dict[str, list[dict[str, Any]]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each outcome's counts (those of its first run; `consistent` says whether every run counted
    the same, the consumers' requests included), with write units by item size as the tables
    hold them now; and those sizes."""
    largest = max_item_bytes(aws)
    item_kb = max(1, math.ceil(max(largest.values()) / 1024))
    result: dict[str, Any] = {}
    for outcome, measured in runs.items():
        first = measured[0]
        traces: list[ExecutionTrace] = [m["trace"] for m in measured]
        # The consumers' requests too: the projection's differ for a user's first entry ever.
        fields = ("dynamodb", "transactItems", "lambda", "status", "events", "streamDynamodb",
                  "streamTransactItems")  # fmt: skip
        consistent = all([m[f] for f in fields] == [first[f] for f in fields] for m in measured)
        kinds = sum((Counter(items) for items in first["transactItems"]), Counter())
        stream_units = cost.request_units(
            first["streamDynamodb"], first["streamTransactItems"], item_kb
        )
        result[outcome] = {
            "status": first["status"],
            "error": first["error"],
            "repetitions": len(measured),
            "consistent": consistent,
            "dynamodb": first["dynamodb"],
            "dynamodbTotal": sum(first["dynamodb"].values()),
            "transactItems": first["transactItems"],
            "transactItemKinds": dict(sorted(kinds.items())),
            "lambda": first["lambda"],
            "lambdaTotal": sum(first["lambda"].values()),
            # Per request sent alone: one outbox record, so one forwarder invocation per event.
            "events": first["events"],
            "streamLambda": first["streamLambda"],
            "streamLambdaTotal": sum(first["streamLambda"].values()),
            # The drain's time when it invoked the forwarder (moto's PutEvents included): an
            # upper bound of the forwarder's billed duration; none when nothing was forwarded.
            "streamMs": round(
                sorted(m["streamSeconds"] for m in measured)[len(measured) // 2] * 1000, 1
            )
            if first["streamLambda"]
            else 0.0,
            **cost.request_units(first["dynamodb"], first["transactItems"], item_kb),
            "streamDynamodb": first["streamDynamodb"],
            "streamWru": stream_units["wru"],
            "streamRru": stream_units["rru"],
            "expressDurationMs": round(sorted(t.duration_ms for t in traces)[len(traces) // 2], 1),
            "billedExpressMs": sorted(t.billed_express_ms for t in traces)[len(traces) // 2],
            "billedLambdaMs": sorted(t.billed_lambda_ms for t in traces)[len(traces) // 2],
            "logEvents": first["trace"].log_events,
            "logBytes": first["trace"].log_bytes,
            "logBytesError": first["trace"].log_bytes_error,
            "latencyMs": summary_ms([m["seconds"] for m in measured]),
        }
    return result, {"itemKb": item_kb, "maxItemBytes": largest}


def transfer_request_counts(aws: Any, *, repetitions: int) -> dict[str, Any]:
    """Per committed transfer, replay and rejected overdraft, counted as a transaction's are
    (request_counts), between users of their own."""
    recorder = TransactItemsRecorder()
    aws.streams.stop()
    try:
        cold = _measure(aws, recorder, TransferJob("xfer-cold-a", "xfer-cold-b"), TRANSFER_MACHINE)
        runs: dict[str, list[dict[str, Any]]] = {"committed": [], "replay": [], "overdraft": []}
        for index in range(repetitions):
            job = TransferJob(f"xfer-count-{index}-a", f"xfer-count-{index}-b")
            # Both users' second entries, as a transaction's are counted.
            _measure(aws, recorder, TransferJob(job.from_user_id, job.to_user_id), TRANSFER_MACHINE)
            runs["committed"].append(_measure(aws, recorder, job, TRANSFER_MACHINE))
            runs["replay"].append(_measure(aws, recorder, job, TRANSFER_MACHINE))
            overdraft = TransferJob(
                f"xfer-overdraft-{index}-a", f"xfer-overdraft-{index}-b", amount="1000.00"
            )
            runs["overdraft"].append(_measure(aws, recorder, overdraft, TRANSFER_MACHINE))
    finally:
        aws.streams.start()
    result, sizes = summarize(aws, runs)
    result["coldStart"] = {
        "latencyMs": round(cold["seconds"] * 1000, 1),
        "expressDurationMs": round(cold["trace"].duration_ms, 1),
        "billedLambdaMs": cold["trace"].billed_lambda_ms,
    }
    return {**result, **sizes}


def direct_transaction(job: Job) -> None:
    """The committed transaction without state machine or HTTP: parse, lock, put, commit, unlock,
    on the same repositories and DynamoDB requests as the saga's tasks."""
    settings = get_settings()
    lock_rows, writes = locks.repository(settings), unit_of_work.repository(settings)
    clock = SystemClock()
    request = parse_transaction_request(job.body, job.key)
    owner = uuid.uuid4().hex
    lock_request = LockRequest(
        request.user_id,
        owner,
        lease=timedelta(seconds=settings.lock_lease_seconds),
        started_at=clock.now(),
        remaining_seconds=4,
    )
    lock = acquire_lock(
        lock_rows, lock_request, WaitPolicy(budget_seconds=settings.lock_wait_seconds), clock
    )
    outcome = put_transaction(writes, request, owner, clock)
    pending = PendingTransaction(request, outcome.transaction_id, owner, outcome.created_at)
    update_balance(writes, pending, lock.seen, settings.currency, clock)
    release_lock(lock_rows, request.user_id, owner)


class OverheadError(RuntimeError):
    """A saga transaction of the overhead phase did not commit, so its pair does not compare."""


def overhead(
    runtime: Any, send: Sender, pairs: int, prefix: str, ticker: Any = None
) -> dict[str, Any]:
    """Baseline and saga samples interleaved in one phase, on the runtime `send` talks to.

    Each pair is one baseline transaction (`direct_transaction`) and one sequential saga
    transaction through `send`, in alternating order, so that both see the same machine load;
    the orchestration overhead is the ratio of their medians.
    Raises: OverheadError if a saga transaction did not commit (the pair would not compare).
    """
    baseline_seconds: list[float] = []
    saga_seconds: list[float] = []
    baseline_requests: Counter[str] = Counter()

    def one_baseline(index: int) -> None:
        before = Counter(runtime.dynamodb_requests)
        started = time.perf_counter()
        direct_transaction(Job(f"{prefix}-baseline-{index}", uuid.uuid4().hex))
        baseline_seconds.append(time.perf_counter() - started)
        baseline_requests.update(Counter(runtime.dynamodb_requests) - before)

    def one_saga(index: int) -> None:
        outcome = send(Job(f"{prefix}-saga-{index}", uuid.uuid4().hex))
        if outcome.status != 201:
            raise OverheadError(f"a sequential saga transaction answered {outcome.status}")
        saga_seconds.append(outcome.seconds)

    # The stream consumers would write in the background (the summaries projection), inside a
    # baseline's window as often as not: paused here, they catch up once the phase ends.
    runtime.streams.stop()
    try:
        for index in range(pairs):
            first, second = (one_baseline, one_saga) if index % 2 == 0 else (one_saga, one_baseline)
            first(index)
            second(index)
            if ticker is not None:
                ticker.advance()
    finally:
        runtime.streams.start()
    baseline_ms = summary_ms(baseline_seconds)
    saga_ms = summary_ms(saga_seconds)
    return {
        "pairs": pairs,
        "baselineMs": baseline_ms,
        "sagaMs": saga_ms,
        "ratioOfMedians": round(saga_ms["p50"] / baseline_ms["p50"], 2) if pairs else None,
        "baselineDynamodbPerTransaction": {
            op: round(n / pairs, 2) for op, n in sorted(baseline_requests.items())
        },
    }
