"""The transfer soak: transfers among a few users in both directions from many threads, with a
fault armed at every step of the transfer saga in turn, then settled and checked.

Faults, one armed at a time (the next FAULT_EVERY operations after the previous one fired), in a
seeded order that goes through every (step, point) before repeating one: each Lambda task
(AcquireLocks, PutTransfer, CommitTransfer, DeleteTransfer) crashing before its work, after it
(after CommitTransfer: a crash after the commit), answering a Lambda service error after it, or
hanging past its timeout; each of the four releases (DynamoDB's own integration) failing before
its write once (its Retry hides it) or at both attempts (the lock is left to its lease), or losing
its answer after the write.

A lock left by an execution that has ended can only be freed by its lease (25 s). Waiting for it
would turn a run among four users into a run of 429s, so as soon as a request is answered, a lock
its execution left is made to run out (`expire_lease`, as time passing would) once it is checked
that a fault fired in that execution: the soak tests what happens once a lease has run out, the
crash tests (crashes.py) what happens before.

Checked afterwards, once every request answered 500 was sent again until it got a definite
answer (as a client would): no request took 20 s or more (the machine's TimeoutSeconds: no
deadlock); every 5xx came from a fault injected in its own execution, and a transfer to oneself
(invalid input) is a 400 (invariant 6); the contract's invariants from the tables
(tests/invariants.py: 1-4, 7 and 10 from violations, 8 the events, 9 the summaries projection);
money conserved among the users; each key applied at most once, every 201 of a key the same body
and the table's record, every committed transfer answered 201. Invariants 11 and 12 are about
holds and reversals: checked by violations as far as it knows them, exercised by no transfer.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from functions.domain.money import format_money
from functions.settings import get_settings
from infra.local.awslambda.functions import FaultPoint
from tests.invariants import event_violations, lock_owner, projection_violations, violations
from tests.reliability.runtime import (
    Answer,
    aggregate_rows,
    counts,
    expire_lease,
    transaction_rows,
    wait_for_stragglers,
)

MACHINE = "TransferStateMachine"
NO_DEADLOCK_SECONDS = 20.0  # the transfer machine's TimeoutSeconds, inside API Gateway's 29 s
FAULT_EVERY = 8  # operations between a fault firing and the next one being armed
MAX_REARMED = 3  # times a fault taken by a call that showed nothing is armed again
TRANSFER, REPLAY, REUSE, SELF = "transfer", "replay", "reuse", "self"

LAMBDA_STEPS = ("AcquireLocks", "PutTransfer", "CommitTransfer", "DeleteTransfer")
RELEASES = ("ReleaseSecondLock", "ReleaseFirstLock", "ReleaseSecondLockAfterFailure",
            "ReleaseFirstLockAfterFailure")  # fmt: skip
TRANSFER_FIELDS = frozenset(
    {"transferId", "fromUserId", "toUserId", "amount", "currency", "balance", "createdAt"}
)
# The errorType of an invocation that an armed fault broke (infra/local/awslambda/functions.py):
# InjectedFaultError says in its message whether it came before or after the work.
LAMBDA_POINTS_BY_ERROR = {
    "InjectedFaultError": FaultPoint.BEFORE,
    "Sandbox.Timedout": FaultPoint.HANG,
    "Lambda.ServiceException": FaultPoint.SERVICE_ERROR,
}


@dataclass(frozen=True)
class Fault:
    """One fault to arm: a Lambda task's function, or a DynamoDB task state, at a point."""

    step: str
    point: FaultPoint
    times: int = 1

    @property
    def name(self) -> str:
        suffix = f" x{self.times}" if self.times > 1 else ""
        return f"{self.step} {self.point.value}{suffix}"


FAULTS = (
    *(Fault(step, point) for step in LAMBDA_STEPS for point in FaultPoint),
    *(
        fault
        for state in RELEASES
        for fault in (
            Fault(state, FaultPoint.BEFORE),  # retried once: hidden by the Retry
            Fault(state, FaultPoint.BEFORE, 2),  # at both attempts: the lock is left to its lease
            Fault(state, FaultPoint.AFTER),  # written, answer lost: the retry finds it freed
        )
    ),
)


@dataclass(frozen=True)
class Operation:
    index: int
    kind: str
    from_user: str
    to_user: str
    key: str
    amount: Decimal
    body: str


def _body(from_user: str, to_user: str, amount: Decimal, rng: random.Random) -> str:
    spelled = format_money(amount)
    if rng.random() < 0.5:
        spelled = spelled.rstrip("0").rstrip(".")
    field_name = "ammount" if rng.random() < 0.7 else "amount"
    fields = [("fromUserId", from_user), ("toUserId", to_user), (field_name, spelled)]
    rng.shuffle(fields)
    return json.dumps(dict(fields))


def generate(seed: int, count: int, users: int = 4, prefix: str = "") -> list[Operation]:
    """Transfers between random pairs of `users`, each pair in both directions; replays of earlier
    keys (the same payload, spelled anew), reuses of them with another amount, and a few
    transfers to oneself (a 400)."""
    rng = random.Random(seed)
    prefix = prefix or f"t{seed}"
    names = [f"{prefix}-user-{i}" for i in range(users)]
    issued: list[Operation] = []
    ops: list[Operation] = []
    for index in range(count):
        roll = rng.random()
        if roll < 0.12 and issued:
            earlier = rng.choice(issued)
            body = _body(earlier.from_user, earlier.to_user, earlier.amount, rng)
            ops.append(Operation(index, REPLAY, earlier.from_user, earlier.to_user, earlier.key,
                                 earlier.amount, body))  # fmt: skip
            continue
        if roll < 0.16 and issued:
            earlier = rng.choice(issued)
            other = earlier.amount + Decimal(rng.randint(1, 500)) / 100
            body = _body(earlier.from_user, earlier.to_user, other, rng)
            ops.append(Operation(index, REUSE, earlier.from_user, earlier.to_user, earlier.key,
                                 other, body))  # fmt: skip
            continue
        amount = Decimal(rng.randint(100, 6000)) / 100
        key = f"{prefix}-key-{index}"
        if roll < 0.18:
            user = rng.choice(names)
            ops.append(Operation(index, SELF, user, user, key, amount,
                                 _body(user, user, amount, rng)))  # fmt: skip
            continue
        from_user, to_user = rng.sample(names, 2)
        op = Operation(index, TRANSFER, from_user, to_user, key, amount,
                       _body(from_user, to_user, amount, rng))  # fmt: skip
        issued.append(op)
        ops.append(op)
    return ops


@dataclass(frozen=True)
class Record:
    op: Operation
    attempt: int
    answer: Answer
    seconds: float
    phase: str = "run"


def send(aws: Any, op: Operation) -> tuple[Answer, float]:
    """StartSyncExecution of the transfer machine, as API Gateway's request template starts it."""
    execution_input = json.dumps(
        {"body": op.body, "idempotencyKey": op.key, "requestId": uuid.uuid4().hex}
    )
    return start(aws, MACHINE, execution_input)


def start(aws: Any, machine: str, execution_input: str) -> tuple[Answer, float]:
    """One execution of `machine`, as StartSyncExecution answers it, and its duration."""
    started = time.monotonic()
    try:
        response = aws.start_sync_execution(machine, execution_input)
    except Exception as error:  # the runtime failing is a finding, not a crash of the harness
        return Answer("ERROR", type(error).__name__, None, None, repr(error)), 0.0
    seconds = time.monotonic() - started
    output = json.loads(response["output"]) if response.get("output") else None
    return Answer(
        status=response["status"],
        error=response.get("error"),
        output=output if response["status"] == "SUCCEEDED" else None,
        execution_arn=response["executionArn"],
        cause=response.get("cause"),
    ), seconds


class FaultCycle:
    """Arms `faults` (FAULTS by default) one at a time in a seeded order, and records the
    executions a fault broke.

    It observes the runtime's Lambda invocations and DynamoDB task calls (wrapping them on the
    instance): the next call of the armed step takes the fault (even when the step fails on its
    own first, as a release of a lock it does not hold does: then nothing shows), and every
    call answered with an injected error puts its execution in `faulted`, so that a 500, a lock
    or a pending record left behind can be traced to a fault in the execution that left it.
    """

    def __init__(
        self,
        aws: Any,
        seed: int,
        every: int = FAULT_EVERY,
        faults: tuple[Fault, ...] = FAULTS,
        lambda_steps: tuple[str, ...] = LAMBDA_STEPS,
    ) -> None:
        self._aws = aws
        self._faults = faults  # another saga's soak (holds.py) passes its own steps
        self._lambda_steps = lambda_steps
        self._rng = random.Random(seed)
        self._every = every
        self._lock = threading.Lock()
        self._order: list[Fault] = []
        self._armed: Fault | None = None
        self._since_taken = 0
        self.armed: Counter[str] = Counter()
        self._retaken: Counter[str] = Counter()
        self.fired: Counter[str] = Counter()  # by "step point": the injected errors seen
        self.faulted: set[str] = set()  # execution ARNs in which an injected error showed
        self._pristine_invoke = aws.lambdas.invoke
        self._pristine_call = aws.service_tasks.call
        aws.lambdas.invoke = self._observed_invoke
        aws.service_tasks.call = self._observed_call

    def _observed_invoke(self, name_or_arn: str, payload: bytes) -> Any:
        result = self._pristine_invoke(name_or_arn, payload)
        step = self._aws.lambdas.resolve(name_or_arn).logical_id.removesuffix("Function")
        point = None
        if result.function_error:
            error = json.loads(result.payload)
            point = LAMBDA_POINTS_BY_ERROR.get(error.get("errorType"))
            if point is FaultPoint.BEFORE and "after its work" in error.get("errorMessage", ""):
                point = FaultPoint.AFTER
        self._seen(step, point, json.loads(payload or b"{}").get("executionId"))
        return result

    def _observed_call(self, state: str, execution_id: str, send: Callable[[], Any]) -> Any:
        try:
            response = self._pristine_call(state, execution_id, send)
        except ClientError as error:
            message = str(error)
            point = None
            if "injected fault before" in message:
                point = FaultPoint.BEFORE
            elif "injected fault after" in message:
                point = FaultPoint.AFTER
            self._seen(state, point, execution_id)
            raise
        self._seen(state, None, execution_id)
        return response

    def _seen(self, step: str, point: FaultPoint | None, execution_id: str | None) -> None:
        with self._lock:
            if point is not None:
                self.fired[f"{step} {point.value}"] += 1
                if execution_id:
                    self.faulted.add(execution_id)
            if self._armed is not None and self._armed.step == step:
                # Taken by this call (a fault of `times` > 1: by its first). One that showed
                # nothing (the step failed on its own first: an overdraft before a fault after the
                # commit) is armed again later, a few times at most, so that every fault fires.
                if point is None and self._retaken[self._armed.name] < MAX_REARMED:
                    self._retaken[self._armed.name] += 1
                    self._order.insert(0, self._armed)
                self._armed = None
                self._since_taken = 0

    def tick(self) -> None:
        """One operation done: arm the next fault once FAULT_EVERY have passed since the last
        was taken."""
        with self._lock:
            self._since_taken += 1
            if self._armed is not None or self._since_taken < self._every:
                return
            if not self._order:
                self._order = list(self._faults)
                self._rng.shuffle(self._order)
            fault = self._armed = self._order.pop()
            self.armed[fault.name] += 1
            if fault.step in self._lambda_steps:
                self._aws.lambdas.inject_fault(f"{fault.step}Function", fault.point, fault.times)
            else:
                self._aws.service_tasks.inject_fault(fault.step, fault.point, fault.times)

    def stop(self) -> None:
        self._aws.lambdas.clear_faults()
        self._aws.service_tasks.clear_faults()
        self._aws.lambdas.invoke = self._pristine_invoke
        self._aws.service_tasks.call = self._pristine_call
        self._armed = None


@dataclass
class Figures:
    outcomes: Counter[str] = field(default_factory=Counter)
    settle_outcomes: Counter[str] = field(default_factory=Counter)
    faults_armed: Counter[str] = field(default_factory=Counter)
    faults_fired: Counter[str] = field(default_factory=Counter)
    leases_run_out: int = 0  # locks left by a faulted execution, expired as their lease would
    pending_left: int = 0
    resent: int = 0
    longest_seconds: float = 0.0
    server_errors: int = 0  # 5xx answers, each explained by a fault in its own execution
    committed: int = 0
    problems: list[str] = field(default_factory=list)


def _is_5xx(answer: Answer) -> bool:
    return not answer.is_definite


def run(
    aws: Any,
    seed: int,
    count: int,
    *,
    users: int = 4,
    threads: int = 16,
    faults: bool = True,
    fault_every: int = FAULT_EVERY,
    busy_retries: int = 2,
    progress: Callable[[int], None] | None = None,
) -> Figures:
    """The soak: `count` operations among `users` from `threads` threads, settled and checked."""
    figures = Figures()
    ops = generate(seed, count, users, prefix=f"t{seed}-{uuid.uuid4().hex[:6]}")
    cycle = FaultCycle(aws, seed, fault_every) if faults else None
    records: list[Record] = []
    lock = threading.Lock()
    done = [0]

    def free_what_it_left(op: Operation, answer: Answer) -> None:
        """A lock the ended execution still holds is left to its lease: make it run out now."""
        arn = answer.execution_arn
        if arn is None:
            return
        for user in {op.from_user, op.to_user}:
            if lock_owner(aws.dynamodb, user) != arn:
                continue
            if cycle is None or arn not in cycle.faulted:
                with lock:
                    figures.problems.append(f"{arn} left the lock of {user!r} with no fault")
            if expire_lease(aws.dynamodb, user, arn):
                with lock:
                    figures.leases_run_out += 1

    def work(op: Operation) -> None:
        pause = random.Random(op.index)
        for attempt in range(1 + busy_retries):
            answer, seconds = send(aws, op)
            free_what_it_left(op, answer)
            with lock:
                records.append(Record(op, attempt, answer, seconds))
            if answer.error != "UserBusyError":
                break
            time.sleep(pause.uniform(0.05, 0.5))
        with lock:
            done[0] += 1
        if cycle is not None:
            cycle.tick()
        if progress is not None:
            progress(done[0])

    try:
        with ThreadPoolExecutor(threads) as pool:
            for _ in pool.map(work, ops):
                pass
    finally:
        if cycle is not None:
            cycle.stop()
    faulted = cycle.faulted if cycle is not None else set()
    if cycle is not None:
        figures.faults_armed, figures.faults_fired = cycle.armed, cycle.fired
    settled = _settle(aws, records, faulted, figures)
    figures.outcomes = Counter(r.answer.label for r in records)
    figures.settle_outcomes = Counter(r.answer.label for r in settled)
    every = records + settled
    figures.longest_seconds = max((r.seconds for r in every), default=0.0)
    figures.problems += check(aws, ops, every, faulted, figures)
    return figures


def _settle(aws: Any, records: list[Record], faulted: set[str], figures: Figures) -> list[Record]:
    """Send again, until a definite answer, every request answered 500 or whose execution left a
    pending record (a compensation that crashed before its delete), as a client would."""
    wait_for_stragglers()
    users = {r.op.from_user for r in records} | {r.op.to_user for r in records}
    for user, row in aggregate_rows(aws.dynamodb).items():
        if user in users and "lockOwner" in row:
            owner = row["lockOwner"]["S"]
            if owner not in faulted:
                figures.problems.append(f"user {user!r}: lock left by {owner}, with no fault")
            figures.leases_run_out += expire_lease(aws.dynamodb, user, owner)
    again: dict[int, Operation] = {r.op.index: r.op for r in records if _is_5xx(r.answer)}
    by_execution = {r.answer.execution_arn: r.op for r in records}
    for item in transaction_rows(aws.dynamodb):
        if item["userId"]["S"] not in users or item["status"]["S"] == "COMMITTED":
            continue
        figures.pending_left += 1
        owner = item["owner"]["S"]
        if owner not in faulted:
            figures.problems.append(f"pending record {item['idempotencyKey']['S']!r} left by "
                                    f"{owner}, with no fault")  # fmt: skip
        if owner in by_execution:
            op = by_execution[owner]
            again[op.index] = op
    settled: list[Record] = []
    for op in sorted(again.values(), key=lambda op: op.index):
        for attempt in range(10):
            answer, seconds = send(aws, op)
            settled.append(Record(op, attempt, answer, seconds, phase="settle"))
            if answer.is_definite and answer.error != "UserBusyError":
                break
            time.sleep(0.5)
        else:
            figures.problems.append(f"{op.from_user!r}/{op.key!r} never reached a definite answer")
        figures.resent += 1
    return settled


def check(
    aws: Any, ops: list[Operation], records: list[Record], faulted: set[str], figures: Figures
) -> list[str]:
    problems = [f"invariant: {line}" for line in violations(aws.dynamodb)]
    problems += [
        f"events: {line}" for line in event_violations(aws.dynamodb, aws.published_events())
    ]
    problems += [f"projection: {line}" for line in projection_violations(aws.dynamodb)]
    settings = get_settings()
    users = {op.from_user for op in ops} | {op.to_user for op in ops}
    rows = aggregate_rows(aws.dynamodb)
    held = [Decimal(rows[u]["balance"]["N"]) if u in rows else settings.default_balance
            for u in users]  # fmt: skip
    total = sum(held, Decimal(0))
    if total != settings.default_balance * len(users):
        problems.append(f"money not conserved: the users hold {total} in all")
    committed = {
        (item["userId"]["S"], item["idempotencyKey"]["S"]): item
        for item in transaction_rows(aws.dynamodb)
        if item["status"]["S"] == "COMMITTED" and item["userId"]["S"] in users
    }
    figures.committed = len(committed)
    succeeded: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for record in records:
        op, answer = record.op, record.answer
        where = f"op {op.index} ({op.kind} {op.from_user!r}->{op.to_user!r} {op.key!r})"
        if record.seconds >= NO_DEADLOCK_SECONDS:
            problems.append(f"{where}: took {record.seconds:.1f} s")
        if _is_5xx(answer):
            figures.server_errors += 1
            if answer.execution_arn not in faulted:
                problems.append(f"{where}: {answer.label} with no fault injected in it: "
                                f"{(answer.cause or '')[:300]}")  # fmt: skip
            continue
        if answer.status == "SUCCEEDED":
            problems += _check_201(where, op, answer)
            succeeded[(op.from_user, op.key)].append(record)
        elif answer.error == "ValidationError" and op.kind != SELF:
            problems.append(f"{where}: a valid request answered ValidationError")
        elif answer.error == "IdempotencyKeyReusedError":
            item = committed.get((op.from_user, op.key))
            if item is None or (item["toUserId"]["S"], Decimal(item["amount"]["N"])) == (
                op.to_user,
                op.amount,
            ):
                problems.append(f"{where}: reported reused, but its payload is the committed one")
        if op.kind == SELF and answer.error != "ValidationError":
            problems.append(f"{where}: a transfer to oneself answered {answer.label}")
    for (user, key), recs in succeeded.items():
        bodies = {json.dumps(r.answer.output["transfer"], sort_keys=True)  # type: ignore[index]
                  for r in recs}  # fmt: skip
        applied = [r for r in recs if r.answer.is_applied]
        if len(bodies) != 1:
            problems.append(f"{user!r}/{key!r}: 201 bodies differ: {sorted(bodies)}")
        if len(applied) > 1:
            problems.append(f"{user!r}/{key!r}: applied {len(applied)} times")
        transfer = json.loads(next(iter(bodies)))
        item = committed.get((user, key))
        if item is None:
            problems.append(f"{user!r}/{key!r}: a 201 but nothing committed")
        elif (
            item["transferId"]["S"] != transfer["transferId"]
            or item["toUserId"]["S"] != transfer["toUserId"]
            or Decimal(item["amount"]["N"]) != Decimal(transfer["amount"])
            or Decimal(item["balanceAfter"]["N"]) != Decimal(transfer["balance"])
        ):
            problems.append(f"{user!r}/{key!r}: 201 body {transfer} differs from the table")
    for user, key in committed.keys() - succeeded.keys():
        problems.append(f"{user!r}/{key!r}: committed, but no request was answered 201")
    return problems


def _check_201(where: str, op: Operation, answer: Answer) -> list[str]:
    transfer = (answer.output or {}).get("transfer") or {}
    if set(transfer) != TRANSFER_FIELDS:
        return [f"{where}: 201 body fields {sorted(transfer)}"]
    expected = (op.from_user, op.to_user, format_money(op.amount), "USD")
    actual = (transfer["fromUserId"], transfer["toUserId"], transfer["amount"],
              transfer["currency"])  # fmt: skip
    problems = []
    if actual != expected:
        problems.append(f"{where}: 201 body {actual} for request {expected}")
    if op.kind == SELF:
        problems.append(f"{where}: a transfer to oneself was applied")
    if Decimal(transfer["balance"]) < 0:
        problems.append(f"{where}: balance {transfer['balance']!r}")
    return problems


def summary(figures: Figures) -> list[str]:
    """The figures as the soak prints them."""

    return [
        f"transfers: {sum(figures.outcomes.values())} requests (429s retried count again): "
        f"{counts(figures.outcomes)}",
        f"  settled: {figures.resent} sent again ({counts(figures.settle_outcomes)}); "
        f"{figures.pending_left} pending records and {figures.leases_run_out} locks left by "
        f"faulted executions",
        f"  committed transfers {figures.committed}; 5xx {figures.server_errors}, each from a "
        f"fault in its own execution; longest request {figures.longest_seconds:.1f} s",
        faults_line(figures.faults_armed, figures.faults_fired),
    ]


def faults_line(armed: Counter[str], fired: Counter[str]) -> str:
    """What a FaultCycle armed and saw fire, as the soaks print it."""
    return f"  faults: {sum(armed.values())} armed, {sum(fired.values())} fired: {counts(fired)}"
