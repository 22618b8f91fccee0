"""The transaction machine in both query languages on one run: the JSONata definition the template
deploys against the JSONPath one it replaced, by definition (size, states) and by execution time.

The JSONPath definition is a fixture beside this module, `baseline/transaction.jsonpath.asl.json`
(the machine as it was before the rewrite, with the same placeholders), rather than read from git:
a shallow clone (CI's usual `--depth 1`) or a source archive has no history, and the bench must run
from either. It is rendered with the substitutions the template gives the deployed machine, created
next to it in the same runtime with the same type and logging, and the executions alternate
between the two (swapping which goes first every pair), so both see the same load. The stream
consumers are paused meanwhile (as for the overhead phase), so neither dialect pays for the
projection's background writes.

Per execution: its own duration (DescribeExecution's start to stop: what Express bills), the
process's CPU time around it (every thread of the runtime: the interpreter, the handlers it
invokes; the steadier figure on a shared machine), and the client's wait for the answer.
"""

from __future__ import annotations

import json
import re
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

from tests.bench.load import Job
from tests.bench.stats import summary_ms

ROOT = Path(__file__).resolve().parents[2]
ASL_PATH = ROOT / "statemachine" / "transaction.asl.json"
BASELINE_PATH = Path(__file__).parent / "baseline" / "transaction.jsonpath.asl.json"
MACHINE = "TransactionStateMachine"
BASELINE_NAME = "TransactionStateMachineJsonPathBaseline"
# The bar: a JSONata execution at most this multiple of the JSONPath one's time.
TARGET_RATIO = 1.1
DIALECTS = ("jsonata", "jsonpath")
KINDS = ("execution", "cpu", "client")


class DialectError(RuntimeError):
    """An execution of either machine did not commit: the two would not compare."""


def definition_figures(text: str) -> dict[str, Any]:
    """A definition's size as written (2-space JSON), compact (what a deploy could send) and in
    lines, and its number of states."""
    document = json.loads(text)
    return {
        "queryLanguage": document.get("QueryLanguage", "JSONPath"),
        "bytes": len(text.encode()),
        "compactBytes": len(json.dumps(document, separators=(",", ":")).encode()),
        "lines": text.count("\n"),
        "states": len(document["States"]),
    }


def substitutions(raw: str, rendered: str) -> dict[str, str]:
    """The value each `${Name}` of `raw` has in `rendered` (the same text with them replaced).

    Raises: ValueError if `rendered` is not `raw` with its placeholders replaced.
    """
    pattern, seen = [], set()
    for piece in re.split(r"(\$\{[A-Za-z0-9]+\})", raw):
        name = piece[2:-1] if piece.startswith("${") else None
        if name is None:
            pattern.append(re.escape(piece))
        elif name in seen:
            pattern.append(f"(?P={name})")
        else:
            seen.add(name)
            pattern.append(f'(?P<{name}>[^"]*)')
    match = re.fullmatch("".join(pattern), rendered, re.S)
    if match is None:
        raise ValueError("the rendered definition is not the raw one with its placeholders set")
    return match.groupdict()


def render(raw: str, values: dict[str, str]) -> str:
    """`raw` with each `${Name}` replaced; raises KeyError for a placeholder without a value."""
    return re.sub(r"\$\{([A-Za-z0-9]+)\}", lambda m: values[m.group(1)], raw)


def baseline_definition(spec: Any) -> str:
    """The JSONPath fixture rendered as the template renders the deployed machine `spec`."""
    return render(BASELINE_PATH.read_text(), substitutions(ASL_PATH.read_text(), spec.definition))


def _create_baseline(aws: Any) -> str:
    from moto.logs.models import logs_backends

    from infra.local.cloudformation.template import ACCOUNT_ID
    from infra.local.runtime import REGION

    spec = aws.template.state_machines[MACHINE]
    arn = str(
        aws.stepfunctions.create_state_machine(
            name=BASELINE_NAME,
            definition=baseline_definition(spec),
            roleArn=spec.role_arn,
            type=spec.type,
        )["stateMachineArn"]
    )
    if spec.logging is not None:  # the same log writing as the deployed machine
        aws.state_machine_logs.configure(logs_backends[ACCOUNT_ID][REGION], arn, spec.logging)
    return arn


def _one(aws: Any, arn: str, job: Job) -> tuple[float, float, float]:
    """(execution, CPU, client) seconds of one committed transaction on machine `arn`."""
    from infra.local.stepfunctions import executions, interpreter

    cpu, started = time.process_time(), time.perf_counter()
    # As LocalAws.start_sync_execution waits for the template's machines.
    answer = executions.start_sync_execution(
        aws.stepfunctions,
        arn,
        job.execution_input(),
        status_reader=interpreter.moto_status,
        longest_poll=0.01,
    )
    waited, spent = time.perf_counter() - started, time.process_time() - cpu
    if answer["status"] != "SUCCEEDED":
        raise DialectError(
            f"{arn.rsplit(':', 1)[-1]}: {answer['status']} {answer.get('error', '')}".strip()
        )
    return (answer["stopDate"] - answer["startDate"]).total_seconds(), spent, waited


def measure(aws: Any, pairs: int, ticker: Any = None) -> dict[str, Any]:
    """Both definitions' figures and `pairs` sequential transactions on each, interleaved.

    Raises: DialectError if a transaction of either machine did not commit.
    """
    arns = {"jsonata": aws.state_machine_arns[MACHINE], "jsonpath": _create_baseline(aws)}
    samples: dict[str, dict[str, list[float]]] = {
        dialect: {kind: [] for kind in KINDS} for dialect in DIALECTS
    }
    aws.streams.stop()
    try:
        for dialect in DIALECTS:  # the first execution of each parses and caches its definition
            _one(aws, arns[dialect], Job(f"dialect-warm-{dialect}", uuid.uuid4().hex))
        for index in range(pairs):
            order = DIALECTS if index % 2 == 0 else DIALECTS[::-1]
            for dialect in order:
                job = Job(f"dialect-{dialect}-{index}", uuid.uuid4().hex)
                for kind, seconds in zip(KINDS, _one(aws, arns[dialect], job), strict=True):
                    samples[dialect][kind].append(seconds)
            if ticker is not None:
                ticker.advance()
    finally:
        aws.streams.start()
        aws.stepfunctions.delete_state_machine(stateMachineArn=arns["jsonpath"])
    measured = {
        dialect: {f"{kind}Ms": summary_ms(values) for kind, values in samples[dialect].items()}
        for dialect in DIALECTS
    }
    return {
        "pairs": pairs,
        "baseline": str(BASELINE_PATH.relative_to(ROOT)),
        "definition": {
            "jsonata": definition_figures(ASL_PATH.read_text()),
            "jsonpath": definition_figures(BASELINE_PATH.read_text()),
        },
        **measured,
        "ratioOfMedians": {
            kind: _ratio(measured["jsonata"][f"{kind}Ms"], measured["jsonpath"][f"{kind}Ms"])
            for kind in KINDS
        },
        # Each pair ran back to back: its ratio cancels what the load did to both, so the median
        # of the pairs' ratios moves less from run to run than the ratio of the medians.
        "medianPairRatio": {
            kind: _median_ratio(samples["jsonata"][kind], samples["jsonpath"][kind])
            for kind in KINDS
        },
        "targetRatio": TARGET_RATIO,
    }


def _median_ratio(jsonata: list[float], jsonpath: list[float]) -> float | None:
    ratios = [a / b for a, b in zip(jsonata, jsonpath, strict=True) if b]
    return round(statistics.median(ratios), 3) if ratios else None


def _ratio(jsonata: dict[str, Any], jsonpath: dict[str, Any]) -> float | None:
    if not jsonpath.get("p50"):
        return None
    return round(jsonata["p50"] / jsonpath["p50"], 3)


def table(measured: dict[str, Any]) -> tuple[str, list[str], list[list[str]]]:
    """The report's table: one row per dialect, then JSONata's ratio to JSONPath."""
    headers = ["dialect", "bytes", "compact bytes", "lines", "states", "execution p50 ms",
               "execution p95 ms", "CPU p50 ms", "client p50 ms"]  # fmt: skip
    rows = []
    for dialect in DIALECTS:
        definition = measured["definition"][dialect]
        rows.append(
            [definition["queryLanguage"], str(definition["bytes"]),
             str(definition["compactBytes"]), str(definition["lines"]),
             str(definition["states"]), _ms(measured[dialect]["executionMs"].get("p50")),
             _ms(measured[dialect]["executionMs"].get("p95")),
             _ms(measured[dialect]["cpuMs"].get("p50")),
             _ms(measured[dialect]["clientMs"].get("p50"))]
        )  # fmt: skip
    ratios = measured["ratioOfMedians"]
    sizes = [
        _times(measured["definition"]["jsonata"][key], measured["definition"]["jsonpath"][key])
        for key in ("bytes", "compactBytes", "lines", "states")
    ]
    rows.append(["JSONata / JSONPath", *sizes, _x(ratios["execution"]), "",
                 _x(ratios["cpu"]), _x(ratios["client"])])  # fmt: skip
    paired = measured.get("medianPairRatio")
    if paired:
        rows.append(["median of the pairs' ratios", "", "", "", "", _x(paired["execution"]), "",
                     _x(paired["cpu"]), _x(paired["client"])])  # fmt: skip
    title = (
        f"The transaction machine in each query language ({measured['pairs']} sequential "
        f"transactions each, interleaved; target: JSONata at most {measured['targetRatio']}x)"
    )
    return title, headers, rows


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _times(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"
