"""Every state machine of the template, each with its own definition, routes and executions:
nothing in the runtime or the view names one of them as "the" state machine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.composition import console_of
from infra.local.apigateway.gateway import LocalGateway, substitutions
from infra.local.cloudformation.template import TEMPLATE_PATH, Template, state_machine_arn
from infra.local.runtime import LocalAws
from infra.local.stepfunctions import diagram, provision
from tests.builders import execution_input

ROOT = Path(__file__).resolve().parents[3]
ECHO = {"StartAt": "Greet", "States": {"Greet": {"Type": "Pass", "End": True}}}


def template_with_more_machines(directory: Path) -> Template:
    """The template, plus an Express machine from a file and a Standard one written inline,
    neither with DefinitionSubstitutions, Logging or Events; and a function naming both."""
    text = TEMPLATE_PATH.read_text()
    (directory / "statemachine").mkdir()
    (directory / "statemachine" / "echo.asl.json").write_text(json.dumps(ECHO))
    (directory / "infra").mkdir()
    for name in ("openapi.yaml",):
        (directory / "infra" / name).write_text((TEMPLATE_PATH.parent / name).read_text())
    extra = """
  EchoStateMachine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Type: EXPRESS
      DefinitionUri: ../statemachine/echo.asl.json
  InlineStateMachine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition:
        StartAt: Done
        States:
          Done:
            Type: Succeed
"""
    text = text.replace("\nResources:\n", "\nResources:\n" + extra, 1)
    path = directory / "infra" / "template.yaml"
    path.write_text(text)
    # The ASL files the template's own machines name, beside the copy as beside the original.
    for asl in (ROOT / "statemachine").glob("*.json"):
        (directory / "statemachine" / asl.name).write_text(asl.read_text())
    return Template.load(path)


@pytest.fixture
def template(tmp_path) -> Template:
    return template_with_more_machines(tmp_path)


def test_each_machine_is_read_with_its_own_definition_and_type(template):
    machines = template.state_machines

    assert set(machines) == {
        "TransactionStateMachine",
        "TransferStateMachine",
        "HoldStateMachine",
        "ReversalStateMachine",
        "EchoStateMachine",
        "InlineStateMachine",
    }
    assert json.loads(machines["EchoStateMachine"].definition) == ECHO
    assert machines["EchoStateMachine"].type == "EXPRESS"
    assert machines["InlineStateMachine"].type == "STANDARD"  # SAM's default
    assert json.loads(machines["InlineStateMachine"].definition)["StartAt"] == "Done"
    transaction = json.loads(machines["TransactionStateMachine"].definition)
    assert "${" not in json.dumps(transaction)  # its substitutions applied, and only its own


def test_a_machine_is_named_by_ref_and_by_its_arn():
    arn = state_machine_arn("EchoStateMachine", "us-east-1")

    assert arn == "arn:aws:states:us-east-1:123456789012:stateMachine:EchoStateMachine"


def test_the_runtime_creates_and_runs_every_machine(template):
    with LocalAws(template) as aws:
        listed = aws.stepfunctions.list_state_machines()["stateMachines"]
        echo = aws.start_sync_execution("EchoStateMachine", json.dumps({"a": 1}), "echo-1")
        by_arn = aws.start_sync_execution(
            aws.state_machine_arns["EchoStateMachine"], json.dumps({"b": 2})
        )
        saga = aws.start_sync_execution("TransactionStateMachine", execution_input())
        with pytest.raises(KeyError, match=r"no state machine 'Missing'.*EchoStateMachine"):
            aws.start_sync_execution("Missing", "{}")

    assert {m["name"] for m in listed} == set(template.state_machines)
    assert (echo["status"], json.loads(echo["output"])) == ("SUCCEEDED", {"a": 1})
    assert echo["stateMachineArn"] == state_machine_arn("EchoStateMachine", "us-east-1")
    assert json.loads(by_arn["output"]) == {"b": 2}
    assert saga["status"] == "SUCCEEDED"


def test_the_gateway_knows_every_machines_arn(template):
    with LocalAws(template) as aws:
        values = substitutions(aws)
        gateway = LocalGateway(aws)
        status, answer = gateway._call_start_sync_execution(
            json.dumps({"stateMachineArn": aws.state_machine_arns["EchoStateMachine"],
                        "input": "{}"})
        )  # fmt: skip

    for name in template.state_machines:
        assert values[f"{name}.Arn"] == values[name] == state_machine_arn(name, "us-east-1")
        assert values[f"{name}.Name"] == name
    assert (status, json.loads(answer)["status"]) == (200, "SUCCEEDED")


def test_the_view_lists_and_shows_the_executions_of_every_machine(template):
    with LocalAws(template) as aws:
        aws.start_sync_execution("EchoStateMachine", "{}", "echo-shown")
        aws.start_sync_execution("TransactionStateMachine", execution_input(), "saga-shown")
        console = console_of(aws)
        summaries, total = console.executions.summaries()
        pages = {
            name: console.handle(_request(f"/_console/executions/{name}"))
            for name in ("echo-shown", "saga-shown", "never-ran")
        }

    assert {summary.name for summary in summaries} == {"echo-shown", "saga-shown"}
    assert total == 2
    assert pages["echo-shown"].status_code == 200
    assert "Greet" in pages["echo-shown"].get_data(as_text=True)
    assert pages["saga-shown"].status_code == 200
    assert "AcquireLock" in pages["saga-shown"].get_data(as_text=True)
    assert pages["never-ran"].status_code == 404


def _request(path: str):
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    return Request(EnvironBuilder(path=path).get_environ())


def test_the_diagram_of_a_machine_the_template_lacks_is_refused(capsys):
    with pytest.raises(SystemExit, match="no state machine"):
        diagram.main(["Missing"])
    diagram.main(["TransactionStateMachine"])
    assert capsys.readouterr().out.startswith("flowchart TD")


def test_provisioning_a_machine_the_template_lacks_is_refused():
    with pytest.raises(SystemExit, match="no state machine 'Missing'"):
        provision.main(["--endpoint", "http://127.0.0.1:9", "--name", "Missing"])
