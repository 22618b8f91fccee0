"""The fault matrix: each task broken at each point, what the client sees, and a retry.

The runtime's fault points: BEFORE (nothing written), AFTER (written, then crashed), HANG (no
answer within the function's timeout) and SERVICE_ERROR (the work done, then Lambda answers
Lambda.ServiceException, which the ASL retries, so the step runs twice).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from infra.local.awslambda.functions import FaultPoint
from infra.local.stepfunctions.service_tasks import SERVICE_FAULT_POINTS
from tests.builders import transaction_body
from tests.invariants import (
    balance_of,
    event_violations,
    lock_owner,
    transaction_items,
    violations,
)
from tests.reliability.runtime import Answer, expire_lease, transact

# Each task state and the request that reaches it: the compensations only run on a failure path,
# so theirs is a refused overdraft. A Lambda task's fault is its function's; ReleaseLock and
# ReleaseLockAfterFailure call DynamoDB themselves, so theirs is the service task's.
STEPS = {
    "AcquireLock": "10",
    "PutTransaction": "10",
    "UpdateBalance": "10",
    "ReleaseLock": "10",
    "DeleteTransaction": "500",
    "ReleaseLockAfterFailure": "500",
}
DYNAMODB_STEPS = ("ReleaseLock", "ReleaseLockAfterFailure")
FUNCTION_STEPS = tuple(step for step in STEPS if step not in DYNAMODB_STEPS)
FUNCTIONS = tuple(f"{step}Function" for step in FUNCTION_STEPS)
POINTS = tuple(FaultPoint)


def points_of(step: str) -> tuple[FaultPoint, ...]:
    return SERVICE_FAULT_POINTS if step in DYNAMODB_STEPS else POINTS


def inject(aws: Any, step: str, point: FaultPoint) -> None:
    """Break `step` at `point`. A DynamoDB task's write refused before it lands is refused at
    every attempt (its Retry would hide one); an answer lost after it, once."""
    if step in DYNAMODB_STEPS:
        aws.service_tasks.inject_fault(step, point, 3 if point is FaultPoint.BEFORE else 1)
    else:
        aws.lambdas.inject_fault(f"{step}Function", point)


def clear_faults(aws: Any) -> None:
    aws.lambdas.clear_faults()
    aws.service_tasks.clear_faults()


@dataclass(frozen=True)
class Expected:
    """The first answer, the balance it leaves, and what a retry under the same key answers."""

    answer: str
    balance: str
    retry: str
    pending_left: bool = False
    lock_left: bool = False


DEBITED, UNTOUCHED = "90.00", "100.00"
FAILED_500 = Expected("500", UNTOUCHED, "201 applied")
SUCCEEDED = Expected("201 applied", DEBITED, "201 replayed")
# The compensations' scenario: a refused overdraft (see STEPS).
REFUSED = Expected("FAILED InsufficientFundsError", UNTOUCHED, "FAILED InsufficientFundsError")
REFUSED_PENDING_LEFT = replace(REFUSED, pending_left=True)
REFUSED_LOCK_LEFT = replace(REFUSED, lock_left=True)


def expected(step: str, point: FaultPoint) -> Expected:
    """What the product does, by design, for each fault.

    Up to UpdateBalance, any fault fails the request with a 500 and leaves nothing: a fault after
    UpdateBalance's commit is compensated by DeleteTransaction, which reverts the commit. The retry
    then applies the debit once. A fault in ReleaseLock comes after the commit: the compensation
    frees the lock and the request succeeds. A Lambda service error is retried by the ASL and
    every step is idempotent (UpdateBalance's second run finds its own commit and succeeds), so
    the request succeeds once. The compensations are also retried after a hang; a compensation
    that raises before its work leaves what it would have undone to the lease: a pending record
    that never counts (the retry overwrites and deletes it), or a lock its lease frees. A release
    whose answer is lost after its write is retried, finds the lock gone and counts it released.
    """
    if step in ("DeleteTransaction", "ReleaseLockAfterFailure"):
        if point != FaultPoint.BEFORE:
            return REFUSED
        return REFUSED_PENDING_LEFT if step == "DeleteTransaction" else REFUSED_LOCK_LEFT
    if step == "ReleaseLock":
        return SUCCEEDED
    if point is FaultPoint.SERVICE_ERROR:
        return SUCCEEDED
    return FAILED_500


def classify(answer: Answer) -> str:
    if answer.is_definite:
        return answer.label
    return "500"


def run_case(aws: Any, step: str, point: FaultPoint) -> list[str]:
    """One fault, then a retry; returns what went against the expectation (empty if nothing)."""
    want = expected(step, point)
    amount = STEPS[step]
    user, key = f"fault-{uuid.uuid4().hex[:8]}", "k1"
    request = transaction_body(user, amount, "debit")
    problems: list[str] = []

    def expect(what: str, actual: object, wanted: object) -> None:
        if actual != wanted:
            problems.append(f"{step} {point.value}: {what} {actual!r}, expected {wanted!r}")

    inject(aws, step, point)
    first = transact(aws, request, key)
    clear_faults(aws)
    expect("answer", classify(first), want.answer)
    expect("balance", balance_of(aws.dynamodb, user), Decimal(want.balance))
    expect("lock", lock_owner(aws.dynamodb, user), first.execution_arn if want.lock_left else None)
    pending = [i for i in transaction_items(aws.dynamodb, user) if i["status"]["S"] == "PENDING"]
    expect("pending records", len(pending), 1 if want.pending_left else 0)
    left = violations(aws.dynamodb, allow_held_locks=want.lock_left, allow_pending=True)
    expect("violations", left, [])
    if want.lock_left and first.execution_arn is not None:
        expire_lease(aws.dynamodb, user, first.execution_arn)  # as its lease running out would

    retry = transact(aws, request, key)
    expect("retry", classify(retry), want.retry)
    if first.is_applied and retry.is_replayed:
        expect("replayed body", retry.transaction, first.transaction)
    final = UNTOUCHED if want.answer.startswith("FAILED") else DEBITED
    expect("balance after the retry", balance_of(aws.dynamodb, user), Decimal(final))
    expect("violations after the retry", violations(aws.dynamodb), [])
    expect("events", event_violations(aws.dynamodb, aws.published_events()), [])
    return problems


FORWARDER = "ForwardEventsFunction"


def run_forwarder_case(aws: Any, point: FaultPoint, times: int = 2) -> list[str]:
    """The outbox's forwarder broken at `point` for its next `times` invocations, and PutEvents
    refusing entries meanwhile: every entry is still published, and a consumer that dedupes on
    the event id sees each once."""
    user = f"forward-{uuid.uuid4().hex[:8]}"
    aws.lambdas.inject_fault(FORWARDER, point, times)
    aws.eventbridge.refuse_entries(2)
    first = transact(aws, transaction_body(user, "10", "credit"), "k1")
    second = transact(aws, transaction_body(user, "5", "debit"), "k2")
    problems = [f"forwarder {point.value}: {line}" for line in
                event_violations(aws.dynamodb, aws.published_events())]  # fmt: skip
    aws.lambdas.clear_faults()
    if not (first.is_applied and second.is_applied):
        problems.append(f"forwarder {point.value}: answers {first.label}, {second.label}")
    problems += [f"forwarder {point.value}: {line}" for line in violations(aws.dynamodb)]
    return problems


def run_double_fault(aws: Any) -> list[str]:
    """UpdateBalance crashes after its commit and the compensation that would revert it crashes
    too: the commit stands, the client got a 500, and its retry replays the committed result."""
    user, key = f"fault-{uuid.uuid4().hex[:8]}", "k1"
    request = transaction_body(user, "10", "debit")
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
    problems += [f"double fault: {line}" for line in
                 event_violations(aws.dynamodb, aws.published_events())]  # fmt: skip
    return problems
