"""The long soak (make reliability): load, faults, crashes and fuzzing; exits 1 on any violation.

    python -m tests.reliability                    # the full soak, default seed
    python -m tests.reliability --seed 7           # another seed
    python -m tests.reliability --operations 1000  # a shorter load phase

Phases: (1) the seeded workload through the embedded runtime, split over worker processes (one
LocalAws each, for its whole share: never restarted) with 16 threads each: a segment under
forced thread switching, a segment with random faults injected under load, and a steady
segment; each settled and checked against the tables and every answer, the summaries projection
included. Meanwhile, in this process: (2) the fault matrix, (3) crashed executions with a real
lease, (4) the summaries projection's chaos (consumer crashes, duplicated and replayed batches, a
full rewind of the stream), (5) the stateful model test, (6) the transfers: opposite transfers
among a few users with a fault at every step of the transfer saga in turn (transfers.py), (6b)
the holds: holds placed, captured and voided racing debits and transfers on a few hot users, with
a fault at every step of the hold saga in turn (holds.py), (7) parser fuzzing, (8) the HTTP
server: the workload over HTTP and schemathesis from infra/openapi.yaml. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import multiprocessing
import os
import queue as queue_module
import random
import sys
import threading
import time
import warnings
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar

DEFAULT_SEED = 20261122
# The load runs always.
PHASES = ("faults", "crashes", "projection", "model", "transfers", "holds", "parsers", "http")
FAULT_EVERY = 8  # operations per injected fault in the faults segment


@dataclass
class Figures:
    operations: Counter[str] = field(default_factory=Counter)
    by_segment: dict[str, Counter[str]] = field(default_factory=dict)
    settled_retries: int = 0
    dead_locks: int = 0
    faults_armed: int = 0
    faults_fired: Counter[str] = field(default_factory=Counter)
    matrix_cases: int = 0
    projection: Counter[str] = field(default_factory=Counter)
    crash_cases: int = 0
    stateful_steps: int = 0
    transfers: list[str] = field(default_factory=list)
    holds: list[str] = field(default_factory=list)
    parser_examples: Counter[str] = field(default_factory=Counter)
    http_operations: Counter[str] = field(default_factory=Counter)
    fuzz_requests: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)


class Progress:
    """One status line per phase on stderr: rewritten in place on a terminal, else every 15 s."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.lines: dict[str, str] = {}
        self._lock = threading.Lock()
        self._tty = sys.stderr.isatty()
        self._last_print = 0.0

    def update(self, phase: str, text: str, *, force: bool = False) -> None:
        with self._lock:
            self.lines[phase] = text
            now = time.monotonic()
            if not force and now - self._last_print < (1.0 if self._tty else 15.0):
                return
            self._last_print = now
            elapsed = time.strftime("%M:%S", time.gmtime(now - self.started))
            line = f"[{elapsed}] " + " | ".join(f"{k}: {v}" for k, v in self.lines.items())
            if self._tty:
                sys.stderr.write("\r\x1b[K" + line[: os.get_terminal_size().columns - 1])
            else:
                sys.stderr.write(line + "\n")
            sys.stderr.flush()

    def done(self, phase: str, text: str) -> None:
        self.update(phase, text, force=True)
        if self._tty:
            sys.stderr.write("\n")


def _quiet() -> None:
    """Only the progress and the figures are printed: Powertools flushes its metrics to stdout
    every 100 values even when they are disabled (the handlers share one Metrics object)."""
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request
    import tests.conftest  # noqa: F401  (fake credentials, Powertools settings)


def _bar(done: int, total: int, width: int = 20) -> str:
    filled = int(width * done / total) if total else width
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


# Phase 1, in worker processes ------------------------------------------------------------------


def load_worker(index: int, plan: dict[str, Any], updates: Any) -> dict[str, Any]:
    """One process: the segments in turn, each settled and checked, all in one LocalAws (as a
    user's `make run` accumulates work: nothing is reset between them)."""
    _quiet()
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (see _quiet; for the process's life)
    from infra.local.runtime import LocalAws

    result: dict[str, Any] = {"by_segment": {}, "problems": [], "retries": 0, "dead_locks": 0,
                              "faults_armed": 0, "faults_fired": Counter()}  # fmt: skip
    done = Counter[str]()
    stop = threading.Event()

    def report() -> None:
        while not stop.wait(1.0):
            updates.put((index, dict(done)))

    reporter = threading.Thread(target=report, daemon=True)
    reporter.start()
    with LocalAws() as aws:
        for number, (segment, count) in enumerate(plan["segments"]):
            seed = (plan["seed"] * 100 + index * 10 + number) * 1000
            _segment(aws, index, segment, seed, count, plan, done, result)
    stop.set()
    updates.put((index, dict(done)))
    return result


def _segment(
    aws: Any,
    index: int,
    segment: str,
    seed: int,
    count: int,
    plan: dict[str, Any],
    done: Counter[str],
    result: dict[str, Any],
) -> None:
    from tests.reliability import workload

    transport = workload.Embedded(aws)
    ops = workload.generate(seed, count, users=plan["users"], prefix=f"p{index}{segment}")
    faults_on = segment == "faults"
    watch = _FaultWatch(aws, seed) if faults_on else None

    def progress(record: Any) -> None:
        if record.attempt:
            return  # a 429 retried: the same operation
        done["ops"] += 1
        if watch is not None and done["ops"] % FAULT_EVERY == 0:
            watch.arm_one()

    previous = sys.getswitchinterval()
    if segment == "forced":
        sys.setswitchinterval(1e-6)
    try:
        records = workload.run(transport, ops, plan["threads"], progress=progress)
    finally:
        sys.setswitchinterval(previous)
        if watch is not None:
            watch.stop()
    settled = workload.settle(aws, transport, records, faults_injected=faults_on)
    every = records + settled.records
    problems = settled.problems + workload.check(aws, every, faults_injected=faults_on)
    result["by_segment"].setdefault(segment, Counter()).update(workload.outcomes(records))
    result["problems"] += [f"process {index} {segment}: {line}" for line in problems]
    result["retries"] += settled.retried
    result["dead_locks"] += settled.dead_locks
    if watch is not None:
        result["faults_armed"] += watch.armed
        result["faults_fired"] += watch.fired


class _FaultWatch:
    """Arms random faults during a run, and counts those that fired (seen in the answers)."""

    FIRED_AS: ClassVar[dict[str, str]] = {"InjectedFaultError": "crash", "Sandbox.Timedout": "hang",
                                          "Lambda.ServiceException": "service error"}  # fmt: skip

    def __init__(self, aws: Any, seed: int) -> None:
        import json

        from tests.reliability import faults

        self._faults = faults
        self._aws = aws
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.armed = 0
        self.fired: Counter[str] = Counter()
        self._pristine = aws.lambdas.invoke
        pristine = self._pristine

        def observed(name_or_arn: str, payload: bytes) -> Any:
            result = pristine(name_or_arn, payload)
            if result.function_error:
                kind = self.FIRED_AS.get(json.loads(result.payload).get("errorType"))
                if kind is not None:
                    with self._lock:
                        self.fired[kind] += 1
            return result

        aws.lambdas.invoke = observed
        # PutEvents partially failing all along the segment: the forwarder retries exactly the
        # refused entries, then the stream delivers them again.
        aws.eventbridge.refuse_at_random(0.1, seed)

    def arm_one(self) -> None:
        from infra.local.awslambda.functions import FaultPoint

        # The outbox's forwarder too: its faults must lose no event (workload.check).
        function = self._rng.choice([*self._faults.FUNCTIONS, self._faults.FORWARDER])
        roll = self._rng.random()
        if roll < 0.05:
            point = FaultPoint.HANG
        elif roll < 0.25:
            point = FaultPoint.SERVICE_ERROR
        else:
            point = self._rng.choice([FaultPoint.BEFORE, FaultPoint.AFTER])
        with self._lock:
            self.armed += 1
        self._aws.lambdas.inject_fault(function, point)

    def stop(self) -> None:
        self._aws.lambdas.invoke = self._pristine
        self._aws.lambdas.clear_faults()
        self._aws.eventbridge.refuse_at_random(0)


# Phases 2-6, in this process --------------------------------------------------------------------


def fault_matrix(aws: Any, figures: Figures, progress: Progress) -> None:
    from infra.local.awslambda.functions import FaultPoint
    from tests.reliability import faults

    cases = [(step, point) for step in faults.STEPS for point in faults.points_of(step)]
    for number, (step, point) in enumerate(cases, 1):
        progress.update("faults", _bar(number, len(cases) + 1))
        figures.problems += faults.run_case(aws, step, point)
    for point in faults.POINTS:  # the outbox's forwarder, PutEvents refusing entries meanwhile
        times = 1 if point is FaultPoint.HANG else 2
        figures.problems += faults.run_forwarder_case(aws, point, times)
    figures.problems += faults.run_double_fault(aws)
    figures.matrix_cases = len(cases) + len(faults.POINTS) + 1
    progress.done("faults", f"{figures.matrix_cases} cases")


def crashes_with_a_real_lease(aws: Any, figures: Figures, progress: Progress) -> None:
    from functions.settings import get_settings
    from tests.reliability import crashes

    previous = os.environ["LOCK_LEASE_SECONDS"]
    # Longer than a request waits for the lock (7 s in AcquireLock, then a retry after up to 1 s).
    os.environ["LOCK_LEASE_SECONDS"] = "15"
    get_settings.cache_clear()
    try:
        for number, step in enumerate(crashes.CRASH_POINTS, 1):
            progress.update("crashes", _bar(number, len(crashes.CRASH_POINTS)))
            figures.problems += crashes.run_crash(aws, step, real_lease=True)
            figures.crash_cases += 1
    finally:
        os.environ["LOCK_LEASE_SECONDS"] = previous
        get_settings.cache_clear()
    progress.done("crashes", f"{figures.crash_cases} scenarios")


def projection_chaos(aws: Any, figures: Figures, progress: Progress, args: Any) -> None:
    """The summaries consumer crashed, fed duplicated and replayed batches, then rewound."""
    from tests.reliability import projection

    for round_ in range(args.projection_rounds):
        progress.update("projection", _bar(round_, args.projection_rounds), force=True)
        problems, counted = projection.run(aws, args.seed + round_, args.projection_operations)
        figures.problems += [f"projection (seed {args.seed + round_}): {p}" for p in problems]
        figures.projection += counted
    progress.done("projection", f"{args.projection_rounds} rounds")


def stateful(aws: Any, figures: Figures, progress: Progress, examples: int) -> None:
    from hypothesis import HealthCheck, Phase, settings
    from hypothesis.stateful import run_state_machine_as_test

    from tests.reliability.model import wallet_machine

    progress.update("model", f"{examples} examples x 25 steps", force=True)
    counted = ("AcquireLockFunction", "GetBalanceFunction")  # each runs once per request
    before = sum(aws.lambdas.invocations[f] for f in counted)
    machine = wallet_machine(aws)
    # Derandomized: run_state_machine_as_test takes no seed; the same steps for the same code.
    test_settings = settings(max_examples=examples, stateful_step_count=25, deadline=None,
                             database=None, derandomize=True,
                             phases=[Phase.explicit, Phase.generate],
                             suppress_health_check=list(HealthCheck))  # fmt: skip
    try:
        run_state_machine_as_test(machine, settings=test_settings)
    except Exception as error:
        figures.problems.append(f"stateful model test: {error}"[:2000])
    after = sum(aws.lambdas.invocations[f] for f in counted)
    figures.stateful_steps = after - before
    progress.done("model", f"{figures.stateful_steps} requests")


def transfer_soak(aws: Any, figures: Figures, progress: Progress, args: Any) -> None:
    from tests.reliability import transfers

    def count(done: int) -> None:
        progress.update("transfers", _bar(done, args.transfers))

    found = transfers.run(aws, args.seed, args.transfers, users=args.transfer_users,
                          threads=args.threads, progress=count)  # fmt: skip
    figures.transfers = transfers.summary(found)
    figures.problems += [f"transfers: {line}" for line in found.problems]
    progress.done("transfers", f"{args.transfers} operations")


def hold_soak(aws: Any, figures: Figures, progress: Progress, args: Any) -> None:
    from tests.reliability import holds

    def count(done: int) -> None:
        progress.update("holds", _bar(done, args.holds))

    found = holds.run(aws, args.seed, args.holds, users=args.hold_users, threads=args.threads,
                      progress=count)  # fmt: skip
    figures.holds = holds.summary(found)
    figures.problems += [f"holds: {line}" for line in found.problems]
    progress.done("holds", f"{args.holds} operations")


def parsers(figures: Figures, progress: Progress, seed: int, examples: int) -> None:
    from hypothesis import strategies as st

    from tests.reliability import inputs

    properties = {
        "amount": (st.tuples(inputs.amount_values, st.sampled_from(["ammount", "amount"])),
                   lambda value: inputs.check_amount(*value)),
        "userId": (inputs.identifier_values, inputs.check_user_id),
        "Idempotent-Key": (inputs.identifier_values, inputs.check_idempotency_key),
        "request": (st.tuples(inputs.request_bodies(), st.one_of(st.just("k"),
                                                                 inputs.identifier_values)),
                    lambda value: inputs.check_transaction_request(*value)),
    }  # fmt: skip
    for name, (strategy, check) in properties.items():
        try:
            outcomes = _fuzz_property(name, strategy, check, seed, examples, progress)
        except Exception as error:
            figures.problems.append(f"parser property {name}: {error}"[:2000])
            continue
        for outcome, count in outcomes.items():
            figures.parser_examples[f"{name} {outcome}"] += count
    progress.done("parsers", f"{sum(figures.parser_examples.values())} inputs")


def _fuzz_property(
    name: str, strategy: Any, check: Any, seed: int, examples: int, progress: Progress
) -> Counter[str]:
    from hypothesis import given, settings
    from hypothesis import seed as hypothesis_seed

    outcomes: Counter[str] = Counter()

    @hypothesis_seed(seed)
    @settings(max_examples=examples, database=None, deadline=None)
    @given(value=strategy)
    def prop(value: Any) -> None:
        outcomes[check(value)] += 1
        progress.update("parsers", f"{name} {sum(outcomes.values())}")

    prop()
    return outcomes


def over_http(figures: Figures, progress: Progress, args: argparse.Namespace) -> None:
    from infra.composition import serving
    from infra.local.runtime import active_runtime
    from tests.invariants import violations
    from tests.reliability import workload
    from tests.reliability.http import Http, fuzz

    with serving() as url:
        aws = active_runtime()
        transport = Http(url, aws)
        ops = workload.generate(args.seed + 1, args.http_operations, users=16, prefix="http")
        done = Counter[str]()

        def count(record: Any) -> None:
            done["ops"] += not record.attempt  # a 429 retried is the same operation
            progress.update("http", _bar(done["ops"], len(ops)))

        records = workload.run(transport, ops, args.threads, progress=count)
        settled = workload.settle(aws, transport, records, faults_injected=False)
        every = records + settled.records
        figures.http_operations = workload.outcomes(records)
        figures.problems += [f"http: {line}" for line in transport.problems + settled.problems]
        figures.problems += [f"http: {line}" for line in
                             workload.check(aws, every, faults_injected=False)]  # fmt: skip
        progress.done("http", f"{len(ops)} operations")

        fuzz_seed = args.seed
        while sum(figures.fuzz_requests.values()) < args.fuzz_requests:
            sent = sum(figures.fuzz_requests.values())

            def fuzz_progress(n: int, sent: int = sent) -> None:
                progress.update("fuzz", _bar(sent + n, args.fuzz_requests))

            report = fuzz(url, examples=args.fuzz_examples, seed=fuzz_seed,
                          progress=fuzz_progress)  # fmt: skip
            figures.fuzz_requests += report.statuses
            figures.problems += [f"fuzz (seed {fuzz_seed}): {line}" for line in report.failures]
            fuzz_seed += 1
        figures.problems += [f"after fuzzing: {line}" for line in violations(aws.dynamodb)]
        progress.done("fuzz", f"{sum(figures.fuzz_requests.values())} requests")


# Orchestration ----------------------------------------------------------------------------------


def load(figures: Figures, progress: Progress, plan: dict[str, Any], processes: int) -> None:
    """Phase 1: the workload in `processes` worker processes, their figures gathered here."""
    started = time.monotonic()
    total = sum(count for _, count in plan["segments"]) * processes
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(processes,
                                                           mp_context=context) as pool:  # fmt: skip
        updates = manager.Queue()
        workers = [pool.submit(load_worker, i, plan, updates) for i in range(processes)]
        counts: dict[int, int] = {}
        while not all(worker.done() for worker in workers):
            try:
                index, done = updates.get(timeout=1.0)
            except queue_module.Empty:
                continue
            counts[index] = done.get("ops", 0)
            rate = sum(counts.values()) / max(1e-9, time.monotonic() - started)
            progress.update("load", f"{_bar(sum(counts.values()), total)} {rate:.1f} ops/s")
        for worker in workers:
            result = worker.result()
            for segment, outcomes in result["by_segment"].items():
                figures.by_segment.setdefault(segment, Counter()).update(outcomes)
                figures.operations.update(outcomes)
            figures.problems += result["problems"]
            figures.settled_retries += result["retries"]
            figures.dead_locks += result["dead_locks"]
            figures.faults_armed += result["faults_armed"]
            figures.faults_fired += result["faults_fired"]
    progress.done("load", f"{total} operations")


def plan_for(args: argparse.Namespace) -> dict[str, Any]:
    per_process = args.operations // args.processes
    forced = min(args.forced_operations, per_process)
    faulted = min(per_process // 5, per_process - forced)
    return {
        "seed": args.seed,
        "threads": args.threads,
        "users": args.users,
        "segments": [("forced", forced), ("faults", faulted),
                     ("steady", per_process - forced - faulted)],
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.reliability",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # The integer options: (flag, default, help).
    for flag, default, help_text in (
        ("--seed", DEFAULT_SEED, None),
        ("--operations", 10_000, "workload operations through the embedded runtime, in all"),
        ("--processes", max(1, min(2, os.cpu_count() or 1)), None),
        ("--threads", 16, "threads per process"),
        ("--users", 48, "users per segment, plus a hot one"),
        ("--forced-operations", 64, "operations per process under sys.setswitchinterval(1e-6)"),
        ("--http-operations", 400, None),
        ("--fuzz-requests", 1_000, None),
        ("--fuzz-examples", 130, "schemathesis examples per operation and mode, per round"),
        ("--parser-examples", 5_000, None),
        ("--model-examples", 12, None),
        # About 4 in 5 are fresh transfers (the rest replays, reuses, transfers to oneself), and
        # about 4 in 5 of those commit (the rest refused for funds or a busy lock): over 2,000.
        ("--transfers", 3_200, "POST /transfers operations, with a fault at every step"),
        ("--transfer-users", 4, None),
        # Holds placed, captured, voided, with debits, credits and transfers racing them.
        ("--holds", 1_500, "hold-soak operations, with a fault at every step of the hold saga"),
        ("--hold-users", 3, None),
        ("--projection-rounds", 3, "rounds of the projection's chaos, each a LocalAws's users"),
        ("--projection-operations", 150, "requests per projection round"),
    ):
        parser.add_argument(flag, type=int, default=default, help=help_text)
    parser.add_argument(
        "--phases",
        type=lambda text: set(text.split(",")),
        default=set(PHASES),
        help=f"the phases after the load to run, comma-separated (default: {','.join(PHASES)})",
    )
    args = parser.parse_args(argv)
    if args.phases - set(PHASES):
        parser.error(f"unknown phases: {', '.join(sorted(args.phases - set(PHASES)))}")

    _quiet()
    from infra.local.runtime import LocalAws

    started = time.monotonic()
    figures = Figures()
    progress = Progress()
    with contextlib.redirect_stdout(io.StringIO()):  # see _quiet
        load(figures, progress, plan_for(args), args.processes)
        # One phase after another: a phase starved of CPU by the others would only time out more.
        with LocalAws() as aws:
            if "faults" in args.phases:
                fault_matrix(aws, figures, progress)
            if "crashes" in args.phases:
                crashes_with_a_real_lease(aws, figures, progress)
            if "projection" in args.phases:
                projection_chaos(aws, figures, progress, args)
            if "model" in args.phases:
                stateful(aws, figures, progress, args.model_examples)
            if "transfers" in args.phases:
                transfer_soak(aws, figures, progress, args)
            if "holds" in args.phases:
                hold_soak(aws, figures, progress, args)
        if "parsers" in args.phases:
            parsers(figures, progress, args.seed, args.parser_examples)
        if "http" in args.phases:
            over_http(figures, progress, args)
    print_figures(figures, args, time.monotonic() - started)
    return 1 if figures.problems else 0


def print_figures(figures: Figures, args: argparse.Namespace, seconds: float) -> None:
    from tests.reliability.runtime import counts

    print(f"\nReliability soak, seed {args.seed}, {seconds / 60:.1f} min")
    print(f"load: {sum(figures.operations.values())} requests (retries of 429s included) from "
          f"{args.processes} processes x {args.threads} threads")  # fmt: skip
    print(f"  outcomes: {counts(figures.operations)}")
    for segment, outcomes in figures.by_segment.items():
        print(f"  {segment}: {counts(outcomes)}")
    print(f"  settled: {figures.settled_retries} requests retried after a 500 or a left record, "
          f"{figures.dead_locks} dead holders' locks let run out")  # fmt: skip
    print(f"faults under load: {figures.faults_armed} armed, fired: {counts(figures.faults_fired)}")
    print(f"fault matrix: {figures.matrix_cases} cases; crashed executions: {figures.crash_cases}")
    print(f"projection: {counts(figures.projection)}")
    print(f"stateful model test: {figures.stateful_steps} requests")
    for line in figures.transfers:
        print(line)
    for line in figures.holds:
        print(line)
    print(f"parser fuzzing: {sum(figures.parser_examples.values())} inputs: "
          f"{counts(figures.parser_examples)}")  # fmt: skip
    print(f"http workload: {counts(figures.http_operations)}")
    print(f"http fuzzing (schemathesis): {sum(figures.fuzz_requests.values())} requests: "
          f"{counts(figures.fuzz_requests)}")  # fmt: skip
    print(f"violations found: {len(figures.problems)}")
    for line in figures.problems[:50]:
        print(f"  {line}")
