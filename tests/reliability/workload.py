"""A seeded random workload, run from many threads, then checked against the tables and answers.

Operations: credits and debits under fresh keys, replays of earlier keys with the same payload
(spelled differently), reuse of earlier keys with another payload, invalid requests and balance
reads; many users and one hot user. After the run, `settle` lets ended executions' stragglers
finish, lets dead holders' leases run out and retries every request whose answer was a 500, so
that `check` can hold every 201 against the tables.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from functions.domain.money import format_money
from functions.settings import get_settings
from tests.invariants import event_violations, projection_violations, violations
from tests.reliability.runtime import (
    TRANSACTION_FIELDS,
    Answer,
    aggregate_rows,
    expire_lease,
    get_balance,
    timed_out_in_a_task,
    transact,
    transaction_rows,
    wait_for_stragglers,
)

CREDIT, DEBIT, REPLAY, REUSE, INVALID, BALANCE = (
    "credit", "debit", "replay", "reuse", "invalid", "balance")  # fmt: skip
TRANSACTION_KINDS = (CREDIT, DEBIT, REPLAY, REUSE, INVALID)

# (body fields, the field the ValidationError must name)
INVALID_REQUESTS: list[tuple[dict[str, Any] | str, str]] = [
    ({"ammount": "1.001", "type": "credit"}, "ammount"),
    ({"ammount": "-5", "type": "credit"}, "ammount"),
    ({"ammount": "0", "type": "debit"}, "ammount"),
    ({"ammount": "1e3", "type": "credit"}, "ammount"),
    ({"ammount": 10, "type": "credit"}, "ammount"),
    ({"ammount": "1000000000.01", "type": "credit"}, "ammount"),
    ({"amount": "\u0665", "type": "credit"}, "amount"),  # Arabic-Indic 5
    ({"ammount": "5", "amount": "6", "type": "credit"}, "ammount"),
    ({"ammount": "5", "type": "refund"}, "type"),
    ({"ammount": "5"}, "type"),
    ({"userId": "", "ammount": "5", "type": "credit"}, "userId"),
    ({"userId": "x" * 129, "ammount": "5", "type": "credit"}, "userId"),
    ("not json", "body"),
    ("[1, 2]", "body"),
]


@dataclass(frozen=True)
class Operation:
    index: int
    kind: str
    user_id: str
    key: str = ""
    body: str = ""
    type: str | None = None
    amount: Decimal | None = None
    invalid_field: str | None = None

    @property
    def payload(self) -> tuple[str | None, Decimal | None]:
        return self.type, self.amount


@dataclass(frozen=True)
class Record:
    op: Operation
    attempt: int
    answer: Answer | None = None  # transactions
    balance: tuple[int, dict[str, Any]] | None = None  # balance reads
    phase: str = "run"


def _spell(amount: Decimal, rng: random.Random) -> str:
    """One of the accepted spellings of an amount: "10", "10.5" or "10.50"."""
    canonical = format_money(amount)
    short = canonical.rstrip("0").rstrip(".")
    return rng.choice([canonical, short])


def _body(user_id: str, type_: str, amount: Decimal, rng: random.Random) -> str:
    spelled = _spell(amount, rng)
    fields: dict[str, Any] = {"userId": user_id, "type": type_}
    roll = rng.random()
    if roll < 0.7:
        fields["ammount"] = spelled
    elif roll < 0.9:
        fields["amount"] = spelled
    else:
        fields["ammount"] = fields["amount"] = spelled
    items = list(fields.items())
    rng.shuffle(items)
    return json.dumps(dict(items))


def generate(
    seed: int, count: int, users: int = 24, hot_share: float = 0.3, prefix: str = ""
) -> list[Operation]:
    rng = random.Random(seed)
    prefix = prefix or f"s{seed}"
    names = [f"{prefix}-user-{i}" for i in range(users)]
    hot = f"{prefix}-hot"
    issued: list[Operation] = []
    ops: list[Operation] = []
    for index in range(count):
        user = hot if rng.random() < hot_share else rng.choice(names)
        roll = rng.random()
        if roll < 0.40 or (roll < 0.68 and not issued):
            type_, cents = CREDIT, rng.randint(1, 30000)
        elif roll < 0.68:
            type_, cents = DEBIT, rng.randint(1, 25000)
        elif roll < 0.80 and issued:
            earlier = rng.choice(issued)
            assert earlier.type is not None and earlier.amount is not None
            body = _body(earlier.user_id, earlier.type, earlier.amount, rng)
            ops.append(Operation(index, REPLAY, earlier.user_id, earlier.key, body,
                                 earlier.type, earlier.amount))  # fmt: skip
            continue
        elif roll < 0.87 and issued:
            earlier = rng.choice(issued)
            assert earlier.amount is not None
            other = earlier.amount + Decimal(rng.randint(1, 500)) / 100
            body = _body(earlier.user_id, DEBIT, other, rng)
            ops.append(Operation(index, REUSE, earlier.user_id, earlier.key, body, DEBIT, other))
            continue
        elif roll < 0.94:
            fields, field_name = rng.choice(INVALID_REQUESTS)
            body = json.dumps({"userId": user, **fields}) if isinstance(fields, dict) else fields
            key = f"{prefix}-bad-{index}"
            ops.append(Operation(index, INVALID, user, key, body, invalid_field=field_name))
            continue
        else:
            ops.append(Operation(index, BALANCE, user))
            continue
        amount = Decimal(cents) / 100
        op = Operation(index, type_, user, f"{prefix}-key-{index}", _body(user, type_, amount, rng),
                       type_, amount)  # fmt: skip
        issued.append(op)
        ops.append(op)
    return ops


class Embedded:
    """Requests straight to the embedded runtime: StartSyncExecution and the GET function."""

    def __init__(self, aws: Any) -> None:
        self.aws = aws

    def transact(self, body: str, key: str) -> Answer:
        return transact(self.aws, body, key)

    def balance(self, user_id: str) -> tuple[int, dict[str, Any]]:
        return get_balance(self.aws, user_id)


class Transport(Protocol):
    def transact(self, body: str, key: str) -> Answer: ...

    def balance(self, user_id: str) -> tuple[int, dict[str, Any]]: ...


def execute(transport: Transport, op: Operation, attempt: int, phase: str = "run") -> Record:
    if op.kind == BALANCE:
        return Record(op, attempt, balance=transport.balance(op.user_id), phase=phase)
    return Record(op, attempt, answer=transport.transact(op.body, op.key), phase=phase)


def run(
    transport: Transport,
    ops: list[Operation],
    threads: int,
    *,
    busy_retries: int = 2,
    progress: Callable[[Record], None] | None = None,
) -> list[Record]:
    """Every operation from a pool of `threads`; a 429 is retried up to `busy_retries` times."""
    records: list[Record] = []
    lock = threading.Lock()

    def work(op: Operation) -> None:
        pause = random.Random(op.index)
        for attempt in range(1 + busy_retries):
            record = execute(transport, op, attempt)
            with lock:
                records.append(record)
            if progress is not None:
                progress(record)
            if record.answer is None or record.answer.error != "UserBusyError":
                return
            time.sleep(pause.uniform(0.05, 0.5))

    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(work, ops):
            pass
    return records


@dataclass
class Settlement:
    records: list[Record] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    dead_locks: int = 0
    retried: int = 0


def settle(
    aws: Any,
    transport: Transport,
    records: list[Record],
    *,
    faults_injected: bool,
    wait_for_leases: bool = False,
    progress: Callable[[Record], None] | None = None,
) -> Settlement:
    """Bring every request to a definite end, as a client retrying its 500s would.

    A lock or pending record may only be left by an execution whose answer was a 500 (it died:
    the runtime starved it past a timeout, or a fault was injected); with faults, also by a
    failed execution whose compensation was broken. Their leases run out (by waiting, or by
    moving leaseUntil into the past), then each such request is sent again.
    """
    aws.lambdas.clear_faults()
    wait_for_stragglers()
    done = Settlement()
    answered = [r for r in records if r.answer is not None]
    dead = {r.answer.execution_arn for r in answered if r.answer and not r.answer.is_definite}
    failed = {r.answer.execution_arn for r in answered if r.answer and r.answer.status == "FAILED"}
    # A broken compensation leaves its lock and record to the lease, by design.
    may_leave_behind = dead | (failed if faults_injected else set())
    users = {r.op.user_id for r in records}  # others may share the tables
    for user, row in aggregate_rows(aws.dynamodb).items():
        if user not in users or "lockOwner" not in row:
            continue
        owner = row["lockOwner"]["S"]
        done.dead_locks += 1
        if owner not in may_leave_behind:
            done.problems.append(f"user {user!r}: lock left by {owner}, which did not die")
        if wait_for_leases:
            time.sleep(max(0.0, int(row["leaseUntil"]["N"]) + 1.05 - time.time()))
        else:
            expire_lease(aws.dynamodb, user, owner)
    # By operation, not by key: a key's original request and a reuse of it under another payload
    # may both have died, and only sending each again settles both.
    again: dict[int, Operation] = {}
    for record in answered:
        assert record.answer is not None
        if not record.answer.is_definite:
            again[record.op.index] = record.op
    for item in transaction_rows(aws.dynamodb):
        if item["status"]["S"] == "COMMITTED" or item["userId"]["S"] not in users:
            continue
        user, key, owner = item["userId"]["S"], item["idempotencyKey"]["S"], item["owner"]["S"]
        if owner not in may_leave_behind:
            done.problems.append(f"pending record {user!r}/{key!r} left by {owner}")
        ops = [r.op for r in answered if r.answer and r.answer.execution_arn == owner]
        if ops:
            again[ops[0].index] = ops[0]
    for op in sorted(again.values(), key=lambda op: op.index):
        for attempt in range(10):
            record = execute(transport, op, attempt, phase="settle")
            done.records.append(record)
            if progress is not None:
                progress(record)
            assert record.answer is not None
            if record.answer.is_definite and record.answer.error != "UserBusyError":
                break
            time.sleep(0.5)
        else:
            done.problems.append(f"{op.user_id!r}/{op.key!r} never reached a definite answer")
        done.retried += 1
    return done


def _signed(transaction: dict[str, str]) -> Decimal:
    amount = Decimal(transaction["amount"])
    return amount if transaction["type"] == CREDIT else -amount


def _error_message(answer: Answer) -> str:
    try:
        return str(json.loads(answer.cause or "{}").get("errorMessage", ""))
    except ValueError:
        return answer.cause or ""


def check(aws: Any, records: list[Record], *, faults_injected: bool) -> list[str]:
    """Every invariant from the tables, and every answer against the tables and the others."""
    # settle checked every lock left behind (only a request that died may leave one) and let its
    # lease run out: such a lock is free (invariant 4) until the user's next request takes it.
    left = violations(aws.dynamodb, allow_expired_locks=True)
    problems = [f"invariant: {line}" for line in left]
    problems += [
        f"events: {line}" for line in event_violations(aws.dynamodb, aws.published_events())
    ]
    # The streams are drained by published_events: the projection has caught up (invariant 9).
    problems += [f"projection: {line}" for line in projection_violations(aws.dynamodb)]
    default = get_settings().default_balance
    users = {record.op.user_id for record in records}  # others may share the tables
    committed = {
        (item["userId"]["S"], item["idempotencyKey"]["S"]): item
        for item in transaction_rows(aws.dynamodb)
        if item["status"]["S"] == "COMMITTED" and item["userId"]["S"] in users
    }
    succeeded: dict[tuple[str, str], list[Record]] = defaultdict(list)
    reads: list[Record] = []
    for record in records:
        op, answer = record.op, record.answer
        if answer is None:
            reads.append(record)
            continue
        where = f"op {op.index} ({op.kind} {op.user_id!r}/{op.key!r})"
        if answer.status == "SUCCEEDED":
            problems += _check_201(where, op, answer)
            succeeded[(op.user_id, op.key)].append(record)
        elif answer.error == "ValidationError":
            if op.kind != INVALID:
                problems.append(f"{where}: valid request answered ValidationError")
            elif op.invalid_field is None or op.invalid_field not in _error_message(answer):
                problems.append(f"{where}: message does not name {op.invalid_field!r}")
        elif answer.error == "InsufficientFundsError":
            if op.type != DEBIT:
                problems.append(f"{where}: InsufficientFundsError for a credit")
        elif answer.error == "IdempotencyKeyReusedError":
            item = committed.get((op.user_id, op.key))
            if item is None:
                problems.append(f"{where}: key reported reused but nothing is committed under it")
            elif (item["type"]["S"], Decimal(item["amount"]["N"])) == op.payload:
                problems.append(f"{where}: same payload reported as key reuse")
        elif answer.error == "UserBusyError":
            pass
        elif not faults_injected and not _starved(aws, answer):
            problems.append(f"{where}: unexplained {answer.label}: {(answer.cause or '')[:300]}")
        if op.kind == INVALID and answer.is_definite and answer.error != "ValidationError":
            problems.append(f"{where}: invalid request answered {answer.label}")
    for (user, key), recs in succeeded.items():
        bodies = {json.dumps(r.answer.transaction, sort_keys=True) for r in recs if r.answer}
        applied = [r for r in recs if r.answer and r.answer.is_applied]
        if len(bodies) != 1:
            problems.append(f"{user!r}/{key!r}: 201 bodies differ: {sorted(bodies)}")
        if len(applied) > 1:
            problems.append(f"{user!r}/{key!r}: applied {len(applied)} times")
        item = committed.get((user, key))
        transaction = json.loads(next(iter(bodies)))
        if item is None:
            problems.append(f"{user!r}/{key!r}: a 201 but nothing committed")
        elif (
            item["transactionId"]["S"] != transaction["transactionId"]
            or Decimal(item["balanceAfter"]["N"]) != Decimal(transaction["balance"])
            or Decimal(item["amount"]["N"]) != Decimal(transaction["amount"])
            or item["type"]["S"] != transaction["type"]
        ):
            problems.append(f"{user!r}/{key!r}: 201 body {transaction} differs from the table")
    for user, key in committed.keys() - succeeded.keys():
        answers = [f"{r.phase} {r.answer.label}" for r in records
                   if r.answer and (r.op.user_id, r.op.key) == (user, key)]  # fmt: skip
        owner = committed[(user, key)]["owner"]["S"]
        problems.append(f"{user!r}/{key!r}: committed by {owner}, but no request was answered "
                        f"201; its answers: {answers}")  # fmt: skip
    problems += _check_balances(aws, succeeded, reads, default, faults_injected)
    return problems


def _check_201(where: str, op: Operation, answer: Answer) -> list[str]:
    transaction = answer.transaction or {}
    problems = []
    if set(transaction) != TRANSACTION_FIELDS:
        problems.append(f"{where}: 201 body fields {sorted(transaction)}")
        return problems
    expected = (op.user_id, op.type, format_money(op.amount) if op.amount else None, "USD")
    actual = (transaction["userId"], transaction["type"], transaction["amount"],
              transaction["currency"])  # fmt: skip
    if actual != expected:
        problems.append(f"{where}: 201 body {actual} for request {expected}")
    if (
        Decimal(transaction["balance"]) < 0
        or format_money(Decimal(transaction["balance"])) != (transaction["balance"])
    ):
        problems.append(f"{where}: balance {transaction['balance']!r}")
    return problems


def _check_balances(
    aws: Any,
    succeeded: dict[tuple[str, str], list[Record]],
    reads: list[Record],
    default: Decimal,
    faults_injected: bool,
) -> list[str]:
    """Per user: the distinct 201s add up to the balance and chain from the default to it."""
    problems = []
    rows = aggregate_rows(aws.dynamodb)
    transactions: dict[str, list[dict[str, str]]] = defaultdict(list)
    for (user, _), recs in succeeded.items():
        answer = recs[0].answer
        if answer is not None and answer.transaction is not None:
            transactions[user].append(answer.transaction)
    for user, applied in transactions.items():
        row = rows.get(user)
        final = Decimal(row["balance"]["N"]) if row else default
        total = sum((_signed(t) for t in applied), Decimal(0))
        if default + total != final:
            problems.append(f"user {user!r}: 201s add up to {default + total}, balance {final}")
        # Each commit saw the balance another left (or the default): a chain, no lost update.
        before = Counter(Decimal(t["balance"]) - _signed(t) for t in applied) + Counter([final])
        after = Counter(Decimal(t["balance"]) for t in applied) + Counter([default])
        if before != after:
            problems.append(f"user {user!r}: the 201s' balances do not chain from {default}")
    for record in reads:
        assert record.balance is not None
        status, body = record.balance
        user = record.op.user_id
        # No holds in this workload: what is available is the balance.
        fields = {"userId", "balance", "available", "currency"}
        if status != 200 or set(body) != fields or body["available"] != body["balance"]:
            problems.append(f"GET balance of {user!r}: {status} {body}")
            continue
        if body["userId"] != user:  # another user's answer (two GETs resolved at once did it)
            problems.append(f"GET balance of {user!r}: answered for {body['userId']!r}")
            continue
        seen = {default} | {Decimal(t["balance"]) for t in transactions[user]}
        if not faults_injected and Decimal(body["balance"]) not in seen:
            problems.append(f"GET balance of {user!r}: {body['balance']} was never its balance")
    return problems


def _starved(aws: Any, answer: Answer) -> bool:
    """A 500 the embedded runtime causes when starved of CPU, not the product.

    TIMED_OUT: the execution ran past the state machine's TimeoutSeconds. States.Runtime: a
    task ran past its TimeoutSeconds, the Catch compensated, and moto's Fail state refused to
    re-raise the error name States.Timeout (AWS allows it; the API answers 500 either way).
    """
    if answer.status == "TIMED_OUT":
        return True
    return (
        answer.error == "States.Runtime"
        and answer.execution_arn is not None
        and timed_out_in_a_task(aws, answer.execution_arn)
    )


def outcomes(records: list[Record]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for record in records:
        if record.answer is not None:
            counts[record.answer.label] += 1
        elif record.balance is not None:
            counts[f"GET {record.balance[0]}"] += 1
    return counts
