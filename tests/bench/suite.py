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
from tests.bench import coldstart, cost, counts, dialects, growth, holds, reads
from tests.bench.histories import (
    ACQUIRE_LOCK,
    TRANSFER_LOCK_STATE,
    execution_arns,
    lock_summary,
    traces,
)
from tests.bench.load import (
    TRANSFER_MACHINE,
    Job,
    Sender,
    TransferJob,
    distinct_users,
    embedded_sender,
    hot_pair,
    http_sender,
    one_user,
    run_load,
)
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
# Additive, within version 5: `transfers` (POST /transfers' counts, cost and hot pair; its own
# `version` TRANSFERS_VERSION, commit and machine, since `--sections transfers` runs it alone).
TRANSFERS_VERSION = 1
# What --sections can run alone. The first two stand alone and --update-doc merges them into the
# documented run; the others feed figures derived from the whole run (the cost, the targets), so
# they are for a change's before and after on one machine.
SECTIONS = ("transfers", "dialects", "holds", "coldstart", "overhead", "growth")
DOCUMENTED_ALONE = ("transfers", "dialects", "holds")
HOT_PAIR_TARGET_SHARE = 0.5  # of the sequential transfer client's commit rate, at least
HOT_PAIR_TARGET_429 = 1 / 50  # of the hot pair's requests, at most
ROOT = Path(__file__).resolve().parents[2]
RESULTS_DIR = ROOT / "bench-results"
TARGET_DYNAMODB_REQUESTS = 4
TRANSFER_PHASES = 3  # request counts, sequential, hot pair


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
    overhead_pairs: int = 20  # a ratio of medians that moves less between runs than with 10
    sequential: int = 50  # the baseline the hot users are held against: enough for a steady rate
    many_users: tuple[tuple[int, int], ...] = ((8, 24), (16, 24))  # (clients, requests)
    # Enough requests that "at most 1 in 50 answered 429" can be seen (and missed).
    hot_user: tuple[tuple[int, int], ...] = ((8, 100), (16, 100))  # (clients, requests)
    plain_polling_variant: bool = True
    plain_polling_requests: int = 100  # with the last hot-user client count
    coldstart_repetitions: int = 9  # per handler and variant, each beside a baseline run
    # Each handler's cold start counted in instructions too, under valgrind (where installed):
    # about 10 s a handler, so not in the quick run.
    coldstart_instructions: bool = True
    http: bool = True
    growth: int = 10_000  # sequential transactions through one `make run` process
    growth_window: int = 1_000
    read_entries: int = 45  # GET /transactions reads a first page of 20 and a next one of 25
    read_repetitions: int = 5
    lag_requests: int = 40
    dialect_pairs: int = 100  # transactions on each dialect's transaction machine, interleaved
    transfer_sequential: int = 50  # one client, transfers between two users in turn
    hot_pair: tuple[int, int] = (8, 100)  # (clients, requests): opposite transfers, two users

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
            coldstart_instructions=False,
            growth=30,
            growth_window=10,
            read_entries=25,
            read_repetitions=1,
            lag_requests=3,
            dialect_pairs=2,
            transfer_sequential=2,
            hot_pair=(2, 4),
        )

    def phases(self) -> int:
        transport = 2 + len(self.many_users) + len(self.hot_user)  # overhead, sequential, ...
        return (
            4  # cold starts, request counts, reads, projection lag
            + transport
            + int(self.plain_polling_variant)
            + (transport if self.http else 0)
            + int(self.growth > 0)
            + int(self.dialect_pairs > 0)
            + TRANSFER_PHASES
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
    jobs: list[Job] | list[TransferJob],
    clients: int,
    sfn: Any,
    state_machine_arn: str,
    runtime: Any,
    extra: dict[str, Any] | None = None,
    lock_state: str = ACQUIRE_LOCK,
) -> dict[str, Any]:
    """Run one scenario, then read what it did: histories, DynamoDB requests, invariants."""
    from tests.invariants import violations

    known = execution_arns(sfn, state_machine_arn)
    requests_before = sum(runtime.dynamodb_requests.values())
    with progress.phase(title, len(jobs)) as ticker:
        run = run_load(send, jobs, clients, ticker)
    spent = sum(runtime.dynamodb_requests.values()) - requests_before
    new = sorted(execution_arns(sfn, state_machine_arn) - known)
    found = traces(sfn, new, lock_state)
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
            result["holds"] = holds.hold_counts(aws)
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
        if sizes.dialect_pairs:
            result["dialects"] = _dialects_phase(progress, aws, sizes)


def _dialects_phase(progress: Progress, aws: Any, sizes: Sizes) -> dict[str, Any]:
    title = "transaction machine: JSONata|JSONPath"
    with progress.phase(title, sizes.dialect_pairs) as ticker:
        try:
            return dialects.measure(aws, sizes.dialect_pairs, ticker)
        except dialects.DialectError as error:
            raise BenchError(f"{title}: {error}") from error


def transfer_section(
    progress: Progress, sizes: Sizes, init: float, transaction_counts: dict[str, Any] | None
) -> dict[str, Any]:
    """POST /transfers on the embedded runtime: its requests per outcome, priced with the
    transaction's cost model (the same Inputs, `init` ms of INIT), next to a committed
    transaction's; a sequential transfer client, then the hot pair, held against the targets.

    transaction_counts: the run's own transaction request counts; None counts them here (a
    section run alone), so that both are priced from one run on one machine.
    """
    from infra.local.runtime import LocalAws

    section: dict[str, Any] = {
        "version": TRANSFERS_VERSION,
        "createdAt": datetime.now(UTC).isoformat(timespec="seconds"),
        "git": {
            "sha": _git("rev-parse", "HEAD"),
            "dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        },
        "machine": machine(),
        "sizes": {
            "countRepetitions": sizes.count_repetitions,
            "sequential": sizes.transfer_sequential,
            "hotPair": list(sizes.hot_pair),
        },
        "load": [],
    }
    started = progress.elapsed
    with LocalAws() as aws:
        with progress.phase("transfers: request counts per outcome"):
            section["requestCounts"] = counts.transfer_request_counts(
                aws, repetitions=sizes.count_repetitions
            )
            if transaction_counts is None:
                transaction_counts = counts.request_counts(
                    aws, repetitions=sizes.count_repetitions, include_busy=False, lease_seconds=0
                )
        send = embedded_sender(aws, TRANSFER_MACHINE)
        arn = aws.state_machine_arns[TRANSFER_MACHINE]
        clients, requests = sizes.hot_pair
        scenarios = [
            (
                "sequential transfers",
                hot_pair("xfer-seq-a", "xfer-seq-b", sizes.transfer_sequential),
                1,
            ),
            (f"hot pair x{clients}", hot_pair("xfer-hot-a", "xfer-hot-b", requests), clients),
        ]
        for title, jobs, count in scenarios:
            phase = _load_phase(progress, f"transfers: {title}", send, jobs, count,
                                aws.stepfunctions, arn, aws,
                                lock_state=TRANSFER_LOCK_STATE)  # fmt: skip
            section["load"].append({"scenario": title, **phase})
    inputs = cost.Inputs.from_template(init_ms=init)
    outcomes = ("committed", "replay", "overdraft")
    section["cost"] = {
        "initMs": init,
        "perMillion": {
            level: {
                o: cost.per_million(section["requestCounts"][o], level, inputs) for o in outcomes
            }
            for level in cost.LOG_LEVELS
        },
        "transactionCommitted": {
            "requestCounts": {
                key: transaction_counts["committed"][key]
                for key in ("dynamodbTotal", "wru", "rru", "lambdaTotal", "events")
            },
            "perMillion": {
                level: cost.per_million(transaction_counts["committed"], level, inputs)
                for level in cost.LOG_LEVELS
            },
        },
    }
    sequential, hot = section["load"]
    share = (
        hot["committedPerSecond"] / sequential["committedPerSecond"]
        if sequential["committedPerSecond"]
        else None
    )
    section["hotPair"] = {
        "shareOfSequential": round(share, 3) if share is not None else None,
        "share429": hot["share429"],
        "targetShareOfSequential": HOT_PAIR_TARGET_SHARE,
        "targetShare429": HOT_PAIR_TARGET_429,
        "met": share is not None
        and share >= HOT_PAIR_TARGET_SHARE
        and hot["share429"] <= HOT_PAIR_TARGET_429,
    }
    section["benchSeconds"] = round(progress.elapsed - started, 1)
    section["machine"]["loadAverageAtEnd"] = [round(x, 2) for x in os.getloadavg()]
    return section


def run_sections(names: set[str], sizes: Sizes, *, quick: bool) -> dict[str, Any]:
    """Only the named sections (SECTIONS), as a partial result: `sections` names them; the rest
    of a full result is absent. --update-doc merges them into docs/performance.json."""
    unknown = names - set(SECTIONS)
    if unknown:
        raise ValueError(f"unknown sections: {', '.join(sorted(unknown))}")
    with _quiet():
        progress = Progress(
            (TRANSFER_PHASES if "transfers" in names else 0)
            + len(names & {"dialects", "holds", "coldstart", "growth"})
            + 2 * ("overhead" in names)
        )
        result: dict[str, Any] = {**_started(sizes, quick=quick), "sections": sorted(names)}
        if "transfers" in names:
            # No cold-start phase here: a cold start's INIT is the documented run's.
            documented = json.loads((ROOT / "docs" / "performance.json").read_text())
            section = transfer_section(progress, sizes, init_ms(documented), None)
            section["initMsFrom"] = f"docs/performance.json (git {documented['git']['sha'][:10]})"
            result["transfers"] = section
        if "dialects" in names:
            from infra.local.runtime import LocalAws

            with LocalAws() as aws:
                result["dialects"] = _dialects_phase(progress, aws, sizes)
        if "holds" in names:
            from infra.local.runtime import LocalAws

            with LocalAws() as aws, progress.phase("holds: placing, capturing and voiding one"):
                # Merged alone into the documented run: it says its own commit.
                result["holds"] = {**holds.hold_counts(aws), "git": result["git"]}
        if "coldstart" in names:
            result["coldstart"] = _coldstart_phase(progress, sizes)
        if "overhead" in names:
            result["overhead"] = _overhead_alone(progress, sizes)
        if "growth" in names:
            result["growth"] = _growth_phase(progress, sizes)
        result["benchSeconds"] = round(progress.elapsed, 1)
        result["machine"]["loadAverageAtEnd"] = [round(x, 2) for x in os.getloadavg()]
        return result


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


def _started(sizes: Sizes, *, quick: bool) -> dict[str, Any]:
    """What every result starts with: when, which commit, which machine, which sizes."""
    return {
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
    }


def _run(sizes: Sizes, *, quick: bool) -> dict[str, Any]:
    progress = Progress(sizes.phases())
    result: dict[str, Any] = {**_started(sizes, quick=quick), "overhead": {}, "load": []}
    result["coldStarts"] = _coldstart_phase(progress, sizes)
    _embedded(progress, sizes, result)
    result["transfers"] = transfer_section(
        progress, sizes, init_ms(result), result["requestCounts"]
    )
    result["transfers"]["initMsFrom"] = "this run's cold starts"
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
        result["growth"] = _growth_phase(progress, sizes)
    result.update(derive(result))
    result["benchSeconds"] = round(progress.elapsed, 1)
    result["machine"]["loadAverageAtEnd"] = [round(x, 2) for x in os.getloadavg()]
    return result


def _coldstart_phase(progress: Progress, sizes: Sizes) -> dict[str, Any]:
    runs = coldstart.probes_per_measure(
        sizes.coldstart_repetitions, len(coldstart.handler_modules())
    )
    with progress.phase(
        "cold-start work per handler, each run beside a baseline (Lambda-like process)", runs
    ) as ticker:
        try:
            return coldstart.measure(
                sizes.coldstart_repetitions, ticker, instructions=sizes.coldstart_instructions
            )
        except coldstart.ColdStartError as error:
            raise BenchError(f"cold starts: {error}") from error


def _growth_phase(progress: Progress, sizes: Sizes) -> dict[str, Any]:
    title = f"growth: {sizes.growth:,} via make run"
    with progress.phase(title, sizes.growth) as ticker:
        try:
            return growth.run_growth(sizes.growth, sizes.growth_window, ticker)
        except growth.GrowthError as error:
            raise BenchError(f"{title}: {error}") from error


def _overhead_alone(progress: Progress, sizes: Sizes) -> dict[str, Any]:
    """The interleaved baseline and saga pairs, embedded and over HTTP, as the full run has them."""
    from infra.composition import serving
    from infra.local.runtime import LocalAws, active_runtime

    measured: dict[str, Any] = {}
    with LocalAws() as aws:
        measured["embedded"] = _overhead_phase(
            progress, "embedded", aws, embedded_sender(aws), sizes
        )
    with serving() as url:
        measured["http"] = _overhead_phase(
            progress, "http", active_runtime(), http_sender(url), sizes
        )
    return measured


def dumps(result: dict[str, Any]) -> str:
    return json.dumps(result, indent=2, default=str) + "\n"


def write(result: dict[str, Any], directory: Path = RESULTS_DIR) -> Path:
    """A full run as `<UTC time>-<sha>.json` and latest.json; a section's run as
    `<UTC time>-<sha>-<section>.json` only (latest.json stays the last full run)."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    sha = (result["git"]["sha"] or "nogit")[:8]
    # A partial run (--sections) is named after its sections and never becomes latest.json.
    suffix = "".join(f"-{name}" for name in result.get("sections", []))
    path = directory / f"{stamp}-{sha}{suffix}.json"
    text = dumps(result)
    path.write_text(text)
    (directory / f"latest{suffix}.json").write_text(text)
    return path
