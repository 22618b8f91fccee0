"""The fault matrix: each task function broken at each point, what the client sees, and a retry.

BEFORE (nothing written), AFTER (written, then crashed) and HANG (no answer within the function's
timeout) are the runtime's fault points. SERVICE_ERROR is added here: the function does its work,
then the invoke answers Lambda.ServiceException, which the ASL retries, so the step runs twice.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from infra.local.lambdas import FaultPoint, InvokeResult
from tests.invariants import balance_of, lock_owner, transaction_items, violations
from tests.reliability.runtime import Answer, transact

FUNCTIONS = (
    "ValidateRequestFunction",
    "AcquireLockFunction",
    "PutTransactionFunction",
    "UpdateBalanceFunction",
    "ReleaseLockFunction",
    "DeleteTransactionFunction",
)
SERVICE_ERROR = "service_error"
POINTS: tuple[FaultPoint | str, ...] = (
    FaultPoint.BEFORE, FaultPoint.AFTER, FaultPoint.HANG, SERVICE_ERROR)  # fmt: skip


@dataclass(frozen=True)
class Expected:
    """The first answer, the balance it leaves, and what a retry under the same key answers."""

    answer: str
    balance: str
    retry: str
    pending_left: bool = False


DEBITED, UNTOUCHED = "90.00", "100.00"
FAILED_500 = Expected("500", UNTOUCHED, "201 applied")
SUCCEEDED = Expected("201 applied", DEBITED, "201 replayed")
# DeleteTransaction only runs on a failure path: its scenario is a refused overdraft.
REFUSED = Expected("FAILED InsufficientFundsError", UNTOUCHED, "FAILED InsufficientFundsError")
REFUSED_PENDING_LEFT = Expected(
    "FAILED InsufficientFundsError", UNTOUCHED, "FAILED InsufficientFundsError", pending_left=True
)


def expected(function: str, point: FaultPoint | str) -> Expected:
    """What the product does, by design, for each fault.

    Up to UpdateBalance, any fault fails the request with a 500 and leaves nothing: a fault after
    UpdateBalance's commit is compensated by DeleteTransaction, which reverts the commit. The retry
    then applies the debit once. A fault in ReleaseLock comes after the commit: the compensation
    frees the lock and the request succeeds. A Lambda service error is retried by the ASL and
    every step is idempotent (UpdateBalance's second run finds its own commit and succeeds), so
    the request succeeds once. A broken DeleteTransaction leaves the refused request's pending
    record; it never counts, and the retry overwrites and deletes it.
    """
    if function == "DeleteTransactionFunction":
        broken = point in (FaultPoint.BEFORE, FaultPoint.HANG)
        return REFUSED_PENDING_LEFT if broken else REFUSED
    if function == "ReleaseLockFunction":
        return SUCCEEDED
    if point == SERVICE_ERROR:
        return SUCCEEDED
    return FAILED_500


def arm(aws: Any, function: str, point: FaultPoint | str) -> None:
    if isinstance(point, FaultPoint):
        aws.lambdas.inject_fault(function, point)
    else:
        _arm_service_error(aws, function)


def _arm_service_error(aws: Any, function: str) -> None:
    """The next invoke of `function` runs, then answers Lambda.ServiceException (once)."""
    lambdas = aws.lambdas
    original = lambdas.invoke

    def invoke(name_or_arn: str, payload: bytes) -> InvokeResult:
        result = original(name_or_arn, payload)
        if lambdas.resolve(name_or_arn).logical_id != function:
            return result
        lambdas.invoke = original
        error = {"errorMessage": "Service error.", "errorType": "Lambda.ServiceException"}
        return InvokeResult(json.dumps(error).encode(), function_error="Unhandled")

    lambdas.invoke = invoke


def classify(answer: Answer) -> str:
    if answer.is_definite:
        return answer.label
    return "500"


def body(user: str, type_: str, amount: str) -> str:
    return json.dumps({"userId": user, "ammount": amount, "type": type_})


def run_case(aws: Any, function: str, point: FaultPoint | str) -> list[str]:
    """One fault, then a retry; returns what went against the expectation (empty if nothing)."""
    want = expected(function, point)
    user, key = f"fault-{uuid.uuid4().hex[:8]}", "k1"
    amount = "500" if function == "DeleteTransactionFunction" else "10"
    request = body(user, "debit", amount)
    problems: list[str] = []

    def expect(what: str, actual: object, wanted: object) -> None:
        if actual != wanted:
            problems.append(f"{function} {_name(point)}: {what} {actual!r}, expected {wanted!r}")

    arm(aws, function, point)
    first = transact(aws, request, key)
    aws.lambdas.clear_faults()
    expect("answer", classify(first), want.answer)
    expect("balance", balance_of(aws.dynamodb, user), Decimal(want.balance))
    expect("lock", lock_owner(aws.dynamodb, user), None)
    pending = [i for i in transaction_items(aws.dynamodb, user) if i["status"]["S"] == "PENDING"]
    expect("pending records", len(pending), 1 if want.pending_left else 0)
    expect("violations", _ignoring_pending(violations(aws.dynamodb)), [])

    retry = transact(aws, request, key)
    expect("retry", classify(retry), want.retry)
    if first.is_applied and retry.is_replayed:
        expect("replayed body", retry.transaction, first.transaction)
    final = UNTOUCHED if want.answer.startswith("FAILED") else DEBITED
    expect("balance after the retry", balance_of(aws.dynamodb, user), Decimal(final))
    expect("violations after the retry", violations(aws.dynamodb), [])
    return problems


def run_double_fault(aws: Any) -> list[str]:
    """UpdateBalance crashes after its commit and the compensation that would revert it crashes
    too: the commit stands, the client got a 500, and its retry replays the committed result."""
    user, key = f"fault-{uuid.uuid4().hex[:8]}", "k1"
    request = body(user, "debit", "10")
    aws.lambdas.inject_fault("UpdateBalanceFunction", FaultPoint.AFTER)
    aws.lambdas.inject_fault("DeleteTransactionFunction", FaultPoint.BEFORE)
    first = transact(aws, request, key)
    aws.lambdas.clear_faults()
    retry = transact(aws, request, key)
    problems = []
    if classify(first) != "500":
        problems.append(f"double fault: first answer {first.label}")
    if not retry.is_replayed:
        problems.append(f"double fault: retry answered {retry.label}, expected a replay")
    if balance_of(aws.dynamodb, user) != Decimal(DEBITED):
        problems.append(f"double fault: balance {balance_of(aws.dynamodb, user)}")
    problems += [f"double fault: {line}" for line in violations(aws.dynamodb)]
    return problems


def _ignoring_pending(lines: list[str]) -> list[str]:
    """Violations other than a pending record left (allowed: it never counts, checked apart)."""
    return [line for line in lines if not line.startswith("pending record left")]


def _name(point: FaultPoint | str) -> str:
    return point.value if isinstance(point, FaultPoint) else point
