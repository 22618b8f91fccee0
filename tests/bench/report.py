"""The bench's tables: printed as text after a run, as Markdown for docs/performance.md, and as a
comparison of two result files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.bench import cost

Table = tuple[str, list[str], list[list[str]]]

OUTCOMES = {
    "committed": "committed (201)",
    "replay": "replay (201, Idempotent-Replayed)",
    "overdraft": "rejected overdraft (422)",
    "userBusy": "user busy (429, lock held)",
}
COST_LINES = {
    "apiGateway": "API Gateway REST requests",
    "stepFunctionsRequests": "Step Functions Express requests",
    "stepFunctionsDuration": "Step Functions Express duration",
    "lambdaRequests": "Lambda requests",
    "lambdaDuration": "Lambda duration",
    "dynamodbWrites": "DynamoDB write request units",
    "dynamodbReads": "DynamoDB read request units",
    "logs": "CloudWatch Logs ingestion (Level ALL)",
    "xray": "X-Ray traces (5% sampled)",
    "eventsForwarderRequests": "Stream consumers' Lambda requests (forwarder and summaries "
    "projection, 1 each per entry sent alone)",
    "eventsForwarderDuration": "Stream consumers' Lambda duration",
    "eventBridgeEvents": "EventBridge custom events (1 per ledger entry)",
    "summariesProjectionWrites": "Summaries projection write units (6 per ledger entry)",
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
                _statuses(phase["statuses"]),
                _num(lock["waitMsAcquired"].get("p50"), 0),
                _num(lock["waitMsAcquired"].get("p95"), 0),
                _num(lock["waitMsAcquired"].get("max"), 0),
                _num(lock["retries"]),
                _num(lock["lambdaInvocationsPerRequest"], 2),
                _num(phase.get("dynamodbRequestsPerCommitted"), 2),
                _num(phase["invariantViolations"]),
            ]
        )
    found.append(
        (
            "Throughput and latency (ms; lock wait = AcquireLock first try -> lock held)",
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
                "log bytes",
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
    imports = result["imports"]
    cold = imports.get("coldRepetitions", 0)
    runtime = result["lambdaRuntime"]
    found.append(
        (
            f"Import time per handler module (new interpreter, Python {result['machine']['python']}"
            f" here; Lambda runs {runtime['runtime']} on {runtime['architecture']}; ms)",
            [
                "module",
                f"with .pyc, median of {imports['repetitions']}",
                "runs",
                f"no .pyc, median of {cold}" if cold else "no .pyc (not measured)",
            ],
            [
                [
                    module,
                    _num(m["medianMs"]),
                    " ".join(_num(r) for r in m["runsMs"]),
                    _num(m.get("coldMedianMs")),
                ]
                for module, m in imports["modules"].items()
            ],
        )
    )
    found.append(
        (
            f"Where {imports['slowest']}'s import time goes (python -X importtime, self time, "
            "with .pyc)",
            ["top-level package", "ms"],
            [[p["package"], _num(p["ms"])] for p in imports["heaviestPackages"]],
        )
    )
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
    per_million = result["cost"]["perMillion"]
    assumptions = result["cost"]["assumptions"]
    labels = {
        **COST_LINES,
        "lambdaDuration": f"Lambda duration (arm64, {assumptions['lambdaMemoryMb']} MB)",
        "xray": f"X-Ray traces ({assumptions['xraySampledFraction']:.0%} sampled)",
    }
    found.append(
        (
            "Cost per million requests, us-east-1 list prices (USD)",
            ["line", *[OUTCOMES[o] for o in per_million]],
            [
                [label, *[_usd(per_million[o].get(line)) for o in per_million]]
                for line, label in labels.items()
            ],
        )
    )
    found.append(
        (
            "Prices used (tests/bench/cost.py)",
            ["price", "USD", "unit", "source"],
            [
                [name, f"{price['usd']:.10g}", price["unit"], f"<{price['source']}>"]
                for name, price in result["cost"]["prices"].items()
            ],
        )
    )
    scenarios = result["cost"].get("retryScenarios")
    if scenarios:
        found.append(
            (
                "AcquireLock retry on UserBusyError: what a request that never gets the lock costs",
                [
                    "MaxAttempts",
                    "IntervalSeconds",
                    "BackoffRate",
                    "MaxDelaySeconds",
                    "max wait s",
                    "expected wait s",
                    "Lambda invocations",
                    "USD per million 429s",
                ],
                [
                    [
                        _num(s["retry"].get("MaxAttempts")),
                        _num(s["retry"].get("IntervalSeconds")),
                        _num(s["retry"].get("BackoffRate")),
                        _num(s["retry"].get("MaxDelaySeconds")),
                        _num(s["maxWaitSeconds"], 2),
                        _num(s["expectedWaitSeconds"], 2),
                        _num(s["lambdaInvocationsPer429"]),
                        f"{s['costPerMillion429']:,.2f}",
                    ]
                    for s in scenarios
                ],
            )
        )
    leases = result["cost"].get("leaseScenarios")
    if leases:
        rates = list(leases[0]["rejectedPerCrash"])
        found.append(
            (
                "Lease: what one crashed lock holder costs its user (a 429 priced at the "
                "configured retry's expected cost)",
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
    return found


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
            f", retry variant {sizes['retry_variant_requests']} with {sizes['hot_user'][0][0]}"
            " clients"
            if sizes.get("retry_variant") and "retry_variant_requests" in sizes
            else ""
        )
        + f"; {sizes['overhead_pairs']} baseline/saga pairs "
        f"per transport; request counts x{sizes['count_repetitions']}; imports x"
        f"{sizes['import_repetitions']} with .pyc, x{sizes['cold_import_repetitions']} without"
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
        f"lease {result['leaseSeconds']} s; state machine TimeoutSeconds "
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
    total = per_million["committed"]["total"]
    biggest = max(
        (line for line in per_million["committed"] if line != "total"),
        key=lambda line: per_million["committed"][line],
    )
    share = per_million["committed"][biggest] / total if total else 0
    lines.append(
        f"A million committed transactions cost ${total:,.2f} at list prices; the largest line is "
        f"{COST_LINES[biggest]} (${per_million['committed'][biggest]:,.2f}, {share:.0%})."
    )
    ratios = ", ".join(f"{t} {r:.1f}x" for t, r in result["overheadRatio"].items())
    lines.append(f"Orchestration overhead (saga median / baseline median, interleaved): {ratios}.")
    grown = result.get("growth")
    if grown:
        lines.append(
            f"Growth: {grown['transactions']:,} sequential transactions through one `make run` "
            f"process in {grown['wallSeconds']:,.0f} s, answered {_statuses(grown['statuses'])}; "
            f"the last {grown['window']:,}'s p50 is {grown['lastToFirstP50']:.2f}x the first "
            f"{grown['window']:,}'s, and the server's resident memory after them "
            f"{grown['residentMbAfter']:,.0f} MB."
        )
    return lines


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
                f"{outcome} USD per million",
                a["cost"]["perMillion"][outcome]["total"],
                b["cost"]["perMillion"][outcome]["total"],
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
    for module, measured in a["imports"]["modules"].items():
        other = b["imports"]["modules"].get(module)
        if other:
            name = module.rsplit(".", 1)[-1]
            add(f"import {name} ms", measured["medianMs"], other["medianMs"])
            if "coldMedianMs" in measured and "coldMedianMs" in other:
                add(f"import {name} ms, no .pyc", measured["coldMedianMs"], other["coldMedianMs"])
    title = (
        f"{a['git']['sha'][:10]} ({a['createdAt']}) -> {b['git']['sha'][:10]} ({b['createdAt']})"
    )
    table = _text_table(title, ["figure", "a", "b", "b/a"], rows)
    return "\n".join([*compare_warnings(a, b), table])
