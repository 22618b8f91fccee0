"""Races under forced thread switching: DynamoDB atomicity in the runtime, racing executions."""

import contextlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from functools import partial

from botocore.exceptions import ClientError

from tests.builders import execution_input
from tests.invariants import balance_of, transaction_items, violations

TRIALS = 200
RACERS = 8


def race_one_conditional_update(aws, user_id: str) -> list[object]:
    """RACERS threads try to create the same item; returns each thread's outcome."""
    barrier = threading.Barrier(RACERS)

    def racer(index: int) -> object:
        barrier.wait()
        try:
            aws.dynamodb.update_item(
                TableName="AggregatesTable",
                Key={"userId": {"S": user_id}},
                UpdateExpression="SET lockOwner = :owner",
                ConditionExpression="attribute_not_exists(lockOwner)",
                ExpressionAttributeValues={":owner": {"S": f"racer-{index}"}},
            )
            return "won"
        except ClientError as error:
            return error.response["Error"]["Code"]
        except Exception as error:  # moto crashing mid-request is one of the failures to catch
            return repr(error)

    with ThreadPoolExecutor(RACERS) as pool:
        return list(pool.map(racer, range(RACERS)))


def test_each_dynamodb_request_is_atomic_under_forced_switching(local_aws, forced_switching):
    for trial in range(TRIALS):
        outcomes = race_one_conditional_update(local_aws, f"user-{trial}")
        assert outcomes.count("won") == 1, outcomes
        assert outcomes.count("ConditionalCheckFailedException") == RACERS - 1, outcomes


def test_without_the_runtime_serialization_moto_races(local_aws, forced_switching):
    """Control: the same race with the runtime's lock disabled shows moto's own non-atomicity."""
    local_aws.dynamodb_lock = contextlib.nullcontext()
    broken = []
    for trial in range(TRIALS):
        outcomes = race_one_conditional_update(local_aws, f"user-{trial}")
        if outcomes.count("won") != 1 or set(outcomes) - {"won", "ConditionalCheckFailedException"}:
            broken.append(outcomes)
            break
    assert broken, "moto was atomic on its own in every trial: the serialization may be unneeded"


def run_concurrently(aws, inputs: list[str]) -> list[dict]:
    with ThreadPoolExecutor(len(inputs)) as pool:
        return list(pool.map(partial(aws.start_sync_execution, "TransactionStateMachine"), inputs))


def test_concurrent_debits_never_go_below_zero(local_aws, forced_switching):
    inputs = [execution_input(user_id="hot", amount="30", type_="debit") for _ in range(8)]

    responses = run_concurrently(local_aws, inputs)

    succeeded = [r for r in responses if r["status"] == "SUCCEEDED"]
    errors = {r.get("error") for r in responses if r["status"] != "SUCCEEDED"}
    assert errors <= {"InsufficientFundsError", "UserBusyError"}
    assert len(succeeded) <= 3
    assert balance_of(local_aws.dynamodb, "hot") == Decimal(100) - 30 * len(succeeded)
    assert balance_of(local_aws.dynamodb, "hot") >= 0
    assert violations(local_aws.dynamodb) == []


def test_concurrent_identical_requests_apply_once(local_aws, forced_switching):
    same = execution_input(user_id="dup", amount="10", key="same-key")

    responses = run_concurrently(local_aws, [same] * 6)

    succeeded = [json.loads(r["output"]) for r in responses if r["status"] == "SUCCEEDED"]
    assert {r.get("error") for r in responses if r["status"] != "SUCCEEDED"} <= {"UserBusyError"}
    assert succeeded, "at least the first request must succeed"
    assert [s["replayed"] for s in succeeded].count(False) == 1
    assert len({json.dumps(s["transaction"], sort_keys=True) for s in succeeded}) == 1
    assert balance_of(local_aws.dynamodb, "dup") == Decimal("110.00")
    assert len(transaction_items(local_aws.dynamodb, "dup")) == 1
    assert violations(local_aws.dynamodb) == []


def test_each_dynamodb_request_runs_once_in_moto(local_aws):
    """botocore calls every before-send handler: moto's own must not run a request again."""
    for _ in range(3):
        local_aws.dynamodb.update_item(
            TableName="AggregatesTable",
            Key={"userId": {"S": "counter"}},
            UpdateExpression="ADD hits :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
    item = local_aws.dynamodb.get_item(
        TableName="AggregatesTable", Key={"userId": {"S": "counter"}}
    )
    assert item["Item"]["hits"]["N"] == "3"
