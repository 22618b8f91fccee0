"""The hold soak: holds placed, captured (in full or in part) and voided, with debits and
transfers racing them, on a few hot users from many threads, with a fault armed at every step of
the hold saga in turn (transfers.FaultCycle), then settled and checked.

Faults, one armed at a time as in the transfer soak: each Lambda task of the hold machine
(AcquireHoldLock, PlaceHold, CaptureHold, VoidHold) crashing before its work, after it, answering
a Lambda service error after it, or hanging past its timeout; each of its two releases (DynamoDB's
own integration) failing before its write once (its Retry hides it) or at both attempts (the lock
is left to its lease), or losing its answer after the write. Debits and transfers run unfaulted:
they race the holds for the same locks and the same `available`.

Takers: half the captures and voids take a hold placed for an hour that no other request took
(so some find it pending whatever the others did); the other half take one of the last few holds
placed, racing each other, the debits and transfers, and the holds' expiry.

Expiry: some holds are placed with `expiresInSeconds` 1 on the system clock, so they expire
during the run with no request in between, and captures and voids race their expiry. The soak
cannot say at which instant a hold expired relative to a capture (the handlers read the clock
once, under the lock); the exact instant is the clock-controlled tests' (tests/contract).

Checked afterwards, once every request answered 500 was sent again until it got a definite
answer: `available` never observed below 0 (every 201's body, and a watcher reading the rows as
GET /balance does throughout the run); invariants 1-12 for every user (tests/invariants.py), the
events and the summaries projection; every 5xx from a fault injected in its own execution; no
request taking 20 s or more; no hold both captured and voided (by the answers and by the tables),
no capture above its hold, no hold captured or voided twice, and no key placing two holds or
applying twice.
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

from functions.clock import SystemClock
from functions.domain.money import format_money
from functions.repositories import aggregates
from functions.settings import get_settings
from infra.local.awslambda.functions import FaultPoint
from tests.builders import execution_input, hold_input, transfer_input
from tests.invariants import event_violations, lock_owner, projection_violations, scan, violations
from tests.reliability.runtime import (
    DOMAIN_ERRORS,
    Answer,
    counts,
    expire_lease,
    wait_for_stragglers,
)
from tests.reliability.transfers import Fault, FaultCycle, faults_line, start

MACHINE = "HoldStateMachine"
NO_DEADLOCK_SECONDS = 20.0  # the hold machine's TimeoutSeconds
FAULT_EVERY = 8
RECENT = 6  # a capture or void that races takes one of the last RECENT holds placed
RACING = 0.5  # the share of captures and voids that race; the others take a hold nobody took
PLACE, REPLAY, CAPTURE, PARTIAL, VOID, DEBIT, CREDIT, TRANSFER = (
    "place", "replay", "capture", "partial", "void", "debit", "credit", "transfer"
)  # fmt: skip
LAMBDA_STEPS = ("AcquireHoldLock", "PlaceHold", "CaptureHold", "VoidHold")
RELEASES = ("ReleaseLock", "ReleaseLockAfterFailure")
FAULTS = (
    *(Fault(step, point) for step in LAMBDA_STEPS for point in FaultPoint),
    *(
        fault
        for state in RELEASES
        for fault in (
            Fault(state, FaultPoint.BEFORE),
            Fault(state, FaultPoint.BEFORE, 2),
            Fault(state, FaultPoint.AFTER),
        )
    ),
)
# A hold's refusals: rows of the contract (4xx), as definite as the transaction's.
DEFINITE = DOMAIN_ERRORS | {"HoldNotPendingError", "HoldAmountExceededError", "NotFoundError"}


def is_definite(answer: Answer) -> bool:
    return answer.status == "SUCCEEDED" or answer.error in DEFINITE


@dataclass(frozen=True)
class Operation:
    index: int
    kind: str
    user: str
    other: str  # a transfer's recipient
    key: str
    amount: Decimal
    expires_in: int
    pick: float  # which placed hold a capture or void takes (a fraction of the list)


def generate(seed: int, count: int, users: int = 3, prefix: str = "") -> list[Operation]:
    """Places (some expiring within a second, some replayed with their key), full and partial
    captures (a few above the hold), voids, debits and transfers among `users`, and credits that
    keep money coming in (without them the users would soon have nothing to hold)."""
    rng = random.Random(seed)
    prefix = prefix or f"h{seed}"
    names = [f"{prefix}-user-{i}" for i in range(users)]
    kinds = (PLACE, PLACE, PLACE, REPLAY, CAPTURE, PARTIAL, PARTIAL, VOID, VOID, DEBIT, DEBIT,
             CREDIT, TRANSFER, TRANSFER)  # fmt: skip
    ops: list[Operation] = []
    places: list[Operation] = []
    for index in range(count):
        kind = rng.choice(kinds)
        if kind == REPLAY and places:
            earlier = rng.choice(places)  # the same payload under the same key
            ops.append(Operation(index, REPLAY, earlier.user, earlier.other, earlier.key,
                                 earlier.amount, earlier.expires_in, 0.0))  # fmt: skip
            continue
        kind = PLACE if kind == REPLAY else kind
        user, other = rng.sample(names, 2)
        amount = Decimal(rng.randint(100, 3000)) / 100
        op = Operation(index, kind, user, other, f"{prefix}-key-{index}", amount,
                       rng.choice((1, 3600, 3600)), rng.random())  # fmt: skip
        places += [op] if kind == PLACE else []
        ops.append(op)
    return ops


@dataclass(frozen=True)
class Record:
    op: Operation
    machine: str
    execution_input: str
    answer: Answer
    seconds: float
    hold_id: str = ""
    phase: str = "run"


@dataclass
class Figures:
    outcomes: Counter[str] = field(default_factory=Counter)
    settle_outcomes: Counter[str] = field(default_factory=Counter)
    faults_armed: Counter[str] = field(default_factory=Counter)
    faults_fired: Counter[str] = field(default_factory=Counter)
    leases_run_out: int = 0
    resent: int = 0
    longest_seconds: float = 0.0
    server_errors: int = 0
    lowest_available: Decimal = Decimal("Infinity")
    watched: int = 0  # rows read by the watcher
    holds: Counter[str] = field(default_factory=Counter)  # stored holds by status at the end
    problems: list[str] = field(default_factory=list)


def _label(record: Record) -> str:
    kind, answer = record.op.kind, record.answer
    if kind in (CAPTURE, PARTIAL, VOID) and not record.hold_id:
        kind = PLACE  # nothing placed yet to take: it placed one
    if answer.status == "SUCCEEDED":
        return f"{kind} {'replayed' if answer.is_replayed else 'applied'}"
    return f"{kind} {answer.error or answer.status}"


class Soak:
    def __init__(self, aws: Any, cycle: FaultCycle | None, figures: Figures) -> None:
        self.aws = aws
        self.cycle = cycle
        self.figures = figures
        self.lock = threading.Lock()
        self.placed: list[tuple[str, str]] = []  # (user, holdId)
        # Holds placed for an hour and not yet taken by a capture or void: so that some captures
        # and voids find a hold still pending, whatever the others did (the racing ones alone
        # can all find their hold ended or expired, and the soak would cover no applied void).
        self.untaken: list[tuple[str, str]] = []
        self.records: list[Record] = []
        self.done = threading.Event()

    def saw(self, available: str | Decimal | None) -> None:
        if available is None:
            return
        with self.lock:
            self.figures.lowest_available = min(self.figures.lowest_available, Decimal(available))

    def request(self, op: Operation) -> tuple[str, str, str]:
        """The machine, the execution input, and the hold a capture or void takes."""
        if op.kind in (DEBIT, CREDIT):
            return "TransactionStateMachine", execution_input(op.user, str(op.amount), op.kind), ""
        if op.kind == TRANSFER:
            return "TransferStateMachine", transfer_input(op.user, op.other, str(op.amount)), ""
        if op.kind in (CAPTURE, PARTIAL, VOID):
            with self.lock:
                if op.pick >= RACING and self.untaken:
                    taken: tuple[str, str] | None = self.untaken.pop()
                else:
                    # One of the latest few: raced by the other takers, or expired meanwhile.
                    recent = self.placed[-RECENT:]
                    taken = recent[int(op.pick % RACING / RACING * len(recent))] if recent else None
            if taken is not None:
                user, hold_id = taken
                body: dict[str, Any] = {"userId": user}
                if op.kind == PARTIAL:
                    body["amount"] = format_money(op.amount)  # above the hold at times: a 422
                operation = "void" if op.kind == VOID else "capture"
                return MACHINE, hold_input(operation, body, hold_id=hold_id), hold_id
        body = {"userId": op.user, "amount": format_money(op.amount),
                "expiresInSeconds": op.expires_in}  # fmt: skip
        return MACHINE, hold_input("place", body, key=op.key), ""

    def send(self, op: Operation, machine: str, payload: str, hold_id: str, phase: str) -> Answer:
        answer, seconds = start(self.aws, machine, payload)
        self.free_what_it_left(op, answer)
        with self.lock:
            self.records.append(Record(op, machine, payload, answer, seconds, hold_id, phase))
        if answer.output is not None:
            body = answer.output.get("hold") or {}
            self.saw(body.get("available"))
            if machine == MACHINE and body.get("status") == "pending" and answer.is_applied:
                with self.lock:
                    self.placed.append((body["userId"], body["holdId"]))
                    if op.expires_in > 1:
                        self.untaken.append((body["userId"], body["holdId"]))
        return answer

    def free_what_it_left(self, op: Operation, answer: Answer) -> None:
        arn = answer.execution_arn
        if arn is None:
            return
        for user in {op.user, op.other}:
            if lock_owner(self.aws.dynamodb, user) != arn:
                continue
            if self.cycle is None or arn not in self.cycle.faulted:
                with self.lock:
                    self.figures.problems.append(f"{arn} left the lock of {user!r} with no fault")
            if expire_lease(self.aws.dynamodb, user, arn):
                with self.lock:
                    self.figures.leases_run_out += 1

    def work(self, op: Operation, busy_retries: int) -> None:
        machine, payload, hold_id = self.request(op)
        pause = random.Random(op.index)
        for _ in range(1 + busy_retries):
            answer = self.send(op, machine, payload, hold_id, "run")
            if answer.error != "UserBusyError":
                break
            time.sleep(pause.uniform(0.05, 0.5))
        if self.cycle is not None:
            self.cycle.tick()

    def watch(self, users: list[str]) -> None:
        """Read every user's row as GET /balance does, until the run is done."""
        repository = aggregates.AggregatesRepository(
            self.aws.dynamodb, get_settings().aggregates_table_name
        )
        while not self.done.is_set():
            for user in users:
                account = repository.find_account(user)
                if account is not None:
                    self.saw(account.available(SystemClock().now()))
                    with self.lock:
                        self.figures.watched += 1
            time.sleep(0.01)


def run(
    aws: Any,
    seed: int,
    count: int,
    *,
    users: int = 3,
    threads: int = 16,
    faults: bool = True,
    fault_every: int = FAULT_EVERY,
    busy_retries: int = 2,
    progress: Callable[[int], None] | None = None,
) -> Figures:
    """The soak: `count` operations on `users` hot users from `threads` threads, settled and
    checked."""
    figures = Figures()
    prefix = f"h{seed}-{uuid.uuid4().hex[:6]}"
    ops = generate(seed, count, users, prefix=prefix)
    names = sorted({op.user for op in ops} | {op.other for op in ops})
    cycle = FaultCycle(aws, seed, fault_every, FAULTS, LAMBDA_STEPS) if faults else None
    soak = Soak(aws, cycle, figures)
    finished = [0]

    def work(op: Operation) -> None:
        soak.work(op, busy_retries)
        with soak.lock:
            finished[0] += 1
        if progress is not None:
            progress(finished[0])

    watcher = threading.Thread(target=soak.watch, args=(names,), daemon=True)
    watcher.start()
    try:
        with ThreadPoolExecutor(threads) as pool:
            for _ in pool.map(work, ops):
                pass
    finally:
        soak.done.set()
        watcher.join()
        if cycle is not None:
            cycle.stop()
    faulted = cycle.faulted if cycle is not None else set()
    if cycle is not None:
        figures.faults_armed, figures.faults_fired = cycle.armed, cycle.fired
    run_records = list(soak.records)
    _settle(soak, names, faulted)
    settled = soak.records[len(run_records) :]
    figures.outcomes = Counter(_label(r) for r in run_records)
    figures.settle_outcomes = Counter(_label(r) for r in settled)
    figures.longest_seconds = max((r.seconds for r in soak.records), default=0.0)
    figures.problems += check(aws, names, soak.records, faulted, figures)
    return figures


def _settle(soak: Soak, users: list[str], faulted: set[str]) -> None:
    """Send again, until a definite answer, every request answered 500, as a client would (the
    same execution input: the same key, the same hold)."""
    wait_for_stragglers()
    for user in users:
        owner = lock_owner(soak.aws.dynamodb, user)
        if owner is None:
            continue
        if owner not in faulted:
            soak.figures.problems.append(f"user {user!r}: lock left by {owner}, with no fault")
        soak.figures.leases_run_out += expire_lease(soak.aws.dynamodb, user, owner)
    again = [r for r in soak.records if not is_definite(r.answer)]
    for record in again:
        for _ in range(10):
            answer = soak.send(record.op, record.machine, record.execution_input, record.hold_id,
                               "settle")  # fmt: skip
            if is_definite(answer) and answer.error != "UserBusyError":
                break
            time.sleep(0.5)
        else:
            soak.figures.problems.append(f"op {record.op.index} never reached a definite answer")
        soak.figures.resent += 1


def check(
    aws: Any, users: list[str], records: list[Record], faulted: set[str], figures: Figures
) -> list[str]:
    problems = [f"invariant: {line}" for line in violations(aws.dynamodb)]
    problems += [
        f"events: {line}" for line in event_violations(aws.dynamodb, aws.published_events())
    ]
    problems += [f"projection: {line}" for line in projection_violations(aws.dynamodb)]
    if figures.lowest_available < 0:
        problems.append(f"available observed at {figures.lowest_available}")
    ours = set(users)
    ended: dict[str, Counter[str]] = defaultdict(Counter)  # holdId -> applied captures/voids
    placed_by_key: dict[str, set[str]] = defaultdict(set)
    applied_by_key: Counter[str] = Counter()
    for record in records:
        op, answer = record.op, record.answer
        where = f"op {op.index} ({op.kind} {op.user!r} {record.hold_id or op.key!r})"
        if record.seconds >= NO_DEADLOCK_SECONDS:
            problems.append(f"{where}: took {record.seconds:.1f} s")
        if not is_definite(answer):
            figures.server_errors += 1
            if answer.execution_arn not in faulted:
                problems.append(f"{where}: {answer.status} {answer.error} with no fault injected "
                                f"in it: {(answer.cause or '')[:300]}")  # fmt: skip
            continue
        if answer.output is None or record.machine != MACHINE:
            continue
        hold = answer.output["hold"]
        if hold["status"] == "pending":
            key = json.loads(record.execution_input)["idempotencyKey"]
            placed_by_key[key].add(hold["holdId"])
            applied_by_key[key] += answer.is_applied
        elif answer.is_applied:
            ended[hold["holdId"]][hold["status"]] += 1
        if hold["status"] == "captured" and Decimal(hold["capturedAmount"]) > Decimal(
            hold["amount"]
        ):
            problems.append(f"{where}: captured {hold['capturedAmount']} of {hold['amount']}")
    for hold_id, endings in ended.items():
        if len(endings) > 1 or sum(endings.values()) > 1:
            problems.append(f"hold {hold_id} ended {dict(endings)}")
    for key, hold_ids in placed_by_key.items():
        if len(hold_ids) > 1 or applied_by_key[key] > 1:
            problems.append(f"key {key!r} placed {sorted(hold_ids)}, "
                            f"{applied_by_key[key]} applied")  # fmt: skip
    settings = get_settings()
    captures = Counter(
        item["holdId"]["S"] for item in scan(aws.dynamodb, settings.ledger_table_name)
        if "holdId" in item
    )  # fmt: skip
    for item in scan(aws.dynamodb, settings.holds_table_name):
        if item["userId"]["S"] not in ours:
            continue
        hold_id, status = item["holdId"]["S"], item["status"]["S"]
        figures.holds[status] += 1
        if captures[hold_id] != (1 if status == "CAPTURED" else 0):
            problems.append(f"hold {hold_id} is {status} with {captures[hold_id]} capture entries")
        if status == "CAPTURED" and "voided" in ended.get(hold_id, {}):
            problems.append(f"hold {hold_id} is captured and was answered voided")
        if status == "VOIDED" and "captured" in ended.get(hold_id, {}):
            problems.append(f"hold {hold_id} is voided and was answered captured")
    return problems


def summary(figures: Figures) -> list[str]:
    """The figures as the soak prints them."""

    return [
        f"holds: {sum(figures.outcomes.values())} requests (429s retried count again): "
        f"{counts(figures.outcomes)}",
        f"  settled: {figures.resent} sent again ({counts(figures.settle_outcomes)}); "
        f"{figures.leases_run_out} locks left by faulted executions",
        f"  stored holds: {counts(figures.holds)}; lowest available seen "
        f"{figures.lowest_available} ({figures.watched} rows watched); 5xx "
        f"{figures.server_errors}, each from a fault in its own execution; longest request "
        f"{figures.longest_seconds:.1f} s",
        faults_line(figures.faults_armed, figures.faults_fired),
    ]
