"""The view of a deployed stack, on moto: its executions read from the state machine's log group,
events as AWS writes them for an Express machine (tests/local/stepfunctions/
express_log_events.json). DescribeStacks is a fake's: moto's CloudFormation needs
openapi-spec-validator, which the project does not install."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from werkzeug.test import Client

from infra.console.app import PREFIX
from infra.console.deployed import StackOutputError, console_of_stack

ROOT = Path(__file__).resolve().parents[2]
AWS_EVENTS = json.loads((ROOT / "tests/local/stepfunctions/express_log_events.json").read_text())
GROUP = "/aws/vendedlogs/states/wallet-transactions"
OUTPUTS = {
    "TransactionStateMachineLogGroupName": GROUP,
    "AggregatesTableName": "wallet-AggregatesTable-1",
}


class StackSession:
    """boto3's session, but DescribeStacks answers a stack with `outputs`."""

    def __init__(self, outputs: dict[str, str]) -> None:
        self.session: Any = boto3.Session(region_name="us-east-1")
        self.outputs = outputs

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
