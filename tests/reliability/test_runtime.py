"""The embedded runtime itself: what the reliability figures rely on."""

from types import SimpleNamespace

from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

from infra.local.patches import RUNTIME_PATCHES
from infra.local.stepfunctions import interpreter
from tests.invariants import balance_of


def test_each_dynamodb_request_runs_exactly_once(local_aws):
    """Regression: botocore calls every before-send handler even after one has answered, so
    moto's own stubber ran each DynamoDB request a second time, outside the runtime's lock (an
    increment added 2; under load moto's tables raced and executions failed at random)."""
    local_aws.dynamodb.put_item(
        TableName="AggregatesTable",
        Item={"userId": {"S": "counter"}, "balance": {"N": "0"}},
    )
    local_aws.dynamodb.update_item(
        TableName="AggregatesTable",
        Key={"userId": {"S": "counter"}},
        UpdateExpression="SET balance = balance + :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )

    assert balance_of(local_aws.dynamodb, "counter") == 1
    assert local_aws.dynamodb_requests["UpdateItem"] == 1


def test_the_wait_sees_an_end_only_once_moto_has_recorded_all_of_it(monkeypatch):
    """Regression: moto sets an execution's status before its output and error; the wait read the
    status alone, so a 201 could come without its body (seen in the soak under load)."""
    # Status set, output not yet; no interpreter to release (stepfunctions/retention.py).
    execution = SimpleNamespace(status="SUCCEEDED", output=None, exec_worker=None)
    backend = SimpleNamespace(describe_execution=lambda arn: execution)
    monkeypatch.setattr(interpreter, "get_backend", lambda account, region: backend)
    monkeypatch.setattr(BaseExecutionWorkerCommunication, "_reflect_execution_status", noop)
    status = interpreter.moto_status("arn:execution")

    assert status() == "RUNNING"
    with RUNTIME_PATCHES.applied():
        # moto: the end fully recorded (a fake Execution, with the fields the end reads)
        BaseExecutionWorkerCommunication(execution).terminated()  # type: ignore[arg-type]
    assert status() == "SUCCEEDED"


def noop(*args: object) -> None:
    return None
