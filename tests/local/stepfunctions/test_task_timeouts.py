"""infra/local/stepfunctions/task_timeouts.py: a task that calls into the runtime runs on its
machine's thread, and its TimeoutSeconds still fails it with States.Timeout, with the history
moto's own thread per task gives."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import EvalTimeoutError
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

from infra.local.awslambda.functions import InvokeResult
from infra.local.cloudformation.template import REGION
from infra.local.runtime import LocalAws
from infra.local.stepfunctions import executions, interpreter, task_timeouts
from tests.builders import execution_input

WAIT_SECONDS = 30  # a bound on a wait that ends at once when the code is right
LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:AcquireLockFunction"


def task(resource: str, **fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": resource, "End": True, **fields}


@pytest.mark.parametrize(
    ("state", "is_in_line"),
    [
        (task("arn:aws:states:::lambda:invoke", TimeoutSeconds=10), True),
        (task("arn:aws:states:::dynamodb:updateItem", TimeoutSeconds=10), True),
        (task(LAMBDA_ARN, TimeoutSeconds=10), True),
        (task("arn:aws:states:::lambda:invoke"), True),  # the default timeout is written too
        (task("arn:aws:states:::lambda:invoke.waitForTaskToken", TimeoutSeconds=10), False),
        (task("arn:aws:states:::lambda:invoke", TimeoutSecondsPath="$.seconds"), False),
        (task("arn:aws:states:::sqs:sendMessage", TimeoutSeconds=10), False),
        (task("arn:aws:states:::states:startExecution.sync:2", TimeoutSeconds=10), False),
    ],
    ids=["invoke", "dynamodb", "function-arn", "default-timeout", "task-token",
         "timeout-path", "other-service", "sync"],
)  # fmt: skip
def test_only_a_task_that_calls_into_the_runtime_runs_in_line(state, is_in_line):
    definition = json.dumps({"StartAt": "Task", "States": {"Task": state}})
    program: Any = AmazonStateLanguageParser.parse(definition)[0]  # a Program

    assert task_timeouts.is_in_line(program.states.states["Task"]) is is_in_line


def test_a_transaction_starts_no_thread_for_its_tasks(local_aws, monkeypatch):
    started: list[str] = []
    start = threading.Thread.start

    def recorded_start(thread: threading.Thread) -> None:
        started.append(getattr(thread, "_target", None).__qualname__)  # type: ignore[union-attr]
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", recorded_start)
    response = local_aws.start_sync_execution(
        "TransactionStateMachine", execution_input(user_id="in-line")
    )

    assert response["status"] == "SUCCEEDED"
    assert local_aws.entered_states(response["executionArn"]) == [
        "AcquireLock", "PutTransaction", "IsReplay", "UpdateBalance", "ReleaseLock",
        "TransactionSucceeded",
    ]  # fmt: skip
    assert not [target for target in started if "_exec_and_notify" in target]


def timing_out_machine(aws: LocalAws, timeout_seconds: int, **parameters: str) -> str:
    """A machine whose one task invokes AcquireLockFunction with this TimeoutSeconds (JSONPath:
    a thread moto leaves running holds no compiled JSONata, which only its thread may drop)."""
    arn = aws.lambdas.resolve("AcquireLockFunction").arn(REGION)
    definition = {
        "StartAt": "Invoke",
        "States": {
            "Invoke": task(
                "arn:aws:states:::lambda:invoke",
                Parameters={
                    "FunctionName": arn,
                    "Payload": {"executionId.$": "$$.Execution.Id"},
                    **parameters,
                },
                TimeoutSeconds=timeout_seconds,
            )
        },
    }  # fmt: skip
    return str(
        aws.stepfunctions.create_state_machine(
            name=f"TimingOut{timeout_seconds}{''.join(parameters)}",
            definition=json.dumps(definition),
            roleArn="arn:aws:iam::123456789012:role/local",
            type="EXPRESS",
        )["stateMachineArn"]
    )


def history_shape(aws: LocalAws, execution_arn: str) -> list[tuple[str, Any]]:
    return [
        (event["type"], event.get("taskTimedOutEventDetails", {}).get("error"))
        for event in executions.history(aws.stepfunctions, execution_arn)
    ]


def running_until(
    release: threading.Event, returned: threading.Event
) -> Callable[[str, bytes], InvokeResult]:
    """A function invocation that runs until `release` is set, then sets `returned`."""

    def invoke(name_or_arn: str, payload: bytes) -> InvokeResult:
        release.wait(WAIT_SECONDS)
        returned.set()
        return InvokeResult(b"{}")

    return invoke


@pytest.mark.parametrize(
    "parameters",
    [{}, {"InvocationType": "RequestResponse"}],
    ids=["invoked-directly", "invoked-through-botocore"],  # lambda_tasks.py's two ways
)
def test_a_function_that_outlasts_its_state_fails_it_with_states_timeout(
    local_aws, monkeypatch, parameters
):
    machine = timing_out_machine(local_aws, 1, **parameters)
    outcomes = {}
    for mode, is_in_line in (("moto", lambda state: False), ("in line", task_timeouts.is_in_line)):
        monkeypatch.setattr(task_timeouts, "is_in_line", is_in_line)
        release, returned = threading.Event(), threading.Event()
        monkeypatch.setattr(local_aws.lambdas, "invoke", running_until(release, returned))
        try:
            response = executions.start_sync_execution(
                local_aws.stepfunctions,
                machine,
                "{}",
                status_reader=interpreter.moto_status,
                end_waiter=interpreter.end_waiter,
            )
            # Ended at the state's timeout, not when the function ended (no wall clock judged).
            is_before_the_function_ended = not returned.is_set()
        finally:
            release.set()
        outcomes[mode] = (
            response["status"],
            response.get("error"),
            history_shape(local_aws, response["executionArn"]),
            is_before_the_function_ended,
        )

    assert outcomes["in line"] == outcomes["moto"]
    status, error, history, is_before_the_function_ended = outcomes["in line"]
    assert (status, error, is_before_the_function_ended) == ("FAILED", "States.Timeout", True)
    assert ("TaskTimedOut", "States.Timeout") in history


def test_a_function_with_a_shorter_timeout_is_invoked_on_the_tasks_thread():
    threads: list[int] = []

    def call() -> str:
        threads.append(threading.get_ident())
        return "answer"

    assert task_timeouts.within_deadline(call, longest_seconds=1000) == "answer"  # in no task
    task_timeouts._in_line.deadline = time.monotonic() + 60
    try:
        assert task_timeouts.within_deadline(call, longest_seconds=4) == "answer"
    finally:
        task_timeouts._in_line.deadline = None

    assert threads == [threading.get_ident()] * 2


def test_a_call_that_may_outlast_the_deadline_is_waited_for_until_it():
    release = threading.Event()
    task_timeouts._in_line.deadline = time.monotonic() + 0.05
    try:
        with pytest.raises(EvalTimeoutError):
            task_timeouts.within_deadline(lambda: release.wait(WAIT_SECONDS), longest_seconds=4)
        task_timeouts._in_line.deadline = time.monotonic() + WAIT_SECONDS
        assert task_timeouts.within_deadline(lambda: "answer", longest_seconds=WAIT_SECONDS)
        with pytest.raises(KeyError, match="raised"):
            task_timeouts.within_deadline(lambda: dict[str, str]()["raised"], WAIT_SECONDS)
    finally:
        task_timeouts._in_line.deadline = None
        release.set()
