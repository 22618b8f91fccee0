"""The bench's tables: printed as text after a run, as Markdown for docs/performance.md, and as a
comparison of two result files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.bench import cost, dialects, holds
from tests.bench.coldstart import SERVICES

Table = tuple[str, list[str], list[list[str]]]

OUTCOMES = {
    "committed": "committed (201)",
    "replay": "replay (201, Idempotent-Replayed)",
    "overdraft": "rejected overdraft (422)",
    "userBusy": "user busy (429, lock held)",
}
COST_LINES = {
    "apiGateway": "API Gateway REST requests",
    "apiAccessLogs": "API Gateway access log line (CloudWatch Logs)",
    "stepFunctionsRequests": "Step Functions Express requests",
    "stepFunctionsDuration": "Step Functions Express duration (per 100 ms, 64 MB chunks)",
    "lambdaRequests": "Lambda requests",
    "lambdaDuration": "Lambda duration (per 1 ms)",
    "lambdaInit": "Lambda INIT (cold starts, billed since 2025-08)",
    "lambdaPlatformLogs": "Lambda's START/END/REPORT lines (CloudWatch Logs)",
    "dynamodbWrites": "DynamoDB write request units",
    "dynamodbReads": "DynamoDB read request units",
    "logs": "CloudWatch Logs ingestion (state machine)",
    "xray": "X-Ray traces of the POST",
    "streamConsumerRequests": "Stream consumers' Lambda requests (at the stated traffic)",
    "streamConsumerDuration": "Stream consumers' Lambda duration",
    "streamConsumerPlatformLogs": "Stream consumers' START/END/REPORT lines",
    "xrayStreamConsumers": "X-Ray traces the stream consumers start",
    "eventBridgeEvents": "EventBridge custom events (1 per ledger entry)",
    "summariesProjectionWrites": "Summaries projection write units",
    "summariesProjectionReads": "Summaries projection read units (the user's newest days)",
    "total": "total",
}


def _usd(value: float | None) -> str:
    """A cost line; "-" for a line a result recorded before it existed does not have."""
    return "-" if value is None else f"{value:,.2f}"


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _ops(operations: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in operations.items()) or "none"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _unexpected(errors: dict[str, int]) -> str:
    """The errors behind the answers other than 201 and 429 (a 429 is UserBusyError)."""
    others = {name: n for name, n in errors.items() if name != "UserBusyError"}
    return f" ({_ops(others)})" if others else ""


def _statuses(statuses: dict[str, int]) -> str:
    return " ".join(f"{code}:{count}" for code, count in statuses.items())


def tables(result: dict[str, Any]) -> list[Table]:
    found: list[Table] = []
    load_rows = []
    for phase in result["load"]:
        lock = phase["lock"]
        load_rows.append(
            [
                phase["transport"],
                phase["scenario"],
                _num(phase["requests"]),
                _num(phase["throughput"], 2),
                _num(phase["committedPerSecond"], 2),
                _num(phase["latencyMs"].get("p50"), 0),
                _num(phase["latencyMs"].get("p95"), 0),
                _num(phase["latencyMs"].get("p99"), 0),
                _num(phase["executionMs"].get("p50"), 0),
                _statuses(phase["statuses"]) + _unexpected(phase.get("errors", {})),
                _num(lock["waitMsAcquired"].get("p50"), 0),
                _num(lock["waitMsAcquired"].get("p95"), 0),
                _num(lock["waitMsAcquired"].get("max"), 0),
                _num(lock.get("longestWaitMs"), 0),
                _share(phase.get("share429")),
                _num(lock["retries"]),
                _num(lock["lambdaInvocationsPerRequest"], 2),
                _num(phase.get("dynamodbRequestsPerCommitted"), 2),
                _num(phase["invariantViolations"]),
            ]
        )
    found.append(
        (
            "Throughput and latency (ms; lock wait = AcquireLock first try -> lock held; longest "
            "wait = the longest of any request, 429s included)",
            [
                "transport",
                "scenario",
                "requests",
                "req/s",
                "201/s",
                "p50",
                "p95",
                "p99",
                "execution p50",
                "statuses",
                "lock p50",
                "lock p95",
                "lock max",
                "longest wait",
                "429 share",
                "retries",
                "Lambda/req",
                "DynamoDB/201",
                "invariant violations",
            ],
            load_rows,
        )
    )
    found.append(
        (
            "Lock wait distribution (requests that got the lock, by wait; then those that gave up)",
            ["transport", "scenario", *result["load"][0]["lock"]["waitBuckets"]],
            [
                [p["transport"], p["scenario"], *map(_num, p["lock"]["waitBuckets"].values())]
                for p in result["load"]
                if "hot-user" in p["scenario"]
            ],
        )
    )
    count_rows = []
    for key, label in OUTCOMES.items():
        counted = result["requestCounts"].get(key)
        if counted is None:
            continue
        count_rows.append(
            [
                label,
                _ops(counted["dynamodb"]),
                _num(counted["dynamodbTotal"]),
                _num(counted["wru"]),
                _num(counted["rru"]),
                _ops(counted["lambda"]).replace("Function", ""),
                _num(counted["lambdaTotal"]),
                _num(counted["billedExpressMs"]),
                _num(counted["billedLambdaMs"]),
                _num(counted["logBytes"]),
                _num(counted.get("logBytesError")),
                "yes" if counted["consistent"] else "NO",
            ]
        )
    found.append(
        (
            "Requests per outcome (counted from the calls made, single sequential executions)",
            [
                "outcome",
                "DynamoDB requests",
                "total",
                "WRU",
                "RRU",
                "Lambda invocations",
                "total",
                "Express billed ms",
                "Lambda billed ms",
                "log bytes (ALL)",
                "log bytes (ERROR)",
                "same every time",
            ],
            count_rows,
        )
    )
    target = result["target"]
    found.append(
        (
            "Target",
            ["figure", "value"],
            [
                [
                    "DynamoDB requests per committed transaction (target <= "
                    f"{target['maxDynamodbRequests']}, no read)",
                    f"{target['dynamodbRequests']} requests, {target['reads']} reads: "
                    + ("met" if target["met"] else "NOT met"),
                ],
            ],
        )
    )
    found.append(
        (
            "Orchestration overhead (per transport, one phase alternating a baseline transaction "
            "and a sequential saga transaction; ratio of the medians; ms)",
            [
                "transport",
                "pairs",
                "baseline p50",
                "baseline p95",
                "saga p50",
                "saga p95",
                "saga / baseline",
                "baseline DynamoDB requests per transaction",
            ],
            [
                [
                    transport,
                    _num(measured["pairs"]),
                    _num(measured["baselineMs"].get("p50")),
                    _num(measured["baselineMs"].get("p95")),
                    _num(measured["sagaMs"].get("p50")),
                    _num(measured["sagaMs"].get("p95")),
                    f"{measured['ratioOfMedians']:.1f}x",
                    _ops(measured["baselineDynamodbPerTransaction"]),
                ]
                for transport, measured in result["overhead"].items()
            ],
        )
    )
    if "coldStarts" in result:
        found.extend(cold_start_tables(result))
    elif "imports" in result:
        found.extend(_import_tables(result))
    if "reads" in result:
        read_cost = result["cost"].get("readsPerMillion", {})
        found.append(
            (
                f"Read requests (embedded; a user with {result['reads']['user entries']} entries; "
                "USD per million: API Gateway, Lambda requests and median duration, read units)",
                ["read", "items", "DynamoDB requests", "read units", "Lambda", "p50 ms",
                 "p95 ms", "USD per million"],
                [
                    [name, _num(m["entries"]), f"{m['dynamodbTotal']}: {_ops(m['dynamodb'])}",
                     _num(m["rru"]), _num(m["lambdaTotal"]), _num(m["latencyMs"].get("p50")),
                     _num(m["latencyMs"].get("p95")), _usd(read_cost.get(name, {}).get("total"))]
                    for name, m in result["reads"]["reads"].items()
                ],
            )
        )  # fmt: skip
    if "projectionLag" in result:
        lag = result["projectionLag"]
        found.append(
            (
                "Projection lag (ms): POST answered -> GET /summaries' asOfSequence reaches its "
                "entry (local stream poller)",
                ["requests", "p50", "p95", "p99", "max", "timeouts"],
                [[_num(lag["requests"]), _num(lag["lagMs"].get("p50")),
                  _num(lag["lagMs"].get("p95")), _num(lag["lagMs"].get("p99")),
                  _num(lag["lagMs"].get("max")), _num(lag["timeouts"])]],
            )
        )  # fmt: skip
    per_level = result["cost"]["perMillion"]
    inputs = result["cost"].get("inputs")
    memory = (inputs or result["cost"]["assumptions"])["lambdaMemoryMb"]
    labels = {**COST_LINES, "lambdaDuration": f"Lambda duration (arm64, {memory} MB, per 1 ms)"}
    columns = [(level, o) for o in per_level["ALL"] for level in per_level]
    found.append(
        (
            "Cost per million requests, us-east-1 list prices (USD), at each state machine log "
            "level (StateMachineLogLevel)",
            ["line", *[f"{OUTCOMES[o]}, {level}" for level, o in columns]],
            [
                [label, *[_usd(per_level[level][o].get(line)) for level, o in columns]]
                for line, label in labels.items()
            ],
        )
    )
    found.append(
        (
            "Prices used (tests/bench/cost.py)",
            ["price", "USD", "unit", "source", "checked"],
            [
                [
                    name,
                    f"{price['usd']:.10g}",
                    price["unit"],
                    f"`{price['source']}`",
                    price.get("checked", ""),
                ]
                for name, price in result["cost"]["prices"].items()
            ],
        )
    )
    if inputs:
        found.append(_inputs_table(inputs))
    floor = result["cost"].get("floor")
    if floor:
        found.append(
            (
                "Floor: what a committed transaction cannot do without while the product stays "
                "as specified, each at its first-tier list price (USD per million; "
                "tests/bench/cost.py FLOOR)",
                ["line", "kind", "what fixes it", "quantity", "unit", "USD"],
                [
                    [row["line"], row.get("kind", ""), row["why"], f"{row['quantity']:g}",
                     row["unit"], f"{row['usd']:,.4f}"]
                    for row in floor["lines"]
                ]
                + [["total", "", "", "", "", f"{floor['total']:,.2f}"]],
            )
        )  # fmt: skip
    polls = result["cost"].get("pollPricing")
    if polls:
        found.append(
            (
                "What one second of waiting for a held lock costs a request, by poll (USD per "
                "million seconds of waiting; the chosen poll marked)",
                [
                    "cadence",
                    "poll delay cap s",
                    "poll",
                    "polls/s",
                    "DynamoDB",
                    "Lambda duration",
                    "Express duration",
                    "total",
                ],
                [
                    [
                        row["cadence"],
                        _num(row["pollDelayCapSeconds"], 2),
                        row["poll"] + (" (chosen)" if row["chosen"] else ""),
                        _num(row["pollsPerSecond"], 1),
                        f"{row['usdPerMillionSeconds']['dynamodb']:,.2f}",
                        f"{row['usdPerMillionSeconds']['lambdaDuration']:,.2f}",
                        f"{row['usdPerMillionSeconds']['stepFunctionsDuration']:,.2f}",
                        f"{row['usdPerMillionSeconds']['total']:,.2f}",
                    ]
                    for row in polls
                ],
            )
        )
    leases = result["cost"].get("leaseScenarios")
    if leases:
        rates = list(leases[0]["rejectedPerCrash"])
        found.append(
            (
                "Lease: what one crashed lock holder costs its user (a 429 priced as measured, "
                "Level ALL)",
                [
                    "lease s",
                    "user blocked up to s",
                    "> state machine TimeoutSeconds",
                    *[f"429s at {rate} req/s" for rate in rates],
                    *[f"USD per 1,000 crashes at {rate} req/s" for rate in rates],
                ],
                [
                    [
                        _num(row["leaseSeconds"]) + (" (configured)" if row["configured"] else ""),
                        _num(row["blockedUpToSeconds"]),
                        "yes" if row["longerThanTimeout"] else "no: unsafe",
                        *[_num(row["rejectedPerCrash"][rate]) for rate in rates],
                        *[f"{row['usdPerThousandCrashes'][rate]:.4f}" for rate in rates],
                    ]
                    for row in leases
                ],
            )
        )
    grown = result.get("growth")
    if grown:
        found.append(
            (
                f"Growth: {grown['transactions']:,} sequential transactions through one `make run` "
                f"server process (credits over {grown['users']} users; latency ms per window of "
                f"{grown['window']:,}, the server's resident memory after it)",
                ["after", "p50", "p95", "p99", "max", "resident MB"],
                [
                    [
                        _num(w["after"]),
                        _num(w["latencyMs"].get("p50"), 0),
                        _num(w["latencyMs"].get("p95"), 0),
                        _num(w["latencyMs"].get("p99"), 0),
                        _num(w["latencyMs"].get("max"), 0),
                        _num(w["residentMb"], 0),
                    ]
                    for w in grown["windows"]
                ],
            )
        )
    if "dialects" in result:
        found.append(dialects.table(result["dialects"]))
    if "holds" in result:
        found.append(holds.table(result["holds"]))
    return found


def cold_start_tables(result: dict[str, Any]) -> list[Table]:
    """The handlers' cold-start work beside the minimal boto3 baseline of the same run."""
    cold = result["coldStarts"]
    runtime = result["lambdaRuntime"]
    base = cold["baseline"]

    def cells(measured: dict[str, Any], variant: str) -> list[str]:
        figures = measured[variant]
        work, cpu = figures["importAndClients"], figures["importAndClientsCpu"]
        wall_ratio, cpu_ratio = figures.get("ratioToBaseline"), figures.get("cpuRatioToBaseline")
        return [
            f"{_num(cpu['medianMs'])} ({_num(cpu['minMs'])}-{_num(cpu['maxMs'])})",
            "-" if cpu_ratio is None else f"{cpu_ratio:.2f}x",
            f"{_num(work['medianMs'])} ({_num(work['minMs'])}-{_num(work['maxMs'])})",
            "-" if wall_ratio is None else f"{wall_ratio:.2f}x",
        ]

    built = [f'boto3.client("{SERVICES[c]}")' for c in base["clients"]]
    rows = [
        [
            " + ".join(["baseline: boto3", *built]),
            ", ".join(base["clients"]) or "none",
            *cells(base, "withBytecode"),
            *cells(base, "withoutBytecode"),
        ]
    ]
    rows += [
        [module.rsplit(".", 1)[-1], ", ".join(m["clients"]) or "none",
         *cells(m, "withBytecode"), *cells(m, "withoutBytecode")]
        for module, m in cold["handlers"].items()
    ]  # fmt: skip
    target = cold["target"]
    title = (
        f"Cold-start work per handler (a new Python {cold['python']} process with Lambda's "
        f"variables and only the bundle on sys.path; Lambda runs {runtime['runtime']} on "
        f"{runtime['architecture']}; import and clients, ms of CPU and of wall time, median "
        f"(min-max) of {cold['repetitions']}; each run beside a baseline run building the "
        "same clients, and / baseline the median of the pairs' ratios; target: each "
        f"DynamoDB handler's CPU with bytecode at most {target['ratio']:.1f}x the baseline's, "
        f"worst {target['worstRatio']:.2f}x: " + ("met" if target["met"] else "NOT met") + ")"
    )
    headers = ["handler", "clients", "CPU, .pyc", "/ baseline", "wall, .pyc", "/ baseline",
               "CPU, no .pyc", "/ baseline", "wall, no .pyc", "/ baseline"]  # fmt: skip
    slowest = max(
        cold["handlers"],
        key=lambda m: cold["handlers"][m]["withBytecode"]["importAndClientsCpu"]["medianMs"],
    )
    return [
        (title, headers, rows),
        (
            f"Where {slowest}'s import goes in the Lambda-like process (python -X importtime, "
            "self time by top-level package, with .pyc)",
            ["top-level package", "ms", "share"],
            [[p["package"], _num(p["ms"]), _share(p["share"])] for p in cold["heaviestPackages"]],
        ),
        *_instruction_tables(cold),
    ]


def _span(ratios: list[float]) -> str:
    """`1.05x-1.07x`, or `1.06x` when they are all one at two decimals."""
    low, high = f"{min(ratios):.2f}x", f"{max(ratios):.2f}x"
    return low if low == high else f"{low}-{high}"


def _instruction_tables(cold: dict[str, Any]) -> list[Table]:
    """The cold-start work in instructions executed, when the run had valgrind."""
    counted = cold.get("instructions")
    if not counted:
        return []
    rows = [
        [module.rsplit(".", 1)[-1], ", ".join(cold["handlers"][module]["clients"]) or "none",
         f"{c['instructions'] / 1e6:,.0f}", f"{c['baselineInstructions'] / 1e6:,.0f}",
         f"{c['ratioToBaseline']:.3f}x"]
        for module, c in counted["handlers"].items()
    ]  # fmt: skip
    return [
        (
            "Cold-start work in instructions executed (millions; with .pyc; "
            f"`{counted['tool']}`, one run each: the count does not move with the load), beside "
            "the baseline building the same clients",
            ["handler", "clients", "instructions", "baseline", "/ baseline"],
            rows,
        )
    ]


def _import_tables(result: dict[str, Any]) -> list[Table]:
    """The import times of a result from before the cold-start phase (schema 4 and older)."""
    imports = result["imports"]
    cold = imports.get("coldRepetitions", 0)
    return [
        (
            f"Import time per handler module (new interpreter, Python {result['machine']['python']}"
            " here; ms)",
            ["module", f"with .pyc, median of {imports['repetitions']}", "runs",
             f"no .pyc, median of {cold}" if cold else "no .pyc (not measured)"],
            [[module, _num(m["medianMs"]), " ".join(_num(r) for r in m["runsMs"]),
              _num(m.get("coldMedianMs"))] for module, m in imports["modules"].items()],
        )
    ]  # fmt: skip


def _inputs_table(inputs: dict[str, Any]) -> Table:
    """The cost model's stated inputs (cost.Inputs), each a named assumption."""
    deployed = inputs["deployment"]
    rows = [
        ["traffic", f"{inputs['monthlyTransactions']:,} committed POSTs a month over "
         f"{inputs['secondsPerMonth'] / 3600:,.0f} h: {inputs['requestsPerSecond']:.3f} a second"],
        ["Lambda logs (template LoggingConfig)", f"{deployed['logFormat']}, system level "
         f"{deployed['systemLogLevel']}: {inputs['platformLogBytesPerInvocation']} bytes of "
         "platform lines per invocation"],
        ["access log (template AccessLogSetting)",
         f"{inputs['accessLogBytesPerRequest']} bytes per request"],
        ["tracing (template)", f"API Gateway {deployed['apiTracing']}, state machine "
         f"{deployed['stateMachineTracing']}, Lambda Active {deployed['lambdaTracing']}; "
         f"sampling {inputs['xraySampling']}: {_share(inputs['apiTracedShare'])} of POSTs traced"],
        *[
            [f"stream consumer {name}", f"batch size {deployed['consumers'][name]['batchSize']}, "
             f"window {deployed['consumers'][name]['windowSeconds']:g} s "
             f"({inputs['streamPollsPerSecond']} polls a second, {inputs['streamShards']} shard): "
             f"{c['recordsPerInvocation']:.2f} records per invocation, "
             f"{_share(c['tracedShare'])} of invocations traced, lag up to "
             f"{c['lagSecondsAtMost']:g} s"]
            for name, c in inputs["consumers"].items()
        ],
        ["cold starts", f"{inputs['coldStartShare']:.0%} of invocations, INIT "
         f"{inputs['initMs']:,.1f} ms each (measured here), billed per 1 ms"],
        # Absent from a result recorded before the projection's read was priced.
        *([["summaries projection", inputs["summariesProjection"]]]
          if "summariesProjection" in inputs else []),
        ["memory", f"Lambda {inputs['lambdaMemoryMb']} MB (template); Express "
         f"{inputs['expressMemoryMb']} MB (one 64 MB chunk)"],
    ]  # fmt: skip
    return ("Inputs of the cost model (tests/bench/cost.py; the template's settings read from "
            "infra/template.yaml)", ["input", "value"], rows)  # fmt: skip


def _text_table(title: str, headers: list[str], rows: list[list[str]]) -> str:
    widths = [
        max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)
    ]
    lines = [title, "-" * len(title)]
    for row in [headers, *rows]:
        lines.append(
            "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=False))
        )
    return "\n".join(lines)


def _markdown_table(title: str, headers: list[str], rows: list[list[str]]) -> str:
    lines = [
        f"**{title}**",
        "",
        "| " + " | ".join(headers) + " |",
        "|" + "|".join(" --- " for _ in headers) + "|",
    ]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _sizes(sizes: dict[str, Any]) -> str:
    def pairs(values: list[list[int]]) -> str:
        return ", ".join(f"{requests} with {clients} clients" for clients, requests in values)

    return (
        f"sizes: {sizes['sequential']} sequential; many users {pairs(sizes['many_users'])}; "
        f"hot user {pairs(sizes['hot_user'])}"
        + (
            f", plain-polling variant {sizes['plain_polling_requests']} with "
            f"{sizes['hot_user'][-1][0]} clients"
            if sizes.get("plain_polling_variant")
            else ""
        )
        + f"; {sizes['overhead_pairs']} baseline/saga pairs "
        f"per transport; request counts x{sizes['count_repetitions']}; cold starts x"
        f"{sizes.get('coldstart_repetitions', sizes.get('import_repetitions'))} per variant"
        + (
            f"; growth {sizes['growth']:,} sequential in windows of {sizes['growth_window']:,}"
            if sizes.get("growth")
            else ""
        )
    )


def header(result: dict[str, Any]) -> str:
    m = result["machine"]
    git = result["git"]
    http = result["http"]
    lines = [
        f"wallet bench v{result['version']}  {result['createdAt']}  git {git['sha'][:10]}"
        + (" (uncommitted changes)" if git["dirty"] else "")
        + ("  QUICK" if result["quick"] else ""),
        f"machine: {m['nproc']} CPUs, {m['cpu']}, Python {m['python']}, moto "
        f"{m['packages'].get('moto')}; load average {m['loadAverageAtStart'][0]} at start, "
        f"{m.get('loadAverageAtEnd', ['?'])[0]} at end",
        f"lease {result['leaseSeconds']} s; lock wait in AcquireLock up to "
        f"{result.get('lockWaitSeconds')} s after the start; state machine TimeoutSeconds "
        f"{result['stateMachineTimeoutSeconds']} s; AcquireLock retry on UserBusyError: "
        f"{result['acquireLockRetry']}",
        _sizes(result["sizes"]),
    ]
    if not http.get("run"):
        lines.append(f"HTTP scenarios not run: {http['reason']}")
    lines.append(f"bench took {result['benchSeconds']} s")
    return "\n".join(lines)


def _write_units(counted: dict[str, Any], item_kb: int) -> str:
    """How an outcome's WRU add up, e.g. "UpdateItem 2 x 1 + 4 transactional items x 2"."""
    parts = []
    for op, n in counted["dynamodb"].items():
        if op in cost.WRITE_OPERATIONS:
            parts.append(f"{op} {n} x {cost.STANDARD_WRU_PER_KB * item_kb}")
    kinds = counted.get("transactItemKinds", {})
    if kinds:
        items = sum(kinds.values())
        parts.append(
            f"{items} TransactWriteItems items ({_ops(kinds)}) x "
            f"{cost.TRANSACTIONAL_WRU_PER_ITEM_KB * item_kb}"
        )
    return " + ".join(parts) or "none"


def summary(result: dict[str, Any]) -> list[str]:
    """The figures the doc's prose would otherwise repeat, generated with the tables."""
    counts_ = result["requestCounts"]
    item_kb = counts_["itemKb"]
    committed = counts_["committed"]
    per_million = result["cost"]["perMillion"]
    lines = [
        f"A committed transaction makes {committed['dynamodbTotal']} DynamoDB requests "
        f"({_ops(committed['dynamodb'])}), {committed['rru']} reads and "
        f"{committed['lambdaTotal']} Lambda invocations, for {committed['wru']} write request "
        f"units: {_write_units(committed, item_kb)} (every item is at most {item_kb} KB). The "
        "target (at most "
        f"{result['target']['maxDynamodbRequests']} requests, no read) is "
        + ("met." if result["target"]["met"] else "NOT met.")
    ]
    others = []
    for key in ("replay", "overdraft", "userBusy"):
        counted = counts_.get(key)
        if counted:
            others.append(
                f"{OUTCOMES[key]}: {counted['dynamodbTotal']} DynamoDB requests "
                f"({_ops(counted['dynamodb'])}), {counted['wru']} WRU "
                f"({_write_units(counted, item_kb)}), {counted['lambdaTotal']} Lambda invocations"
            )
    lines.append("Per other outcome: " + "; ".join(others) + ".")
    all_, error = per_million["ALL"]["committed"], per_million["ERROR"]["committed"]
    biggest = max((line for line in all_ if line != "total"), key=lambda line: all_[line])
    share = all_[biggest] / all_["total"] if all_["total"] else 0
    lines.append(
        f"A million committed transactions cost ${all_['total']:,.2f} at list prices with the "
        f"state machine logging at Level ALL (the default), the largest line being "
        f"{COST_LINES[biggest]} (${all_[biggest]:,.2f}, {share:.0%}), and "
        f"${error['total']:,.2f} at Level ERROR (logs ${error['logs']:,.2f})."
    )
    floor = result["cost"].get("floor")
    if floor and "totalWithoutObservability" not in floor:
        # A result from before the floor was priced on the measured figure's basis.
        lines.append(
            f"The floor as that run priced it is ${floor['total']:,.2f} a million; at Level "
            f"ERROR a committed transaction cost ${error['total']:,.2f}."
        )
    elif floor:
        lines.append(
            f'The floor on the same basis (table "Floor" below: what the product and its '
            f"invariants need, with the deployment's own lines priced as the measured figure "
            f"prices them) is ${floor['total']:,.2f} a million "
            f"(${floor['totalWithoutObservability']:,.2f} without the log lines and traces). "
            f"At Level ERROR a committed transaction costs ${error['total']:,.2f}: "
            f"{_against(error['total'], floor)}."
        )
        bare = cost.without_observability(error)
        lines.append(
            f"Without the log lines and traces on either side, a committed transaction costs "
            f"${bare:,.2f} a million against the floor's "
            f"${floor['totalWithoutObservability']:,.2f}: "
            f"{bare / floor['totalWithoutObservability']:.2f}x."
        )
    cold = result.get("coldStarts")
    if cold:
        target = cold["target"]
        base = cold["baseline"]["withBytecode"]["importAndClientsCpu"]["medianMs"]
        lines.append(
            f"Cold-start work (import and clients, with bytecode, Python {cold['python']}, "
            f"Lambda's environment): the slowest DynamoDB handler, "
            f"{target['worstDynamodbHandler'].rsplit('.', 1)[-1]}, takes "
            f"{target['worstRatio']:.2f}x the CPU of the baseline runs paired with it, which "
            f"build the same clients (the median of the pairs' ratios; "
            f"{target['worstWallRatio']:.2f}x in wall time; the minimal boto3 baseline's median "
            f"is {base:,.0f} ms here) "
            f"(target at most {target['ratio']:.1f}x: "
            + ("met" if target["met"] else "NOT met")
            + ")."
        )
        if cold.get("instructions"):
            counted = [c["ratioToBaseline"] for c in cold["instructions"]["handlers"].values()]
            lines.append(
                f"In instructions executed, which the load does not move, every handler's "
                f"cold-start work is {_span(counted)} the baseline's."
            )
    lines.append(hot_users(result))
    ratios = ", ".join(f"{t} {r:.1f}x" for t, r in result["overheadRatio"].items())
    lines.append(f"Orchestration overhead (saga median / baseline median, interleaved): {ratios}.")
    grown = result.get("growth")
    if grown:
        lines.append(
            f"Growth: {grown['transactions']:,} sequential transactions through one `make run` "
            f"process in {grown['wallSeconds']:,.0f} s, answered {_statuses(grown['statuses'])}, "
            f"in windows of {grown['window']:,}; the server's resident memory after them "
            f"{grown['residentMbAfter']:,.0f} MB. {_growth_against_targets(grown)} "
            f"{_projection(grown)}"
        )
        for answer in grown.get("unexpected", []):
            lines.append(
                f"Growth answer {answer['after']:,} was {answer['status']} (request id "
                f"{answer['requestId']}): {' '.join(str(answer['body']).split())}; "
                f"the server logged "
                f"{'; '.join(answer['serverLog']) or 'nothing with its id'}."
            )
    return lines


def _against(measured: float, floor: dict[str, Any]) -> str:
    """Where a measured total stands against the target and against the floor's ratio."""
    ratio = measured / floor["total"] if floor["total"] else 0
    target = floor["target"]
    allowed = floor.get("targetRatio", cost.FLOOR_TARGET_RATIO)
    if measured <= target:
        return f"under the target of ${target:,.2f}"
    if ratio <= allowed:
        # The floor is the least the invariants need: above the target, no design reaches it.
        unreachable = ", which the floor itself is above" if floor["total"] > target else ""
        return (
            f"above the target of ${target:,.2f}{unreachable}, but {ratio:.2f}x the floor "
            f"(at most {allowed:.2f}x allowed: met)"
        )
    return f"above the target of ${target:,.2f} and {ratio:.2f}x the floor (over {allowed:.2f}x)"


GROWTH_RATIO = 1.2  # the last window's p50 and p99 against the first's, at most
GROWTH_SLOWEST_TO_P99 = 3.0  # the slowest request of every window against its p99, at most
GROWTH_RESIDENT_MB = 400


def _growth_against_targets(grown: dict[str, Any]) -> str:
    windows = grown["windows"]
    first, last = windows[0]["latencyMs"], windows[-1]["latencyMs"]
    p50, p99 = last["p50"] / first["p50"], last["p99"] / first["p99"]
    slowest = max(w["latencyMs"]["max"] / w["latencyMs"]["p99"] for w in windows)
    met = (
        p50 <= GROWTH_RATIO
        and p99 <= GROWTH_RATIO
        and slowest <= GROWTH_SLOWEST_TO_P99
        and grown["residentMbAfter"] < GROWTH_RESIDENT_MB
    )
    return (
        f"Against the targets (last window's p50 and p99 at most {GROWTH_RATIO}x the first's, "
        f"every window's slowest request at most {GROWTH_SLOWEST_TO_P99:.0f}x its p99, under "
        f"{GROWTH_RESIDENT_MB} MB): p50 {p50:.2f}x, p99 {p99:.2f}x, slowest {slowest:.1f}x its "
        f"window's p99 at worst: {'met' if met else 'NOT met'}."
    )


def _projection(grown: dict[str, Any]) -> str:
    if "projectionBehind" not in grown:
        return "(This run did not check the projection.)"
    behind = grown["projectionBehind"]
    if not behind:
        return f"The summaries of all {grown['users']} users reached their last committed entry."
    listed = "; ".join(f"{user}: {why}" for user, why in list(behind.items())[:5])
    return f"The summaries of {len(behind)} of {grown['users']} users did not: {listed}."


def hot_users(result: dict[str, Any]) -> str:
    """Each hot-user phase's 429s and commit rate against its transport's sequential client."""
    sequential = {
        p["transport"]: p["committedPerSecond"]
        for p in result["load"]
        if p["scenario"] == "sequential"
    }
    parts = []
    for phase in result["load"]:
        if not phase["scenario"].startswith("hot-user"):
            continue
        base = sequential.get(phase["transport"])
        ratio = (
            f", {phase['committedPerSecond'] / base:.0%} of the sequential client's" if base else ""
        )
        parts.append(
            f"{phase['transport']} {phase['scenario']}: {phase['statuses'].get('429', 0)} of "
            f"{phase['requests']} answered 429, {phase['committedPerSecond']:.2f} commits/s"
            f"{ratio}, longest wait {_num(phase['lock'].get('longestWaitMs'), 0)} ms"
        )
    return "Hot users: " + "; ".join(parts) + "." if parts else "No hot-user phase ran."


def section_text(result: dict[str, Any]) -> str:
    """A run of the dialects section (`--sections dialects`): when, where and with which sizes,
    then its table."""
    m, git = result["machine"], result["git"]
    lines = [
        f"wallet bench v{result['version']} sections {', '.join(result['sections'])}  "
        f"{result['createdAt']}  git {git['sha'][:10]}"
        + (" (uncommitted changes)" if git["dirty"] else "")
        + ("  QUICK" if result["quick"] else ""),
        f"machine: {m['nproc']} CPUs, {m['cpu']}, Python {m['python']}, moto "
        f"{m['packages'].get('moto')}; load average {m['loadAverageAtStart'][0]} at start, "
        f"{m.get('loadAverageAtEnd', ['?'])[0]} at end",
        f"bench took {result['benchSeconds']} s",
    ]
    return "\n\n".join(["\n".join(lines), _text_table(*dialects.table(result["dialects"]))])


def text(result: dict[str, Any]) -> str:
    return "\n\n".join(
        [header(result), "\n".join(summary(result)), *(_text_table(*t) for t in tables(result))]
    )


def markdown(result: dict[str, Any]) -> str:
    intro = "```\n" + header(result) + "\n```"
    prose = "\n\n".join(summary(result))
    return "\n\n".join([intro, prose, *(_markdown_table(*t) for t in tables(result))])


BEGIN = "<!-- bench:begin (generated by python -m tests.bench --update-doc; do not edit) -->"
END = "<!-- bench:end -->"


def update_doc(result: dict[str, Any], doc: Path) -> None:
    """Replace what stands between the markers with this result's tables."""
    text_ = doc.read_text()
    start, end = text_.index(BEGIN) + len(BEGIN), text_.index(END)
    doc.write_text(text_[:start] + "\n\n" + markdown(result) + "\n\n" + text_[end:])


def _ratio(a: float | None, b: float | None) -> str:
    if not a or b is None:
        return "-"
    return f"{b / a:.2f}x"


def _cost_total(result: dict[str, Any], outcome: str) -> float | None:
    """An outcome's total at Level ALL, in either shape of `perMillion` (by level from v3)."""
    per_million = result["cost"]["perMillion"]
    per_million = per_million.get("ALL", per_million)
    return per_million.get(outcome, {}).get("total")


def compare_warnings(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Why two results may not compare: another schema or version, a --quick run on one side,
    uncommitted changes in either tree."""
    warnings = []
    for field in ("schema", "version"):
        if a.get(field) != b.get(field):
            warnings.append(
                f"warning: {field} differs ({a.get(field)} vs {b.get(field)}): "
                "figures that moved or changed meaning are left out or may not compare"
            )
    if bool(a.get("quick")) != bool(b.get("quick")):
        quick = "a" if a.get("quick") else "b"
        warnings.append(f"warning: {quick} is a --quick run (tiny sizes); the other is not")
    for name, result in (("a", a), ("b", b)):
        if result.get("git", {}).get("dirty"):
            warnings.append(
                f"warning: {name} ran with uncommitted changes at "
                f"{result['git'].get('sha', '')[:10]}: it measured no commit exactly"
            )
    return warnings


def compare(a: dict[str, Any], b: dict[str, Any]) -> str:
    """The two results' figures side by side, after any warnings from `compare_warnings`."""
    rows: list[list[str]] = []

    def add(name: str, first: Any, second: Any) -> None:
        rows.append([name, _num(first), _num(second), _ratio(first, second)])

    phases_b = {(p["transport"], p["scenario"]): p for p in b["load"]}
    for phase in a["load"]:
        other = phases_b.get((phase["transport"], phase["scenario"]))
        if other is None:
            continue
        name = f"{phase['transport']} {phase['scenario']}"
        add(f"{name} req/s", phase["throughput"], other["throughput"])
        add(f"{name} p50 ms", phase["latencyMs"].get("p50"), other["latencyMs"].get("p50"))
        add(f"{name} p95 ms", phase["latencyMs"].get("p95"), other["latencyMs"].get("p95"))
        add(f"{name} 429s", phase["statuses"].get("429", 0), other["statuses"].get("429", 0))
        add(f"{name} 201/s", phase["committedPerSecond"], other["committedPerSecond"])
        add(
            f"{name} longest wait ms",
            phase["lock"].get("longestWaitMs", phase["lock"]["waitMsAcquired"].get("max")),
            other["lock"].get("longestWaitMs", other["lock"]["waitMsAcquired"].get("max")),
        )
    for outcome in OUTCOMES:
        if outcome in a["requestCounts"] and outcome in b["requestCounts"]:
            add(
                f"{outcome} DynamoDB requests",
                a["requestCounts"][outcome]["dynamodbTotal"],
                b["requestCounts"][outcome]["dynamodbTotal"],
            )
            add(
                f"{outcome} Lambda invocations",
                a["requestCounts"][outcome]["lambdaTotal"],
                b["requestCounts"][outcome]["lambdaTotal"],
            )
            add(
                f"{outcome} USD per million (Level ALL)",
                _cost_total(a, outcome),
                _cost_total(b, outcome),
            )
            add(
                f"{outcome} WRU",
                a["requestCounts"][outcome].get("wru"),
                b["requestCounts"][outcome].get("wru"),
            )
    if "growth" in a and "growth" in b:
        add("growth last/first p50", a["growth"]["lastToFirstP50"], b["growth"]["lastToFirstP50"])
        add("growth resident MB after", a["growth"]["residentMbAfter"],
            b["growth"]["residentMbAfter"])  # fmt: skip
    for transport, ratio in a.get("overheadRatio", {}).items():
        add(f"overhead ratio {transport}", ratio, b.get("overheadRatio", {}).get(transport))
    if "coldStarts" in a and "coldStarts" in b:
        for module, measured in a["coldStarts"]["handlers"].items():
            other = b["coldStarts"]["handlers"].get(module)
            if other:
                name = module.rsplit(".", 1)[-1]
                add(f"cold start {name} / baseline, CPU, .pyc",
                    measured["withBytecode"]["cpuRatioToBaseline"],
                    other["withBytecode"]["cpuRatioToBaseline"])  # fmt: skip
    elif "imports" in a and "imports" in b:
        for module, measured in a["imports"]["modules"].items():
            other = b["imports"]["modules"].get(module)
            if other:
                add(f"import {module.rsplit('.', 1)[-1]} ms", measured["medianMs"],
                    other["medianMs"])  # fmt: skip
    title = (
        f"{a['git']['sha'][:10]} ({a['createdAt']}) -> {b['git']['sha'][:10]} ({b['createdAt']})"
    )
    table = _text_table(title, ["figure", "a", "b", "b/a"], rows)
    return "\n".join([*compare_warnings(a, b), table])


# POST /transfers (the `transfers` section: a full run's, or `--sections transfers` alone) -------


def transfer_header(section: dict[str, Any]) -> str:
    m, git, sizes = section["machine"], section["git"], section["sizes"]
    clients, requests = sizes["hotPair"]
    return "\n".join(
        [
            f"transfers v{section['version']}  {section['createdAt']}  git {git['sha'][:10]}"
            + (" (uncommitted changes)" if git["dirty"] else ""),
            f"machine: nproc {m['nproc']}, {m['cpu']}, Python {m['python']}; load average "
            f"{m['loadAverageAtStart'][0]} at start, {m.get('loadAverageAtEnd', ['?'])[0]} at end",
            f"sizes: request counts x{sizes['countRepetitions']}; sequential transfer client "
            f"{sizes['sequential']}; hot pair {requests} with {clients} clients; INIT priced "
            f"at {section['cost']['initMs']} ms ({section.get('initMsFrom', '?')})",
            f"section took {section['benchSeconds']} s",
        ]
    )


def transfer_summary(section: dict[str, Any]) -> list[str]:
    counted = section["requestCounts"]["committed"]
    transaction = section["cost"]["transactionCommitted"]
    per = section["cost"]["perMillion"]
    hot = section["hotPair"]
    sequential, pair = section["load"]
    return [
        f"A committed transfer: {counted['dynamodbTotal']} DynamoDB requests "
        f"({_ops(counted['dynamodb'])}), {_num(counted['wru'], 0)} write units, "
        f"{counted['lambdaTotal']} Lambda invocations and {counted['events']} events, against a "
        f"committed transaction's {transaction['requestCounts']['dynamodbTotal']} requests, "
        f"{_num(transaction['requestCounts']['wru'], 0)} write units, "
        f"{transaction['requestCounts']['lambdaTotal']} invocations and "
        f"{transaction['requestCounts']['events']} event; "
        f"${_usd(per['ERROR']['committed']['total'])} a million at Level ERROR "
        f"(${_usd(per['ALL']['committed']['total'])} at ALL), against "
        f"${_usd(transaction['perMillion']['ERROR']['total'])} "
        f"(${_usd(transaction['perMillion']['ALL']['total'])}) for a committed transaction.",
        f"Hot pair ({pair['scenario']}): {pair['committedPerSecond']:.2f} commits/s against "
        f"{sequential['committedPerSecond']:.2f} for the sequential transfer client, "
        f"{_share(hot['shareOfSequential'])} of it (target at least "
        f"{hot['targetShareOfSequential']:.0%}); {pair['statuses'].get('429', 0)} of "
        f"{pair['requests']} answered 429, {_share(hot['share429'])} (target at most "
        f"{_share(hot['targetShare429'])}); longest lock wait "
        f"{_num(pair['lock'].get('longestWaitMs'), 0)} ms; targets "
        + ("met." if hot["met"] else "NOT met."),
    ]


def transfer_tables(section: dict[str, Any]) -> list[Table]:
    counts_ = section["requestCounts"]
    outcomes = [o for o in ("committed", "replay", "overdraft") if o in counts_]
    request_rows = [
        [
            OUTCOMES[o],
            _ops(counts_[o]["dynamodb"]),
            str(counts_[o]["dynamodbTotal"]),
            _num(counts_[o]["wru"], 0),
            _num(counts_[o]["rru"], 0),
            _ops(counts_[o]["lambda"]),
            str(counts_[o]["events"]),
            _usd(section["cost"]["perMillion"]["ALL"][o]["total"]),
            _usd(section["cost"]["perMillion"]["ERROR"][o]["total"]),
        ]
        for o in outcomes
    ]
    transaction = section["cost"]["transactionCommitted"]
    request_rows.append(
        [
            "committed transaction (the same run)",
            "-",
            str(transaction["requestCounts"]["dynamodbTotal"]),
            _num(transaction["requestCounts"]["wru"], 0),
            _num(transaction["requestCounts"]["rru"], 0),
            str(transaction["requestCounts"]["lambdaTotal"]),
            str(transaction["requestCounts"]["events"]),
            _usd(transaction["perMillion"]["ALL"]["total"]),
            _usd(transaction["perMillion"]["ERROR"]["total"]),
        ]
    )
    cost_rows = [
        [COST_LINES.get(line, line)]
        + [
            _usd(section["cost"]["perMillion"][level]["committed"].get(line))
            for level in cost.LOG_LEVELS
        ]
        for line in section["cost"]["perMillion"]["ALL"]["committed"]
    ]
    load_rows = [
        [
            phase["scenario"],
            str(phase["clients"]),
            str(phase["requests"]),
            f"{phase['committedPerSecond']:.2f}",
            _num(phase["latencyMs"].get("p50"), 0),
            _num(phase["latencyMs"].get("p95"), 0),
            _num(phase["latencyMs"].get("max"), 0),
            _statuses(phase["statuses"]) + _unexpected(phase["errors"]),
            _num(phase["lock"]["waitMsAcquired"].get("p50"), 0),
            _num(phase["lock"].get("longestWaitMs"), 0),
            _share(phase["share429"]),
            str(phase["lock"]["retries"]),
            str(phase["invariantViolations"]),
        ]
        for phase in section["load"]
    ]
    return [
        ("Requests per transfer outcome (embedded runtime), and the cost per million",
         ["outcome", "DynamoDB requests", "total", "WRU", "RRU", "Lambda invocations", "events",
          "$/M at ALL", "$/M at ERROR"], request_rows),
        ("Cost per million committed transfers, by line (us-east-1)",
         ["line", *(f"Level {level}" for level in cost.LOG_LEVELS)], cost_rows),
        ("Sequential transfer client and hot pair (embedded runtime)",
         ["scenario", "clients", "requests", "commits/s", "p50 ms", "p95 ms", "max ms",
          "statuses", "lock wait p50 ms", "longest wait ms", "429 share", "AcquireLocks retries",
          "invariant violations"], load_rows),
    ]  # fmt: skip


def transfer_text(section: dict[str, Any]) -> str:
    return "\n\n".join(
        [
            transfer_header(section),
            "\n".join(transfer_summary(section)),
            *(_text_table(*t) for t in transfer_tables(section)),
        ]
    )


def transfer_markdown(section: dict[str, Any]) -> str:
    intro = "```\n" + transfer_header(section) + "\n```"
    prose = "\n\n".join(transfer_summary(section))
    return "\n\n".join([intro, prose, *(_markdown_table(*t) for t in transfer_tables(section))])


TRANSFERS_BEGIN = (
    "<!-- bench-transfers:begin (generated by python -m tests.bench --update-doc; do not edit) -->"
)
TRANSFERS_END = "<!-- bench-transfers:end -->"


def update_transfer_doc(section: dict[str, Any], doc: Path) -> None:
    """Replace what stands between the transfer markers with this section's tables."""
    text_ = doc.read_text()
    start = text_.index(TRANSFERS_BEGIN) + len(TRANSFERS_BEGIN)
    end = text_.index(TRANSFERS_END)
    doc.write_text(text_[:start] + "\n\n" + transfer_markdown(section) + "\n\n" + text_[end:])
