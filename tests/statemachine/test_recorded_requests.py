"""The recorder on the real runtime: each DynamoDB request is its execution's, and costs none."""

import json
import time

from infra.local.cloudformation.template import Template
from infra.local.stepfunctions.executions import history
from tests.builders import execution_input

# ReleaseLock calls DynamoDB itself: its requests are recorded under the state's name.
TASK_FUNCTIONS = ["AcquireLockFunction", "PutTransactionFunction", "UpdateBalanceFunction",
                  "ReleaseLock"]  # fmt: skip


def test_each_request_is_recorded_under_its_execution_and_invocation_and_none_is_added(local_aws):
    # The stream consumers (the summaries projection) make requests of their own, outside any
    # execution, whenever their poller passes a commit: paused, only the executions make any.
    local_aws.streams.stop()
    other = local_aws.start_sync_execution("TransactionStateMachine", execution_input(user_id="u2"))
    before = sum(local_aws.dynamodb_requests.values())

    response = local_aws.start_sync_execution(
        "TransactionStateMachine", execution_input(user_id="u1")
    )

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

    response = local_aws.start_sync_execution(
        "TransactionStateMachine", execution_input(user_id="u1")
    )

    assert response["error"] == "UserBusyError"
    arn = response["executionArn"]
    acquires = [i for i in local_aws.recorder.invocations(arn)
                if i.function == "AcquireLockFunction"]  # fmt: skip
    assert len(acquires) == 1 + busy_retries()
    for invocation in acquires:
        # The attempt: one conditional write, refused, that changed nothing.
        take, *polls = invocation.calls
        assert take.operation == "UpdateItem"
        assert take.status == 400
        assert take.error["code"] == "ConditionalCheckFailedException"
        [item] = take.items
        assert item["before"] == item["after"]
        assert item["after"]["lockOwner"] == {"S": "other"}
        # Then the wait: consistent reads of the row, and one write, taking the place next in
        # line (the lock never looks free, so there is no second attempt to take it). Whether a
        # read comes after the claim depends on how close to its deadline the invocation
        # claimed (a loaded machine claims late), so the order is not asserted.
        assert [call.status for call in polls] == [200] * len(polls)
        reads = [call for call in polls if call.operation == "GetItem"]
        claims = [call for call in polls if call.operation != "GetItem"]
        assert reads and polls[0].operation == "GetItem"  # a claim follows a read
        assert all(call.request["ConsistentRead"] is True for call in reads)
        assert all(call.items[0]["before"] == call.items[0]["after"] for call in reads)
        [claim] = claims
        assert claim.operation == "UpdateItem"
        assert claim.request["UpdateExpression"].startswith("SET nextOwner = :owner")
        [item] = claim.items
        assert item["after"]["nextOwner"] == {"S": arn}
        assert item["after"]["lockOwner"] == {"S": "other"}
        assert all(call.items[0]["after"]["lockOwner"] == {"S": "other"} for call in polls)


def busy_retries() -> int:
    """How often the ASL retries AcquireLock's UserBusyError."""
    definition = json.loads(Template.load().state_machines["TransactionStateMachine"].definition)
    [retrier] = [r for r in definition["States"]["AcquireLock"]["Retry"]
                 if r["ErrorEquals"] == ["UserBusyError"]]  # fmt: skip
    return retrier["MaxAttempts"]
