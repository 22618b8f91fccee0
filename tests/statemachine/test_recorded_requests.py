"""The recorder on the real runtime: each DynamoDB request is its execution's, and costs none."""

import time

from infra.local.executions import history
from tests.builders import execution_input

TASK_FUNCTIONS = ["ValidateRequestFunction", "AcquireLockFunction", "PutTransactionFunction",
                  "UpdateBalanceFunction", "ReleaseLockFunction"]  # fmt: skip


def test_each_request_is_recorded_under_its_execution_and_invocation_and_none_is_added(local_aws):
    other = local_aws.start_sync_execution(execution_input(user_id="u2"))
    before = sum(local_aws.dynamodb_requests.values())

    response = local_aws.start_sync_execution(execution_input(user_id="u1"))

    invocations = local_aws.recorder.invocations(response["executionArn"])
    scheduled = [e for e in history(local_aws.stepfunctions, response["executionArn"])
                 if e["type"] == "TaskScheduled"]  # fmt: skip
    assert [i.function for i in invocations] == TASK_FUNCTIONS
    assert len(invocations) == len(scheduled)
    calls = [call for invocation in invocations for call in invocation.calls]
    # Every request the execution made is recorded, and the recorder's reads are no requests.
    assert len(calls) == sum(local_aws.dynamodb_requests.values()) - before
    assert [c.operation for c in calls] == ["UpdateItem", "TransactWriteItems",
                                            "TransactWriteItems", "UpdateItem"]  # fmt: skip
    # The outbox's event item is keyed by its event id; every other item by the user.
    users = {item["key"]["userId"]["S"] for call in calls for item in call.items
             if "userId" in item["key"]}  # fmt: skip
    assert users == {"u1"}
    assert local_aws.recorder.invocations(other["executionArn"]) != invocations


def test_a_busy_lock_is_recorded_as_refused_conditional_checks(local_aws):
    local_aws.dynamodb.put_item(
        TableName="AggregatesTable",
        Item={"userId": {"S": "u1"}, "balance": {"N": "100.00"}, "lockOwner": {"S": "other"},
              "leaseUntil": {"N": str(int(time.time()) + 60)}},
    )  # fmt: skip

    response = local_aws.start_sync_execution(execution_input(user_id="u1"))

    assert response["error"] == "UserBusyError"
    acquires = [i for i in local_aws.recorder.invocations(response["executionArn"])
                if i.function == "AcquireLockFunction"]  # fmt: skip
    assert len(acquires) == 5
    for invocation in acquires:
        [call] = invocation.calls
        assert call.status == 400
        assert call.error["code"] == "ConditionalCheckFailedException"
        [item] = call.items
        assert item["before"] == item["after"]  # refused: nothing changed
        assert item["after"]["lockOwner"] == {"S": "other"}
