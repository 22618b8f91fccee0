"""The bench's tables: printed as text after a run, as Markdown for docs/performance.md, and as a
comparison of two result files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    "lambdaDuration": "Lambda duration (arm64, 256 MB)",
    "dynamodbWrites": "DynamoDB write request units",
    "dynamodbReads": "DynamoDB read request units",
    "logs": "CloudWatch Logs ingestion (Level ALL)",
    "xray": "X-Ray traces (5% sampled)",
    "total": "total",
}


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
    baseline = result["baseline"]
    ratios = result["overheadRatio"]
    found.append(
        (
            "Target and orchestration overhead",
            ["figure", "value"],
            [
                [
                    "DynamoDB requests per committed transaction (target <= 4, no read)",
                    f"{target['dynamodbRequests']} requests, {target['reads']} reads: "
                    + ("met" if target["met"] else "NOT met"),
                ],
                [
                    "baseline (same requests, use cases called directly) p50 / p95 ms",
                    f"{_num(baseline['latencyMs']['p50'])} / {_num(baseline['latencyMs']['p95'])}",
                ],
                [
                    "baseline DynamoDB requests per transaction",
                    _ops({k: round(v, 2) for k, v in baseline["dynamodbPerTransaction"].items()}),
                ],
                *[
                    [f"overhead ratio, {transport} saga p50 / baseline p50", f"{ratio:.1f}x"]
                    for transport, ratio in ratios.items()
                ],
            ],
        )
    )
    imports = result["imports"]
    found.append(
        (
            f"Import time per handler module (new interpreter, median of {imports['repetitions']})",
            ["module", "median ms", "runs ms"],
            [
                [module, _num(m["medianMs"]), " ".join(_num(r) for r in m["runsMs"])]
                for module, m in imports["modules"].items()
            ],
        )
    )
    found.append(
        (
            f"Where {imports['slowest']}'s import time goes (python -X importtime, self time)",
            ["top-level package", "ms"],
            [[p["package"], _num(p["ms"])] for p in imports["heaviestPackages"]],
        )
    )
    per_million = result["cost"]["perMillion"]
    found.append(
        (
            "Cost per million requests, us-east-1 list prices (USD)",
            ["line", *[OUTCOMES[o] for o in per_million]],
            [
                [label, *[f"{per_million[o][line]:,.2f}" for o in per_million]]
                for line, label in COST_LINES.items()
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
        f"lease {result['leaseSeconds']} s; AcquireLock retry on UserBusyError: "
        f"{result['acquireLockRetry']}",
    ]
    if http.get("available") is False:
        lines.append(f"HTTP scenarios not run: {http['reason']}")
    lines.append(f"bench took {result['benchSeconds']} s")
    return "\n".join(lines)


def text(result: dict[str, Any]) -> str:
    return "\n\n".join([header(result), *(_text_table(*t) for t in tables(result))])


def markdown(result: dict[str, Any]) -> str:
    intro = "```\n" + header(result) + "\n```"
    return "\n\n".join([intro, *(_markdown_table(*t) for t in tables(result))])


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


def compare(a: dict[str, Any], b: dict[str, Any]) -> str:
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
    for transport, ratio in a["overheadRatio"].items():
        add(f"overhead ratio {transport}", ratio, b["overheadRatio"].get(transport))
    for module, measured in a["imports"]["modules"].items():
        other = b["imports"]["modules"].get(module)
        if other:
            add(f"import {module.rsplit('.', 1)[-1]} ms", measured["medianMs"], other["medianMs"])
    title = (
        f"{a['git']['sha'][:10]} ({a['createdAt']}) -> {b['git']['sha'][:10]} ({b['createdAt']})"
    )
    return _text_table(title, ["figure", "a", "b", "b/a"], rows)
