"""JSONata and variables through `make run`'s AWS endpoint, driven by the AWS CLI: TestState of
JSONata Pass and Choice states, and StartSyncExecution of a JSONata machine and of a JSONPath
machine reading a variable, with exact outputs."""

from __future__ import annotations

import json
import re
from itertools import count
from typing import Any

from tests.endpoint.conftest import MakeRun, aws_cli_json

ROLE = "arn:aws:iam::123456789012:role/JsonataCliRole"
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
_names = count()


def sync_run(make_run: MakeRun, definition: dict[str, Any], execution_input: Any) -> dict:
    arn = aws_cli_json(
        make_run.aws,
        "stepfunctions",
        "create-state-machine",
        "--name",
        f"JsonataCli{next(_names)}",
        "--type",
        "EXPRESS",
        "--role-arn",
        ROLE,
        "--definition",
        json.dumps(definition),
    )["stateMachineArn"]
    return dict(
        aws_cli_json(
            make_run.aws,
            "stepfunctions",
            "start-sync-execution",
            "--state-machine-arn",
            arn,
            "--input",
            json.dumps(execution_input),
        )
    )


def test_jsonata_machine_through_the_cli(make_run: MakeRun) -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Remember",
        "States": {
            "Remember": {
                "Type": "Pass",
                "Assign": {
                    "id": "{% $uuid() %}",
                    "pairs": "{% $partition($states.input.items, 2) %}",
                    "machine": "{% $states.context.StateMachine.Name %}",
                },
                "Next": "Answer",
            },
            "Answer": {
                "Type": "Pass",
                "Output": {
                    "id": "{% $id %}",
                    "pairs": "{% $pairs %}",
                    "machine": "{% $machine %}",
                    "state": "{% $states.context.State.Name %}",
                    "quoted": "{% $states.input.quoted %}",
                },
                "End": True,
            },
        },
    }
    quoted = 'say "hi" \\ María'

    result = sync_run(make_run, definition, {"items": [1, 2, 3], "quoted": quoted})

    assert result["status"] == "SUCCEEDED", result
    output = json.loads(result["output"])
    assert UUID4.match(output["id"])
    assert output == {
        "id": output["id"],
        "pairs": [[1, 2], [3]],
        "machine": result["stateMachineArn"].rsplit(":", 1)[1],
        "state": "Answer",
        "quoted": quoted,
    }


def test_jsonpath_machine_reading_a_variable_through_the_cli(make_run: MakeRun) -> None:
    definition = {
        "StartAt": "Remember",
        "States": {
            "Remember": {"Type": "Pass", "Assign": {"who.$": "$.who"}, "Next": "Answer"},
            "Answer": {
                "Type": "Pass",
                "Parameters": {"greeting.$": "States.Format('Hello, {}', $who)", "who.$": "$who"},
                "End": True,
            },
        },
    }

    result = sync_run(make_run, definition, {"who": "Zoë"})

    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"]) == {"greeting": "Hello, Zoë", "who": "Zoë"}


def test_teststate_of_jsonata_pass_and_choice_through_the_cli(make_run: MakeRun) -> None:
    pass_state = {
        "QueryLanguage": "JSONata",
        "Type": "Pass",
        "Assign": {"total": "{% $sum($states.input.amounts) + $start %}"},
        "Output": {"count": "{% $count($states.input.amounts) %}"},
        "Next": "After",
    }
    choice_state = {
        "QueryLanguage": "JSONata",
        "Type": "Choice",
        "Choices": [{"Condition": "{% $total > 10 %}", "Next": "Big"}],
        "Default": "Small",
    }

    passed = aws_cli_json(
        make_run.aws,
        "stepfunctions",
        "test-state",
        "--definition",
        json.dumps(pass_state),
        "--input",
        json.dumps({"amounts": [1, 2, 3]}),
        "--variables",
        json.dumps({"start": 10}),
        "--inspection-level",
        "DEBUG",
    )
    chosen = aws_cli_json(
        make_run.aws,
        "stepfunctions",
        "test-state",
        "--definition",
        json.dumps(choice_state),
        "--input",
        "{}",
        "--variables",
        json.dumps({"total": 16}),
    )

    assert (passed["status"], passed["nextState"]) == ("SUCCEEDED", "After")
    assert json.loads(passed["output"]) == {"count": 3}
    assert json.loads(passed["inspectionData"]["variables"]) == {"start": 10, "total": 16}
    assert (chosen["status"], chosen["nextState"]) == ("SUCCEEDED", "Big")
