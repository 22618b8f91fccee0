"""AWS list prices (us-east-1) and the cost per million requests, computed from counted requests.

Every line a bill would carry for a request: the services' requests and durations (billed as AWS
rounds them), DynamoDB's request units, the state machine's logs, Lambda's own log lines, the
API's access log line, the X-Ray traces the template's settings start, the stream consumers at a
stated traffic, and the INIT of a cold start. What is not measured is a named input (Inputs and
the constants it reports): the traffic, X-Ray's sampling, the stream's polling, the share of cold
starts, samples of the log lines. The template's own settings are read from it (deployment.py).

Prices are inputs, not measurements: each carries the page it was read from. Update them here
when AWS changes its prices; the doc's table is regenerated from the JSON.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from tests.bench import deployment
from tests.bench.deployment import Consumer, Deployment

PRICES: dict[str, dict[str, Any]] = {
    "apiGatewayRestPerMillion": {
        "usd": 3.50,
        "unit": "per million REST API requests (first 333 million a month)",
        "source": "https://aws.amazon.com/api-gateway/pricing/",
        "checked": "2026-12-07: $3.50 a million for the first 333 million (AWS whitepaper on API "
        "Gateway private APIs, Cost optimization, table 4)",
    },
    "stepFunctionsExpressPerMillion": {
        "usd": 1.00,
        "unit": "per million Express workflow requests",
        "source": "https://aws.amazon.com/step-functions/pricing/",
        "checked": "2026-12-07: $1.00 a million requests (the pricing page)",
    },
    "stepFunctionsExpressGbSecond": {
        "usd": 0.06 / 3600,
        "unit": "per GB-second ($0.06 per GB-hour, first 1,000 GB-hours a month); billed per "
        "100 ms, memory in 64 MB chunks",
        "source": "https://aws.amazon.com/step-functions/pricing/",
        "checked": "2026-12-07: duration rounded up to the nearest 100 ms, memory in 64 MB chunks,"
        " $0.06 per GB-hour for the first 1,000 (the pricing page, example 3)",
    },
    "lambdaPerMillion": {
        "usd": 0.20,
        "unit": "per million Lambda requests",
        "source": "https://aws.amazon.com/lambda/pricing/",
        "checked": "2026-12-07: $0.20 a million requests; duration rounded up to the nearest 1 ms "
        "(the pricing page)",
    },
    "lambdaArmGbSecond": {
        "usd": 0.0000133334,
        "unit": "per GB-second, arm64 (first 7.5 billion GB-seconds a month); billed per 1 ms",
        "source": "https://aws.amazon.com/lambda/pricing/",
        "checked": "2026-12-07: $0.0000133334 per GB-second on Arm for the first 7.5 billion (a "
        "copy of the pricing page); INIT billed since 2025-08-01 (AWS Compute blog)",
    },
    "dynamodbWruPerMillion": {
        "usd": 0.625,
        "unit": "per million on-demand write request units (1 per KB written; in a "
        "TransactWriteItems 2 per KB for every item, ConditionCheck items included)",
        "source": "https://aws.amazon.com/dynamodb/pricing/on-demand/",
        "checked": "2026-12-07: $0.625 a million since the November 2024 reduction (a third-party "
        "summary of the pricing page)",
    },
    "dynamodbRruPerMillion": {
        "usd": 0.125,
        "unit": "per million on-demand read request units (4 KB strongly consistent)",
        "source": "https://aws.amazon.com/dynamodb/pricing/on-demand/",
        "checked": "2026-12-07: $0.125 a million since the November 2024 reduction (a third-party "
        "summary of the pricing page)",
    },
    "cloudwatchLogsIngestionGb": {
        "usd": 0.50,
        "unit": "per GB ingested (Standard class, first tier of vended logs)",
        "source": "https://aws.amazon.com/cloudwatch/pricing/",
        "checked": "2026-12-07: Lambda's logs are vended logs, tiered since 2025-05-01 with a "
        "first tier at the old $0.50 per GB (a summary of AWS's announcement)",
    },
    "eventBridgeCustomEventsPerMillion": {
        "usd": 1.00,
        "unit": "per million custom events published (each 64 KB chunk of a PutEvents entry); "
        "delivery to targets is not billed",
        "source": "https://aws.amazon.com/eventbridge/pricing/",
        "checked": "2026-12-07: $1.00 a million custom events, 64 KB chunks (third-party summaries"
        " of the pricing page)",
    },
    "xrayTracesPerMillion": {
        "usd": 5.00,
        "unit": "per million traces recorded (first 100,000 a month free)",
        "source": "https://aws.amazon.com/xray/pricing/",
        "checked": "2026-12-07: $5.00 a million traces recorded, $0.50 a million retrieved or "
        "scanned (the pricing page); retrieval is not counted here",
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
MILLION = 1_000_000

# Billing granularity (lambda/pricing, step-functions/pricing).
LAMBDA_BILLING_MS = 1  # per invocation, rounded up to the next millisecond
EXPRESS_BILLING_MS = 100  # per execution, rounded up to the next 100 ms, 100 ms at least
EXPRESS_MEMORY_CHUNK_MB = 64  # Express memory is billed in 64 MB chunks
# What an execution uses: 50 MB, plus the definition's size, plus the execution data times the Map
# or Parallel steps (step-functions/pricing, example 3): 50 MB and some KB here, one 64 MB chunk.
EXPRESS_MEMORY_MB = 64


def billed_lambda_ms(duration_ms: float) -> int:
    """One invocation's billed duration: rounded up to the next ms (a 1.0001 ms run bills 2)."""
    return max(LAMBDA_BILLING_MS, math.ceil(duration_ms / LAMBDA_BILLING_MS) * LAMBDA_BILLING_MS)


def billed_express_ms(duration_ms: float) -> int:
    """One Express execution's billed duration: the next 100 ms up, 100 ms at least."""
    return max(EXPRESS_BILLING_MS, math.ceil(duration_ms / EXPRESS_BILLING_MS) * EXPRESS_BILLING_MS)


def billed_express_memory_mb(memory_mb: float) -> int:
    return max(1, math.ceil(memory_mb / EXPRESS_MEMORY_CHUNK_MB)) * EXPRESS_MEMORY_CHUNK_MB


# -- The stated inputs: each a named assumption, reported with the figures. ------------------------

# Traffic: a million committed POSTs a month, spread evenly (Poisson arrivals at a constant rate);
# a month as AWS's calculator counts it, 730 hours. Peaks lower the traced share and raise the
# batching; a quiet night does the reverse.
MONTHLY_TRANSACTIONS = 1_000_000
SECONDS_PER_MONTH = 730 * 3600

# X-Ray's default sampling, which Lambda applies to an invocation that arrives with no trace
# header (Active tracing) and API Gateway and Step Functions apply to a request they start: the
# first request each second (the reservoir), then 5% of the rest. The reservoir is taken as per
# sampler (the API, each consumer function).
XRAY_RESERVOIR_PER_SECOND = 1
XRAY_FIXED_RATE = 0.05

# A DynamoDB stream's event source mapping polls each shard 4 times a second (with-ddb.html),
# so with no batching window one invocation carries the records of about a quarter second. A
# low-traffic table's stream has one shard.
STREAM_POLLS_PER_SECOND = 4
STREAM_SHARDS = 1

# The summaries projection, per ledger entry: a consistent Query of the user's newest days (its
# predecessor applied?) and a TransactWriteItems of 2 Updates, the entry's hour and day. The
# first entry of a day costs the same (the predecessor's day is read, not written), so no
# entries-per-user-per-day figure enters the cost; the bench counts a user's second entry, and a
# user's first entry ever, which skips the Query, is priced like the others (an upper bound).
SUMMARIES_PROJECTION_PER_ENTRY = (
    "per ledger entry a consistent Query of the user's newest days (1 RRU) and a "
    "TransactWriteItems of 2 Updates, its hour and its day; the same for a day's first entry, "
    "and a user's first entry ever skips the Query (not deducted)"
)

# Cold starts: since 2025-08-01 the INIT phase of a ZIP function on a managed runtime is billed
# like its invocations; AWS's analysis of production workloads puts cold starts under 1% of
# invocations (the blog post announcing it). The INIT duration is the handler's measured
# cold-start work (import and clients) on this machine, when the run measured it.
COLD_START_SHARE = 0.01

# One sample of each variable an API Gateway access log line substitutes, at its usual size:
# ids and times as API Gateway writes them, an IAM user's ARN (the API is AWS_IAM), a 201 and a
# short body. API Gateway writes "-" for a variable with no value.
ACCESS_LOG_SAMPLE = {
    "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
    "extendedRequestId": "Dm3xYHVoIAMEbXg=",
    "requestTime": "07/Dec/2026:06:31:36 +0000",
    "httpMethod": "POST",
    "resourcePath": "/transactions",
    "status": "201",
    "responseLength": "131",
    "responseLatency": "184",
    "integration.status": "200",
    "integration.latency": "171",
    "error.message": "-",
    "error.responseType": "-",
    "identity.sourceIp": "203.0.113.10",
    "identity.userArn": "arn:aws:iam::123456789012:user/wallet-client",
    "xrayTraceId": "Root=1-67891233-abcdef012345678912345678",
}
_CONTEXT_VARIABLE = re.compile(r"\$context\.([A-Za-z.]+[A-Za-z])")

# Lambda's own lines per invocation, as it writes them (monitoring-cloudwatchlogs-advanced.html,
# telemetry-schema-reference.html), with ids and figures of their usual length. Plain text:
# START, END and REPORT, REPORT with an XRAY line when the function traces. JSON: platform.start
# and platform.report, the report with a tracing object when the function traces. Both
# are INFO: at SystemLogLevel WARN (JSON only) Lambda writes neither.
_REQUEST_ID = "8f5d3b2e-6a1c-4f7e-9b0d-2c4e6a8f0b1d"
_TRACE_ID = "1-67891233-abcdef012345678912345678"
PLATFORM_LINES_TEXT = (
    f"START RequestId: {_REQUEST_ID} Version: $LATEST\n",
    f"END RequestId: {_REQUEST_ID}\n",
    f"REPORT RequestId: {_REQUEST_ID}\tDuration: 12.34 ms\tBilled Duration: 13 ms\t"
    "Memory Size: 256 MB\tMax Memory Used: 98 MB\t\n",
)
PLATFORM_TRACING_TEXT = f"XRAY TraceId: {_TRACE_ID}\tSegmentId: 0a1b2c3d4e5f6a7b\tSampled: true\t\n"
PLATFORM_LINES_JSON = (
    '{"time":"2026-12-07T06:31:36.123Z","type":"platform.start","record":{"requestId":"'
    + _REQUEST_ID
    + '","version":"$LATEST"}}',
    '{"time":"2026-12-07T06:31:36.136Z","type":"platform.report","record":{"requestId":"'
    + _REQUEST_ID
    + '","metrics":{"durationMs":12.34,"billedDurationMs":13,"memorySizeMB":256,'
    '"maxMemoryUsedMB":98},"status":"success"}}',
)
PLATFORM_TRACING_JSON = (
    ',"tracing":{"spanId":"0a1b2c3d4e5f6a7b","type":"X-Amzn-Trace-Id","value":"Root='
    + _TRACE_ID
    + ';Parent=0a1b2c3d4e5f6a7b;Sampled=1"}'
)


def platform_log_bytes(deployment: Deployment) -> int:
    """What Lambda writes of its own per invocation, in bytes (0 at SystemLogLevel WARN)."""
    if not deployment.has_platform_lines:
        return 0
    if deployment.log_format == "JSON":
        size = sum(len(line.encode()) for line in PLATFORM_LINES_JSON)
        return size + (len(PLATFORM_TRACING_JSON) if deployment.lambda_tracing else 0)
    size = sum(len(line.encode()) for line in PLATFORM_LINES_TEXT)
    return size + (len(PLATFORM_TRACING_TEXT) if deployment.lambda_tracing else 0)


def access_log_bytes(deployment: Deployment) -> int:
    """One access log line: the template's Format with every $context variable substituted.

    Raises: KeyError naming a variable ACCESS_LOG_SAMPLE has no sample of.
    """
    if deployment.access_log_format is None:
        return 0
    line = _CONTEXT_VARIABLE.sub(
        lambda match: ACCESS_LOG_SAMPLE[match[1]], deployment.access_log_format
    )
    return len(line.encode())


def traced_share(
    requests_per_second: float,
    reservoir: int = XRAY_RESERVOIR_PER_SECOND,
    fixed_rate: float = XRAY_FIXED_RATE,
) -> float:
    """The share of requests arriving at `requests_per_second` (Poisson, N a second) that a
    sampling rule traces: the first `reservoir` each second, then `fixed_rate` of the rest,
    (E[min(N, R)] + fixed_rate x E[N - min(N, R)]) / rate. With the default rule (1, 5%) it is
    5% + 95% x (1 - e^-rate) / rate: near 1 at low traffic, 5% at high."""
    rate = requests_per_second
    if rate <= 0:
        return 1.0 if reservoir > 0 else fixed_rate
    # E[min(N, R)] = R - sum over k < R of (R - k) P(N = k)
    reserved = reservoir - sum(
        (reservoir - k) * math.exp(-rate) * rate**k / math.factorial(k) for k in range(reservoir)
    )
    return (reserved + fixed_rate * (rate - reserved)) / rate


def records_per_invocation(records_per_second: float, consumer: Consumer) -> float:
    """How many stream records one invocation carries: the records of a batching window (or of
    one poll interval without one), at least one, at most the batch size. With Poisson arrivals
    an invocation happens only when the window holds a record: mean / (1 - e^-mean)."""
    gather_seconds = max(consumer.window_seconds, 1 / STREAM_POLLS_PER_SECOND)
    mean = records_per_second / STREAM_SHARDS * gather_seconds
    if mean <= 0:
        return 1.0
    return min(float(consumer.batch_size), max(1.0, mean / (1 - math.exp(-mean))))


def consumer_lag_seconds(consumer: Consumer) -> float:
    """The most a record waits for its invocation: the window, or one poll interval."""
    return max(consumer.window_seconds, 1 / STREAM_POLLS_PER_SECOND)


@dataclass(frozen=True)
class Inputs:
    """Everything a per-million figure depends on besides the counted requests."""

    deployment: Deployment
    monthly_transactions: int = MONTHLY_TRANSACTIONS
    init_ms: float = 0.0  # one cold start's billed INIT, when measured

    @property
    def requests_per_second(self) -> float:
        return self.monthly_transactions / SECONDS_PER_MONTH

    @classmethod
    def from_template(cls, init_ms: float = 0.0) -> Inputs:
        return cls(deployment.load(), init_ms=init_ms)

    def to_dict(self) -> dict[str, Any]:
        rate = self.requests_per_second
        rule = self.deployment.sampling
        consumers = {}
        for consumer in self.deployment.consumers:
            per_invocation = records_per_invocation(rate, consumer)
            consumers[consumer.function] = {
                "recordsPerInvocation": round(per_invocation, 3),
                "tracedShare": round(traced_share(rate / per_invocation), 4)
                if consumer.is_traced
                else 0.0,
                "lagSecondsAtMost": consumer_lag_seconds(consumer),
            }
        return {
            "deployment": self.deployment.to_dict(),
            "monthlyTransactions": self.monthly_transactions,
            "secondsPerMonth": SECONDS_PER_MONTH,
            "requestsPerSecond": round(rate, 4),
            "xraySampling": f"API: {rule.reservoir} a second, then {rule.fixed_rate:.0%}; "
            f"Lambda without a trace header: {XRAY_RESERVOIR_PER_SECOND} a second, then "
            f"{XRAY_FIXED_RATE:.0%} (Poisson arrivals)",
            "apiTracedShare": round(traced_share(rate, rule.reservoir, rule.fixed_rate), 4),
            "streamPollsPerSecond": STREAM_POLLS_PER_SECOND,
            "streamShards": STREAM_SHARDS,
            "consumers": consumers,
            "platformLogBytesPerInvocation": platform_log_bytes(self.deployment),
            "accessLogBytesPerRequest": access_log_bytes(self.deployment),
            "coldStartShare": COLD_START_SHARE,
            "summariesProjection": SUMMARIES_PROJECTION_PER_ENTRY,
            "initMs": self.init_ms,
            "expressMemoryMb": billed_express_memory_mb(EXPRESS_MEMORY_MB),
            "lambdaMemoryMb": self.deployment.lambda_memory_mb,
        }


def _logs_usd(bytes_per_request: float) -> float:
    return bytes_per_request / 1024**3 * _price("cloudwatchLogsIngestionGb") * MILLION


def _lambda_usd(billed_ms: float, memory_mb: int) -> float:
    return memory_mb / 1024 * billed_ms / 1000 * _price("lambdaArmGbSecond") * MILLION


def post_traces(lambda_invocations: float, inputs: Inputs) -> float:
    """Traces one POST starts: one if API Gateway (or, behind an untraced API, Step Functions)
    samples it, the tasks joining that trace; with neither tracing, each task invocation is
    sampled on its own by Lambda's Active tracing."""
    deployed = inputs.deployment
    rule = deployed.sampling
    if deployed.api_tracing or deployed.state_machine_tracing:
        return traced_share(inputs.requests_per_second, rule.reservoir, rule.fixed_rate)
    if deployed.lambda_tracing:
        return lambda_invocations * traced_share(inputs.requests_per_second)
    return 0.0


def consumer_lines(counts: dict[str, Any], inputs: Inputs) -> dict[str, float]:
    """The stream consumers at the stated traffic: the records one transaction gives each
    (counted, sent alone: one invocation per record), gathered `records_per_invocation` to an
    invocation; each invocation's duration the measured one per record times its records (an
    upper bound: the fixed part is shared), billed per ms; its platform lines; the traces Lambda
    starts for the invocations (no upstream header on a stream record)."""
    deployed = inputs.deployment
    per_record_ms = (
        counts.get("streamMs", 0) / counts["streamLambdaTotal"]
        if counts.get("streamLambdaTotal")
        else 0.0
    )
    invocations = billed_ms = traces = 0.0
    for consumer in deployed.consumers:
        records = counts.get("streamLambda", {}).get(consumer.function, 0)
        if not records:
            continue
        records_per_second = inputs.requests_per_second * records
        per_invocation = records_per_invocation(records_per_second, consumer)
        consumer_invocations = records / per_invocation
        invocations += consumer_invocations
        billed_ms += consumer_invocations * billed_lambda_ms(per_record_ms * per_invocation)
        if consumer.is_traced:
            traces += consumer_invocations * traced_share(records_per_second / per_invocation)
    return {
        "streamConsumerRequests": invocations * _price("lambdaPerMillion"),
        "streamConsumerDuration": _lambda_usd(billed_ms, deployed.lambda_memory_mb),
        "streamConsumerPlatformLogs": _logs_usd(invocations * platform_log_bytes(deployed)),
        "xrayStreamConsumers": traces * _price("xrayTracesPerMillion"),
    }


def per_million(
    counts: dict[str, Any], log_level: str = "ALL", inputs: Inputs | None = None
) -> dict[str, float]:
    """Dollars per million requests of one outcome, from its counted requests and durations, with
    the state machine logging at `log_level` (ERROR logs only the events of failures) and the
    rest as `inputs` (the template's settings and the stated traffic) say."""
    inputs = inputs or Inputs.from_template()
    deployed = inputs.deployment
    log_bytes = counts["logBytes"] if log_level == "ALL" else counts["logBytesError"]
    express_gb_s = billed_express_memory_mb(EXPRESS_MEMORY_MB) / 1024 * counts["billedExpressMs"]
    express_gb_s /= 1000
    invocations = counts["lambdaTotal"]
    lines = {
        "apiGateway": _price("apiGatewayRestPerMillion"),
        "apiAccessLogs": _logs_usd(access_log_bytes(deployed)),
        "stepFunctionsRequests": _price("stepFunctionsExpressPerMillion"),
        "stepFunctionsDuration": express_gb_s * _price("stepFunctionsExpressGbSecond") * MILLION,
        "lambdaRequests": invocations * _price("lambdaPerMillion"),
        "lambdaDuration": _lambda_usd(counts["billedLambdaMs"], deployed.lambda_memory_mb),
        "lambdaInit": _lambda_usd(
            invocations * COLD_START_SHARE * billed_lambda_ms(inputs.init_ms)
            if inputs.init_ms
            else 0,
            deployed.lambda_memory_mb,
        ),
        "lambdaPlatformLogs": _logs_usd(invocations * platform_log_bytes(deployed)),
        "dynamodbWrites": counts["wru"] * _price("dynamodbWruPerMillion"),
        "dynamodbReads": counts["rru"] * _price("dynamodbRruPerMillion"),
        "logs": _logs_usd(log_bytes),
        "xray": post_traces(invocations, inputs) * _price("xrayTracesPerMillion"),
        **consumer_lines(counts, inputs),
        "eventBridgeEvents": counts.get("events", 0) * _price("eventBridgeCustomEventsPerMillion"),
        "summariesProjectionWrites": counts.get("streamWru", 0) * _price("dynamodbWruPerMillion"),
        "summariesProjectionReads": counts.get("streamRru", 0) * _price("dynamodbRruPerMillion"),
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


def poll_pricing(
    cadences: dict[str, float], lambda_memory_mb: int | None = None
) -> list[dict[str, Any]]:
    """What one second of waiting for a held lock costs one request, per poll kind and cadence
    (`cadences`: name -> the cap of its jittered poll delay, in seconds), in dollars per million
    seconds of waiting. A jittered delay averages 3/4 of its cap (lock_wait.WaitPolicy). The
    waiting function's duration and the execution's are paid whatever the poll."""
    memory_mb = lambda_memory_mb or deployment.load().lambda_memory_mb
    lambda_per_second = memory_mb / 1024 * _price("lambdaArmGbSecond")
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


def read_per_million(
    measured: dict[str, Any], lambda_memory_mb: int | None = None
) -> dict[str, float]:
    """Dollars per million of one GET: API Gateway, the function (its measured median, billed per
    ms) and its strongly consistent read units. The cursor key's GetSecretValue ($0.05 per
    10,000) is read once per sandbox, so it is left out."""
    memory_mb = lambda_memory_mb or deployment.load().lambda_memory_mb
    lambda_gb_s = memory_mb / 1024 * billed_lambda_ms(measured["latencyMs"]["p50"]) / 1000
    lines = {
        "apiGateway": _price("apiGatewayRestPerMillion"),
        "lambdaRequests": measured["lambdaTotal"] * _price("lambdaPerMillion"),
        "lambdaDuration": lambda_gb_s * _price("lambdaArmGbSecond") * 1_000_000,
        "dynamodbReads": measured["rru"] * _price("dynamodbRruPerMillion"),
    }
    rounded = {name: round(value, 3) for name, value in lines.items()}
    rounded["total"] = round(sum(lines.values()), 2)
    return rounded


TARGET_COMMITTED_AT_ERROR = 17.00  # dollars per million committed, at Level ERROR, complete model
FLOOR_TARGET_RATIO = 1.15  # or, if no design keeping the invariants reaches it, this x the floor

# The lines that are observability, not the product: what the deployment chooses to log and trace.
OBSERVABILITY_LINES = frozenset(
    {"apiAccessLogs", "lambdaPlatformLogs", "streamConsumerPlatformLogs", "logs", "xray",
     "xrayStreamConsumers"}
)  # fmt: skip


def without_observability(lines: dict[str, float]) -> float:
    """A per-million figure's total without its log lines and traces."""
    return round(
        sum(v for k, v in lines.items() if k != "total" and k not in OBSERVABILITY_LINES), 2
    )


FLOOR_LAMBDA_MEMORY_MB = 128  # Lambda's smallest sensible memory; 1 ms each: the floor errs low
FLOOR_TASK_LAMBDAS = 3  # acquire the lock, put the transaction, update the balance (product)
# The stream records one committed transaction gives each consumer: one outbox record to the
# forwarder, one ledger entry to the summaries projection.
FLOOR_RECORDS_PER_CONSUMER = 1

# What a committed transaction cannot do without while the product stays as specified (the guide's
# definition, the contract, the outbox and the projection), each at the first-tier on-demand list
# price of PRICES: (line, kind, what fixes it, quantity, unit, price). "invariant" lines price
# what an invariant needs, at the least it can cost; the state machine logs nothing for a commit
# at Level ERROR. The lines that depend on the deployment (the consumers' batching, the
# platform's log lines, the access log, X-Ray) are priced by floor_per_million with the same
# functions and inputs as the measured figure, so the two compare like for like.
FLOOR = (
    ("apiGateway", "product", "the POST through API Gateway REST", 1, "request",
     "apiGatewayRestPerMillion"),
    ("stepFunctionsRequests", "product", "one Express execution per POST", 1, "request",
     "stepFunctionsExpressPerMillion"),
    ("stepFunctionsDuration", "product", "its shortest billed duration: 100 ms at 64 MB",
     EXPRESS_BILLING_MS / 1000 * billed_express_memory_mb(EXPRESS_MEMORY_MB) / 1024,
     "GB-second", "stepFunctionsExpressGbSecond"),
    ("lambdaRequests", "product", "the three task Lambdas: acquire the lock, put the "
     "transaction, update the balance (the lock's release is Step Functions' own UpdateItem)",
     FLOOR_TASK_LAMBDAS, "request", "lambdaPerMillion"),
    ("lambdaDuration", "product", "their shortest billed duration: 1 ms each at 128 MB",
     FLOOR_TASK_LAMBDAS * LAMBDA_BILLING_MS / 1000 * FLOOR_LAMBDA_MEMORY_MB / 1024, "GB-second",
     "lambdaArmGbSecond"),
    ("acquireLockWrite", "invariant", "the lock: a conditional UpdateItem of the aggregate row",
     1, "WRU", "dynamodbWruPerMillion"),
    ("putTransactionWrite", "invariant", "the transaction record under its key, fenced on the "
     "lock's owner: one TransactWriteItems of a ConditionCheck (the fence) and a Put (the "
     "record), 2 units each", 2 * TRANSACTIONAL_WRU_PER_ITEM_KB, "WRU", "dynamodbWruPerMillion"),
    ("commitWrite", "invariant", "the commit: one TransactWriteItems of the aggregate row, the "
     "ledger entry and the outbox item, 2 units each", 3 * TRANSACTIONAL_WRU_PER_ITEM_KB, "WRU",
     "dynamodbWruPerMillion"),
    ("releaseLockWrite", "invariant", "releasing the lock: a conditional UpdateItem of the "
     "aggregate row (Step Functions' direct integration, no Lambda)", 1, "WRU",
     "dynamodbWruPerMillion"),
    ("projectionWrite", "invariant", "the projection's atomicity: the entry's hour and day "
     "moved together in one TransactWriteItems, the day carrying the applied sequence (its "
     "condition makes the write exactly once), 2 units each",
     2 * TRANSACTIONAL_WRU_PER_ITEM_KB, "WRU", "dynamodbWruPerMillion"),
    ("eventBridgeEvents", "product", "one event per ledger entry (contract, Events)", 1, "event",
     "eventBridgeCustomEventsPerMillion"),
)  # fmt: skip


def _floor_row(line: str, kind: str, why: str, quantity: float, unit: str, usd: float) -> dict:
    return {
        "line": line,
        "kind": kind,
        "why": why,
        "quantity": round(quantity, 6),
        "unit": unit,
        "usd": round(usd, 4),
    }


def floor_per_million(inputs: Inputs | None = None) -> dict[str, Any]:
    """The least a committed transaction can cost at Level ERROR, in dollars per million, while
    the product stays as specified (FLOOR), with the deployment's own lines (the consumers at the
    stated traffic, the platform's log lines, the access log, X-Ray) priced as the measured
    figure prices them; and the target it is held against."""
    inputs = inputs or Inputs.from_template()
    deployed = inputs.deployment
    rows = [
        _floor_row(
            line, kind, why, quantity, unit,
            # A "...PerMillion" price is already per million; the others are per unit.
            quantity * _price(price) * (1 if price.endswith("PerMillion") else MILLION),
        )
        for line, kind, why, quantity, unit, price in FLOOR
    ]  # fmt: skip
    rate = inputs.requests_per_second
    consumer_invocations = consumer_traces = 0.0
    for consumer in deployed.consumers:
        per_invocation = records_per_invocation(rate * FLOOR_RECORDS_PER_CONSUMER, consumer)
        invocations = FLOOR_RECORDS_PER_CONSUMER / per_invocation
        consumer_invocations += invocations
        if consumer.is_traced:
            consumer_traces += invocations * traced_share(rate / per_invocation)
    batching = ", ".join(
        f"{c.function} {records_per_invocation(rate, c):.2f}" for c in deployed.consumers
    )
    invocations = FLOOR_TASK_LAMBDAS + consumer_invocations
    traces = post_traces(FLOOR_TASK_LAMBDAS, inputs) + consumer_traces
    rows += [
        _floor_row(
            "streamConsumerRequests", "deployment",
            f"the forwarder and the projection, one record each, at {rate:.3f} a second "
            f"(records per invocation: {batching})", consumer_invocations, "request",
            consumer_invocations * _price("lambdaPerMillion"),
        ),
        _floor_row(
            "streamConsumerDuration", "deployment", "1 ms per invocation at 128 MB",
            consumer_invocations * LAMBDA_BILLING_MS / 1000 * FLOOR_LAMBDA_MEMORY_MB / 1024,
            "GB-second",
            _lambda_usd(consumer_invocations * LAMBDA_BILLING_MS, FLOOR_LAMBDA_MEMORY_MB),
        ),
        _floor_row(
            "lambdaPlatformLogs", "deployment",
            f"Lambda's own lines ({deployed.log_format}, system level {deployed.system_log_level})"
            " for every invocation above", invocations * platform_log_bytes(deployed), "byte",
            _logs_usd(invocations * platform_log_bytes(deployed)),
        ),
        _floor_row(
            "apiAccessLogs", "deployment", "the API's access log line",
            access_log_bytes(deployed), "byte", _logs_usd(access_log_bytes(deployed)),
        ),
        _floor_row(
            "xray", "deployment", "the traces the template's tracing settings start at that "
            "traffic (the POST's, the consumers' own)", traces, "trace",
            traces * _price("xrayTracesPerMillion"),
        ),
    ]  # fmt: skip
    total = sum(row["usd"] for row in rows)
    return {
        "lines": rows,
        "total": round(total, 2),
        "totalWithoutObservability": round(
            sum(row["usd"] for row in rows if row["line"] not in OBSERVABILITY_LINES), 2
        ),
        "target": TARGET_COMMITTED_AT_ERROR,
        "targetRatio": FLOOR_TARGET_RATIO,
    }
