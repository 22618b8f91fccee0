"""Each handler's cold-start work, timed in a Lambda-like process beside a minimal boto3 baseline.

A cold start runs the handler module's import, which builds its clients. Each run is a new
interpreter of the runtime's version (python3.12 where this machine has one; the version used is
reported) started the way Lambda's runtime starts one:

- only the bundle on sys.path: a task root holding the `functions` package and requirements.txt
  installed by pip for this machine (`-S`: no site-packages), as `make build` lays out
  .build/lambda for the runtime's architecture;
- the variables Lambda sets (AWS_LAMBDA_FUNCTION_NAME, AWS_EXECUTION_ENV, LAMBDA_TASK_ROOT,
  _HANDLER, AWS_REGION, AWS_LAMBDA_FUNCTION_MEMORY_SIZE, AWS_XRAY_DAEMON_ADDRESS, the role's
  credentials...) and the function's environment from the template. The X-Ray SDK sees it runs
  in Lambda and, as there, builds no sampler or client of its own;
- with bytecode (the tree compiled by compileall with unchecked hashes, as `make build` does)
  and without (no .pyc, PYTHONDONTWRITEBYTECODE=1: each module compiled on import, as when
  `make build` found no interpreter of the runtime's version).

"import" is the handler module's import; "import and clients" adds the clients its repositories
build (functions.repositories' client factories that the import brought in). The handlers build
their clients at import, so the second figure equals the first but for a cache hit; the probe
still calls the factories, so that a handler which forgot to would be timed the same. The
baseline is a module that imports boto3 and builds the handler's own clients
(boto3.client("dynamodb") for most), nothing else. Each handler run is paired with a baseline
run beside it (in turn before and after it), and the handler's figure is the median of the
per-pair ratios: on a machine whose load drifts, a pair sees the same load, where the medians of
two samples taken minutes apart need not. Figures are this machine's CPU, not Lambda's (a
256 MB function has a fraction of a vCPU): the ratio to the baseline is the figure. Where this
machine has valgrind, each handler's cold start (with bytecode) is also counted in instructions
executed, one run each beside the baseline of the same clients: a count the load does not move.

`python -m tests.bench.coldstart --tracing` times the tracing options of docs/tracing.md in the
same harness, with their packages installed from PyPI into a temporary directory.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

from infra.build import compile_command, find_compiler, interpreter_version

ROOT = Path(__file__).resolve().parents[2]
HANDLERS_DIR = ROOT / "functions" / "handlers"
TEMPLATE_PATH = ROOT / "infra" / "template.yaml"
REQUIREMENTS = ROOT / "requirements.txt"
BASELINE = "bench_baseline"
TARGET_RATIO = 1.2  # a DynamoDB handler's cold-start work, with bytecode, over the baseline's
# The ratio the target is judged on: of the medians of the process's CPU time. The wall time is
# measured and reported too, but on a machine whose cores are shared it measures the neighbours as
# much as the import; the cold start's work is CPU (the files are in the page cache), and on
# Lambda's own vCPU share the wall time follows it.
JUDGED_RATIO = "cpuRatioToBaseline"
VARIANTS = ("withBytecode", "withoutBytecode")
# What counts a cold start's instructions executed (without simulating the caches).
VALGRIND = ("valgrind", "--tool=cachegrind", "--cache-sim=no")

# The factories whose clients a handler builds at import (functions/repositories).
CLIENT_FACTORIES = (
    "functions.repositories.dynamodb",
    "functions.repositories.event_bus",
    "functions.repositories.secrets",
)
# The boto3 service of each client factory's client.
SERVICES = {"dynamodb": "dynamodb", "event_bus": "events", "secrets": "secretsmanager"}
BASELINE_SOURCE = f'''"""The least a handler does at a cold start: boto3, the handler's clients."""
import boto3

SERVICES = {SERVICES!r}
CLIENTS = []


def clients(*names):
    CLIENTS.extend(boto3.client(SERVICES[name]) for name in names)
    # Named from each client built (its own service), not an echo of the names asked for.
    named = {{service: name for name, service in SERVICES.items()}}
    return [named[client.meta.service_model.service_name] for client in CLIENTS]


def lambda_handler(event, context):
    return {{}}
'''
# Run by the interpreter under test: the import, then the clients, each timed; what it loaded.
PROBE = """
import importlib, json, sys, time
started, cpu_started = time.perf_counter(), time.process_time()
module = importlib.import_module(sys.argv[1])
imported, cpu_imported = time.perf_counter(), time.process_time()
built = []
if hasattr(module, "clients"):
    built = module.clients(*filter(None, sys.argv[3].split(",")))
else:
    for name in sys.argv[2].split(","):
        if name in sys.modules:
            factory = sys.modules[name]
            factory.client()
            built.append(name.rsplit(".", 1)[-1])
done, cpu_done = time.perf_counter(), time.process_time()
print(json.dumps({
    "importMs": (imported - started) * 1000,
    "importAndClientsMs": (done - started) * 1000,
    "importCpuMs": (cpu_imported - cpu_started) * 1000,
    "importAndClientsCpuMs": (cpu_done - cpu_started) * 1000,
    "clients": built,
    "modules": len(sys.modules),
    "xrayContext": type(sys.modules["aws_xray_sdk.core"].xray_recorder.context).__name__
    if "aws_xray_sdk.core" in sys.modules else None,
}))
"""


# Per module, per variant, the probes' answers in the order they ran.
Runs = dict[str, dict[str, list[dict[str, Any]]]]


class ColdStartError(RuntimeError):
    """A probe failed in the Lambda-like process (its stderr is in the message)."""


def handler_modules() -> list[str]:
    return sorted(
        f"functions.handlers.{path.stem}"
        for path in HANDLERS_DIR.glob("*.py")
        if path.stem != "__init__"
    )


@dataclass(frozen=True)
class Function:
    """What Lambda knows of a function: its name, handler, memory and environment."""

    name: str
    handler: str
    memory_mb: int
    environment: dict[str, str]


def _plain(value: Any) -> str:
    """A template value as a string; a !Ref or !GetAtt becomes the resource's logical id."""
    if isinstance(value, dict):
        (kind, target), *_ = value.items()
        if kind == "Ref":
            return str(target)
        if kind == "Fn::GetAtt":
            return ".".join(target) if isinstance(target, list) else str(target)
        return kind
    return str(value)


def functions_by_module(template_path: Path = TEMPLATE_PATH) -> dict[str, Function]:
    """Each handler module's function in the template, with the Globals' settings applied."""
    document = cfn_yaml.load(str(template_path))
    globals_ = document.get("Globals", {}).get("Function", {})
    shared = globals_.get("Environment", {}).get("Variables", {})
    found = {}
    for name, resource in document["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        handler = str(properties["Handler"])
        own = properties.get("Environment", {}).get("Variables", {})
        found[handler.rsplit(".", 1)[0]] = Function(
            name=name,
            handler=handler,
            memory_mb=int(properties.get("MemorySize", globals_.get("MemorySize", 128))),
            environment={k: _plain(v) for k, v in {**shared, **own}.items()},
        )
    return found


def lambda_environment(
    function: Function, task_root: Path, python_version: str, home: Path, *, bytecode: bool
) -> dict[str, str]:
    """The variables Lambda's runtime sets (lambda/latest/dg/configuration-envvars.html), the
    function's own, and no PYTHON* of this shell; credentials as the role's would be there."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "HOME": str(home),  # no ~/.aws: botocore finds the credentials in the environment
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        "_HANDLER": function.handler,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{python_version}",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": f"wallet-{function.name}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/wallet-functions",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/12/07/[$LATEST]0123456789abcdef0123456789abcdef",
        "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001",
        "LAMBDA_TASK_ROOT": str(task_root),
        "LAMBDA_RUNTIME_DIR": str(task_root),
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
        "_AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129",
        "_AWS_XRAY_DAEMON_PORT": "2000",
        "AWS_ACCESS_KEY_ID": "ASIAEXAMPLEEXAMPLE00",
        "AWS_SECRET_ACCESS_KEY": "example/example/example/example/example0",
        "AWS_SESSION_TOKEN": "example-session-token",
        "PYTHONPATH": str(task_root),
        **function.environment,
    }
    if not bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def python_candidates(version: str) -> list[str]:
    """Interpreters that may be `version`: $LAMBDA_PYTHON, python3.12 on the PATH, pyenv's."""
    pyenv = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    return [
        name
        for name in (
            os.environ.get("LAMBDA_PYTHON"),
            shutil.which(f"python{version}"),
            *sorted(glob.glob(f"{pyenv}/versions/{version}*/bin/python{version}")),
        )
        if name
    ]


def runtime_python(version: str) -> tuple[str, str]:
    """An interpreter of the runtime's `version` if this machine has one, else this one; and the
    version it is."""
    found = find_compiler(version, python_candidates(version))
    if found:
        return found, version
    return sys.executable, interpreter_version(sys.executable) or "?"


def build_task_roots(python: str, directory: Path, extra: tuple[str, ...] = ()) -> dict[str, Path]:
    """Two copies of the bundle under `directory`: "withoutBytecode" (sources only) and
    "withBytecode" (compiled as `make build` compiles it), each with the baseline module;
    `extra`: more packages to install beside requirements.txt (the tracing options)."""
    plain = directory / "withoutBytecode"
    ignored = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "functions", plain / "functions", ignore=ignored)
    (plain / f"{BASELINE}.py").write_text(BASELINE_SOURCE)
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
    # The lock carries hashes, which put pip in hash-checking mode for all it installs at once:
    # the extra packages (unlocked, the bench's own) go in a second call.
    installs = [[*pip, "--requirement", str(REQUIREMENTS), "--target", str(plain)]]
    if extra:
        installs.append([*pip, *extra, "--target", str(plain)])
    for install in installs:
        ran = subprocess.run(install, capture_output=True, text=True, timeout=600)
        if ran.returncode != 0:
            raise ColdStartError(f"pip install into the task root failed:\n{ran.stderr[-2000:]}")
    compiled = directory / "withBytecode"
    shutil.copytree(plain, compiled, ignore=ignored)
    ran = subprocess.run(compile_command(python, compiled), capture_output=True, text=True)
    if ran.returncode != 0:
        raise ColdStartError(f"compileall failed:\n{ran.stdout[-2000:]}{ran.stderr[-2000:]}")
    return {"withBytecode": compiled, "withoutBytecode": plain}


@contextmanager
def task_roots(python: str, extra: tuple[str, ...] = ()) -> Iterator[dict[str, Path]]:
    with tempfile.TemporaryDirectory(prefix="bench-coldstart-") as directory:
        roots = build_task_roots(python, Path(directory), extra)
        home = Path(directory) / "home"
        home.mkdir()
        yield {**roots, "home": home}


def _cold_start(
    python: str,
    python_version: str,
    module: str,
    function: Function,
    roots: dict[str, Path],
    variant: str,
    clients: tuple[str, ...],
    *,
    under: tuple[str, ...] = (),
    timeout: int = 120,
) -> subprocess.CompletedProcess[str]:
    """PROBE run on `module` in a new Lambda-like interpreter, behind the command `under`."""
    root = roots[variant]
    return subprocess.run(
        [*under, python, "-S", "-c", PROBE, module, ",".join(CLIENT_FACTORIES), ",".join(clients)],
        capture_output=True,
        text=True,
        env=lambda_environment(
            function, root, python_version, roots["home"], bytecode=variant == "withBytecode"
        ),
        cwd=root,
        timeout=timeout,
    )


def probe(
    python: str,
    python_version: str,
    module: str,
    function: Function,
    roots: dict[str, Path],
    variant: str,
    clients: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One cold start of `module` in a new Lambda-like interpreter; `clients`: the factories'
    names whose clients a module with a clients() function (the baseline) builds."""
    ran = _cold_start(python, python_version, module, function, roots, variant, clients)
    if ran.returncode != 0:
        raise ColdStartError(f"{module} ({variant}):\n{ran.stderr[-3000:]}")
    return dict(json.loads(ran.stdout.strip().splitlines()[-1]))


def spread(values: list[float]) -> dict[str, Any]:
    """Median, min, max and the interquartile range of a sample (ms)."""
    ordered = sorted(values)
    quartiles = statistics.quantiles(ordered, n=4) if len(ordered) > 1 else [ordered[0]] * 3
    return {
        "medianMs": round(statistics.median(ordered), 1),
        "minMs": round(ordered[0], 1),
        "maxMs": round(ordered[-1], 1),
        "iqrMs": round(quartiles[2] - quartiles[0], 1),
        "runsMs": [round(v, 1) for v in values],
    }


def _baseline_function(functions: dict[str, Function]) -> Function:
    """The baseline runs with a DynamoDB handler's environment (AcquireLock's)."""
    template = functions.get("functions.handlers.acquire_lock") or next(iter(functions.values()))
    return Function("BenchBaselineFunction", f"{BASELINE}.lambda_handler", template.memory_mb,
                    template.environment)  # fmt: skip


def measure(repetitions: int, ticker: Any = None, *, instructions: bool = True) -> dict[str, Any]:
    """Each handler's cold-start work, `repetitions` times per variant, each run paired with a
    baseline run building the same clients, the pair's order alternating; and, with
    `instructions`, counted by valgrind where this machine has it."""
    executable, version = runtime_python(_runtime_version())
    functions = functions_by_module()
    names = handler_modules()
    baseline = _baseline_function(functions)
    runs: Runs = defaultdict(lambda: defaultdict(list))
    paired: Runs = defaultdict(lambda: defaultdict(list))
    with task_roots(executable) as roots:
        # One run each, not counted, says which clients a handler builds (and warms the files).
        clients = {
            m: tuple(probe(executable, version, m, functions[m], roots, "withBytecode")["clients"])
            for m in names
        }
        for repetition in range(repetitions):
            for variant in VARIANTS:
                for module in names:
                    pair = ((runs, module, functions[module], ()),
                            (paired, BASELINE, baseline, clients[module]))  # fmt: skip
                    for into, target, function, built in pair[:: 1 if repetition % 2 else -1]:
                        into[module][variant].append(
                            probe(executable, version, target, function, roots, variant, built)
                        )
                        if ticker is not None:
                            ticker.advance()
        slowest = _slowest(runs)
        heaviest = heaviest_packages(executable, version, slowest, functions[slowest], roots)
        counted = (
            count_instructions(executable, version, clients, functions, roots)
            if instructions
            else None
        )
    result = summarise(runs, paired, executable, version, repetitions, heaviest)
    if counted:
        result["instructions"] = counted
    return result


def count_instructions(
    python: str,
    version: str,
    clients: dict[str, tuple[str, ...]],
    functions: dict[str, Function],
    roots: dict[str, Path],
) -> dict[str, Any] | None:
    """Each handler's cold-start work (with bytecode) in instructions executed, counted by
    valgrind where this machine has it, beside the baseline building the same clients: a count
    that the neighbours' load does not move, where the CPU time does. None without valgrind."""
    if not shutil.which(VALGRIND[0]):
        return None
    baseline = _baseline_function(functions)
    baselines: dict[tuple[str, ...], int] = {}
    handlers = {}
    for module, built in clients.items():
        if built not in baselines:
            baselines[built] = _count(python, version, BASELINE, baseline, roots, built)
        count = _count(python, version, module, functions[module], roots)
        handlers[module] = {
            "instructions": count,
            "baselineInstructions": baselines[built],
            "ratioToBaseline": round(count / baselines[built], 3),
        }
    return {"tool": " ".join(VALGRIND), "handlers": handlers}


def _count(
    python: str,
    version: str,
    module: str,
    function: Function,
    roots: dict[str, Path],
    clients: tuple[str, ...] = (),
) -> int:
    ran = _cold_start(
        python, version, module, function, roots, "withBytecode", clients,
        under=(*VALGRIND, "--cachegrind-out-file=/dev/null"), timeout=600,
    )  # fmt: skip
    counted = re.search(r"I\s+refs:\s+([\d,]+)", ran.stderr)
    if ran.returncode != 0 or not counted:
        raise ColdStartError(f"{module} under valgrind:\n{ran.stderr[-3000:]}")
    return int(counted.group(1).replace(",", ""))


def probes_per_measure(repetitions: int, modules: int) -> int:
    """The timed probes of measure(): a handler run and its baseline, per variant."""
    return repetitions * len(VARIANTS) * modules * 2


def _runtime_version() -> str:
    from infra.build import target

    return target().python_version


def _slowest(runs: Runs) -> str:
    return max(
        runs,
        key=lambda m: statistics.median(
            r["importAndClientsCpuMs"] for r in runs[m]["withBytecode"]
        ),
    )


def _figures(measured: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "xrayContext": measured[0].get("xrayContext"),
        "import": spread([r["importMs"] for r in measured]),
        "importAndClients": spread([r["importAndClientsMs"] for r in measured]),
        "importCpu": spread([r["importCpuMs"] for r in measured]),
        "importAndClientsCpu": spread([r["importAndClientsCpuMs"] for r in measured]),
        "modules": measured[0]["modules"],
    }


def pair_ratios(
    handler: list[dict[str, Any]], baseline: list[dict[str, Any]], key: str
) -> list[float]:
    """Each handler run's `key` over its paired baseline run's.

    Raises: ColdStartError if a baseline run measured nothing (its pair has no ratio, and a
    handler without one would pass the target unjudged).
    """
    if not all(b[key] for b in baseline):
        raise ColdStartError(f"a baseline run measured 0 for {key}: no ratio to judge against")
    return [round(h[key] / b[key], 3) for h, b in zip(handler, baseline, strict=True)]


def summarise(
    runs: Runs,
    paired: Runs,
    executable: str,
    version: str,
    repetitions: int,
    heaviest: list[dict[str, Any]],
) -> dict[str, Any]:
    """`runs`: each handler's runs per variant; `paired`: the baseline run beside each of them."""
    figures: dict[str, dict[str, Any]] = {}
    for module, variants in runs.items():
        figures[module] = {"clients": variants["withBytecode"][0]["clients"]}
        for variant, measured in variants.items():
            beside = paired[module][variant]
            wall = pair_ratios(measured, beside, "importAndClientsMs")
            cpu = pair_ratios(measured, beside, "importAndClientsCpuMs")
            figures[module][variant] = {
                **_figures(measured),
                "baselineCpu": spread([r["importAndClientsCpuMs"] for r in beside]),
                "pairRatios": wall,
                "cpuPairRatios": cpu,
                "ratioToBaseline": round(statistics.median(wall), 2),
                "cpuRatioToBaseline": round(statistics.median(cpu), 2),
            }
    # The baseline's own row: its runs that built the clients most handlers build (one DynamoDB
    # client; the first set seen on a tie).
    common = Counter(tuple(f["clients"]) for f in figures.values()).most_common(1)[0][0]
    alike = [m for m, f in figures.items() if tuple(f["clients"]) == common]
    baseline = {
        "clients": list(common),
        **{
            variant: _figures([r for m in alike for r in paired[m][variant]])
            for variant in VARIANTS
        },
    }
    dynamodb = [m for m, f in figures.items() if "dynamodb" in f["clients"]]
    worst = max(dynamodb, key=lambda m: figures[m]["withBytecode"][JUDGED_RATIO])
    return {
        "python": version,
        "interpreter": executable,
        "repetitions": repetitions,
        "pairing": "each run beside a baseline run of the same clients; ratio: median of pairs",
        "baseline": baseline,
        "handlers": figures,
        "target": {
            "ratio": TARGET_RATIO,
            "judgedOn": JUDGED_RATIO,
            "worstDynamodbHandler": worst,
            "worstRatio": figures[worst]["withBytecode"][JUDGED_RATIO],
            "worstWallRatio": figures[worst]["withBytecode"]["ratioToBaseline"],
            "met": all(figures[m]["withBytecode"][JUDGED_RATIO] <= TARGET_RATIO for m in dynamodb),
        },
        "heaviestPackages": heaviest,
    }


def heaviest_packages(
    python: str,
    version: str,
    module: str,
    function: Function,
    roots: dict[str, Path],
    top: int = 6,
) -> list[dict[str, Any]]:
    """`python -X importtime` of `module` in the Lambda-like process, with bytecode: each
    imported module's self time, summed by top-level package."""
    root = roots["withBytecode"]
    env = lambda_environment(function, root, version, roots["home"], bytecode=True)
    ran = subprocess.run(
        [python, "-S", "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=120,
    )
    cost: dict[str, int] = defaultdict(int)
    for line in ran.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[0].strip().isdigit():
            cost[parts[2].strip().split(".")[0]] += int(parts[0])
    total = sum(cost.values()) or 1
    ranked = sorted(cost.items(), key=lambda item: item[1], reverse=True)[:top]
    return [
        {"package": name, "ms": round(us / 1000, 1), "share": round(us / total, 3)}
        for name, us in ranked
    ]


# -- The tracing options of docs/tracing.md --------------------------------------------------------

TRACING_PACKAGES = (
    "opentelemetry-sdk",
    "opentelemetry-instrumentation-botocore",
    "opentelemetry-propagator-aws-xray",
    "opentelemetry-sdk-extension-aws",
    "opentelemetry-exporter-otlp-proto-http",
)
# Each option's cold-start work beside the same DynamoDB client: the module's clients() does the
# setup and builds the client, so "import and clients" is the option's whole cost.
TRACING_OPTIONS = {
    "lambda_active_tracing_only": '''"""No SDK: Lambda's Active tracing records the invocation."""
import boto3


def clients():
    boto3.client("dynamodb")
    return ["dynamodb"]
''',
    "powertools_tracer": '''"""Powertools' Tracer (aws-xray-sdk), which patches botocore."""
import boto3
from aws_lambda_powertools import Tracer

tracer = Tracer(service="wallet")


def clients():
    boto3.client("dynamodb")
    return ["dynamodb"]
''',
    "opentelemetry_manual": '''"""OpenTelemetry by hand: X-Ray ids and propagation, botocore
instrumented, OTLP over HTTP to a collector (the ADOT extension's or CloudWatch's endpoint)."""
import boto3
from opentelemetry import propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
from opentelemetry.propagators.aws import AwsXRayPropagator
from opentelemetry.sdk.extension.aws.resource._lambda import AwsLambdaResourceDetector
from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator
from opentelemetry.sdk.resources import get_aggregated_resources
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def clients():
    provider = TracerProvider(
        id_generator=AwsXRayIdGenerator(),
        resource=get_aggregated_resources([AwsLambdaResourceDetector()]),
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    propagate.set_global_textmap(AwsXRayPropagator())
    BotocoreInstrumentor().instrument()
    boto3.client("dynamodb")
    return ["dynamodb"]
''',
}


def measure_tracing(repetitions: int) -> dict[str, Any]:
    """Each tracing option's cold-start work (import and setup and the DynamoDB client), with
    and without bytecode, in the Lambda-like process, interleaved."""
    executable, version = runtime_python(_runtime_version())
    functions = functions_by_module()
    function = _baseline_function(functions)
    runs: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    cpu: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    with task_roots(executable, TRACING_PACKAGES) as roots:
        for variant in VARIANTS:
            for name, source in TRACING_OPTIONS.items():
                (roots[variant] / f"{name}.py").write_text(source)
        # The option modules compiled too, as the bundle is.
        subprocess.run(compile_command(executable, roots["withBytecode"]), check=True)
        versions = _installed(roots["withBytecode"])
        for _ in range(repetitions):
            for variant in VARIANTS:
                for name in TRACING_OPTIONS:
                    measured = probe(executable, version, name, function, roots, variant)
                    runs[name][variant].append(measured["importAndClientsMs"])
                    cpu[name][variant].append(measured["importAndClientsCpuMs"])
    return {
        "python": version,
        "repetitions": repetitions,
        "packages": versions,
        "options": {
            name: {
                variant: {"wall": spread(values), "cpu": spread(cpu[name][variant])}
                for variant, values in variants.items()
            }
            for name, variants in runs.items()
        },
    }


def _installed(root: Path) -> dict[str, str]:
    found = {}
    for info in root.glob("*.dist-info"):
        name, _, version = info.name.removesuffix(".dist-info").rpartition("-")
        if name.startswith(("opentelemetry", "aws_xray_sdk", "aws_lambda_powertools", "boto")):
            found[name] = version
    return dict(sorted(found.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.coldstart", description=__doc__)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--tracing", action="store_true", help="time the tracing options")
    args = parser.parse_args(argv)
    result = measure_tracing(args.repetitions) if args.tracing else measure(args.repetitions)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
