"""infra/local/stepfunctions.py: the runtime retains the most recent executions, and no more.

A finished execution keeps its history (GetExecutionHistory, the request-id lookup) while it is
among the most recent `executions_kept`; older ones are forgotten, and no execution keeps its
interpreter or its threads once finished.
"""

from __future__ import annotations

import gc
import json

import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models.table import StreamRecord
from moto.sqs.models import Message
from moto.stepfunctions.models import StateMachine
from moto.stepfunctions.parser import utils as parser_utils
from moto.stepfunctions.parser.backend.execution import Execution as InterpretedExecution
from moto.stepfunctions.responses import get_backend

from infra.local.aws import REGION, LocalAws
from infra.local.template import ACCOUNT_ID
from tests.builders import execution_input

KEPT = 3


@pytest.fixture
def aws():
    with LocalAws(executions_kept=KEPT) as runtime:
        yield runtime


def run(aws: LocalAws, count: int) -> list[tuple[str, str]]:
    """(execution ARN, request id) of `count` sequential transactions."""
    started = []
    for n in range(count):
        execution = execution_input(user_id=f"retention-{n}")
        response = aws.start_sync_execution(execution)
        assert response["status"] == "SUCCEEDED"
        started.append((response["executionArn"], json.loads(execution)["requestId"]))
    return started


def test_the_runtime_retains_the_configured_number_of_executions(aws):
    started = run(aws, 2 * KEPT + 1)

    listed = aws.stepfunctions.list_executions(stateMachineArn=aws.state_machine_arn)
    assert [e["executionArn"] for e in listed["executions"]] == [
        arn for arn, _ in reversed(started[-KEPT:])
    ]


def test_the_most_recent_executions_keep_their_history_and_request_id(aws):
    started = run(aws, 2 * KEPT + 1)

    for arn, request_id in started[-KEPT:]:
        assert aws.execution_arn(request_id) == arn
        assert aws.entered_states(arn)[-1] == "TransactionSucceeded"
    for arn, request_id in started[:-KEPT]:
        assert aws.execution_arn(request_id) is None
        with pytest.raises(ClientError) as raised:
            aws.stepfunctions.get_execution_history(executionArn=arn)
        assert raised.value.response["Error"]["Code"] == "ExecutionDoesNotExist"


def test_a_retained_history_is_the_one_the_execution_recorded(aws):
    (arn, _), *_ = run(aws, 1)
    events = aws.stepfunctions.get_execution_history(executionArn=arn)["events"]

    assert events[0]["type"] == "ExecutionStarted"
    assert events[-1]["type"] == "ExecutionSucceeded"
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    # Kept compressed: the parsed events of one execution are about 36 KB.
    kept = get_backend(ACCOUNT_ID, REGION).describe_execution(arn).local_history  # type: ignore[attr-defined]
    assert isinstance(kept, bytes) and len(kept) < 8 * 1024
    assert len(json.dumps(events, default=str)) > 4 * len(kept)


def test_ec2s_instance_type_catalogue_is_not_kept(aws):
    """Loaded when moto's Step Functions imports its Batch integration: 40 MB resident."""
    from moto.ec2.models import instance_types

    assert instance_types.INSTANCE_TYPE_OFFERINGS == {}
    assert instance_types.INSTANCE_TYPES == {}


def test_a_finished_execution_releases_its_interpreter_and_threads(aws):
    started = run(aws, KEPT)

    backend = get_backend(ACCOUNT_ID, REGION)
    for arn, _ in started:
        execution = backend.describe_execution(arn)
        assert isinstance(execution, InterpretedExecution)  # run by moto's ASL interpreter
        worker = execution.exec_worker
        assert worker is not None and worker.env is None

    def kept_threads() -> int:
        """How many threads the list holds once the last execution's have ended."""
        for thread in list(parser_utils.TMP_THREADS):
            if thread.ident is not None:  # started
                thread.join(timeout=10)
        return len(parser_utils.TMP_THREADS)

    # The threads of the last execution stay until the next one starts.
    run(aws, 1)
    after_one = kept_threads()
    run(aws, 2 * KEPT)
    assert kept_threads() <= after_one


def test_nothing_else_keeps_the_copies_an_execution_made(aws):
    """moto's per-class lists of every model object (its dashboard's) keep nothing either."""

    def state_machines() -> int:
        gc.collect()
        return len([o for o in gc.get_objects() if isinstance(o, StateMachine)])

    before = state_machines()
    run(aws, 2 * KEPT + 1)
    aws.drain_streams()

    assert state_machines() - before <= KEPT  # the copy each retained execution runs on
    assert StreamRecord.instances_tracked == []  # type: ignore[attr-defined]
    # every execution published an event: the SQS message moto delivered to the bus's tap
    assert Message.instances_tracked == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", ["0", "-1", "many", "1.5"])
def test_a_bad_retention_setting_is_refused_with_its_name(monkeypatch, value):
    monkeypatch.setenv("LOCAL_EXECUTIONS_KEPT", value)
    with pytest.raises(ValueError, match="LOCAL_EXECUTIONS_KEPT"):
        LocalAws()


def test_the_retention_setting_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("LOCAL_EXECUTIONS_KEPT", "7")
    monkeypatch.setenv("LOCAL_STREAM_RECORDS_KEPT", "70")
    runtime = LocalAws()
    assert runtime.execution_retention.kept == 7
    assert runtime.stream_retention.kept == 70
    assert LocalAws().execution_retention.kept == 7
    monkeypatch.delenv("LOCAL_EXECUTIONS_KEPT")
    assert LocalAws().execution_retention.kept == 1000


def test_a_task_state_reuses_its_lambda_client(aws, monkeypatch):
    """moto builds a boto3 client for every Lambda task through the shared default session."""
    import boto3

    built = []
    original = boto3.client

    def counting_client(*args, **kwargs):
        built.append(kwargs.get("service_name"))
        return original(*args, **kwargs)

    run(aws, 1)  # the first task builds the client
    monkeypatch.setattr(boto3, "client", counting_client)
    run(aws, 3)  # five Lambda tasks each

    assert "lambda" not in built
