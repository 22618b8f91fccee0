"""A template with a second Express state machine runs under `make run` as the first does: the
AWS CLI lists both and runs the second with StartSyncExecution, and the view shows its runs.

The project is copied with a template of its own: a Pass machine from its own ASL file, without
DefinitionSubstitutions, Logging or Events (what a machine may leave out)."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.endpoint.conftest import ROOT, aws_cli_json, running_make_run

ECHO = {
    "Comment": "Echoes its input with a greeting: a second machine of the template.",
    "StartAt": "Greet",
    "TimeoutSeconds": 10,
    "States": {
        "Greet": {"Type": "Pass", "Result": "hello", "ResultPath": "$.greeting", "End": True}
    },
}
ECHO_RESOURCE = """
  EchoStateMachine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Type: EXPRESS
      DefinitionUri: ../statemachine/echo.asl.json
"""


def project_with_a_second_machine(destination: Path) -> Path:
    """A copy of what `make run` reads, its template declaring EchoStateMachine too."""
    for part in ("functions", "infra", "statemachine"):
        shutil.copytree(
            ROOT / part, destination / part, ignore=shutil.ignore_patterns("__pycache__")
        )
    (destination / "statemachine" / "echo.asl.json").write_text(json.dumps(ECHO, indent=2))
    template = destination / "infra" / "template.yaml"
    text = template.read_text()
    resources = re.search(r"^Resources:\n", text, re.M)
    assert resources is not None
    template.write_text(text[: resources.end()] + ECHO_RESOURCE + text[resources.end() :])
    return destination


@pytest.fixture(scope="module")
def make_run_of_the_copy(tmp_path_factory) -> Iterator[dict[str, str]]:
    root = project_with_a_second_machine(tmp_path_factory.mktemp("project"))
    with running_make_run(root) as urls:
        yield {"api": urls["Wallet"], "aws": urls["AWS"]}


def test_the_cli_lists_both_machines_and_runs_the_second(make_run_of_the_copy):
    endpoint = make_run_of_the_copy["aws"]

    listed = aws_cli_json(endpoint, "stepfunctions", "list-state-machines")["stateMachines"]
    machines = {machine["name"]: machine for machine in listed}
    assert set(machines) == {
        "TransactionStateMachine",
        "TransferStateMachine",
        "ReversalStateMachine",
        "HoldStateMachine",
        "EchoStateMachine",
    }
    assert {machine["type"] for machine in listed} == {"EXPRESS"}
    echo = machines["EchoStateMachine"]["stateMachineArn"]
    described = aws_cli_json(
        endpoint, "stepfunctions", "describe-state-machine", "--state-machine-arn", echo
    )
    assert json.loads(described["definition"]) == ECHO

    result = aws_cli_json(
        endpoint, "stepfunctions", "start-sync-execution", "--state-machine-arn", echo,
        "--input", json.dumps({"name": "wallet"}), "--name", "echo-1",
    )  # fmt: skip

    assert result["status"] == "SUCCEEDED", result
    assert result["stateMachineArn"] == echo
    assert json.loads(result["output"]) == {"name": "wallet", "greeting": "hello"}
    executions = aws_cli_json(
        endpoint, "stepfunctions", "list-executions", "--state-machine-arn", echo
    )["executions"]
    assert [execution["name"] for execution in executions] == ["echo-1"]


def test_the_view_shows_the_second_machines_executions(make_run_of_the_copy):
    endpoint = make_run_of_the_copy["aws"]
    [echo] = [
        machine["stateMachineArn"]
        for machine in aws_cli_json(endpoint, "stepfunctions", "list-state-machines")[
            "stateMachines"
        ]
        if machine["name"] == "EchoStateMachine"
    ]
    aws_cli_json(
        endpoint, "stepfunctions", "start-sync-execution", "--state-machine-arn", echo,
        "--input", "{}", "--name", "echo-seen",
    )  # fmt: skip
    api = make_run_of_the_copy["api"]

    listing = requests.get(f"{api}/_console/", timeout=30)
    page = requests.get(f"{api}/_console/executions/echo-seen", timeout=30)

    assert listing.status_code == 200 and "echo-seen" in listing.text
    assert page.status_code == 200
    assert "Greet" in page.text  # the state of its own definition, in its diagram
