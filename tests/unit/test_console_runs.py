"""The console's reading of a history: per-state status, attempts and timings, on real histories."""

import json
from datetime import datetime
from pathlib import Path

import pytest

from infra.console.runs import CAUGHT, FAILED, NOT_ENTERED, RUNNING, SUCCEEDED, run_of

HISTORIES = Path(__file__).parent / "histories"
ASL = json.loads((Path(__file__).parents[2] / "statemachine" / "transaction.asl.json").read_text())
TYPES = {name: state["Type"] for name, state in ASL["States"].items()}
COMMIT_PATH = ["AcquireLock", "PutTransaction", "IsReplay", "UpdateBalance", "ReleaseLock",
               "TransactionSucceeded"]  # fmt: skip
COMPENSATION = ["DeleteTransaction", "ReleaseLockAfterFailure", "IsCommitted", "TransactionFailed"]


def recorded(name: str) -> list[dict]:
    events = json.loads((HISTORIES / f"{name}.json").read_text())
    for event in events:
        event["timestamp"] = datetime.fromisoformat(event["timestamp"])
    return events


def run(name: str):
    return run_of(recorded(name), TYPES)


def test_commit_every_state_on_the_path_succeeded_once_and_the_rest_was_not_entered():
    commit = run("commit")

    assert commit.status == "SUCCEEDED"
    assert commit.path == COMMIT_PATH
    assert all(state.status == SUCCEEDED for state in commit.states)
    assert [len(s.attempts) for s in commit.states] == [1, 1, 0, 1, 1, 0]
    assert commit.status_of("DeleteTransaction") == NOT_ENTERED
    assert commit.failing_state is None
    assert commit.caught_errors == []
    update = commit.states[3]
    assert json.loads(update.output)["result"]["transaction"]["balance"] == "110.00"
    assert update.input is not None and "result" not in json.loads(update.input)
    assert update.entered <= update.attempts[0].scheduled <= update.attempts[0].ended
    assert update.attempts[0].ended <= update.exited <= commit.stopped
    assert all(not edge[2] for edge in commit.transitions)


def test_replay_takes_the_stored_result_branch():
    replay = run("replay")

    assert replay.status == "SUCCEEDED"
    assert replay.path == [*COMMIT_PATH[:3], "ReturnStoredResult", *COMMIT_PATH[4:]]
    assert replay.status_of("UpdateBalance") == NOT_ENTERED


def test_overdraft_is_caught_in_update_balance_which_is_the_failing_step():
    overdraft = run("overdraft")

    assert overdraft.status == "FAILED"
    assert overdraft.error == "InsufficientFundsError"
    assert overdraft.path == [*COMMIT_PATH[:4], *COMPENSATION]
    assert overdraft.status_of("UpdateBalance") == CAUGHT
    assert overdraft.status_of("TransactionFailed") == FAILED
    assert overdraft.status_of("DeleteTransaction") == SUCCEEDED
    assert overdraft.failing_state.name == "UpdateBalance"
    assert overdraft.failing_state.error == "InsufficientFundsError"
    assert ("UpdateBalance", "DeleteTransaction", True) in overdraft.transitions
    assert ("DeleteTransaction", "ReleaseLockAfterFailure", False) in overdraft.transitions


def test_busy_lock_shows_every_retry_with_its_wait_and_fails_in_acquire_lock():
    busy = run("busy")

    assert busy.error == "UserBusyError"
    acquire = busy.states[0]
    assert acquire.name == "AcquireLock"
    assert acquire.status == CAUGHT
    assert acquire.is_retried
    assert [a.number for a in acquire.attempts] == [1, 2]  # 1 try + 1 retry
    assert all(a.outcome == FAILED and a.error == "UserBusyError" for a in acquire.attempts)
    assert acquire.attempts[0].wait_seconds is None
    waits = [a.wait_seconds for a in acquire.attempts[1:]]
    assert all(0 <= wait <= 1.1 for wait in waits)  # full jitter under MaxDelaySeconds 1
    assert busy.failing_state is acquire
    assert busy.path == ["AcquireLock", "ReadRequestAfterFailure", *COMPENSATION[1:]]


@pytest.mark.parametrize(
    ("name", "failing"),
    [("put_failure", "PutTransaction"), ("update_failure", "UpdateBalance")],
    ids=["after-a-put-failure", "after-an-update-failure"],
)
def test_compensation_runs_in_reverse_order_after_the_failing_step(name, failing):
    compensated = run(name)

    assert compensated.status == "FAILED"
    assert compensated.error == "InjectedFaultError"
    assert compensated.path[-4:] == COMPENSATION
    assert compensated.path[-5] == failing
    assert compensated.failing_state.name == failing
    assert "crashed after its work" in compensated.failing_state.cause
    assert compensated.status_of(failing) == CAUGHT
    assert all(compensated.status_of(s) == SUCCEEDED for s in COMPENSATION[:3])


def test_failed_lock_release_is_caught_and_the_execution_still_succeeds():
    released = run("release_failure")

    assert released.status == "SUCCEEDED"
    assert released.path == [*COMMIT_PATH[:5], "ReleaseLockAfterFailure", "IsCommitted",
                             "TransactionSucceeded"]  # fmt: skip
    assert released.status_of("ReleaseLock") == CAUGHT
    assert [s.name for s in released.caught_errors] == ["ReleaseLock"]
    assert released.failing_state is None
    assert ("ReleaseLock", "ReleaseLockAfterFailure", True) in released.transitions


def test_a_retried_service_error_is_an_attempt_and_the_state_succeeds():
    retried = run("retried")

    update = retried.states[3]
    assert update.name == "UpdateBalance"
    assert update.status == SUCCEEDED
    assert [a.outcome for a in update.attempts] == [FAILED, SUCCEEDED]
    assert update.attempts[0].error == "Lambda.ServiceException"
    assert update.attempts[1].wait_seconds is not None
    assert update.error is None


def test_a_history_still_running_leaves_its_current_state_running():
    events = recorded("commit")
    cut = next(i for i, e in enumerate(events) if e["type"] == "TaskScheduled" and i > 10)

    partial = run_of(events[: cut + 1], TYPES)

    assert partial.status == RUNNING
    assert partial.states[-1].status == RUNNING
    assert partial.states[-1].attempts[-1].outcome == RUNNING
    assert partial.failing_state is None
    assert partial.status_of("TransactionSucceeded") == NOT_ENTERED


def test_a_timed_out_execution_fails_the_state_it_was_in():
    events = [e for e in recorded("commit") if e["id"] <= 9]
    events.append({"id": 10, "type": "ExecutionTimedOut", "timestamp": events[-1]["timestamp"],
                   "executionTimedOutEventDetails": {"error": "States.Timeout"}})  # fmt: skip

    timed_out = run_of(events, TYPES)

    assert timed_out.status == "TIMED_OUT"
    assert timed_out.states[-1].status == FAILED
    failing = timed_out.failing_state
    assert failing is not None
    assert failing.name == timed_out.states[-1].name
    assert failing.error == "States.Timeout"


def test_what_a_state_assigned_is_kept_by_variable():
    at = datetime(2026, 12, 7)
    events = [
        {"id": 1, "type": "ExecutionStarted", "timestamp": at, "executionStartedEventDetails": {}},
        {"id": 2, "type": "PassStateEntered", "timestamp": at,
         "stateEnteredEventDetails": {"name": "Remember", "input": "{}"}},
        {"id": 3, "type": "PassStateExited", "timestamp": at,
         "stateExitedEventDetails": {"name": "Remember", "output": "{}",
                                     "assignedVariables": {"owner": '"e-1"', "total": "3"}}},
        {"id": 4, "type": "PassStateEntered", "timestamp": at,
         "stateEnteredEventDetails": {"name": "Done", "input": "{}"}},
        {"id": 5, "type": "PassStateExited", "timestamp": at,
         "stateExitedEventDetails": {"name": "Done", "output": "{}"}},
    ]  # fmt: skip

    remember, done = run_of(events, {"Remember": "Pass", "Done": "Pass"}).states

    assert remember.assigned == {"owner": '"e-1"', "total": "3"}
    assert done.assigned == {}
