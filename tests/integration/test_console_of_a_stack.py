"""The view of a deployed stack, on moto: its executions read from the state machine's log group,
events as AWS writes them for an Express machine (tests/local/stepfunctions/
express_log_events.json). DescribeStacks is a fake's: moto's CloudFormation needs
openapi-spec-validator, which the project does not install."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from werkzeug.test import Client

from infra.console.app import PREFIX
from infra.console.deployed import ACCESS_LOG_GROUP, StackOutputError, console_of_stack
from tests.processes import stopped

ROOT = Path(__file__).resolve().parents[2]
AWS_EVENTS = json.loads((ROOT / "tests/local/stepfunctions/express_log_events.json").read_text())
GROUP = "/aws/vendedlogs/states/wallet-transactions"
OUTPUTS = {
    "TransactionStateMachineLogGroupName": GROUP,
    "AggregatesTableName": "wallet-AggregatesTable-1",
}


ACCESS_GROUP = "wallet-WalletApiAccessLogGroup-AbC123"


class StackSession:
    """boto3's session, but DescribeStacks answers a stack with `outputs`, and
    DescribeStackResource the `resources` it has (logical id to physical id)."""

    def __init__(self, outputs: dict[str, str], resources: dict[str, str] | None = None) -> None:
        self.session: Any = boto3.Session(region_name="us-east-1")
        self.outputs = outputs
        self.resources = resources or {}

    def describe_stack_resource(self, StackName: str, LogicalResourceId: str) -> dict[str, Any]:
        assert StackName == "wallet"
        if LogicalResourceId not in self.resources:
            raise ClientError(
                {"Error": {"Code": "ValidationError",
                           "Message": f"Resource {LogicalResourceId} does not exist for stack"}},
                "DescribeStackResource",
            )  # fmt: skip
        physical = self.resources[LogicalResourceId]
        return {"StackResourceDetail": {"LogicalResourceId": LogicalResourceId,
                                        "PhysicalResourceId": physical}}  # fmt: skip

    def client(self, service: str) -> Any:
        return self if service == "cloudformation" else self.session.client(service)

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        assert StackName == "wallet"
        outputs = [{"OutputKey": k, "OutputValue": v} for k, v in self.outputs.items()]
        return {"Stacks": [{"StackName": StackName, "Outputs": outputs}]}


def deploy(outputs: dict[str, str]) -> StackSession:
    """A stack with `outputs` and the machine they name, its log group holding AWS's events."""
    stepfunctions = boto3.client("stepfunctions", region_name="us-east-1")
    definition = json.loads(
        (ROOT / "statemachine" / "transaction.asl.json").read_text().replace("${", "{")
    )
    machine = stepfunctions.create_state_machine(
        name="TransactionStateMachine",
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/wallet-TransactionStateMachineRole",
        type="EXPRESS",
    )["stateMachineArn"]
    logs = boto3.client("logs", region_name="us-east-1")
    logs.create_log_group(logGroupName=GROUP)
    stream = "states/TransactionStateMachine/2025-11-24-16-00/00000000"
    logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
    # CloudWatch Logs takes events of the last 14 days only: the fixture's, moved to now.
    shift = int(time.time() * 1000) - min(int(event["event_timestamp"]) for event in AWS_EVENTS)
    events = [
        {**event, "event_timestamp": str(int(event["event_timestamp"]) + shift)}
        for event in sorted(AWS_EVENTS, key=lambda event: int(event["event_timestamp"]))
    ]
    logs.put_log_events(
        logGroupName=GROUP,
        logStreamName=stream,
        logEvents=[
            {"timestamp": int(event["event_timestamp"]), "message": json.dumps(event)}
            for event in events
        ],
    )
    return StackSession({**outputs, "TransactionStateMachineArn": machine})


def access_entry(request_id: str, method: str, path: str, status: str, **more: str) -> str:
    """An access log line in the format of infra/template.yaml's AccessLogSetting."""
    fields = {"requestId": request_id, "extendedRequestId": "Xyz1AbC=", "requestTime":
              "24/Nov/2025:16:00:00 +0000", "httpMethod": method, "resourcePath": path,
              "status": status, "responseLength": "120", "responseLatency": "35",
              "integrationStatus": "-", "integrationLatency": "-", "errorMessage": "-",
              "errorType": "-", "sourceIp": "203.0.113.7", "userArn": "-",
              "xrayTraceId": "1-6744a5c0-0123456789abcdef01234567"}  # fmt: skip
    return json.dumps({**fields, **more})


def with_access_log(session: StackSession, lines: list[str]) -> StackSession:
    logs = boto3.client("logs", region_name="us-east-1")
    logs.create_log_group(logGroupName=ACCESS_GROUP)
    logs.create_log_stream(logGroupName=ACCESS_GROUP, logStreamName="stream")
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=ACCESS_GROUP,
        logStreamName="stream",
        logEvents=[{"timestamp": now + index, "message": line} for index, line in enumerate(lines)],
    )
    session.resources[ACCESS_LOG_GROUP] = ACCESS_GROUP
    return session


@mock_aws
def test_the_view_lists_and_shows_a_stacks_express_executions_from_its_log_group():
    console = console_of_stack("wallet", deploy(OUTPUTS))
    client = Client(console)

    listing = client.get(f"{PREFIX}/").get_data(as_text=True)
    page = client.get(f"{PREFIX}/executions/run-8")

    assert "run-7" in listing and "run-8" in listing
    assert page.status_code == 200
    assert "InsufficientFundsError" in page.get_data(as_text=True)
    assert client.get(f"{PREFIX}/executions/run-9").status_code == 404


@mock_aws
def test_a_stack_without_the_outputs_the_view_needs_is_refused():
    session = deploy({})

    with pytest.raises(StackOutputError, match="TransactionStateMachineLogGroupName"):
        console_of_stack("wallet", session)


@mock_aws
def test_every_state_machine_of_the_stack_is_read_from_its_own_log_group():
    session = deploy(OUTPUTS)
    stepfunctions = boto3.client("stepfunctions", region_name="us-east-1")
    transfer = stepfunctions.create_state_machine(
        name="TransferStateMachine",
        definition=(ROOT / "statemachine" / "transfer.asl.json").read_text().replace("${", "{"),
        roleArn="arn:aws:iam::123456789012:role/wallet-TransferStateMachineRole",
        type="EXPRESS",
    )["stateMachineArn"]
    boto3.client("logs", region_name="us-east-1").create_log_group(logGroupName="transfers")
    session.outputs |= {
        "TransferStateMachineArn": transfer,
        "TransferStateMachineLogGroupName": "transfers",
    }

    console = console_of_stack("wallet", session)

    assert set(console.definitions) == {session.outputs["TransactionStateMachineArn"], transfer}
    assert Client(console).get(f"{PREFIX}/").status_code == 200
    del session.outputs["TransferStateMachineLogGroupName"]
    with pytest.raises(StackOutputError, match="TransferStateMachineLogGroupName"):
        console_of_stack("wallet", session)


@mock_aws
def test_a_request_id_is_looked_up_in_the_apis_access_log():
    session = with_access_log(deploy(OUTPUTS), [
        access_entry("5e1f0a2b-get", "GET", "/balance", "200"),
        "not an access log line: 5e1f0a2b-throttled",
        access_entry("5e1f0a2b-throttled", "POST", "/transactions", "429",
                     errorType="THROTTLED", errorMessage="Too Many Requests"),
        access_entry("run-8", "POST", "/transactions", "422", integrationStatus="200"),
    ])  # fmt: skip
    client = Client(console_of_stack("wallet", session))

    get = client.get(f"{PREFIX}/requests/5e1f0a2b-get")
    throttled = client.get(f"{PREFIX}/", query_string={"requestId": "5e1f0a2b-throttled"})
    execution = client.get(f"{PREFIX}/requests/run-8")
    unknown = client.get(f"{PREFIX}/requests/5e1f0a2b")  # a prefix of logged ids: no match

    assert get.status_code == 200
    assert "GET /balance → 200" in get.get_data(as_text=True).replace("<wbr>", "")
    assert "started no execution" in get.get_data(as_text=True)
    assert throttled.status_code == 200
    assert "THROTTLED" in throttled.get_data(as_text=True)
    assert "Too Many Requests" in throttled.get_data(as_text=True)
    assert (execution.status_code, execution.headers["Location"]) == (
        303, f"{PREFIX}/executions/run-8")  # fmt: skip
    page = client.get(f"{PREFIX}/executions/run-8").get_data(as_text=True)
    assert 'data-request-id="run-8"' in page
    assert "<th>Status</th><td>422</td>" in page
    assert unknown.status_code == 404


@mock_aws
def test_a_stack_without_an_access_log_is_shown_and_an_unknown_request_is_a_404():
    client = Client(console_of_stack("wallet", deploy(OUTPUTS)))

    assert client.get(f"{PREFIX}/executions/run-8").status_code == 200
    assert client.get(f"{PREFIX}/requests/5e1f0a2b-get").status_code == 404


# `make console` started with SIGINT ignored (as `make console &` from a script is), over a stand-in
# for the stack's view: SIGINT and SIGTERM each stop it cleanly.
STARTED_IN_THE_BACKGROUND = """
import signal
from infra.console import deployed
signal.signal(signal.SIGINT, signal.SIG_IGN)
deployed.console_of_stack = lambda stack, session: lambda environ, start_response: []
deployed.main(["--stack", "wallet", "--port", "0", "--region", "us-east-1"])
"""


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_make_console_stops_on_sigint_or_sigterm_however_it_was_started(stop_signal):
    process = subprocess.Popen(
        [sys.executable, "-c", STARTED_IN_THE_BACKGROUND], cwd=ROOT, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        banner = [process.stdout.readline(), process.stdout.readline()]
        assert "Ctrl-C stops it." in banner[-1], banner
    finally:
        output = stopped(process, stop_signal)
    assert process.returncode == 0, output
    assert "Traceback" not in output
