"""The real ASL on the embedded runtime: one test per path; history, tables and invariants."""

import json
import time
from decimal import Decimal

import pytest

from infra.local.awslambda.functions import FaultPoint
from infra.local.stepfunctions.executions import history
from infra.local.stepfunctions.service_tasks import SERVICE_FAULT_POINTS
from tests.builders import execution_input, lock_input, output_of, release_lock
from tests.invariants import balance_of, lock_owner, transaction_items, violations

HAPPY_PATH = ["AcquireLock", "PutTransaction", "IsReplay", "UpdateBalance", "ReleaseLock",
              "TransactionSucceeded"]  # fmt: skip
FAILED_IN_ACQUIRE_LOCK = ["AcquireLock", "ReadRequestAfterFailure", "ReleaseLockAfterFailure",
                          "IsCommitted", "TransactionFailed"]  # fmt: skip
FAILED_AFTER_PUT = ["DeleteTransaction", "ReleaseLockAfterFailure", "IsCommitted",
                    "TransactionFailed"]  # fmt: skip


def run(aws, **kwargs):
    response = aws.start_sync_execution("TransactionStateMachine", execution_input(**kwargs))
    return response, aws.entered_states(response["executionArn"])


def hold_lock(aws, user_id: str, owner: str, lease_until: int) -> None:
    aws.dynamodb.put_item(
        TableName="AggregatesTable",
        Item={
            "userId": {"S": user_id},
            "balance": {"N": "100.00"},
            "lockOwner": {"S": owner},
            "leaseUntil": {"N": str(lease_until)},
        },
    )


@pytest.mark.parametrize(
    ("type_", "amount", "expected_balance"),
    [("credit", "10", "110.00"), ("debit", "30.5", "69.50"), ("debit", "100.00", "0.00")],
    ids=["credit", "debit", "debit-to-exactly-zero"],
)
def test_transaction_is_applied(local_aws, type_, amount, expected_balance):
    response, states = run(local_aws, user_id="u1", amount=amount, type_=type_, key="k1")

    assert response["status"] == "SUCCEEDED"
    assert states == HAPPY_PATH
    output = output_of(response)
    assert output["replayed"] is False
    assert output["transaction"]["balance"] == expected_balance
    assert output["transaction"]["amount"] == f"{Decimal(amount):.2f}"
    assert balance_of(local_aws.dynamodb, "u1") == Decimal(expected_balance)
    [item] = transaction_items(local_aws.dynamodb, "u1")
    assert item["status"]["S"] == "COMMITTED"
    assert item["transactionId"]["S"] == output["transaction"]["transactionId"]
    assert violations(local_aws.dynamodb) == []


def test_overdraft_runs_compensations_and_records_nothing(local_aws):
    response, states = run(local_aws, user_id="u1", amount="100.01", type_="debit")

    assert response["status"] == "FAILED"
    assert response["error"] == "InsufficientFundsError"
    assert states == [*HAPPY_PATH[:4], *FAILED_AFTER_PUT]
    assert transaction_items(local_aws.dynamodb, "u1") == []
    assert lock_owner(local_aws.dynamodb, "u1") is None
    assert balance_of(local_aws.dynamodb, "u1") == Decimal("100.00")
    assert violations(local_aws.dynamodb) == []


def test_invalid_request_fails_before_anything_is_written(local_aws):
    bad = json.dumps({"body": '{"userId": "u1", "ammount": "1.001", "type": "credit"}',
                      "idempotencyKey": "k1", "requestId": "r"})  # fmt: skip
    response = local_aws.start_sync_execution("TransactionStateMachine", bad)

    assert response["status"] == "FAILED"
    assert response["error"] == "ValidationError"
    assert "ammount" in json.loads(response["cause"])["errorMessage"]
    assert local_aws.entered_states(response["executionArn"]) == [
        "AcquireLock", "TransactionFailed"]  # fmt: skip
    assert local_aws.dynamodb_requests.get("UpdateItem", 0) == 0
    assert local_aws.dynamodb_requests.get("PutItem", 0) == 0


def test_replay_returns_the_stored_result_and_moves_the_balance_once(local_aws):
    first, _ = run(local_aws, user_id="u1", amount="10", key="k1")
    replay, states = run(local_aws, user_id="u1", amount="10", key="k1")

    assert replay["status"] == "SUCCEEDED"
    assert states == ["AcquireLock", "PutTransaction", "IsReplay", "ReturnStoredResult",
                      "ReleaseLock", "TransactionSucceeded"]  # fmt: skip
    assert output_of(replay) == {**output_of(first), "replayed": True}
    assert balance_of(local_aws.dynamodb, "u1") == Decimal("110.00")
    assert lock_owner(local_aws.dynamodb, "u1") is None
    assert violations(local_aws.dynamodb) == []


def test_same_key_for_another_user_is_another_transaction(local_aws):
    run(local_aws, user_id="u1", amount="10", key="k1")
    response, _ = run(local_aws, user_id="u2", amount="10", key="k1")

    assert output_of(response)["replayed"] is False
    assert balance_of(local_aws.dynamodb, "u2") == Decimal("110.00")


def test_key_reuse_with_another_payload_is_rejected(local_aws):
    run(local_aws, user_id="u1", amount="10", key="k1")
    response, states = run(local_aws, user_id="u1", amount="11", key="k1")

    assert response["status"] == "FAILED"
    assert response["error"] == "IdempotencyKeyReusedError"
    assert states[-4:] == FAILED_AFTER_PUT
    assert balance_of(local_aws.dynamodb, "u1") == Decimal("110.00")
    [item] = transaction_items(local_aws.dynamodb, "u1")
    assert item["amount"]["N"] in ("10", "10.00")
    assert violations(local_aws.dynamodb) == []


def wait_for(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def free_the_lock_and_wait_for(local_aws, arn: str) -> None:
    """The other holder lets go of u1's lock; then the execution runs to its end."""
    local_aws.dynamodb.update_item(
        TableName="AggregatesTable",
        Key={"userId": {"S": "u1"}},
        UpdateExpression="REMOVE lockOwner, leaseUntil",
    )
    wait_for(lambda: local_aws.stepfunctions.describe_execution(executionArn=arn)["status"]
             != "RUNNING")  # fmt: skip


def start_behind_another_executions_lock(aws) -> str:
    """A 5.00 credit of u1 started, and not waited for, while another execution holds u1's lock;
    its ARN."""
    hold_lock(aws, "u1", "other-execution", int(time.time()) + 60)
    return str(
        aws.stepfunctions.start_execution(
            stateMachineArn=aws.state_machine_arns["TransactionStateMachine"],
            input=execution_input(user_id="u1", amount="5"),
        )["executionArn"]
    )


def test_busy_lock_is_retried_until_released(local_aws):
    arn = start_behind_another_executions_lock(local_aws)

    # Release only once AcquireLock has failed on the busy lock at least once.
    wait_for(lambda: any(
        e["type"] == "TaskFailed" and e["taskFailedEventDetails"]["error"] == "UserBusyError"
        for e in history(local_aws.stepfunctions, arn)
    ))  # fmt: skip
    free_the_lock_and_wait_for(local_aws, arn)

    assert local_aws.stepfunctions.describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
    assert local_aws.entered_states(arn) == HAPPY_PATH
    assert local_aws.lambdas.invocations["AcquireLockFunction"] >= 2
    assert balance_of(local_aws.dynamodb, "u1") == Decimal("105.00")
    assert violations(local_aws.dynamodb) == []


def test_a_lock_freed_while_acquire_lock_waits_is_taken_in_the_same_invocation(local_aws):
    arn = start_behind_another_executions_lock(local_aws)

    # Release once the waiting execution has taken its place in line (it polls in the function).
    wait_for(lambda: local_aws.dynamodb.get_item(
        TableName="AggregatesTable", Key={"userId": {"S": "u1"}}, ConsistentRead=True
    )["Item"].get("nextOwner", {}).get("S") == arn)  # fmt: skip
    free_the_lock_and_wait_for(local_aws, arn)

    assert local_aws.stepfunctions.describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
    assert local_aws.entered_states(arn) == HAPPY_PATH
    assert local_aws.lambdas.invocations["AcquireLockFunction"] == 1
    row = local_aws.dynamodb.get_item(TableName="AggregatesTable", Key={"userId": {"S": "u1"}})
    assert "nextOwner" not in row["Item"]  # taking the lock freed the place in line
    assert balance_of(local_aws.dynamodb, "u1") == Decimal("105.00")
    assert violations(local_aws.dynamodb) == []


def test_lock_held_past_the_retry_budget_fails_busy_and_writes_nothing(local_aws):
    hold_lock(local_aws, "u1", "other-execution", int(time.time()) + 60)

    response, states = run(local_aws, user_id="u1", amount="5")

    assert response["status"] == "FAILED"
    assert response["error"] == "UserBusyError"
    assert states == FAILED_IN_ACQUIRE_LOCK
    # 1 try + 1 retry, waiting in the function until LOCK_WAIT_SECONDS after the start (the first
    # stops 1 s before its function's 4 s timeout).
    assert local_aws.lambdas.invocations["AcquireLockFunction"] == 2
    assert lock_owner(local_aws.dynamodb, "u1") == "other-execution"
    assert transaction_items(local_aws.dynamodb, "u1") == []
    assert balance_of(local_aws.dynamodb, "u1") == Decimal("100.00")


def test_expired_lease_is_taken_over(local_aws):
    hold_lock(local_aws, "u1", "dead-execution", int(time.time()) - 1)

    response, states = run(local_aws, user_id="u1", amount="5")

    assert response["status"] == "SUCCEEDED"
    assert states == HAPPY_PATH
    assert local_aws.lambdas.invocations["AcquireLockFunction"] == 1
    assert violations(local_aws.dynamodb) == []


def expire_lease(aws, user_id: str) -> None:
    aws.dynamodb.update_item(
        TableName="AggregatesTable",
        Key={"userId": {"S": user_id}},
        UpdateExpression="SET leaseUntil = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )


def test_abandoned_pending_record_is_not_a_replay(local_aws):
    # Given an execution that died after PutTransaction: its lease ran out, its record is pending.
    request = {"userId": "u1", "idempotencyKey": "k1", "type": "credit", "amount": "7.00"}
    invoke(local_aws, "AcquireLockFunction", lock_input("u1", "dead-execution"))
    invoke(
        local_aws, "PutTransactionFunction", {"request": request, "executionId": "dead-execution"}
    )
    expire_lease(local_aws, "u1")
    [abandoned] = transaction_items(local_aws.dynamodb, "u1")
    assert abandoned["status"]["S"] == "PENDING"

    # When the client sends the same request again.
    response, states = run(local_aws, user_id="u1", amount="7", key="k1")

    assert response["status"] == "SUCCEEDED"
    assert states == HAPPY_PATH
    assert output_of(response)["replayed"] is False
    assert balance_of(local_aws.dynamodb, "u1") == Decimal("107.00")
    assert violations(local_aws.dynamodb) == []


def invoke(aws, function: str, payload: dict) -> dict:
    result = aws.lambdas.invoke(function, json.dumps(payload).encode())
    return {"error": result.function_error, **json.loads(result.payload)}


def test_stale_holder_can_neither_write_nor_unlock(local_aws):
    request = {"userId": "u1", "idempotencyKey": "k1", "type": "credit", "amount": "10.00"}
    other = {**request, "idempotencyKey": "k2"}
    invoke(local_aws, "AcquireLockFunction", lock_input("u1", "stale"))
    put = invoke(local_aws, "PutTransactionFunction", {"request": request, "executionId": "stale"})
    # The stale holder's lease runs out and a new execution takes the lock over.
    expire_lease(local_aws, "u1")
    invoke(local_aws, "AcquireLockFunction", lock_input("u1", "new"))

    update = invoke(
        local_aws,
        "UpdateBalanceFunction",
        {"request": request, "executionId": "stale", "balance": "100.00", "lastSequence": 0,
         "holds": [], "transactionId": put["transactionId"], "createdAt": put["createdAt"]},
    )  # fmt: skip
    second_put = invoke(local_aws, "PutTransactionFunction",
                        {"request": other, "executionId": "stale"})  # fmt: skip
    unlock = release_lock(local_aws, "u1", owner="stale")

    assert update["errorType"] == "LockLostError"
    assert second_put["errorType"] == "LockLostError"
    assert unlock is False
    assert lock_owner(local_aws.dynamodb, "u1") == "new"
    assert balance_of(local_aws.dynamodb, "u1") == Decimal("100.00")
    assert [i["idempotencyKey"]["S"] for i in transaction_items(local_aws.dynamodb, "u1")] == ["k1"]

    # The new holder's execution ends normally; the stale one's pending record is overwritten.
    assert release_lock(local_aws, "u1", owner="new") is True
    response, states = run(local_aws, user_id="u1", amount="10", key="k1")
    assert states == HAPPY_PATH
    assert output_of(response)["transaction"]["balance"] == "110.00"
    assert violations(local_aws.dynamodb) == []


PATHS_OF_A_FAULT_BEFORE_THE_COMMIT = {
    "AcquireLock": FAILED_IN_ACQUIRE_LOCK,
    "PutTransaction": ["AcquireLock", "PutTransaction", *FAILED_AFTER_PUT],
    "UpdateBalance": [*HAPPY_PATH[:4], *FAILED_AFTER_PUT],
}  # fmt: skip


@pytest.mark.parametrize("point", [FaultPoint.BEFORE, FaultPoint.AFTER], ids=lambda p: p.value)
@pytest.mark.parametrize("task", PATHS_OF_A_FAULT_BEFORE_THE_COMMIT)
def test_fault_up_to_the_commit_is_compensated(local_aws, task, point):
    run(local_aws, user_id="u1", amount="10", key="earlier")  # balance 110.00, one commit
    local_aws.lambdas.inject_fault(f"{task}Function", point)

    response, states = run(local_aws, user_id="u1", amount="10", type_="debit", key="k1")

    assert response["status"] == "FAILED"
    assert response["error"] == "InjectedFaultError"
    assert states == PATHS_OF_A_FAULT_BEFORE_THE_COMMIT[task]
    assert balance_of(local_aws.dynamodb, "u1") == Decimal("110.00")
    keys = [item["idempotencyKey"]["S"] for item in transaction_items(local_aws.dynamodb, "u1")]
    assert keys == ["earlier"]
    assert lock_owner(local_aws.dynamodb, "u1") is None
    assert violations(local_aws.dynamodb) == []

    retry, _ = run(local_aws, user_id="u1", amount="10", type_="debit", key="k1")
    assert output_of(retry)["replayed"] is False
    assert output_of(retry)["transaction"]["balance"] == "100.00"
    assert violations(local_aws.dynamodb) == []


AFTER_RELEASE_FAILED = [*HAPPY_PATH[:-1], "ReleaseLockAfterFailure", "IsCommitted",
                        "TransactionSucceeded"]  # fmt: skip


@pytest.mark.parametrize(
    ("point", "times", "path"),
    [(FaultPoint.BEFORE, 1, HAPPY_PATH), (FaultPoint.BEFORE, 3, AFTER_RELEASE_FAILED),
     (FaultPoint.AFTER, 1, HAPPY_PATH), (FaultPoint.AFTER, 3, HAPPY_PATH)],
    ids=["before-once-retried", "before-every-attempt", "after-once", "after-every-attempt"],
)  # fmt: skip
def test_fault_in_release_after_the_commit_still_succeeds_and_frees_the_lock(
    local_aws, point, times, path
):
    # A release whose write landed but whose answer was lost is retried, finds the lock gone
    # (ConditionalCheckFailed) and counts that as released; one that never lands is handed to
    # the compensation's release.
    local_aws.service_tasks.inject_fault("ReleaseLock", point, times)

    response, states = run(local_aws, user_id="u1", amount="10", type_="debit", key="k1")

    assert response["status"] == "SUCCEEDED"
    assert states == path
    assert output_of(response)["transaction"]["balance"] == "90.00"
    assert lock_owner(local_aws.dynamodb, "u1") is None
    assert violations(local_aws.dynamodb) == []


@pytest.mark.parametrize("task", ["PutTransaction", "UpdateBalance"])
def test_service_error_after_the_write_is_retried_and_applies_once(local_aws, task):
    # The step did its work, then Lambda answered a service error: the retry runs it again.
    local_aws.lambdas.inject_fault(f"{task}Function", FaultPoint.SERVICE_ERROR)

    response, states = run(local_aws, user_id="u1", amount="10", type_="debit", key="k1")

    assert response["status"] == "SUCCEEDED"
    assert states == HAPPY_PATH
    assert local_aws.lambdas.invocations[f"{task}Function"] == 2
    assert output_of(response)["transaction"]["balance"] == "90.00"
    assert balance_of(local_aws.dynamodb, "u1") == Decimal("90.00")
    assert violations(local_aws.dynamodb) == []


def pending_records(aws, user_id: str) -> list[dict]:
    return [i for i in transaction_items(aws.dynamodb, user_id) if i["status"]["S"] == "PENDING"]


@pytest.mark.parametrize("point", list(FaultPoint), ids=lambda p: p.value)
def test_failing_delete_compensation_still_releases_the_lock(local_aws, point):
    local_aws.lambdas.inject_fault("DeleteTransactionFunction", point)

    response, states = run(local_aws, user_id="u1", amount="500", type_="debit")

    assert response["error"] == "InsufficientFundsError"  # the original error, not the fault
    assert states == [*HAPPY_PATH[:4], *FAILED_AFTER_PUT]
    assert lock_owner(local_aws.dynamodb, "u1") is None
    assert balance_of(local_aws.dynamodb, "u1") == Decimal("100.00")
    # A crash or timeout is retried (the compensation is idempotent); only a compensation that
    # keeps raising before its work leaves its pending record, which never counts.
    assert len(pending_records(local_aws, "u1")) == (1 if point is FaultPoint.BEFORE else 0)
    assert violations(local_aws.dynamodb, allow_pending=point is FaultPoint.BEFORE) == []


@pytest.mark.parametrize("point", SERVICE_FAULT_POINTS, ids=lambda p: p.value)
def test_failing_unlock_compensation_leaves_the_lock_to_its_lease(local_aws, point):
    # An overdraft, whose release fails at every attempt (before its write) or once after it.
    times = 3 if point is FaultPoint.BEFORE else 1
    local_aws.service_tasks.inject_fault("ReleaseLockAfterFailure", point, times)

    response, states = run(local_aws, user_id="u1", amount="500", type_="debit", key="k1")

    assert response["error"] == "InsufficientFundsError"
    assert states == [*HAPPY_PATH[:4], *FAILED_AFTER_PUT]
    assert pending_records(local_aws, "u1") == []
    if point is FaultPoint.BEFORE:
        assert lock_owner(local_aws.dynamodb, "u1") == response["executionArn"]
        expire_lease(local_aws, "u1")  # the lease is the safety net
    else:
        assert lock_owner(local_aws.dynamodb, "u1") is None
    retry, _ = run(local_aws, user_id="u1", amount="50", type_="debit", key="k1")
    assert output_of(retry)["transaction"]["balance"] == "50.00"
    assert violations(local_aws.dynamodb) == []
