"""The hold machine's real ASL on the embedded runtime: one test per path, a fault at each step,
and the oracle (invariants 1-12) shown failing once on each broken implementation it exists for.
"""

from datetime import datetime
from decimal import Decimal

import pytest

from functions.clock import SystemClock, epoch_millis, epoch_seconds
from functions.domain import holds as hold_use_cases
from functions.domain.models import AccountState
from functions.repositories import aggregates, holds
from functions.settings import get_settings
from infra.local.awslambda.functions import FaultPoint
from infra.local.dynamodb.time_to_live import TimeToLive
from infra.local.stepfunctions.service_tasks import SERVICE_FAULT_POINTS
from tests.builders import execution_input, hold_input, output_of
from tests.invariants import (
    balance_of,
    event_violations,
    lock_owner,
    projection_violations,
    scan,
    violations,
)
from tests.statemachine.conftest import EMBEDDED_RUNTIME_ONLY

pytestmark = EMBEDDED_RUNTIME_ONLY


def path(task: str) -> list[str]:
    return ["AcquireHoldLock", "ChooseOperation", task, "ReleaseLock", "HoldSucceeded"]


def failed_in(task: str) -> list[str]:
    return ["AcquireHoldLock", "ChooseOperation", task, "ReleaseLockAfterFailure", "HoldFailed"]


FAILED_IN_ACQUIRE = ["AcquireHoldLock", "ReadUserAfterFailure", "ReleaseLockAfterFailure",
                     "HoldFailed"]  # fmt: skip


def run(aws, operation: str, body: dict, key: str = "", hold_id: str = ""):
    response = aws.start_sync_execution(
        "HoldStateMachine", hold_input(operation, body, key, hold_id)
    )
    return response, aws.entered_states(response["executionArn"])


def place(aws, amount: str = "30.00", key: str = "h-1", seconds: int = 3600):
    return run(aws, "place", {"userId": "u", "amount": amount, "expiresInSeconds": seconds}, key)


def placed(aws, amount: str = "30.00", key: str = "h-1") -> dict:
    response, _ = place(aws, amount, key)
    assert response["status"] == "SUCCEEDED", response
    return dict(output_of(response)["hold"])


def capture(aws, hold_id: str, amount: str | None = None):
    body = {"userId": "u", **({"amount": amount} if amount else {})}
    return run(aws, "capture", body, hold_id=hold_id)


def void(aws, hold_id: str):
    return run(aws, "void", {"userId": "u"}, hold_id=hold_id)


def stored(aws, hold_id: str) -> dict:
    [item] = [i for i in scan(aws.dynamodb, "HoldsTable") if i["holdId"]["S"] == hold_id]
    return item


def row_holds(aws) -> dict:
    item = aws.dynamodb.get_item(TableName="AggregatesTable", Key={"userId": {"S": "u"}})["Item"]
    return dict(item.get("holds", {}).get("M", {}))


def test_a_hold_is_placed_in_one_write_and_the_lock_freed(local_aws):
    response, states = place(local_aws)

    assert response["status"] == "SUCCEEDED"
    assert states == path("PlaceHold")
    body = output_of(response)
    assert (body["replayed"], body["hold"]["available"]) == (False, "70.00")
    assert list(row_holds(local_aws)) == [body["hold"]["holdId"]]
    assert stored(local_aws, body["hold"]["holdId"])["status"]["S"] == "PENDING"
    assert lock_owner(local_aws.dynamodb, "u") is None
    assert violations(local_aws.dynamodb) == []


def test_a_capture_commits_its_entry_and_event_and_ends_the_hold(local_aws):
    hold = placed(local_aws)

    response, states = capture(local_aws, hold["holdId"], "20.00")

    assert states == path("CaptureHold")
    assert output_of(response)["hold"]["balance"] == "80.00"
    assert row_holds(local_aws) == {}
    assert balance_of(local_aws.dynamodb, "u") == Decimal("80.00")
    assert lock_owner(local_aws.dynamodb, "u") is None
    assert violations(local_aws.dynamodb) == []
    local_aws.drain_streams()
    published = local_aws.published_events()
    [event] = published
    assert event["detail"]["holdId"] == hold["holdId"]
    assert event_violations(local_aws.dynamodb, published) == []
    assert projection_violations(local_aws.dynamodb) == []


def test_a_void_ends_the_hold_without_an_entry(local_aws):
    hold = placed(local_aws)

    response, states = void(local_aws, hold["holdId"])

    assert states == path("VoidHold")
    assert output_of(response)["hold"]["available"] == "100.00"
    assert row_holds(local_aws) == {}
    assert scan(local_aws.dynamodb, "LedgerTable") == []
    assert violations(local_aws.dynamodb) == []


@pytest.mark.parametrize(
    ("start", "error", "task"),
    [(lambda aws, h: place(aws, "100.01", "h-2"), "InsufficientFundsError", "PlaceHold"),
     (lambda aws, h: capture(aws, h, "30.01"), "HoldAmountExceededError", "CaptureHold"),
     (lambda aws, h: capture(aws, "nope"), "NotFoundError", "CaptureHold"),
     (lambda aws, h: void(aws, "nope"), "NotFoundError", "VoidHold")],
    ids=["beyond-available", "above-the-hold", "capture-not-found", "void-not-found"],
)  # fmt: skip
def test_a_refused_change_writes_nothing_and_frees_the_lock(local_aws, start, error, task):
    hold = placed(local_aws, "30.00")
    before = row_holds(local_aws)

    response, states = start(local_aws, hold["holdId"])

    assert (response["status"], response["error"]) == ("FAILED", error)
    assert states == failed_in(task)
    assert row_holds(local_aws) == before
    assert lock_owner(local_aws.dynamodb, "u") is None
    assert violations(local_aws.dynamodb) == []


def test_an_invalid_request_takes_no_lock(local_aws):
    response, states = run(local_aws, "place", {"userId": "u", "amount": "1"}, key="")

    assert response["error"] == "ValidationError"
    assert states == ["AcquireHoldLock", "HoldFailed"]
    assert scan(local_aws.dynamodb, "AggregatesTable") == []


@pytest.mark.parametrize("point", [FaultPoint.BEFORE, FaultPoint.AFTER], ids=lambda p: p.value)
def test_a_fault_in_acquire_hold_lock_frees_the_lock(local_aws, point):
    local_aws.lambdas.inject_fault("AcquireHoldLockFunction", point)

    response, states = place(local_aws)

    assert response["error"] == "InjectedFaultError"
    assert states == FAILED_IN_ACQUIRE
    assert lock_owner(local_aws.dynamodb, "u") is None
    assert row_holds_or_none(local_aws) in (None, {})
    assert violations(local_aws.dynamodb) == []
    assert output_of(place(local_aws)[0])["replayed"] is False  # nothing was placed


def row_holds_or_none(aws) -> dict | None:
    item = aws.dynamodb.get_item(TableName="AggregatesTable", Key={"userId": {"S": "u"}})
    return item.get("Item", {}).get("holds", {}).get("M") if "Item" in item else None


def test_a_fault_before_the_write_leaves_nothing_and_the_request_can_be_sent_again(local_aws):
    local_aws.lambdas.inject_fault("PlaceHoldFunction", FaultPoint.BEFORE)

    response, states = place(local_aws)

    assert response["error"] == "InjectedFaultError"
    assert states == failed_in("PlaceHold")
    assert row_holds(local_aws) == {} or row_holds_or_none(local_aws) is None
    assert scan(local_aws.dynamodb, "HoldsTable") == []
    again, _ = place(local_aws)
    assert output_of(again)["replayed"] is False
    assert violations(local_aws.dynamodb) == []


@pytest.mark.parametrize(
    ("task", "change"),
    [("CaptureHold", capture), ("VoidHold", void)],
    ids=["capture", "void"],
)
@pytest.mark.parametrize("point", [FaultPoint.BEFORE, FaultPoint.AFTER], ids=lambda p: p.value)
def test_a_fault_in_a_capture_or_void_applies_it_at_most_once(local_aws, task, change, point):
    hold = placed(local_aws)
    local_aws.lambdas.inject_fault(f"{task}Function", point)

    response, states = change(local_aws, hold["holdId"])

    assert response["error"] == "InjectedFaultError"
    assert states == failed_in(task)
    assert lock_owner(local_aws.dynamodb, "u") is None
    assert violations(local_aws.dynamodb) == []
    ended = stored(local_aws, hold["holdId"])["status"]["S"]
    done = {"CaptureHold": "CAPTURED", "VoidHold": "VOIDED"}[task]
    assert ended == ("PENDING" if point is FaultPoint.BEFORE else done)
    # The client's retry: applied now, or the first answer replayed; never twice.
    retry, _ = change(local_aws, hold["holdId"])
    assert output_of(retry)["replayed"] is (point is FaultPoint.AFTER)
    assert len(scan(local_aws.dynamodb, "LedgerTable")) == (1 if task == "CaptureHold" else 0)
    assert violations(local_aws.dynamodb) == []


@pytest.mark.parametrize("task", ["PlaceHold", "CaptureHold", "VoidHold"])
def test_a_service_error_after_the_write_is_retried_and_applies_once(local_aws, task):
    hold = placed(local_aws, key="first")
    local_aws.lambdas.inject_fault(f"{task}Function", FaultPoint.SERVICE_ERROR)

    if task == "PlaceHold":
        response, states = place(local_aws, "10.00", "second")
    elif task == "CaptureHold":
        response, states = capture(local_aws, hold["holdId"])
    else:
        response, states = void(local_aws, hold["holdId"])

    assert response["status"] == "SUCCEEDED"
    assert states == path(task)
    assert local_aws.lambdas.invocations[f"{task}Function"] == 2 + (task == "PlaceHold")
    assert output_of(response)["replayed"] is False  # its own write, found by the retry
    assert violations(local_aws.dynamodb) == []


@pytest.mark.parametrize("point", SERVICE_FAULT_POINTS, ids=lambda p: p.value)
def test_a_fault_in_the_release_after_the_write_still_succeeds(local_aws, point):
    local_aws.service_tasks.inject_fault(
        "ReleaseLock", point, 2 if point is FaultPoint.BEFORE else 1
    )

    response, states = place(local_aws)

    assert response["status"] == "SUCCEEDED"
    assert states == path("PlaceHold")
    expected = response["executionArn"] if point is FaultPoint.BEFORE else None
    assert lock_owner(local_aws.dynamodb, "u") == expected  # left to its lease, or freed
    assert violations(local_aws.dynamodb, allow_held_locks=point is FaultPoint.BEFORE) == []


def test_a_failing_release_after_a_failure_leaves_the_lock_to_its_lease(local_aws):
    local_aws.service_tasks.inject_fault("ReleaseLockAfterFailure", FaultPoint.BEFORE, 2)

    response, states = place(local_aws, "500.00")

    assert response["error"] == "InsufficientFundsError"
    assert states == failed_in("PlaceHold")
    assert lock_owner(local_aws.dynamodb, "u") == response["executionArn"]


def test_a_stored_hold_is_purged_by_the_ttl_thirty_days_after_its_expiry(local_aws):
    """Nothing is written at expiry; DynamoDB's TTL deletes the hold's item a retention after
    it, until when a capture or void still finds it, and after which they are NOT_FOUND."""
    local_aws.time_to_live.stop()  # swept here, on a clock of the test's
    retention = 30 * 24 * 3600
    assert get_settings().hold_retention_seconds == retention
    pending, other = placed(local_aws), placed(local_aws, "5.00", "h-2")
    assert void(local_aws, other["holdId"])[0]["status"] == "SUCCEEDED"
    purge_at = {
        hold["holdId"]: epoch_seconds(datetime.fromisoformat(hold["expiresAt"])) + retention
        for hold in (pending, other)
    }

    # A voided hold is kept as long as a pending one: a repeated void answers the first.
    assert {hold_id: int(stored(local_aws, hold_id)["purgeAt"]["N"]) for hold_id in purge_at} == (
        purge_at
    )
    first, last = min(purge_at.values()), max(purge_at.values())
    assert TimeToLive(local_aws.dynamodb, {"HoldsTable": "purgeAt"}, lambda: first).sweep() == 0
    assert TimeToLive(local_aws.dynamodb, {"HoldsTable": "purgeAt"}, lambda: last + 1).sweep() == 2

    assert scan(local_aws.dynamodb, "HoldsTable") == []
    assert void(local_aws, other["holdId"])[0]["error"] == "NotFoundError"
    assert capture(local_aws, pending["holdId"])[0]["error"] == "NotFoundError"


def test_a_debit_after_a_hold_is_checked_against_available(local_aws):
    placed(local_aws, "30.00")
    refused = local_aws.start_sync_execution(
        "TransactionStateMachine", execution_input("u", "70.01", "debit")
    )
    applied = local_aws.start_sync_execution(
        "TransactionStateMachine", execution_input("u", "70.00", "debit")
    )

    assert refused["error"] == "InsufficientFundsError"
    assert output_of(applied)["transaction"]["balance"] == "30.00"
    assert violations(local_aws.dynamodb) == []


# The oracle, failing once on each broken implementation.


def test_the_oracle_fails_a_hold_that_never_expires(local_aws, monkeypatch):
    """The row keeps the hold with no expiry (as a far future): it would count for ever."""
    never = datetime(9999, 1, 1, tzinfo=SystemClock().now().tzinfo)
    write = aggregates.holds_value
    monkeypatch.setattr(
        aggregates, "holds_value",
        lambda pending: write([type(h)(h.hold_id, h.amount, never) for h in pending]),
    )  # fmt: skip

    hold = placed(local_aws)

    found = violations(local_aws.dynamodb)
    assert any(f"pending hold {hold['holdId']} is" in line for line in found), found


def test_the_oracle_fails_a_capture_applied_twice(local_aws, monkeypatch):
    """Neither the domain nor the write's condition stops a second capture."""
    monkeypatch.setattr(hold_use_cases, "_ended", lambda hold, wanted, now, owner: None)
    mark = holds.mark_ended

    def unconditional(table_name, ended, now):
        item = mark(table_name, ended, now)
        del item["Update"]["ConditionExpression"]
        return item

    monkeypatch.setattr(holds, "mark_ended", unconditional)
    ids = iter(["capture-1", "capture-2"])
    monkeypatch.setattr(hold_use_cases, "capture_entry_id", lambda hold_id: next(ids))
    hold = placed(local_aws)

    for _ in range(2):
        response, _ = capture(local_aws, hold["holdId"], "10.00")
        assert response["status"] == "SUCCEEDED"  # the broken code does not notice

    found = violations(local_aws.dynamodb)
    assert any(f"hold {hold['holdId']}: captured 10.00 but its entries" in f for f in found)
    assert any("balance 80.00 but transactions add up to 90.00" in f for f in found), found


def test_the_oracle_fails_a_debit_checked_against_the_balance_not_available(local_aws, monkeypatch):
    def balance_only(self: AccountState, amount: Decimal, now: datetime) -> None:
        from functions.domain.errors import InsufficientFundsError

        if self.balance - amount < 0:
            raise InsufficientFundsError("the available balance is lower than the amount")

    monkeypatch.setattr(AccountState, "require_available", balance_only)
    placed(local_aws, "30.00")

    response = local_aws.start_sync_execution(
        "TransactionStateMachine", execution_input("u", "80.00", "debit")
    )

    assert response["status"] == "SUCCEEDED"
    found = violations(local_aws.dynamodb)
    assert "user 'u': available -10.00 below zero" in found, found


def test_the_oracle_judges_expiry_at_the_instant_it_is_given(local_aws):
    hold = placed(local_aws, "30.00")
    expires_at = epoch_millis(datetime.fromisoformat(hold["expiresAt"]))
    local_aws.dynamodb.update_item(
        TableName="AggregatesTable", Key={"userId": {"S": "u"}},
        UpdateExpression="SET balance = :b", ExpressionAttributeValues={":b": {"N": "20"}},
    )  # fmt: skip

    before = violations(local_aws.dynamodb, now_ms=expires_at - 1)
    at = violations(local_aws.dynamodb, now_ms=expires_at)

    assert "user 'u': available -10.00 below zero" in before
    assert not any("available" in line for line in at)
