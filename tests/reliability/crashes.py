"""An execution that dies mid-way: its steps run as Step Functions would run them, then nothing.

No Catch runs, so the lock and what was written stay behind. The lease is the safety net: until
it runs out the user is busy (429 after the retries); after, the next request takes over, and
the crashed request's key, sent again, ends correctly.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tests.builders import lock_input, release_lock, transaction_body
from tests.invariants import (
    balance_of,
    event_violations,
    lock_owner,
    transaction_items,
    violations,
)
from tests.reliability.runtime import aggregate_rows, expire_lease, transact

# The last step the crashed execution completed.
CRASH_POINTS = ("AcquireLock", "PutTransaction", "UpdateBalance")


def _invoke(aws: Any, function: str, payload: dict[str, Any]) -> dict[str, Any]:
    result = aws.lambdas.invoke(function, json.dumps(payload).encode())
    answer = json.loads(result.payload)
    if result.function_error:
        raise AssertionError(f"{function} failed: {answer}")
    return answer


def crash_after(aws: Any, step: str, user: str, key: str, type_: str, amount: str) -> str:
    """Run the saga's steps up to `step` under a fresh owner token; returns the dead owner."""
    owner = f"crashed-{uuid.uuid4().hex}"
    request = {"userId": user, "idempotencyKey": key, "type": type_, "amount": amount}
    lock = _invoke(aws, "AcquireLockFunction", lock_input(user, owner))["lock"]
    if step in ("PutTransaction", "UpdateBalance"):
        put = _invoke(aws, "PutTransactionFunction", {"request": request, "executionId": owner})
    if step == "UpdateBalance":
        _invoke(aws, "UpdateBalanceFunction", {
            "request": request, "executionId": owner, "balance": lock["balance"],
            "lastSequence": lock["lastSequence"], "holds": lock["holds"],
            "transactionId": put["transactionId"], "createdAt": put["createdAt"]})  # fmt: skip
    return owner


def is_busy_for_a_newcomer(aws: Any, user: str) -> bool:
    """Whether AcquireLock, for a new owner, is refused right now (it takes nothing if so)."""
    # Started long ago: one attempt, no waiting in line.
    newcomer = lock_input(user, f"probe-{uuid.uuid4().hex}", started_at=0)
    result = aws.lambdas.invoke("AcquireLockFunction", json.dumps(newcomer).encode())
    if not result.function_error:
        # It got the lock: give it back, so the probe leaves nothing behind.
        release_lock(aws, user, newcomer["executionId"])
        return False
    return json.loads(result.payload)["errorType"] == "UserBusyError"


def run_crash(aws: Any, step: str, *, real_lease: bool) -> list[str]:
    """Crash after `step`, then check the user is busy until the lease runs out and not after.

    real_lease: wait for the lease to run out (make LOCK_LEASE_SECONDS longer than the lock
    retries, about 10 s); otherwise move its leaseUntil into the past, as time passing would.
    """
    problems: list[str] = []

    def expect(what: str, actual: object, wanted: object) -> None:
        if actual != wanted:
            problems.append(f"crash after {step}: {what} {actual!r}, expected {wanted!r}")

    user = f"crash-{uuid.uuid4().hex[:8]}"
    committed = step == "UpdateBalance"
    owner = crash_after(aws, step, user, "crashed", "debit", "10.00")
    lease_until = int(aggregate_rows(aws.dynamodb)[user]["leaseUntil"]["N"])

    # Left behind: the lock, and a pending record (which never counts) or the commit.
    expect("lock", lock_owner(aws.dynamodb, user), owner)
    expect("balance", balance_of(aws.dynamodb, user), Decimal("90.00" if committed else "100.00"))
    statuses = [item["status"]["S"] for item in transaction_items(aws.dynamodb, user)]
    expect("records", statuses, {"AcquireLock": [], "PutTransaction": ["PENDING"],
                                 "UpdateBalance": ["COMMITTED"]}[step])  # fmt: skip
    expect("violations", violations(aws.dynamodb, allow_held_locks=True, allow_pending=True), [])

    # Before the lease runs out: busy, even after the state machine's lock retries.
    busy = transact(aws, transaction_body(user, "5", "credit"), "next")
    expect("request while the lease runs", busy.label, "FAILED UserBusyError")
    expect("lock after the busy request", lock_owner(aws.dynamodb, user), owner)
    if real_lease:
        _sleep_until(lease_until - 0.5)
        expect("newcomer just before the lease ends is busy", is_busy_for_a_newcomer(aws, user),
               True)  # fmt: skip
        _sleep_until(lease_until + 1.05)
    else:
        expire_lease(aws.dynamodb, user, owner)

    # After: the next request takes the lock over, and the crashed key ends correctly.
    after = transact(aws, transaction_body(user, "5", "credit"), "next")
    expect("request once the lease ran out", after.label, "201 applied")
    replay = transact(aws, transaction_body(user, "10", "debit"), "crashed")
    expect("crashed key sent again", replay.label, "201 replayed" if committed else "201 applied")
    expect("final balance", balance_of(aws.dynamodb, user), Decimal("95.00"))
    expect("violations at the end", violations(aws.dynamodb), [])
    expect("events at the end", event_violations(aws.dynamodb, aws.published_events()), [])
    return problems


def _sleep_until(moment: float, sleep: Callable[[float], None] = time.sleep) -> None:
    sleep(max(0.0, moment - time.time()))
