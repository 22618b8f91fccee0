"""infra/local/stepfunctions/retention.py: the runtime retains the newest executions, no more.

A finished execution keeps its history (GetExecutionHistory, the request-id lookup) while it is
among the most recent `executions_kept`; older ones are forgotten, and no execution keeps its
interpreter or its threads once finished.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable
from typing import cast

import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models.table import StreamRecord
from moto.sqs.models import Message
from moto.stepfunctions.models import StateMachine
from moto.stepfunctions.parser import utils as parser_utils
from moto.stepfunctions.parser.backend.execution import Execution
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.responses import get_backend

from infra.local.cloudformation.template import ACCOUNT_ID
from infra.local.runtime import REGION, LocalAws
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
        response = aws.start_sync_execution("TransactionStateMachine", execution)
        assert response["status"] == "SUCCEEDED"
        started.append((response["executionArn"], json.loads(execution)["requestId"]))
    return started


def test_a_forgotten_execution_is_freed_when_dropped_not_left_to_the_cyclic_collector(aws):
    run(aws, KEPT)  # the retained ones, and the first use's caches
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        run(aws, KEPT)  # forgets the first KEPT
        gc.collect()
        left = [o for o in gc.garbage if isinstance(o, (Execution, ExecutionWorker))]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()

    assert left == []


def test_the_runtime_retains_the_configured_number_of_executions(aws):
    started = run(aws, 2 * KEPT + 1)

    listed = aws.stepfunctions.list_executions(
        stateMachineArn=aws.state_machine_arns["TransactionStateMachine"]
    )
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


def eventually(condition: Callable[[], bool], bound: float = 60.0) -> bool:
    """Whether `condition` holds within `bound` seconds (a generous bound on a busy machine, not
    a timing: the condition is checked again until it holds)."""
    deadline = time.monotonic() + bound
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def ended_threads() -> int:
    """How many threads the list holds, once every one of them has ended."""
    assert eventually(lambda: not any(t.is_alive() for t in list(parser_utils.TMP_THREADS)))
    return len(parser_utils.TMP_THREADS)


def run_one_after_another(aws: LocalAws, count: int) -> None:
    """Each execution starts once the threads of the one before have ended, so what its start
    forgets does not depend on how fast the machine ended them."""
    for _ in range(count):
        ended_threads()
        run(aws, 1)


def test_a_finished_execution_releases_its_interpreter_and_threads(aws):
    started = run(aws, KEPT)

    backend = get_backend(ACCOUNT_ID, REGION)
    for arn, _ in started:
        # execute_state_machine is on: the backend is the parser's, and so are its executions
        worker = cast(Execution, backend.describe_execution(arn)).exec_worker
        # The status is set first, the interpreter released right after it, in the worker's
        # thread: the answer may come in between.
        assert worker is not None

        def released(worker: ExecutionWorker = worker) -> bool:
            return worker.env is None

        assert eventually(released)

    # The threads of the last execution stay until the next one starts, whatever ran before.
    run_one_after_another(aws, 1)
    after_one = ended_threads()
    run_one_after_another(aws, 2 * KEPT)
    assert ended_threads() <= after_one


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
