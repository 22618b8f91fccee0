"""The state machine's CloudWatch Logs: each execution's events in the log group its `Logging`
names, in the format AWS writes for Express workflows, filtered by level."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws
from moto.logs.models import logs_backends
from werkzeug.test import Client

from infra.composition import console_of
from infra.console.app import PREFIX
from infra.local.cloudformation.template import (
    ACCOUNT_ID,
    REGION,
    TEMPLATE_PATH,
    StateMachineLogging,
    Template,
)
from infra.local.runtime import LocalAws
from infra.local.stepfunctions import executions, logs
from tests.builders import execution_input

if TYPE_CHECKING:
    from types_boto3_stepfunctions.type_defs import LoggingConfigurationTypeDef

LOG_GROUP = "/aws/vendedlogs/states/local-transactions"
MACHINE = "TransactionStateMachine"
# An Express execution's log events as AWS delivers them (fields, their order and their types as
# in AWS's documentation of Express logging and the events it writes; the values are ours).
AWS_EVENTS = json.loads((Path(__file__).parent / "express_log_events.json").read_text())


TEMPLATE_LOGGING = """\
      Logging:
        Level: !Ref StateMachineLogLevel
        IncludeExecutionData: true
        Destinations:
          - CloudWatchLogsLogGroup:
              LogGroupArn: !GetAtt TransactionStateMachineLogGroup.Arn
"""


def template_logging(level: str, *, include_execution_data: bool = True) -> Template:
    """The template, its transaction machine logging at `level`."""
    template = Template.load(TEMPLATE_PATH)
    spec = template.state_machines[MACHINE]
    assert spec.logging is not None
    logging = replace(spec.logging, level=level, include_execution_data=include_execution_data)
    machines = {**template.state_machines, MACHINE: replace(spec, logging=logging)}
    return replace(template, state_machines=machines)


def read_events(group: str = LOG_GROUP) -> list[dict[str, Any]]:
    client = boto3.client("logs", region_name=REGION)
    pages = client.get_paginator("filter_log_events").paginate(logGroupName=group)
    return [event for page in pages for event in page["events"]]


def messages(execution_arn: str) -> list[dict[str, Any]]:
    found = [json.loads(event["message"]) for event in read_events()]
    return [message for message in found if message["execution_arn"] == execution_arn]


def run(aws: LocalAws, **kwargs: str) -> dict[str, Any]:
    return aws.start_sync_execution(MACHINE, execution_input(**kwargs))


def test_the_template_names_the_log_group_and_level():
    logging = Template.load(TEMPLATE_PATH).state_machines[MACHINE].logging

    assert logging == StateMachineLogging(
        "ALL", True, f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{LOG_GROUP}:*"
    )
    assert logging.log_group_name == LOG_GROUP


def test_describe_state_machine_answers_the_templates_logging_as_aws_does():
    with LocalAws() as aws:
        arn = aws.state_machine_arns[MACHINE]
        described = aws.stepfunctions.describe_state_machine(stateMachineArn=arn)

    assert described["loggingConfiguration"] == {
        "level": "ALL",
        "includeExecutionData": True,
        "destinations": [
            {
                "cloudWatchLogsLogGroup": {
                    "logGroupArn": f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{LOG_GROUP}:*"
                }
            }
        ],
    }


def test_a_machine_created_with_logging_is_logged():
    group = "/aws/vendedlogs/states/created-by-hand"
    configuration: LoggingConfigurationTypeDef = {
        "level": "ALL",
        "includeExecutionData": False,
        "destinations": [
            {
                "cloudWatchLogsLogGroup": {
                    "logGroupArn": f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{group}:*"
                }
            }
        ],
    }
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    with LocalAws() as aws:
        arn = aws.stepfunctions.create_state_machine(
            name="ByHand", definition=definition, type="EXPRESS",
            roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/x", loggingConfiguration=configuration,
        )["stateMachineArn"]  # fmt: skip
        first = executions.start_sync_execution(aws.stepfunctions, arn, "{}")
        aws.stepfunctions.update_state_machine(
            stateMachineArn=arn, loggingConfiguration={"level": "OFF"}
        )
        executions.start_sync_execution(aws.stepfunctions, arn, "{}")
        found = [json.loads(event["message"]) for event in read_events(group)]

    assert [(m["type"], m["execution_arn"]) for m in found] == [
        (kind, first["executionArn"])
        for kind in ("ExecutionStarted", "SucceedStateEntered", "SucceedStateExited",
                     "ExecutionSucceeded")
    ]  # fmt: skip
    assert all("input" not in m.get("details", {}) for m in found)  # includeExecutionData false


def test_a_credit_is_logged_from_start_to_success_in_one_stream():
    with LocalAws() as aws:
        response = run(aws, user_id="u1", amount="10.00", type_="credit")
        events = read_events()
        logged = messages(response["executionArn"])

    assert response["status"] == "SUCCEEDED"
    started = response["startDate"].astimezone(UTC)
    assert {event["logStreamName"] for event in events} == {
        f"states/{MACHINE}/{started:%Y-%m-%d-%H-%M}/00000000"
    }
    assert [message["id"] for message in logged] == [str(n) for n in range(1, len(logged) + 1)]
    assert logged[0]["type"] == "ExecutionStarted"
    assert json.loads(logged[0]["details"]["input"])["body"] == json.dumps(
        {"userId": "u1", "ammount": "10.00", "type": "credit"}
    )
    assert logged[-1]["type"] == "ExecutionSucceeded"
    assert json.loads(logged[-1]["details"]["output"]) == json.loads(response["output"])
    entered = [m["details"]["name"] for m in logged if m["type"].endswith("StateEntered")]
    assert entered[0] == "AcquireLock" and entered[-1] == "TransactionSucceeded"
    for message, event in zip(logged, events, strict=True):
        assert list(message) == list(AWS_EVENTS[0])  # AWS's fields, in AWS's order
        assert event["timestamp"] == int(message["event_timestamp"])
        assert message["redrive_count"] == "0"


def test_an_overdraft_ends_in_execution_failed_with_its_error():
    with LocalAws() as aws:
        response = run(aws, user_id="u1", amount="100.01", type_="debit")
        logged = messages(response["executionArn"])

    assert response["status"] == "FAILED"
    assert logged[-1]["type"] == "ExecutionFailed"
    assert logged[-1]["details"]["error"] == "InsufficientFundsError"
    assert logged[-1]["details"]["cause"] == response["cause"]
    assert logged[-1]["previous_event_id"] == logged[-2]["id"]


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("ALL", None),  # every event of the history
        ("ERROR", ["TaskFailed", "FailStateEntered", "ExecutionFailed"]),
        ("FATAL", ["ExecutionFailed"]),
        ("OFF", []),
    ],
    ids=["all", "error", "fatal", "off"],
)
def test_each_level_writes_its_event_types(level, expected):
    with LocalAws(template_logging(level)) as aws:
        response = run(aws, user_id="u1", amount="100.01", type_="debit")
        history = aws.stepfunctions.get_execution_history(
            executionArn=response["executionArn"], maxResults=1000
        )["events"]
        types = [message["type"] for message in messages(response["executionArn"])]

    assert types == (expected if expected is not None else [e["type"] for e in history])


def test_without_execution_data_no_input_or_output_is_written():
    with LocalAws(template_logging("ALL", include_execution_data=False)) as aws:
        response = run(aws, user_id="u1", amount="10.00", type_="credit")
        logged = messages(response["executionArn"])

    assert logged[0]["details"] == {"roleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/{MACHINE}Role"}
    for message in logged:
        details = message.get("details", {})
        assert not {"input", "inputDetails", "output", "outputDetails"} & set(details)
    assert {m["details"]["name"] for m in logged if m["type"] == "TaskStateEntered"} >= {
        "AcquireLock"
    }


@pytest.mark.parametrize("aws_event", AWS_EVENTS, ids=[e["type"] for e in AWS_EVENTS])
def test_the_writer_writes_what_aws_writes_field_by_field(aws_event):
    # The same event as GetExecutionHistory has it.
    details = {"ExecutionStarted": "executionStartedEventDetails",
               "TaskStateEntered": "stateEnteredEventDetails",
               "TaskStateExited": "stateExitedEventDetails",
               "ExecutionSucceeded": "executionSucceededEventDetails",
               "ExecutionFailed": "executionFailedEventDetails"}  # fmt: skip
    history_event = {
        "timestamp": datetime.fromtimestamp(int(aws_event["event_timestamp"]) / 1000, UTC),
        "type": aws_event["type"],
        "id": int(aws_event["id"]),
        "previousEventId": int(aws_event["previous_event_id"]),
        details[aws_event["type"]]: aws_event["details"],
    }

    written = logs.log_event(history_event, aws_event["execution_arn"], include_execution_data=True)

    assert list(written) == list(aws_event)
    for field, value in aws_event.items():
        assert written[field] == value, field
        assert type(written[field]) is type(value), field


def test_the_oldest_executions_events_go_beyond_the_bound():
    history = [
        {"timestamp": datetime.now(UTC), "type": "ExecutionStarted", "id": 1,
         "previousEventId": 0, "executionStartedEventDetails": {"input": "{}"}},
        {"timestamp": datetime.now(UTC), "type": "ExecutionSucceeded", "id": 2,
         "previousEventId": 1, "executionSucceededEventDetails": {"output": "{}"}},
    ]  # fmt: skip
    machine = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:M"
    logging = StateMachineLogging("ALL", True, f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:g:*")
    with mock_aws():
        writer = logs.StateMachineLogs(kept=5)
        writer.configure(logs_backends[ACCOUNT_ID][REGION], machine, logging)
        started = datetime(2026, 1, 1, tzinfo=UTC)
        for name in ("a", "b", "c", "d"):
            assert writer.write(machine, f"{machine}:{name}", started, history) == 2
        kept = [json.loads(event["message"])["execution_arn"] for event in read_events("g")]

    assert kept == [f"{machine}:c", f"{machine}:c", f"{machine}:d", f"{machine}:d"]


def test_a_machine_without_logging_writes_nothing():
    writer = logs.StateMachineLogs()

    assert writer.write("arn:machine", "arn:execution", datetime.now(UTC), []) == 0


def test_the_bound_must_keep_something():
    with pytest.raises(ValueError, match="at least one log event"):
        logs.StateMachineLogs(kept=0)


@pytest.mark.parametrize(
    ("logging", "message"),
    [
        ({"Level": "DEBUG", "Destinations": []}, "Logging.Level 'DEBUG'"),
        ({"Level": "ALL", "Destinations": []}, "one destination, not 0"),
    ],
    ids=["unknown-level", "no-destination"],
)
def test_a_logging_step_functions_refuses_is_refused(tmp_path, logging, message):
    text = TEMPLATE_PATH.read_text()
    assert TEMPLATE_LOGGING in text
    (tmp_path / "infra").mkdir()
    path = tmp_path / "infra" / "template.yaml"
    path.write_text(text.replace(TEMPLATE_LOGGING, f"      Logging: {json.dumps(logging)}\n"))
    (tmp_path / "statemachine").mkdir()
    for asl in (TEMPLATE_PATH.parents[1] / "statemachine").glob("*.json"):
        (tmp_path / "statemachine" / asl.name).write_text(asl.read_text())

    with pytest.raises(ValueError, match=message):
        Template.load(path)


def test_list_executions_answers_for_an_express_machine_here():
    """A known gap: AWS refuses ListExecutions (and DescribeExecution, GetExecutionHistory) for an
    Express machine, whose executions it does not keep; the runtime answers them, from what it
    retains, beside the log group AWS does offer."""
    with LocalAws() as aws:
        arn = aws.state_machine_arns[MACHINE]
        response = run(aws, user_id="u1", amount="10.00", type_="credit")
        described = aws.stepfunctions.describe_state_machine(stateMachineArn=arn)
        listed = aws.stepfunctions.list_executions(stateMachineArn=arn)["executions"]

    assert described["type"] == "EXPRESS"
    assert [execution["executionArn"] for execution in listed] == [response["executionArn"]]


def test_the_bound_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("LOCAL_LOG_EVENTS_KEPT", "70")
    assert LocalAws().state_machine_logs.kept == 70
    monkeypatch.setenv("LOCAL_LOG_EVENTS_KEPT", "none")
    with pytest.raises(ValueError, match="LOCAL_LOG_EVENTS_KEPT"):
        LocalAws()
    monkeypatch.delenv("LOCAL_LOG_EVENTS_KEPT")
    assert LocalAws().state_machine_logs.kept == logs.LOG_EVENTS_KEPT


def test_the_view_reads_the_log_group_as_it_reads_step_functions():
    with LocalAws() as aws:
        credit = run(aws, user_id="u1", amount="10.00", type_="credit")
        overdraft = run(aws, user_id="u2", amount="100.01", type_="debit")
        from_api, from_logs = console_of(aws), console_of(aws, "logs")
        pages = {
            response["executionArn"]: Client(from_logs).get(
                f"{PREFIX}/executions/{response['executionArn'].rsplit(':', 1)[1]}"
            )
            for response in (credit, overdraft)
        }
        summaries = [console.executions.summaries()[0] for console in (from_api, from_logs)]
        histories = [
            [(e["id"], e["type"]) for e in console.executions.history(overdraft["executionArn"])]
            for console in (from_api, from_logs)
        ]
        request_id = json.loads(from_logs.executions.describe(credit["executionArn"])["input"])[
            "requestId"
        ]
        found = from_logs.executions.find_by_request_id(request_id)

    def seen(summary: Any) -> list[tuple[Any, ...]]:
        return [(s.arn, s.status, s.user_id, s.request_id, s.http_status) for s in summary]

    assert seen(summaries[1]) == seen(summaries[0])
    assert histories[1] == histories[0]
    assert found == credit["executionArn"]
    for page in pages.values():
        assert page.status_code == 200
    assert "InsufficientFundsError" in pages[overdraft["executionArn"]].get_data(as_text=True)


def test_the_view_reads_from_no_other_source():
    with pytest.raises(ValueError, match="not 'xray'"):
        console_of(LocalAws(), "xray")
