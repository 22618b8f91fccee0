"""One source of truth: the ASL, the domain errors, the HTTP error table and the docs agree."""

import inspect
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import botocore.session

from functions.domain import errors
from functions.domain.lock_wait import WaitPolicy
from functions.http_errors import HTTP_ERRORS
from functions.settings import Settings
from infra.local.cloudformation.template import Template
from infra.local.stepfunctions.diagram import ASL_PATH, mermaid
from tests.consistency.conftest import definition_of

ROOT = Path(__file__).resolve().parents[2]
DEFINITION = json.loads(ASL_PATH.read_text())
# The states only failures lead to, per machine (the targets of Catch that are tasks). A
# transfer's ReleaseFirstLock is also where a failed ReleaseSecondLock goes on: a release that
# failed after the commit is left to the lease, and the other lock is still freed.
COMPENSATIONS = {
    "TransactionStateMachine": {"DeleteTransaction", "ReleaseLockAfterFailure"},
    "TransferStateMachine": {
        "DeleteTransfer",
        "ReleaseSecondLockAfterFailure",
        "ReleaseFirstLockAfterFailure",
        "ReleaseFirstLock",
    },
    # Each change to a hold is one atomic write: freeing the lock is all there is to undo.
    "HoldStateMachine": {"ReleaseLockAfterFailure"},
    # A reversal writes once, at its commit: only the lock is left to free after a failure.
    "ReversalStateMachine": {"ReleaseLockAfterFailure"},
}
DOMAIN_ERRORS = {
    name for name, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, errors.WalletError)
}  # fmt: skip


def error_names_in_asl(asl: dict) -> set[str]:
    names = set()
    for state in asl["States"].values():
        for rule in state.get("Retry", []) + state.get("Catch", []):
            names.update(rule["ErrorEquals"])
    return names


# What Lambda itself names a function that crashed or ran out of time (no domain error).
CRASHES = {"Lambda.Unknown", "Sandbox.Timedout", "States.Timeout"}
TRANSIENT = {"UserBusyError", "StorageThrottledError"}
# What DynamoDB answers when it did not do the write, for the tasks of its own integration.
DYNAMODB_TRANSIENT = {
    "DynamoDB.ProvisionedThroughputExceededException",
    "DynamoDB.RequestLimitExceeded",
    "DynamoDB.ThrottlingException",
    "DynamoDB.InternalServerError",
}


def compensations(asl: dict) -> set[str]:
    """The states only failures lead to: the targets of Catch, less the end of the flow."""
    targets = {
        catch["Next"] for state in asl["States"].values() for catch in state.get("Catch", [])
    }
    return {name for name in targets if asl["States"][name]["Type"] == "Task"}


def test_every_custom_error_in_the_asl_is_a_domain_error_class(asl):
    custom = {
        n for n in error_names_in_asl(asl) - CRASHES
        if not n.startswith(("States.", "Lambda.", "DynamoDB."))
    }  # fmt: skip
    assert custom
    assert custom <= DOMAIN_ERRORS


def test_every_dynamodb_error_in_the_asl_is_one_its_task_can_answer(asl):
    """Step Functions names a DynamoDB task's error `DynamoDB.<the API's error code>`."""
    model = botocore.session.get_session().get_service_model("dynamodb")
    for state in asl["States"].values():
        names = {n for rule in state.get("Retry", []) + state.get("Catch", [])
                 for n in rule["ErrorEquals"] if n.startswith("DynamoDB.")}  # fmt: skip
        if not names:
            continue
        api = state["Resource"].removeprefix("arn:aws:states:::dynamodb:")
        operation = model.operation_model(api[0].upper() + api[1:])
        answered = {f"DynamoDB.{shape.name}" for shape in operation.error_shapes}
        assert names <= answered, names - answered


def test_retries_never_cover_business_errors(asl, machine):
    assert compensations(asl) == COMPENSATIONS[machine]
    for name, state in asl["States"].items():
        for retry in state.get("Retry", []):
            errors_retried = set(retry["ErrorEquals"])
            assert not errors_retried & {"States.ALL", "States.TaskFailed"}, name
            # A step with effects is retried on a crash only if it is a compensation: those are
            # idempotent and raise no business error, so running one again is always safe.
            allowed = TRANSIENT | (CRASHES if name in compensations(asl) else set())
            custom = {e for e in errors_retried if not e.startswith("Lambda.")}
            assert custom <= allowed | DYNAMODB_TRANSIENT, name
            assert "Lambda.Unknown" not in errors_retried or name in compensations(asl), name
            assert retry["JitterStrategy"] == "FULL" and "MaxDelaySeconds" in retry, name


def worst_case_wait(state: dict) -> float:
    """The longest a state can spend waiting between attempts: every retrier exhausted."""
    return sum(
        min(retry["IntervalSeconds"] * retry["BackoffRate"] ** attempt, retry["MaxDelaySeconds"])
        for retry in state.get("Retry", [])
        for attempt in range(retry["MaxAttempts"])
    )


def successors(state: dict) -> set[str]:
    following = {state["Next"]} if "Next" in state else set()
    following |= {choice["Next"] for choice in state.get("Choices", [])}
    following |= {state["Default"]} if "Default" in state else set()
    return following | {catch["Next"] for catch in state.get("Catch", [])}


def longest_wait(asl: dict, name: str) -> float:
    state = asl["States"][name]
    following = (longest_wait(asl, successor) for successor in successors(state))
    return worst_case_wait(state) + max(following, default=0)


def deployed_settings() -> Settings:
    """The settings the template gives AcquireLock (the functions share one environment)."""
    return Settings.from_env(Template.load().functions["AcquireLockFunction"].environment)


def test_retries_and_the_lock_wait_cannot_time_the_execution_out(asl):
    # Along the worst path (every retrier of every state exhausted, compensations included) the
    # waits stay under the execution's timeout, itself under API Gateway's 29 s. AcquireLock also
    # waits inside the function, across all its attempts at most LOCK_WAIT_SECONDS after the
    # execution started (lock_wait.WaitPolicy.deadline), so that is added once.
    lock_wait = deployed_settings().lock_wait_seconds
    # A transfer's two locks share that one deadline (domain/transfers.py).
    assert longest_wait(asl, asl["StartAt"]) + lock_wait < asl["TimeoutSeconds"] < 29


def test_the_lock_wait_ends_well_inside_acquire_locks_function_timeout():
    # Each attempt stops waiting a margin before its function's timeout, so it answers
    # UserBusyError (retried) rather than time out (a crash, never retried for AcquireLock).
    function = Template.load().functions["AcquireLockFunction"]
    margin = WaitPolicy(budget_seconds=deployed_settings().lock_wait_seconds).margin_seconds
    assert 0 < margin <= function.timeout_seconds / 4
    start = datetime(2026, 12, 1, tzinfo=UTC)
    deadline = WaitPolicy(budget_seconds=60).deadline(
        started_at=start, now=start, remaining_seconds=function.timeout_seconds
    )
    assert deadline == start + timedelta(seconds=function.timeout_seconds - margin)
    # And the template's lock settings are the code's defaults, so tests run what is deployed.
    deployed, defaults = deployed_settings(), Settings.from_env({})
    assert (deployed.lock_wait_seconds, deployed.lock_lease_seconds) == (
        defaults.lock_wait_seconds,
        defaults.lock_lease_seconds,
    )


def test_the_lease_outlives_any_execution_and_its_last_task(asl):
    # After an execution times out, its running task may still write until the function's own
    # timeout; the lease must outlast both, or a live writer could be fenced out mid-flight.
    # AcquireLock's in-function wait happens before it holds the lock, so it is inside the
    # execution's TimeoutSeconds like every other wait. The state machine's functions only (a
    # stream consumer holds no lock and has its own timeout).
    longest_function = max(
        f.timeout_seconds for f in Template.load().functions.values() if not f.stream_sources
    )
    tasks = [s for s in asl["States"].values() if s["Type"] == "Task"]
    assert all(s["TimeoutSeconds"] > longest_function for s in tasks)
    lease = deployed_settings().lock_lease_seconds
    assert lease > asl["TimeoutSeconds"] + longest_function


def test_the_fail_state_re_raises_the_original_error(asl):
    [fail] = [s for s in asl["States"].values() if s["Type"] == "Fail"]
    is_jsonata = asl.get("QueryLanguage") == "JSONata"
    if is_jsonata:
        assert (fail["Error"], fail["Cause"]) == ("{% $error.Error %}", "{% $error.Cause %}")
    else:
        assert (fail["ErrorPath"], fail["CausePath"]) == ("$.error.Error", "$.error.Cause")
    for name, state in asl["States"].items():
        for catch in state.get("Catch", []):
            if catch["ErrorEquals"] == ["DynamoDB.ConditionalCheckFailedException"]:
                # A release that finds the lock no longer ours: nothing failed, nothing to keep.
                assert ("Assign" not in catch) if is_jsonata else catch["ResultPath"] is None
                continue
            if not is_jsonata:
                assert catch["ResultPath"] in ("$.error", "$.compensationError"), name
                continue
            # The first error is kept in $error; one after it, in a variable of its own. A catch
            # before the commit may also say that nothing was committed (result null).
            assigned = dict(catch["Assign"])
            assert assigned.pop("result", None) is None, name
            [(variable, value)] = assigned.items()
            assert value == "{% $states.errorOutput %}", name
            assert variable in ("error", "compensationError", "releaseError"), name
            # A compensation's failure never replaces the error the request failed with.
            assert variable != "error" or name not in compensations(asl), name


def test_http_errors_are_domain_errors_with_their_contract_codes():
    for name, http_error in HTTP_ERRORS.items():
        assert name in DOMAIN_ERRORS
        assert getattr(errors, name).code == http_error.code


def test_the_documented_diagram_matches_the_asl(machine, asl):
    page = (ROOT / "docs" / "architecture.md").read_text()
    diagrams = re.findall(r"```mermaid\n(.*?)\n```", page, re.S)
    assert mermaid(asl) in diagrams, f"run: python -m infra.local.stepfunctions.diagram {machine}"


def test_the_transfers_releases_are_the_transactions_release():
    """What the two machines share is one state shape: each of the transfer's four releases is
    the transaction's ReleaseLock (the same conditional UpdateItem on the owner token, the same
    ConditionalCheckFailed caught as released), reading its own user."""
    transfer = definition_of("TransferStateMachine")
    release = DEFINITION["States"]["ReleaseLock"]
    shared = ("Resource", "TimeoutSeconds")
    for name in ("ReleaseSecondLock", "ReleaseFirstLock", "ReleaseSecondLockAfterFailure",
                 "ReleaseFirstLockAfterFailure"):  # fmt: skip
        state = transfer["States"][name]
        assert {k: state[k] for k in shared} == {k: release[k] for k in shared}, name
        arguments, parameters = state["Arguments"], release["Arguments"]
        for field in ("TableName", "UpdateExpression", "ConditionExpression"):
            assert arguments[field] == parameters[field], (name, field)
        assert arguments["ExpressionAttributeValues"] == parameters["ExpressionAttributeValues"]
        assert arguments["ExpressionAttributeValues"] == {
            ":owner": {"S": "{% $states.context.Execution.Id %}"}
        }, name
        assert set(arguments) == set(parameters), name
        assert arguments["Key"]["userId"]["S"] in ("{% $lockOrder[0] %}", "{% $lockOrder[1] %}")
        assert [c["ErrorEquals"] for c in state["Catch"]] == [
            c["ErrorEquals"] for c in release["Catch"]
        ], name
        retried = state["Retry"][0]["ErrorEquals"]
        assert set(release["Retry"][0]["ErrorEquals"]) <= set(retried), name


def test_the_holds_releases_are_the_transactions_release_in_jsonata():
    """The hold machine's two releases are the transaction's ReleaseLock too (its arguments, its
    catches and at least its retries), on the user its request named."""
    hold = definition_of("HoldStateMachine")
    release = DEFINITION["States"]["ReleaseLock"]
    for name in ("ReleaseLock", "ReleaseLockAfterFailure"):
        state = hold["States"][name]
        assert (state["Resource"], state["TimeoutSeconds"]) == (
            release["Resource"],
            release["TimeoutSeconds"],
        ), name
        # Both machines are JSONata: the same arguments, the user read from $request.
        assert state["Arguments"] == release["Arguments"], name
        assert state["Arguments"]["Key"]["userId"]["S"] == "{% $request.userId %}", name
        assert [c["ErrorEquals"] for c in state["Catch"]] == [
            c["ErrorEquals"] for c in release["Catch"]
        ], name
        assert set(release["Retry"][0]["ErrorEquals"]) <= set(state["Retry"][0]["ErrorEquals"])


def test_the_reversals_releases_are_the_transfers_with_the_transactions_retries():
    """The reversal machine's two releases are the transfer's (the same conditional UpdateItem
    on the owner token in JSONata, the same errors caught), reading the one user from $request,
    and retried as the transaction's ReleaseLock is (one lock: the retries fit the timeout)."""
    reversal = definition_of("ReversalStateMachine")
    transfer = definition_of("TransferStateMachine")
    transaction_retry = DEFINITION["States"]["ReleaseLock"]["Retry"]
    for name, shared in (("ReleaseLock", "ReleaseFirstLock"),
                         ("ReleaseLockAfterFailure", "ReleaseFirstLockAfterFailure")):  # fmt: skip
        state, model = reversal["States"][name], transfer["States"][shared]
        assert {k: v for k, v in state["Arguments"].items() if k != "Key"} == {
            k: v for k, v in model["Arguments"].items() if k != "Key"
        }, name
        assert state["Arguments"]["Key"] == {"userId": {"S": "{% $request.userId %}"}}, name
        assert (state["Resource"], state["TimeoutSeconds"]) == (
            model["Resource"], model["TimeoutSeconds"]
        ), name  # fmt: skip
        assert [(c["ErrorEquals"], c.get("Assign")) for c in state["Catch"]] == [
            (c["ErrorEquals"], c.get("Assign")) for c in model["Catch"]
        ], name
        assert [r["ErrorEquals"] for r in state["Retry"]] == [
            r["ErrorEquals"] for r in model["Retry"]
        ], name
        assert state["Retry"][0]["MaxAttempts"] == transaction_retry[0]["MaxAttempts"], name
