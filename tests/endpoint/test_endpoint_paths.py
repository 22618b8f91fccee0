"""Each refusal and fallback of the AWS endpoint, the Lambda API and TestState, in-process."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto.core.botocore_stubber import MockRawResponse
from werkzeug.test import Client

from infra.local import aws_endpoint as endpoint
from infra.local import routing
from infra.local.aws_endpoint import AwsEndpoint, json_response
from infra.local.runtime import LocalAws
from infra.local.stepfunctions import interpreter

SFN = "AWSStepFunctions"
SIGNED_SQS = "AWS4-HMAC-SHA256 Credential=x/20261201/us-east-1/sqs/aws4_request, Signature=s"


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalAws]:
    with LocalAws() as local:
        yield local


@pytest.fixture
def client(runtime) -> Client:
    return Client(AwsEndpoint(runtime))


def call(client: Client, target: str, body: Any) -> tuple[int, dict[str, Any]]:
    data = body if isinstance(body, str) else json.dumps(body)
    response = client.post(
        "/",
        data=data,
        headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.0"},
    )
    return response.status_code, json.loads(response.data or b"{}")


def test_a_failure_inside_is_an_internal_failure_not_a_crash(client, monkeypatch):
    def broken(*args: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(routing, "send", broken)
    status, body = call(client, "DynamoDB_20120810.ListTables", {})

    assert (status, body["__type"]) == (500, "InternalFailure")
    assert "a bug" not in body["message"]


@pytest.mark.parametrize(
    "answer",
    [
        None,
        NotImplementedError("no such action"),
        AWSResponse("https://x", 404, {}, MockRawResponse(b"")),  # type: ignore[arg-type]
    ],
    ids=["moto-has-no-handler", "moto-has-no-method", "moto-answers-an-empty-404"],
)
def test_an_operation_moto_lacks_is_unknown(client, monkeypatch, answer):
    def send(*args: Any) -> None:
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(routing, "send", send)
    status, body = call(client, "DynamoDB_20120810.ListTables", {})

    assert (status, body["__type"]) == (400, "UnknownOperationException")


@pytest.mark.parametrize(
    ("body", "expected"),
    [("{not json", "SerializationException"), ("[]", "SerializationException")],
    ids=["not-json", "not-an-object"],
)
def test_a_json_protocol_body_must_be_an_object(client, body, expected):
    status, answer = call(client, "DynamoDB_20120810.ListTables", body)

    assert (status, answer["__type"]) == (400, expected)


def test_the_lambda_only_endpoint_refuses_other_services(runtime):
    status, body = call(
        Client(AwsEndpoint(runtime, is_lambda_only=True)), "DynamoDB_20120810.ListTables", {}
    )

    assert (status, body["__type"]) == (404, "UnknownOperationException")


def test_the_query_protocol_reaches_sqs(client):
    created = client.post(
        "/",
        data="Action=CreateQueue&QueueName=q1&Version=2012-11-05",
        headers={"Authorization": SIGNED_SQS, "Content-Type": "application/x-www-form-urlencoded"},
    )
    no_action = client.post("/", data="QueueName=q1", headers={"Authorization": SIGNED_SQS})

    assert created.status_code == 200 and b"q1" in created.data
    assert no_action.status_code == 400
    assert json.loads(no_action.data)["__type"] == "UnknownOperationException"


def test_start_sync_execution_runs_the_template_machine(client, runtime):
    execution_input = json.dumps({"body": "{}", "idempotencyKey": "k", "requestId": "r"})
    status, body = call(
        client,
        f"{SFN}.StartSyncExecution",
        {
            "stateMachineArn": runtime.state_machine_arns["TransactionStateMachine"],
            "input": execution_input,
        },
    )

    assert status == 200
    assert (body["status"], body["error"]) == ("FAILED", "ValidationError")
    assert isinstance(body["startDate"], float)  # epoch seconds, as the JSON protocol has them


def test_start_sync_execution_runs_another_machine_and_refuses_a_missing_one(client, runtime):
    arn = runtime.stepfunctions.create_state_machine(
        name="Pass",
        roleArn="arn:aws:iam::123456789012:role/r",
        type="EXPRESS",
        definition='{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}',
    )["stateMachineArn"]
    status, body = call(
        client, f"{SFN}.StartSyncExecution", {"stateMachineArn": arn, "input": '{"a": 1}'}
    )
    missing_status, missing = call(
        client, f"{SFN}.StartSyncExecution", {"stateMachineArn": arn + "-missing", "input": "{}"}
    )

    assert (status, body["status"], json.loads(body["output"])) == (200, "SUCCEEDED", {"a": 1})
    assert (missing_status, missing["__type"]) == (400, "StateMachineDoesNotExist")


@pytest.mark.parametrize(
    ("request_body", "expected"),
    [
        ({"input": "{}"}, "ValidationException"),
        ({"stateMachineArn": "arn", "input": {"a": 1}}, "ValidationException"),
        ({"stateMachineArn": "arn", "input": "{nope"}, "InvalidExecutionInput"),
    ],
    ids=["no-arn", "input-not-a-string", "input-not-json"],
)
def test_start_sync_execution_refuses_bad_requests(client, request_body, expected):
    status, body = call(client, f"{SFN}.StartSyncExecution", request_body)

    assert (status, body["__type"]) == (400, expected)


def test_describe_execution_waits_for_the_recorded_end(client, runtime, monkeypatch):
    arn = runtime.stepfunctions.start_execution(
        stateMachineArn=runtime.state_machine_arns["TransactionStateMachine"],
        name=uuid.uuid4().hex,
        input=json.dumps({"body": "{}", "idempotencyKey": "k", "requestId": "r"}),
    )["executionArn"]
    while interpreter.recorded_status(arn) == "RUNNING":
        time.sleep(0.01)
    readings = iter(["RUNNING", "RUNNING", "FAILED"])  # moto's end still being recorded, twice
    monkeypatch.setattr(interpreter, "recorded_status", lambda execution_arn: next(readings))
    sent: list[str] = []
    send = routing.send

    def send_counted(*args: Any) -> AWSResponse | None:
        sent.append(args[2])  # the operation
        return send(*args)

    monkeypatch.setattr(routing, "send", send_counted)

    status, body = call(client, f"{SFN}.DescribeExecution", {"executionArn": arn})

    assert (status, body["status"], body["error"]) == (200, "FAILED", "ValidationError")
    assert sent == ["DescribeExecution", "DescribeExecution"]  # asked again once recorded


def test_describe_execution_gives_up_waiting_after_a_bound(client, runtime, monkeypatch):
    arn = runtime.stepfunctions.start_execution(
        stateMachineArn=runtime.state_machine_arns["TransactionStateMachine"],
        name=uuid.uuid4().hex,
        input=json.dumps({"body": "{}", "idempotencyKey": "k", "requestId": "r"}),
    )["executionArn"]
    while interpreter.recorded_status(arn) == "RUNNING":
        time.sleep(0.01)
    monkeypatch.setattr(interpreter, "recorded_status", lambda execution_arn: "RUNNING")
    monkeypatch.setattr(endpoint, "_RECORDING_SECONDS", 0.01)

    status, body = call(client, f"{SFN}.DescribeExecution", {"executionArn": arn})

    assert (status, body["status"]) == (200, "FAILED")


def test_json_timestamps_are_epoch_seconds_and_nothing_else_passes():
    with pytest.raises(TypeError):
        json_response(200, {"value": object()})


# The Lambda API


def invoke(client: Client, name: str, payload: bytes | str = b"{}", **headers: str):
    return client.post(f"/2015-03-31/functions/{name}/invocations", data=payload, headers=headers)


def test_invoke_answers_as_lambda(client, runtime):
    ok = invoke(
        client,
        "DeleteTransactionFunction",
        '{"userId": "nobody", "idempotencyKey": "k", "executionId": "e"}',
    )
    by_arn = invoke(
        client,
        "arn:aws:lambda:us-east-1:123456789012:function:DeleteTransactionFunction:$LATEST",
        '{"userId": "nobody", "idempotencyKey": "k", "executionId": "e"}',
    )
    failed = invoke(client, "AcquireLockFunction", b"{}")

    assert ok.status_code == 200 and ok.headers["X-Amz-Executed-Version"] == "$LATEST"
    assert "X-Amz-Function-Error" not in ok.headers
    assert by_arn.status_code == 200
    assert failed.status_code == 200
    assert failed.headers["X-Amz-Function-Error"] == "Unhandled"
    assert failed.json["errorType"] == "KeyError"  # malformed task input is a bug: a crash


@pytest.mark.parametrize(
    ("name", "payload", "headers", "status", "error_type"),
    [
        ("NoSuchFunction", b"{}", {}, 404, "ResourceNotFoundException"),
        (
            "GetBalanceFunction",
            b"{}",
            {"X-Amz-Invocation-Type": "Sometimes"},
            400,
            "InvalidParameterValueException",
        ),
        ("GetBalanceFunction", b"{nope", {}, 400, "InvalidRequestContentException"),
        ("GetBalanceFunction", b" " * (6 * 1024 * 1024 + 1), {}, 413, "RequestTooLargeException"),
        ("GetBalanceFunction:prod", b"{}", {}, 404, "ResourceNotFoundException"),
    ],
    ids=[
        "unknown-function",
        "unknown-invocation-type",
        "payload-not-json",
        "payload-too-large",
        "a-version-not-kept",
    ],
)
def test_invoke_refusals(client, name, payload, headers, status, error_type):
    response = invoke(client, name, payload, **headers)

    assert response.status_code == status
    assert response.headers["x-amzn-ErrorType"] == error_type
    assert response.json["Type"] == "User" and response.json["message"]


def test_dry_run_and_event_invocations(client, runtime, caplog):
    before = runtime.lambdas.invocations["AcquireLockFunction"]
    dry_run = invoke(client, "AcquireLockFunction", b"{}", **{"X-Amz-Invocation-Type": "DryRun"})
    event = invoke(client, "AcquireLockFunction", b"{}", **{"X-Amz-Invocation-Type": "Event"})
    deadline = time.monotonic() + 10
    while runtime.lambdas.invocations["AcquireLockFunction"] == before:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    while "asynchronous invocation" not in caplog.text:
        assert time.monotonic() < deadline
        time.sleep(0.01)

    assert dry_run.status_code == 204
    assert event.status_code == 202
    assert runtime.lambdas.invocations["AcquireLockFunction"] == before + 1  # the Event one
    assert "KeyError" in caplog.text


# Known gaps (docs/known-gaps.md) of the endpoint and its Lambda API.


def test_a_tail_log_is_not_returned(client):
    response = invoke(
        client,
        "DeleteTransactionFunction",
        '{"userId": "nobody", "idempotencyKey": "k", "executionId": "e"}',
        **{"X-Amz-Log-Type": "Tail"},
    )

    assert response.status_code == 200
    assert "X-Amz-Log-Result" not in response.headers  # AWS: the last 4 KB of the log


def test_signatures_are_not_checked(client):
    wrong = "AWS4-HMAC-SHA256 Credential=nobody/20261201/us-east-1/states/aws4_request, Signature=0"
    response = client.post(
        "/",
        data="{}",
        headers={
            "X-Amz-Target": f"{SFN}.ListStateMachines",
            "Content-Type": "application/x-amz-json-1.0",
            "Authorization": wrong,
        },
    )

    assert response.status_code == 200  # AWS: 403 InvalidSignatureException
    machines = json.loads(response.data)["stateMachines"]
    assert "TransactionStateMachine" in [m["name"] for m in machines]


def test_get_and_list_functions(client, runtime):
    listed = client.get("/2015-03-31/functions/")
    found = client.get("/2015-03-31/functions/GetBalanceFunction")
    missing = client.get("/2015-03-31/functions/Nope")
    unknown = client.delete("/2015-03-31/functions/GetBalanceFunction/concurrency")

    assert {f["FunctionName"] for f in listed.json["Functions"]} == set(runtime.template.functions)
    assert found.json["Configuration"]["Handler"] == (
        "functions.handlers.get_balance.lambda_handler"
    )
    assert missing.status_code == 404
    assert unknown.status_code == 404
    assert unknown.headers["x-amzn-ErrorType"] == "UnknownOperationException"


class RecordingLock:
    """The runtime's DynamoDB lock, recording which operations ran while it was held."""

    def __init__(self, runtime: LocalAws) -> None:
        self._lock = runtime.dynamodb_lock
        self._runtime = runtime
        self.held_for: list[str] = []

    def __enter__(self) -> None:
        self._lock.acquire()
        self._before = dict(self._runtime.dynamodb_requests)

    def __exit__(self, *exc_info: object) -> None:
        after = self._runtime.dynamodb_requests
        self.held_for += [op for op in after if after[op] != self._before.get(op, 0)]
        self._lock.release()


def test_outside_dynamodb_requests_take_the_runtimes_lock(client, runtime, monkeypatch):
    lock = RecordingLock(runtime)
    monkeypatch.setattr(runtime, "dynamodb_lock", lock)

    call(
        client,
        "DynamoDB_20120810.PutItem",
        {"TableName": "AggregatesTable", "Item": {"userId": {"S": "x"}, "balance": {"N": "1"}}},
    )
    call(client, "DynamoDB_20120810.Scan", {"TableName": "AggregatesTable"})

    assert lock.held_for == ["PutItem", "Scan"]


def test_describe_execution_of_another_region_does_not_wait(client, monkeypatch):
    west = boto3.client("stepfunctions", region_name="us-west-2")
    arn = west.create_state_machine(
        name="West",
        roleArn="arn:aws:iam::123456789012:role/r",
        definition='{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}',
    )["stateMachineArn"]
    execution = west.start_execution(stateMachineArn=arn, name="e1", input="{}")["executionArn"]
    while west.describe_execution(executionArn=execution)["status"] == "RUNNING":
        time.sleep(0.01)
    monkeypatch.setattr(
        interpreter, "recorded_status", lambda arn: pytest.fail("waited on us-east-1")
    )
    signed_west = "AWS4-HMAC-SHA256 Credential=x/20261201/us-west-2/states/aws4_request, S=s"

    response = client.post(
        "/",
        data=json.dumps({"executionArn": execution}),
        headers={"X-Amz-Target": f"{SFN}.DescribeExecution", "Authorization": signed_west},
    )

    assert response.status_code == 200
    assert json.loads(response.data)["status"] == "SUCCEEDED"


def test_describing_a_missing_execution_does_not_wait_for_its_end(client, monkeypatch):
    def never_recorded(arn: str) -> str:
        raise AssertionError("a missing execution has no end to wait for")

    monkeypatch.setattr(interpreter, "recorded_status", never_recorded)
    arn = "arn:aws:states:us-east-1:123456789012:execution:TransactionStateMachine:nope"
    status, body = call(client, "AWSStepFunctions.DescribeExecution", {"executionArn": arn})

    assert (status, body["__type"].rsplit("#", 1)[-1]) == (400, "ExecutionDoesNotExist")


def test_a_refused_definition_is_named_invalid_definition(client):
    status, body = call(client, f"{SFN}.CreateStateMachine", {
        "name": f"refused-{uuid.uuid4().hex[:8]}", "type": "EXPRESS",
        "roleArn": "arn:aws:iam::123456789012:role/x",
        "definition": json.dumps({"StartAt": "A", "States": {"A": {"Type": "Nope"}}}),
    })  # fmt: skip

    assert (status, body["__type"]) == (400, "InvalidDefinition")


def test_filter_log_events_reads_a_json_pattern(client):
    group, stream = f"/filtered/{uuid.uuid4().hex[:8]}", "s"
    logs = "Logs_20140328"
    call(client, f"{logs}.CreateLogGroup", {"logGroupName": group})
    call(client, f"{logs}.CreateLogStream", {"logGroupName": group, "logStreamName": stream})
    events = [{"timestamp": int(time.time() * 1000), "message": json.dumps({"type": kind})}
              for kind in ("ExecutionStarted", "ExecutionFailed")]  # fmt: skip
    call(client, f"{logs}.PutLogEvents",
         {"logGroupName": group, "logStreamName": stream, "logEvents": events})  # fmt: skip

    status, body = call(client, f"{logs}.FilterLogEvents", {
        "logGroupName": group, "filterPattern": '{ $.type = "ExecutionFailed" }'})  # fmt: skip

    assert status == 200, body
    assert [json.loads(event["message"]) for event in body["events"]] == [
        {"type": "ExecutionFailed"}
    ]
