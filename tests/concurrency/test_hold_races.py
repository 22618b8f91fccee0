"""Holds, captures, voids, debits and transfers racing on a few hot users, 16 threads at once:
`available` is never seen below zero, no hold is both captured and voided nor captured above its
amount, nothing answers a 5xx, and invariants 1-12 hold after the run; then the same with a fault
injected at each step of the hold machine."""

import json
import random
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from functions.clock import SystemClock
from functions.repositories import aggregates
from infra.local.awslambda.functions import FaultPoint
from tests.builders import execution_input, hold_input, transfer_input
from tests.invariants import scan, violations

USERS = ("h1", "h2", "h3")
RACERS = 16
OPERATIONS = 5
# What a racing request may be refused with; anything else (LockLostError, a crash) is a bug.
REFUSALS = {"InsufficientFundsError", "UserBusyError", "HoldNotPendingError",
            "HoldAmountExceededError", "NotFoundError"}  # fmt: skip


# Each step of the hold machine, and the debit's and transfer's commits racing them.
FAULTED = ("AcquireHoldLockFunction", "PlaceHoldFunction", "CaptureHoldFunction",
           "VoidHoldFunction", "UpdateBalanceFunction", "CommitTransferFunction")  # fmt: skip


class Race:
    """The racers' shared state: the holds placed so far, every answer, and what `available`
    a watcher saw on the rows meanwhile."""

    def __init__(self, aws) -> None:
        self.aws = aws
        self.placed: list[tuple[str, str]] = []
        self.outcomes: list[str] = []
        self.lowest_available = Decimal("Infinity")
        self.lock = threading.Lock()
        self.done = threading.Event()

    def start(self, machine: str, execution_input: str) -> dict:
        response = self.aws.start_sync_execution(machine, execution_input)
        outcome = "SUCCEEDED" if response["status"] == "SUCCEEDED" else response.get("error")
        with self.lock:
            self.outcomes.append(str(outcome))
        if outcome == "SUCCEEDED":
            answer = json.loads(response["output"])
            shown = answer.get("hold", {}).get("available")
            if shown is not None:
                self.saw(Decimal(shown))
        return response

    def saw(self, available: Decimal) -> None:
        with self.lock:
            self.lowest_available = min(self.lowest_available, available)

    def racer(self, seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(OPERATIONS):
            user = rng.choice(USERS)
            kind = rng.choice(("hold", "hold", "capture", "void", "debit", "transfer"))
            amount = f"{rng.randint(1, 40)}.{rng.randint(0, 99):02d}"
            if kind == "hold" or (kind in ("capture", "void") and not self.placed):
                # Some holds expire within the run: expiry races the rest with nobody waiting.
                seconds = rng.choice((1, 3600))
                body = {"userId": user, "amount": amount, "expiresInSeconds": seconds}
                response = self.start(
                    "HoldStateMachine", hold_input("place", body, uuid.uuid4().hex)
                )
                if response["status"] == "SUCCEEDED":
                    with self.lock:
                        self.placed.append((user, json.loads(response["output"])["hold"]["holdId"]))
            elif kind in ("capture", "void"):
                with self.lock:
                    owner, hold_id = rng.choice(self.placed)
                body = {"userId": owner}
                if kind == "capture" and rng.random() < 0.5:
                    body["amount"] = amount  # sometimes more than the hold: HOLD_AMOUNT_EXCEEDED
                self.start("HoldStateMachine", hold_input(kind, body, hold_id=hold_id))
            elif kind == "debit":
                self.start("TransactionStateMachine", execution_input(user, amount, "debit"))
            else:
                other = rng.choice([u for u in USERS if u != user])
                self.start("TransferStateMachine", transfer_input(user, other, amount))

    def watch(self) -> None:
        """Read every row as GET /balance would, until the racers are done."""
        repository = aggregates.AggregatesRepository(self.aws.dynamodb, "AggregatesTable")
        while not self.done.is_set():
            for user in USERS:
                account = repository.find_account(user)
                if account is not None:
                    self.saw(account.available(SystemClock().now()))
            time.sleep(0.01)

    def run(self) -> None:
        watcher = threading.Thread(target=self.watch)
        watcher.start()
        try:
            with ThreadPoolExecutor(RACERS) as pool:
                list(pool.map(self.racer, range(RACERS)))
        finally:
            self.done.set()
            watcher.join()


def assert_holds_ended_once(aws) -> None:
    """Invariant 12 from the outside too: a captured hold has one capture entry, a voided none,
    and no capture is above its hold."""
    captures = Counter(i["holdId"]["S"] for i in scan(aws.dynamodb, "LedgerTable") if "holdId" in i)
    for item in scan(aws.dynamodb, "HoldsTable"):
        hold_id, status = item["holdId"]["S"], item["status"]["S"]
        assert captures[hold_id] == (1 if status == "CAPTURED" else 0), (hold_id, status)
        if status == "CAPTURED":
            assert Decimal(item["capturedAmount"]["N"]) <= Decimal(item["amount"]["N"])


def test_holds_captures_voids_debits_and_transfers_racing_keep_every_invariant(
    local_aws, forced_switching
):
    race = Race(local_aws)

    race.run()

    unexpected = Counter(o for o in race.outcomes if o != "SUCCEEDED" and o not in REFUSALS)
    assert not unexpected, unexpected  # no 5xx: every answer is a contract row
    assert race.outcomes.count("SUCCEEDED") >= RACERS
    assert race.lowest_available >= 0
    assert_holds_ended_once(local_aws)
    assert violations(local_aws.dynamodb) == []


@pytest.mark.parametrize("point", [FaultPoint.BEFORE, FaultPoint.AFTER, FaultPoint.SERVICE_ERROR],
                         ids=lambda p: p.value)  # fmt: skip
def test_the_race_with_a_fault_at_each_step_keeps_every_invariant(local_aws, point):
    for function in FAULTED:
        local_aws.lambdas.inject_fault(function, point, times=2)
    race = Race(local_aws)

    race.run()

    unexpected = Counter(
        o for o in race.outcomes
        if o not in {"SUCCEEDED", "InjectedFaultError"} | REFUSALS
    )  # fmt: skip
    assert not unexpected, unexpected
    # A fault before or after a step fails its request; a service error is retried away.
    assert ("InjectedFaultError" in race.outcomes) is (point is not FaultPoint.SERVICE_ERROR)
    assert race.lowest_available >= 0
    assert_holds_ended_once(local_aws)
    assert violations(local_aws.dynamodb) == []
