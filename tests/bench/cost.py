"""AWS list prices (us-east-1) and the cost per million requests, computed from counted requests.

Prices are inputs, not measurements: each carries the page it was read from. Update them here
when AWS changes its prices; the doc's table is regenerated from the JSON.
"""

from __future__ import annotations

import math
from typing import Any

PRICES: dict[str, dict[str, Any]] = {
    "apiGatewayRestPerMillion": {
        "usd": 3.50,
        "unit": "per million REST API requests (first 333 million a month)",
        "source": "https://aws.amazon.com/api-gateway/pricing/",
    },
    "stepFunctionsExpressPerMillion": {
        "usd": 1.00,
        "unit": "per million Express workflow requests",
        "source": "https://aws.amazon.com/step-functions/pricing/",
    },
    "stepFunctionsExpressGbSecond": {
        "usd": 0.06 / 3600,
        "unit": "per GB-second ($0.06 per GB-hour, first 1,000 GB-hours a month); billed per "
        "100 ms, memory in 64 MB chunks",
        "source": "https://aws.amazon.com/step-functions/pricing/",
    },
    "lambdaPerMillion": {
        "usd": 0.20,
        "unit": "per million Lambda requests",
        "source": "https://aws.amazon.com/lambda/pricing/",
    },
    "lambdaArmGbSecond": {
        "usd": 0.0000133334,
        "unit": "per GB-second, arm64 (first 7.5 billion GB-seconds a month); billed per 1 ms",
        "source": "https://aws.amazon.com/lambda/pricing/",
    },
    "dynamodbWruPerMillion": {
        "usd": 0.625,
        "unit": "per million on-demand write request units (1 per KB written; in a "
        "TransactWriteItems 2 per KB for every item, ConditionCheck items included)",
        "source": "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    },
    "dynamodbRruPerMillion": {
        "usd": 0.125,
        "unit": "per million on-demand read request units (4 KB strongly consistent)",
        "source": "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    },
    "cloudwatchLogsIngestionGb": {
        "usd": 0.50,
        "unit": "per GB ingested (Standard class, first tier of vended logs)",
        "source": "https://aws.amazon.com/cloudwatch/pricing/",
    },
    "eventBridgeCustomEventsPerMillion": {
        "usd": 1.00,
        "unit": "per million custom events published (each 64 KB chunk of a PutEvents entry); "
        "delivery to targets is not billed",
        "source": "https://aws.amazon.com/eventbridge/pricing/",
    },
    "xrayTracesPerMillion": {
        "usd": 5.00,
        "unit": "per million traces recorded (first 100,000 a month free)",
        "source": "https://aws.amazon.com/xray/pricing/",
    },
}

# Write request units (on demand). A standard write costs 1 per KB of the item, and a failed
# conditional write is billed as well (read-write-operations.html). A TransactWriteItems costs 2
# per KB for every item it carries (a prepare and a commit write each): Put, Update, Delete and
# ConditionCheck alike, since a ConditionCheck is billed as a transactional write, not as a read
# (transaction-apis.html; measured on DynamoDB: 2 WCU for a lone ConditionCheck,
# github.com/paritysuite/dynamodb-conformance/pull/67). AWS does not document what a transaction
# cancelled by a failed condition costs (its response carries no ConsumedCapacity), so it is
# priced as if it had run: an upper bound.
STANDARD_WRU_PER_KB = 1
TRANSACTIONAL_WRU_PER_ITEM_KB = 2
WRITE_OPERATIONS = {"PutItem", "UpdateItem", "DeleteItem"}
READ_OPERATIONS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}
WRU_SOURCES = [
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html",
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html",
    "https://github.com/paritysuite/dynamodb-conformance/pull/67",
]

EXPRESS_MEMORY_MB = 64  # Express bills the workflow's memory in 64 MB chunks; this one is small
LAMBDA_MEMORY_MB = 256  # infra/template.yaml Globals.Function.MemorySize
XRAY_SAMPLED_FRACTION = 0.05  # X-Ray's default rule: 1 request a second, then 5%


def request_units(
    dynamodb: dict[str, int], transact_items: list[dict[str, int]], item_kb: int
) -> dict[str, int]:
    """WRU and RRU of one outcome: its requests by operation, and the items of each of its
    TransactWriteItems by kind ({"ConditionCheck": 1, "Put": 1}). Strongly consistent reads of
    up to 4 KB cost 1 RRU each."""
    standard = sum(n for op, n in dynamodb.items() if op in WRITE_OPERATIONS)
    transactional = sum(sum(kinds.values()) for kinds in transact_items)
    return {
        "wru": STANDARD_WRU_PER_KB * standard * item_kb
        + TRANSACTIONAL_WRU_PER_ITEM_KB * transactional * item_kb,
        "rru": sum(n for op, n in dynamodb.items() if op in READ_OPERATIONS),
    }


def _price(name: str) -> float:
    return float(PRICES[name]["usd"])


LOG_LEVELS = ("ALL", "ERROR")  # infra/template.yaml's StateMachineLogLevel


def per_million(counts: dict[str, Any], log_level: str = "ALL") -> dict[str, float]:
    """Dollars per million requests of one outcome, from its counted requests and durations, with
    the state machine logging at `log_level` (ERROR logs only the events of failures)."""
    log_bytes = counts["logBytes"] if log_level == "ALL" else counts["logBytesError"]
    express_gb_s = EXPRESS_MEMORY_MB / 1024 * counts["billedExpressMs"] / 1000
    lambda_gb_s = LAMBDA_MEMORY_MB / 1024 * counts["billedLambdaMs"] / 1000
    million = 1_000_000
    lines = {
        "apiGateway": _price("apiGatewayRestPerMillion"),
        "stepFunctionsRequests": _price("stepFunctionsExpressPerMillion"),
        "stepFunctionsDuration": express_gb_s * _price("stepFunctionsExpressGbSecond") * million,
        "lambdaRequests": counts["lambdaTotal"] * _price("lambdaPerMillion"),
        "lambdaDuration": lambda_gb_s * _price("lambdaArmGbSecond") * million,
        "dynamodbWrites": counts["wru"] * _price("dynamodbWruPerMillion"),
        "dynamodbReads": counts["rru"] * _price("dynamodbRruPerMillion"),
        "logs": log_bytes / 1024**3 * _price("cloudwatchLogsIngestionGb") * million,
        "xray": XRAY_SAMPLED_FRACTION * _price("xrayTracesPerMillion"),
        # The stream consumers (the outbox's forwarder, the summaries projection): their
        # invocations (one per batch of stream records; one per entry when requests come one at
        # a time, the upper bound), the projection's writes and the events published. The
        # streams' reads by a Lambda event source mapping are free.
        "eventsForwarderRequests": counts.get("streamLambdaTotal", 0) * _price("lambdaPerMillion"),
        "eventsForwarderDuration": LAMBDA_MEMORY_MB
        / 1024
        * math.ceil(counts.get("streamMs", 0))
        / 1000
        * _price("lambdaArmGbSecond")
        * million,
        "eventBridgeEvents": counts.get("events", 0) * _price("eventBridgeCustomEventsPerMillion"),
        "summariesProjectionWrites": counts.get("streamWru", 0) * _price("dynamodbWruPerMillion"),
    }
    rounded = {name: round(value, 3) for name, value in lines.items()}
    rounded["total"] = round(sum(lines.values()), 2)
    return rounded


POLL_KINDS = {
    # A consistent read of the row (under 4 KB) while the lock is held: 1 read unit.
    "read-first (GetItem, consistent)": ("rru", "dynamodbRruPerMillion"),
    # The conditional UpdateItem itself, failing while the lock is held: still 1 write unit.
    "write (failed conditional UpdateItem)": ("wru", "dynamodbWruPerMillion"),
}
CHOSEN_POLL = "read-first (GetItem, consistent)"


def poll_pricing(cadences: dict[str, float]) -> list[dict[str, Any]]:
    """What one second of waiting for a held lock costs one request, per poll kind and cadence
    (`cadences`: name -> the cap of its jittered poll delay, in seconds), in dollars per million
    seconds of waiting. A jittered delay averages 3/4 of its cap (lock_wait.WaitPolicy). The
    waiting function's duration and the execution's are paid whatever the poll."""
    lambda_per_second = LAMBDA_MEMORY_MB / 1024 * _price("lambdaArmGbSecond")
    express_per_second = EXPRESS_MEMORY_MB / 1024 * _price("stepFunctionsExpressGbSecond")
    million = 1_000_000
    rows = []
    for cadence, cap in cadences.items():
        polls = 1 / (0.75 * cap)
        for kind, (unit, price) in POLL_KINDS.items():
            lines = {
                "dynamodb": polls * _price(price),
                "lambdaDuration": lambda_per_second * million,
                "stepFunctionsDuration": express_per_second * million,
            }
            rows.append(
                {
                    "cadence": cadence,
                    "pollDelayCapSeconds": cap,
                    "poll": kind,
                    "chosen": kind == CHOSEN_POLL,
                    "pollsPerSecond": round(polls, 2),
                    "unitsPerSecond": {unit: round(polls, 2)},
                    "usdPerMillionSeconds": {
                        **{name: round(value, 3) for name, value in lines.items()},
                        "total": round(sum(lines.values()), 2),
                    },
                }
            )
    return rows


LEASE_ALTERNATIVES = (10, 25, 60)
BUSY_USER_RATES = (1, 10)  # requests per second for the one user whose lock holder crashed


def lease_scenarios(
    configured: int, timeout_seconds: int, cost_per_million_429: float
) -> list[dict[str, Any]]:
    """What a holder that crashed without releasing costs, per lease length (analytic).

    The user stays locked for up to the lease, L seconds; at r requests a second for that user
    about L x r of them wait out the whole budget and answer 429 (the few that arrive in the
    last seconds before expiry may still get the lock, so this is an upper bound), each at the
    measured price of a 429. A lease shorter than the state machine's TimeoutSeconds could expire
    under a live execution, so it is marked unsafe.
    """
    rows = []
    for lease in sorted({configured, *LEASE_ALTERNATIVES}):
        rejected = {str(rate): lease * rate for rate in BUSY_USER_RATES}
        rows.append(
            {
                "leaseSeconds": lease,
                "configured": lease == configured,
                "longerThanTimeout": lease > timeout_seconds,
                "blockedUpToSeconds": lease,
                "rejectedPerCrash": rejected,
                "usdPerThousandCrashes": {
                    rate: round(count * cost_per_million_429 / 1000, 4)
                    for rate, count in rejected.items()
                },
            }
        )
    return rows


def read_per_million(measured: dict[str, Any]) -> dict[str, float]:
    """Dollars per million of one GET: API Gateway, the function (its measured median, billed per
    ms) and its strongly consistent read units. The cursor key's GetSecretValue ($0.05 per
    10,000) is read once per sandbox, so it is left out."""
    lambda_gb_s = LAMBDA_MEMORY_MB / 1024 * math.ceil(measured["latencyMs"]["p50"]) / 1000
    lines = {
        "apiGateway": _price("apiGatewayRestPerMillion"),
        "lambdaRequests": measured["lambdaTotal"] * _price("lambdaPerMillion"),
        "lambdaDuration": lambda_gb_s * _price("lambdaArmGbSecond") * 1_000_000,
        "dynamodbReads": measured["rru"] * _price("dynamodbRruPerMillion"),
    }
    rounded = {name: round(value, 3) for name, value in lines.items()}
    rounded["total"] = round(sum(lines.values()), 2)
    return rounded


TARGET_COMMITTED_AT_ERROR = 12.00  # issue 16: dollars per million committed, at Level ERROR

# What a committed transaction cannot do without while the product stays as specified (the guide's
# definition, the contract, and issue 12's outbox item in the commit's transaction), each at the
# first-tier on-demand list price of PRICES: (line, what fixes it, quantity, unit, price). Left
# out, as if they cost nothing: X-Ray (it can be off), the logs (Level ERROR logs nothing for a
# commit), the stream consumers' invocations (batched, they tend to nothing) and the item in the
# transactions table (as if the ledger entry were it). The put is priced at 1 unit, below the 4
# that invariant 5's fence costs it today, so the floor errs low.
FLOOR = (
    ("apiGateway", "the POST through API Gateway REST (product)", 1, "request",
     "apiGatewayRestPerMillion"),
    ("stepFunctionsRequests", "one Express execution per POST (product)", 1, "request",
     "stepFunctionsExpressPerMillion"),
    ("stepFunctionsDuration", "its shortest billed duration: 100 ms at 64 MB",
     0.1 * EXPRESS_MEMORY_MB / 1024, "GB-second", "stepFunctionsExpressGbSecond"),
    ("lambdaRequests", "the flow's four task Lambdas: acquire, put, update, release (contract)",
     4, "request", "lambdaPerMillion"),
    ("lambdaDuration", "their shortest billed duration: 1 ms each at 128 MB", 4 * 0.001 / 8,
     "GB-second", "lambdaArmGbSecond"),
    ("acquireLockWrite", "acquiring the lock: a conditional write of the aggregate row", 1,
     "WRU", "dynamodbWruPerMillion"),
    ("putTransactionWrite", "putting the transaction under its key (unfenced; fenced, 4)", 1,
     "WRU", "dynamodbWruPerMillion"),
    ("commitWrite", "the commit: one TransactWriteItems of the aggregate row, the ledger entry and "
     "the outbox item, 2 units each (the item is issue 12's; the contract alone would let the "
     "ledger's stream carry the events)", 3 * TRANSACTIONAL_WRU_PER_ITEM_KB, "WRU",
     "dynamodbWruPerMillion"),
    ("releaseLockWrite", "releasing the lock, the flow's last task: a write of the aggregate row "
     "(unless the commit frees it)", 1, "WRU", "dynamodbWruPerMillion"),
    ("projectionWrite", "the summaries: one write for an entry projected alone (many entries of "
     "one user in a batch could share one)", 1, "WRU", "dynamodbWruPerMillion"),
    ("eventBridgeEvents", "one event per ledger entry (contract, Events)", 1, "event",
     "eventBridgeCustomEventsPerMillion"),
)  # fmt: skip
BATCHABLE_FLOOR_LINES = {"projectionWrite"}


def floor_per_million() -> dict[str, Any]:
    """The least a committed transaction can cost at Level ERROR, in dollars per million, while
    the product stays as specified (FLOOR), with the same total if the projection's write were
    batched away, and the target it is held against."""
    lines: list[dict[str, Any]] = [
        {
            "line": line,
            "why": why,
            "quantity": quantity,
            "unit": unit,
            # A "...PerMillion" price is already per million; the others are per unit.
            "usd": round(
                quantity * _price(price) * (1 if price.endswith("PerMillion") else 1e6), 4
            ),
        }
        for line, why, quantity, unit, price in FLOOR
    ]
    return {
        "lines": lines,
        "total": round(sum(row["usd"] for row in lines), 2),
        "totalProjectionBatchedAway": round(
            sum(row["usd"] for row in lines if row["line"] not in BATCHABLE_FLOOR_LINES), 2
        ),
        "target": TARGET_COMMITTED_AT_ERROR,
    }
