"""One bench run: every phase in order, assembled into one JSON document (schema in `version`)."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import json
import logging
import os
import platform
import subprocess
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from functions.domain.lock_wait import WaitPolicy
from tests.bench import coldstart, cost, counts, growth, holds, reads
from tests.bench.histories import execution_arns, lock_summary, traces
from tests.bench.load import Job, Sender, distinct_users, embedded_sender, one_user, run_load
from tests.bench.progress import Progress
from tests.bench.stats import summary_ms

# 2: baseline and saga interleaved per transport ("overhead"), many users at two client counts,
# import times with and without .pyc, the lease table; HTTP on in --quick.
# 3: "growth", N sequential transactions through one `make run` server process.
# 4: AcquireLock waits in the function: hot users of 100 requests, the plain-polling variant in
# place of the retry variant, the longest wait and the share of 429s, the cost at both log
# levels, the poll pricing in place of the retry table.
# 5: the complete cost model (the platform's log lines, the access log, the traces actually started,
# the consumers at a stated traffic, INIT; its inputs under cost.inputs), the floor on the same
# basis, and the cold-start phase (coldStarts) in place of the import times.
SCHEMA_VERSION = 5
ROOT = Path(__file__).resolve().parents[2]
RESULTS_DIR = ROOT / "bench-results"
TARGET_DYNAMODB_REQUESTS = 4


class BenchError(RuntimeError):
    """A phase could not run; the bench stops rather than report a partial result."""


class HttpPhaseError(BenchError):
    """An HTTP phase could not run (--no-http skips them)."""


@dataclass(frozen=True)
class Sizes:
    """Operation counts: modest, so that `make bench` ends within 5 minutes on 2 cores, but for
    the growth phase (about 15 more; --growth 0 skips it)."""

    count_repetitions: int = 3
    include_busy: bool = True
    overhead_pairs: int = 10
    sequential: int = 50  # the baseline the hot users are held against: enough for a steady rate
    many_users: tuple[tuple[int, int], ...] = ((8, 24), (16, 24))  # (clients, requests)
    # Enough requests that "at most 1 in 50 answered 429" can be seen (and missed).
    hot_user: tuple[tuple[int, int], ...] = ((8, 100), (16, 100))  # (clients, requests)
    plain_polling_variant: bool = True
    plain_polling_requests: int = 100  # with the last hot-user client count
    coldstart_repetitions: int = 5  # per handler and variant, interleaved with the baseline
    http: bool = True
    growth: int = 10_000  # sequential transactions through one `make run` process
    growth_window: int = 1_000
    read_entries: int = 45  # GET /transactions reads a first page of 20 and a next one of 25
    read_repetitions: int = 5
    lag_requests: int = 40

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            count_repetitions=1,
            include_busy=False,
            overhead_pairs=2,
            sequential=2,
            many_users=((2, 4),),
            hot_user=((2, 4),),
            plain_polling_variant=False,
            coldstart_repetitions=1,
            growth=30,
            growth_window=10,
            read_entries=25,
            read_repetitions=1,
            lag_requests=3,
        )

    def phases(self) -> int:
        transport = 2 + len(self.many_users) + len(self.hot_user)  # overhead, sequential, ...
        return (
            4  # cold starts, request counts, reads, projection lag
            + transport
            + int(self.plain_polling_variant)
            + (transport if self.http else 0)
            + int(self.growth > 0)
        )


@contextmanager
def plain_polling() -> Iterator[None]:
    """AcquireLock without the line (lock_wait.WaitPolicy.keeps_line false): every waiter polls,
    nobody takes the place of next in line, so whoever polls first after a hand-off wins. The
    variant measures what the line is for; it patches the handler's policy in this process only
    (the embedded runtime runs the handlers in-process)."""
    from functions.domain.lock_wait import WaitPolicy
    from functions.handlers import acquire_lock

    saved = acquire_lock.WaitPolicy
    acquire_lock.WaitPolicy = functools.partial(WaitPolicy, keeps_line=False)  # type: ignore[assignment,misc]
    try:
        yield
    finally:
        acquire_lock.WaitPolicy = saved  # type: ignore[misc]


@contextmanager
def _quiet() -> Iterator[None]:
    """moto logs every failed state of the saga (an overdraft, a busy lock); the server logs
    each request; Powertools prints its metrics every 100 values even when they are disabled
    (the handlers share one Metrics object in this process). None of it belongs in the bench's
    output, which is the progress on stderr and the tables after the run."""
    levels = {
        "moto": logging.CRITICAL,
        "werkzeug": logging.WARNING,
        "wallet.local": logging.WARNING,
    }
    saved = {name: logging.getLogger(name).level for name in levels}
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.filterwarnings("ignore", "No application metrics to publish")
            yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], capture_output=True, text=True, cwd=ROOT, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    packages: dict[str, str | None] = {}
    for name in ("moto", "boto3", "aws-lambda-powertools", "werkzeug"):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    return {
        "nproc": os.cpu_count(),
        "loadAverageAtStart": [round(x, 2) for x in os.getloadavg()],
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": packages,
    }


def _lambda_runtime() -> dict[str, str]:
    """The runtime and architecture the template deploys (what a Lambda cold start runs on)."""
    from infra.build import target

    deployed = target()
    return {"runtime": deployed.runtime, "architecture": deployed.architecture}


def _acquire_lock_retry(definition: str) -> dict[str, Any]:
    retriers = json.loads(definition)["States"]["AcquireLock"]["Retry"]
    return next(r for r in retriers if "UserBusyError" in r["ErrorEquals"])


def _load_phase(
    progress: Progress,
    title: str,
    send: Sender,
    jobs: list[Job],
    clients: int,
    sfn: Any,
    state_machine_arn: str,
    runtime: Any,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run one scenario, then read what it did: histories, DynamoDB requests, invariants."""
    from tests.invariants import violations

    known = execution_arns(sfn, state_machine_arn)
    requests_before = sum(runtime.dynamodb_requests.values())
    with progress.phase(title, len(jobs)) as ticker:
        run = run_load(send, jobs, clients, ticker)
    spent = sum(runtime.dynamodb_requests.values()) - requests_before
    new = sorted(execution_arns(sfn, state_machine_arn) - known)
    found = traces(sfn, new)
    result = run.to_dict()
    committed = result["statuses"].get("201", 0)
    result["share429"] = round(result["statuses"].get("429", 0) / len(jobs), 4) if jobs else None
    result["dynamodbRequestsPerCommitted"] = round(spent / committed, 2) if committed else None
    result["lock"] = lock_summary(found)
    # The execution's own duration (history) next to the client's latency: the difference is
    # the start-and-wait (and HTTP) around it.
    result["executionMs"] = summary_ms([t.duration_ms / 1000 for t in found])
    problems = violations(runtime.dynamodb)
    result["invariantViolations"] = len(problems)
    result["invariantExamples"] = problems[:3]
    result.update(extra or {})
    return result


def _overhead_phase(
    progress: Progress, transport: str, runtime: Any, send: Sender, sizes: Sizes
) -> dict[str, Any]:
    title = f"{transport} overhead: baseline|saga"
    with progress.phase(title, sizes.overhead_pairs) as ticker:
        try:
            return counts.overhead(
                runtime, send, sizes.overhead_pairs, f"{transport}-overhead", ticker
            )
        except counts.OverheadError as error:
            raise BenchError(f"{title}: {error}") from error


def _embedded(progress: Progress, sizes: Sizes, result: dict[str, Any]) -> None:
    from infra.local.runtime import LocalAws

    with LocalAws() as aws:
        result["leaseSeconds"] = int(
            aws.template.functions["AcquireLockFunction"].environment.get("LOCK_LEASE_SECONDS", 0)
        )
        spec = next(iter(aws.template.state_machines.values()))
        result["acquireLockRetry"] = _acquire_lock_retry(spec.definition)
        result["lockWaitSeconds"] = float(
            aws.template.functions["AcquireLockFunction"].environment.get("LOCK_WAIT_SECONDS", 0)
        )
        result["stateMachineTimeoutSeconds"] = json.loads(spec.definition).get("TimeoutSeconds")
        with progress.phase("request counts per outcome"):
            try:
                result["requestCounts"] = counts.request_counts(
                    aws,
                    repetitions=sizes.count_repetitions,
                    include_busy=sizes.include_busy,
                    lease_seconds=result["leaseSeconds"],
                )
            except counts.BusyScenarioError as error:
                raise BenchError(str(error)) from error
        with progress.phase("holds: placing, capturing and voiding one"):
            result["holdCounts"] = holds.hold_counts(aws)
        with progress.phase("read requests (GET /transactions, GET /summaries)"):
            result["reads"] = reads.read_counts(aws, sizes.read_entries, sizes.read_repetitions)
        with progress.phase("projection lag (POST answered -> asOfSequence)"):
            result["projectionLag"] = reads.projection_lag(aws, sizes.lag_requests)
        send = embedded_sender(aws)
        result["overhead"]["embedded"] = _overhead_phase(progress, "embedded", aws, send, sizes)
        for title, jobs, clients in _scenarios(sizes, "emb"):
            phase = _load_phase(
                progress,
                f"embedded {title}",
                send,
                jobs,
                clients,
                aws.stepfunctions,
                aws.state_machine_arns["TransactionStateMachine"],
                aws,
            )
            result["load"].append({"transport": "embedded", "scenario": title, **phase})
        if sizes.plain_polling_variant:
            clients = sizes.hot_user[-1][0]
            title = f"hot-user x{clients} plain polling"
            with plain_polling():
                phase = _load_phase(
                    progress,
                    f"embedded {title}",
                    send,
                    one_user("emb-plain-hot", sizes.plain_polling_requests),
                    clients,
                    aws.stepfunctions,
                    aws.state_machine_arns["TransactionStateMachine"],
                    aws,
                    {"variant": "plain polling: no place in line"},
                )
            result["load"].append({"transport": "embedded", "scenario": title, **phase})


def _scenarios(sizes: Sizes, prefix: str) -> list[tuple[str, list[Job], int]]:
    scenarios = [("sequential", distinct_users(f"{prefix}-seq", sizes.sequential), 1)]
    for clients, requests in sizes.many_users:
        scenarios.append(
            (
                f"many-users x{clients}",
                distinct_users(f"{prefix}-many-{clients}", requests),
                clients,
            )
        )
    for clients, requests in sizes.hot_user:
        scenarios.append(
            (f"hot-user x{clients}", one_user(f"{prefix}-hot-{clients}", requests), clients)
        )
    return scenarios


def http_available() -> tuple[bool, str]:
    try:
        from infra.composition import serving  # noqa: F401
    except Exception as error:  # not written yet, or an import of it is missing
        return False, f"infra.composition.serving cannot be imported ({error})"
    return True, ""


def _http(progress: Progress, sizes: Sizes, result: dict[str, Any]) -> None:
    """The `make run` server (infra/composition.py serving()) in a thread of this process, and
    the same scenarios over HTTP. Anything that keeps them from running is an HttpPhaseError:
    only an explicit --no-http skips them."""
    available, reason = http_available()
    if not available:
        raise HttpPhaseError(f"http: {reason}")
    import boto3
    import requests

    from infra.composition import serving
    from infra.local.runtime import REGION, active_runtime
    from tests.bench.load import http_sender

    with serving() as base_url:
        try:
            probe = http_sender(base_url)(Job("http-probe", uuid.uuid4().hex))
        except requests.RequestException as error:
            raise HttpPhaseError(
                f"http: POST /transactions to {base_url} failed ({error})"
            ) from error
        if probe.status != 201:
            raise HttpPhaseError(
                f"http: the server answered {probe.status} to a valid POST /transactions"
            )
        result["http"] = {"run": True, "reason": ""}
        # The server's runtime, for its request counter and tables; executions are found through
        # the public Step Functions API, as for the embedded runtime.
        runtime = active_runtime()
        sfn = boto3.client("stepfunctions", region_name=REGION)
        [arn] = [
            machine["stateMachineArn"]
            for machine in sfn.list_state_machines()["stateMachines"]
            if machine["name"] == "TransactionStateMachine"
        ]
        send = http_sender(base_url)
        result["overhead"]["http"] = _overhead_phase(progress, "http", runtime, send, sizes)
        for title, jobs, clients in _scenarios(sizes, "http"):
            phase = _load_phase(progress, f"http {title}", send, jobs, clients, sfn, arn, runtime)
            result["load"].append({"transport": "http", "scenario": title, **phase})


DERIVED = ("target", "overheadRatio", "cost")


def derive(result: dict[str, Any]) -> dict[str, Any]:
    """The figures computed from the measured ones (the target, the ratios, the cost model), so
    that a result's stored figures can be checked against the current code."""
    counts_ = result["requestCounts"]
    committed = counts_["committed"]
    derived: dict[str, Any] = {
        "target": {
            "maxDynamodbRequests": TARGET_DYNAMODB_REQUESTS,
            "dynamodbRequests": committed["dynamodbTotal"],
            "reads": committed["rru"],
            "met": committed["dynamodbTotal"] <= TARGET_DYNAMODB_REQUESTS
            and committed["rru"] == 0
            and committed["status"] == "SUCCEEDED",
        },
        "overheadRatio": {
            transport: measured["ratioOfMedians"]
            for transport, measured in result["overhead"].items()
        },
    }
    outcomes = [o for o in ("committed", "replay", "overdraft", "userBusy") if o in counts_]
    policy = WaitPolicy(budget_seconds=result["lockWaitSeconds"])
    inputs = cost.Inputs.from_template(init_ms=init_ms(result))
    memory_mb = inputs.deployment.lambda_memory_mb
    derived["cost"] = {
        "region": "us-east-1",
        "prices": cost.PRICES,
        "writeUnitSources": cost.WRU_SOURCES,
        "inputs": inputs.to_dict(),
        "assumptions": {
            "durations": "Express and Lambda durations are the ones measured locally (moto), "
            "billed as AWS rounds them (Lambda per 1 ms per invocation, Express per 100 ms with "
            "64 MB memory chunks)",
            "cancelledTransactions": "a TransactWriteItems cancelled by a failed condition is "
            "priced as if it had run (2 WRU per item per KB): AWS does not document it",
            "errorLevelLogs": "Level ERROR logs only the failure events of an execution "
            "(histories.ERROR_LEVEL_EVENTS), with the same execution data",
            "logBytes": "CloudWatch Logs ingestion priced on each event's message bytes",
            "notCounted": "the handlers' own log lines (none on a commit's path at INFO), X-Ray "
            "traces retrieved or scanned, the INIT lines of a cold start, the free tiers",
        },
        "perMillion": {
            level: {
                o: cost.per_million(counts_[o], level, inputs) for o in outcomes if o in counts_
            }
            for level in cost.LOG_LEVELS
        },
        "floor": cost.floor_per_million(inputs),
        "pollPricing": cost.poll_pricing(
            {
                "next in line": policy.max_poll_next_seconds,
                "queued": policy.max_poll_queued_seconds,
            },
            memory_mb,
        ),
    }
    if "reads" in result:
        derived["cost"]["readsPerMillion"] = {
            name: cost.read_per_million(measured, memory_mb)
            for name, measured in result["reads"]["reads"].items()
        }
    if "userBusy" in counts_:
        # A crashed holder's 429s, each at the measured price of one (at the default level).
        derived["cost"]["leaseScenarios"] = cost.lease_scenarios(
            result["leaseSeconds"],
            result["stateMachineTimeoutSeconds"],
            derived["cost"]["perMillion"]["ALL"]["userBusy"]["total"],
        )
    return derived


def init_ms(result: dict[str, Any]) -> float:
    """One cold start's INIT as the run measured it: the slowest handler's median cold-start
    work with bytecode (import and clients, CPU time: what an unshared CPU's wall time would be;
    coldstart.py), or, in a result from before that phase, its slowest median import."""
    if "coldStarts" in result:
        return max(
            measured["withBytecode"]["importAndClientsCpu"]["medianMs"]
            for measured in result["coldStarts"]["handlers"].values()
        )
    return max(measured["medianMs"] for measured in result["imports"]["modules"].values())


def run(sizes: Sizes, *, quick: bool) -> dict[str, Any]:
    with _quiet():
        return _run(sizes, quick=quick)


def _run(sizes: Sizes, *, quick: bool) -> dict[str, Any]:
    progress = Progress(sizes.phases())
    result: dict[str, Any] = {
        "schema": "wallet-bench",
        "version": SCHEMA_VERSION,
        "createdAt": datetime.now(UTC).isoformat(timespec="seconds"),
        "git": {
            "sha": _git("rev-parse", "HEAD"),
            "dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        },
        "machine": machine(),
        "lambdaRuntime": _lambda_runtime(),
        "quick": quick,
        "sizes": dataclasses.asdict(sizes),
        "overhead": {},
        "load": [],
    }
    runs = (len(coldstart.handler_modules()) + 1) * len(coldstart.VARIANTS)
    with progress.phase(
        "cold-start work per handler and baseline (Lambda-like process)",
        runs * sizes.coldstart_repetitions,
    ) as ticker:
        try:
            result["coldStarts"] = coldstart.measure(sizes.coldstart_repetitions, ticker)
        except coldstart.ColdStartError as error:
            raise BenchError(f"cold starts: {error}") from error
    _embedded(progress, sizes, result)
    if sizes.http:
        try:
            _http(progress, sizes, result)
        except HttpPhaseError:
            raise
        except BenchError as error:  # a phase shared with the embedded runtime, run over HTTP
            raise HttpPhaseError(str(error)) from error
    else:
        result["http"] = {"run": False, "reason": "--no-http"}
    if sizes.growth:
        title = f"growth: {sizes.growth:,} via make run"
        with progress.phase(title, sizes.growth) as ticker:
            try:
                result["growth"] = growth.run_growth(sizes.growth, sizes.growth_window, ticker)
            except growth.GrowthError as error:
                raise BenchError(f"{title}: {error}") from error
    result.update(derive(result))
    result["benchSeconds"] = round(progress.elapsed, 1)
    result["machine"]["loadAverageAtEnd"] = [round(x, 2) for x in os.getloadavg()]
    return result


def dumps(result: dict[str, Any]) -> str:
    return json.dumps(result, indent=2, default=str) + "\n"


def write(result: dict[str, Any], directory: Path = RESULTS_DIR) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    sha = (result["git"]["sha"] or "nogit")[:8]
    path = directory / f"{stamp}-{sha}.json"
    text = dumps(result)
    path.write_text(text)
    (directory / "latest.json").write_text(text)
    return path
