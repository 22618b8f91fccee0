"""Opposite transfers between the same users, racing: the global lock order is what keeps them
from waiting on each other, and the oracle sees it when the order is the request's."""

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from functools import partial

from functions.domain import transfers
from functions.domain.models import TransferRequest
from infra.local.stepfunctions.executions import history
from tests.builders import transfer_input
from tests.invariants import balance_of, violations

USERS = ("alice", "bob")
RACERS = 8


def run_concurrently(aws, inputs: list[str]) -> list[dict]:
    with ThreadPoolExecutor(len(inputs)) as pool:
        return list(pool.map(partial(aws.start_sync_execution, "TransferStateMachine"), inputs))


def busy_failures(aws, response: dict) -> int:
    """How often AcquireLocks gave up on a lock in this execution."""
    return sum(
        1
        for event in history(aws.stepfunctions, response["executionArn"])
        if event["type"] == "TaskFailed"
        and event["taskFailedEventDetails"]["error"] == "UserBusyError"
    )


def test_opposite_transfers_racing_never_deadlock_and_conserve_money(local_aws, forced_switching):
    inputs = [
        transfer_input(*(USERS if index % 2 else USERS[::-1]), amount="5.00")
        for index in range(RACERS)
    ]
    responses = run_concurrently(local_aws, inputs)

    # Every request ended as the contract allows (201 or 429). A deadlock would end them at the
    # machine's TimeoutSeconds (20 s) with States.Timeout, which this refuses (no clock judged).
    outcomes = [r["status"] if r["status"] == "SUCCEEDED" else r["error"] for r in responses]
    assert set(outcomes) <= {"SUCCEEDED", "UserBusyError"}, outcomes
    assert "SUCCEEDED" in outcomes
    total = sum(balance_of(local_aws.dynamodb, user) for user in USERS)
    assert total == Decimal("200.00")
    assert violations(local_aws.dynamodb) == []


def first_locks_taken_together(monkeypatch) -> None:
    """Each execution, once it holds its first lock, waits (up to 2 s) for the other to hold
    its own: the interleaving in which a lock order matters."""
    barrier = threading.Barrier(2)
    holding: set[str] = set()
    real = transfers.acquire_lock

    def acquire_then_meet(locks, request, policy, clock):
        lock = real(locks, request, policy, clock)
        if request.owner not in holding:
            holding.add(request.owner)
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=2)
        return lock

    monkeypatch.setattr(transfers, "acquire_lock", acquire_then_meet)


def test_in_the_global_order_an_opposite_pair_both_commit(local_aws, monkeypatch):
    first_locks_taken_together(monkeypatch)

    responses = run_concurrently(
        local_aws, [transfer_input("alice", "bob", "5.00"), transfer_input("bob", "alice", "7.00")]
    )

    assert [r["status"] for r in responses] == ["SUCCEEDED", "SUCCEEDED"]
    assert [busy_failures(local_aws, r) for r in responses] == [0, 0]
    assert violations(local_aws.dynamodb) == []


def test_in_request_order_the_opposite_pair_waits_on_each_other_until_the_lock_wait_runs_out(
    local_aws, monkeypatch
):
    """The oracle fails a broken implementation: locks taken in request order make each of the
    pair hold the lock the other needs, and neither can go on until one gives up at its lock
    wait's deadline (a deadlock broken only by time: USER_BUSY, where the global order has
    none)."""
    first_locks_taken_together(monkeypatch)
    monkeypatch.setattr(
        TransferRequest, "lock_order", property(lambda r: (r.from_user_id, r.to_user_id))
    )

    responses = run_concurrently(
        local_aws, [transfer_input("alice", "bob", "5.00"), transfer_input("bob", "alice", "7.00")]
    )

    assert sum(busy_failures(local_aws, r) for r in responses) >= 1, responses
    # Nothing was applied twice or half, whatever the retries did after the deadlock broke.
    assert violations(local_aws.dynamodb) == []
