"""AWS on one machine: moto in-process with the template's tables, functions and state machines.

Every boto3 request goes through botocore's `before-send` event, to the runtime's router
(routing.py) while a runtime runs. moto's interpreter parses each ASL definition once instead of
at every execution, and the wait for an execution's end reads moto's own record of it instead of
calling DescribeExecution (stepfunctions/interpreter.py). What moto would keep or copy in
proportion to the work done is fixed in the package of each service (dynamodb/, stepfunctions/),
so that `make run` holds its speed and memory as work accumulates. Every such change to moto,
botocore and Powertools is applied when a runtime starts and undone when it stops
(patches.py).
"""

from __future__ import annotations

import gc
import logging
import os
import threading
from collections.abc import Callable
from secrets import token_urlsafe
from typing import Any

import boto3
from moto import mock_aws

from infra.local import patches, routing
from infra.local.awslambda.event_source_mapping import LocalStreams, StreamPoller
from infra.local.awslambda.functions import LocalLambdas, cold_start
from infra.local.cloudformation.template import (
    ACCOUNT_ID,
    REGION,
    TEMPLATE_PATH,
    StateMachineSpec,
    Template,
)
from infra.local.dynamodb import streams as dynamodb_streams
from infra.local.dynamodb.time_to_live import TimeToLive
from infra.local.events import bus
from infra.local.events.bus import LocalEventBridge
from infra.local.recorder import Recorder
from infra.local.stepfunctions import executions, interpreter, logs, retention, service_tasks
from infra.local.stepfunctions.service_tasks import ServiceTasks

__all__ = [
    "LOCAL_ENVIRONMENT",
    "REGION",
    "LocalAws",
    "active_runtime",
    "freeze_after_full_collections",
    "freeze_start_up",
]
LOCAL_ENVIRONMENT = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    # botocore sends DynamoDB Streams requests naming a stream to an account endpoint
    # ({account}.streams-ddb...), which moto 5.2.5 does not serve; the regional one it does.
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}


def active_runtime() -> LocalAws:
    """The running LocalAws (tests reach its tables and fault points through it)."""
    runtime = routing.active()
    if runtime is None:
        raise RuntimeError("no LocalAws is running")
    return runtime


class LocalAws:
    """The stand-in for AWS behind `make run` and the tests. One may be active at a time."""

    def __init__(
        self,
        template: Template | None = None,
        *,
        executions_kept: int | None = None,
        stream_records_kept: int | None = None,
        events_kept: int | None = None,
        log_events_kept: int | None = None,
    ) -> None:
        self.template = template or Template.load(TEMPLATE_PATH, REGION)
        self.lambdas = LocalLambdas(self.template.functions, REGION)
        self.dynamodb_lock = threading.Lock()
        self.execution_retention = retention.ExecutionRetention(
            executions_kept or _setting("LOCAL_EXECUTIONS_KEPT", retention.EXECUTIONS_KEPT)
        )
        self.stream_retention = dynamodb_streams.StreamRetention(
            self.dynamodb_lock,
            stream_records_kept
            or _setting("LOCAL_STREAM_RECORDS_KEPT", dynamodb_streams.STREAM_RECORDS_KEPT),
            ACCOUNT_ID,
            REGION,
        )
        self.dynamodb_requests: dict[str, int] = {}
        self.eventbridge = LocalEventBridge(
            self.template.event_buses,
            events_kept or _setting("LOCAL_EVENTS_KEPT", bus.EVENTS_KEPT),
        )
        self.state_machine_logs = logs.StateMachineLogs(
            log_events_kept or _setting("LOCAL_LOG_EVENTS_KEPT", logs.LOG_EVENTS_KEPT)
        )
        self.streams = LocalStreams([])
        self.time_to_live = TimeToLive(None, {})
        self.state_machine_arns: dict[str, str] = {}  # by logical id (the machine's name)
        self.recorder = Recorder(self.execution_retention.kept)  # what the retained ones need
        self.service_tasks = ServiceTasks(self.recorder.invocation)
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._saved_environment: dict[str, str | None] = {}
        self._is_mocking = False
        self._is_patching = False

    def start(self) -> LocalAws:
        """Raises: patches.UnsupportedVersionError on a moto the patches were not written for,
        before anything is patched or started; RuntimeError when another runtime runs."""
        if routing.active() is not None:
            raise RuntimeError("another LocalAws is already running")
        patches.RUNTIME_PATCHES.apply()
        self._is_patching = True
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self._set_environment()
        # A failed execution is a normal outcome here (an overdraft, say); moto logs each at ERROR.
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
        self._mock.start()
        self._is_mocking = True
        retention.retain(self.execution_retention)
        service_tasks.serve(self.service_tasks)
        dynamodb_streams.retain(self.stream_retention)
        logs.serve(self.state_machine_logs)
        boto3.DEFAULT_SESSION = None  # a fresh session picks up the request routing
        cold_start()
        routing.activate(self)
        self.dynamodb = boto3.client("dynamodb", region_name=REGION)
        self.stepfunctions = boto3.client("stepfunctions", region_name=REGION)
        for table in self.template.tables.values():
            self.dynamodb.create_table(**table.create_table_request())
        secretsmanager = boto3.client("secretsmanager", region_name=REGION)
        for name in self.template.secrets:
            # As GenerateSecretString does at deploy time: a random value nobody chose.
            secretsmanager.create_secret(Name=name, SecretString=token_urlsafe(48))
        self.sqs = boto3.client("sqs", region_name=REGION)
        for queue in self.template.queues:
            self.sqs.create_queue(QueueName=queue)
        self.eventbridge.start(boto3.client("events", region_name=REGION), self.sqs, REGION)
        self.streams = LocalStreams(self._stream_pollers(), trim=dynamodb_streams.trim)
        self.time_to_live = TimeToLive(
            self.dynamodb,
            {
                name: table.time_to_live_attribute
                for name, table in self.template.tables.items()
                if table.time_to_live_attribute is not None
            },
        )
        for spec in self.template.state_machines.values():
            self.state_machine_arns[spec.logical_id] = self._create_state_machine(spec)
        self.streams.start()
        self.time_to_live.start()

    def _create_state_machine(self, spec: StateMachineSpec) -> str:
        request: dict[str, Any] = {
            "name": spec.logical_id,
            "definition": spec.definition,
            "roleArn": spec.role_arn,
            "type": spec.type,
        }
        if spec.logging is not None:  # logged (stepfunctions/logs.py), and described, as on AWS
            request["loggingConfiguration"] = spec.logging.configuration
        return str(self.stepfunctions.create_state_machine(**request)["stateMachineArn"])

    def _stream_pollers(self) -> list[StreamPoller]:
        streams = boto3.client("dynamodbstreams", region_name=REGION)
        pollers = []
        for source in self.template.stream_sources:
            table = self.dynamodb.describe_table(TableName=source.table)["Table"]
            pollers.append(
                StreamPoller(
                    source,
                    table["LatestStreamArn"],
                    streams,
                    self.lambdas,
                    self._send_to_queue,
                    REGION,
                )
            )
        return pollers

    def _send_to_queue(self, queue: str, body: str) -> None:
        url = self.sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        self.sqs.send_message(QueueUrl=url, MessageBody=body)

    def drain_streams(self, timeout_seconds: float = 60.0) -> None:
        """Wait until every stream event source has consumed its stream to the end."""
        self.streams.drain(timeout_seconds)

    def published_events(self) -> list[dict[str, Any]]:
        """Every event published on the wallet's bus so far, once the streams are drained."""
        self.drain_streams()
        return self.eventbridge.published()

    def stop(self) -> None:
        if not self._is_patching:
            return  # never started (or stopped already): another runtime may be running
        self.time_to_live.stop()
        self.streams.stop()
        if routing.active() is self:
            routing.activate(None)
        retention.retain(None)
        service_tasks.serve(None)
        dynamodb_streams.retain(None)
        logs.serve(None)
        if self._is_mocking:
            self._mock.stop()
            self._is_mocking = False
        cold_start()
        for key, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_environment.clear()
        self.state_machine_arns = {}
        patches.RUNTIME_PATCHES.undo()
        self._is_patching = False

    def __enter__(self) -> LocalAws:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def resolve_state_machine(self, state_machine: str) -> str:
        """The ARN of one of the template's state machines, by logical id (its name) or ARN.

        Raises: KeyError naming the machines there are.
        """
        if state_machine in self.state_machine_arns.values():
            return state_machine
        if state_machine not in self.state_machine_arns:
            known = ", ".join(self.state_machine_arns) or "none"
            raise KeyError(f"no state machine {state_machine!r} in the template (it has {known})")
        return self.state_machine_arns[state_machine]

    def start_sync_execution(
        self, state_machine: str, execution_input: str, name: str | None = None
    ) -> dict[str, Any]:
        """StartSyncExecution of one of the template's machines (by logical id or ARN), run on
        the caller's thread and read from moto's record (stepfunctions/interpreter.py)."""
        with interpreter.run_on_this_thread():
            return executions.start_sync_execution(
                self.stepfunctions,
                self.resolve_state_machine(state_machine),
                execution_input,
                name,
                status_reader=interpreter.moto_status,
                end_waiter=interpreter.end_waiter,
                longest_poll=0.01,
                describer=interpreter.recorded_description,
            )

    def execution_arn(self, request_id: str) -> str | None:
        """The retained execution the API started for this x-amzn-RequestId (no scan)."""
        return self.execution_retention.execution_arn(request_id)

    def entered_states(self, execution_arn: str) -> list[str]:
        return executions.entered_states(self.stepfunctions, execution_arn)

    def _set_environment(self) -> None:
        variables: dict[str, str] = dict(LOCAL_ENVIRONMENT)
        for function in self.template.functions.values():
            for key, value in function.environment.items():
                if variables.setdefault(key, value) != value:
                    # All handlers share this process's environment.
                    raise ValueError(
                        f"functions disagree on {key}; the local runtime needs one value"
                    )
        for key, value in variables.items():
            self._saved_environment.setdefault(key, os.environ.get(key))
            if key in LOCAL_ENVIRONMENT and key in os.environ and key.startswith("POWERTOOLS"):
                continue  # a caller's explicit Powertools setting wins
            os.environ[key] = value


def freeze_start_up() -> int:
    """Exclude what exists once a runtime has started from every later garbage collection; returns
    how many objects that is. For a process that serves from then on (`make run`).

    A started runtime holds some 330,000 objects that live as long as the process (moto's
    backends, botocore's service models, the ASL parsers' tables), and
    every full collection walked them all: about 0.9 s a collection after 300 transactions, 66 ms
    with them frozen (the same run on this machine, 2 cores shared). Objects created later are
    collected as before, and the runtime leaves little cyclic garbage of its own to collect
    (reference_cycles.py, dynamodb/expressions.py; tests/local/test_garbage.py).
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def freeze_after_full_collections() -> Callable[[], None]:
    """Freeze what survives every full collection, so that the next one walks only what was made
    since; returns the undo. For `make run`, after freeze_start_up.

    What the tables hold grows with every transaction (moto keeps items as Python objects), and a
    full collection walks every object not frozen: over 7,000 sequential transactions its pause
    grew from 100 ms to 440 ms, and it made each window's slowest request. Frozen survivors are
    still freed when their last reference goes; what the collector no longer sees is a frozen
    object that later becomes part of a reference cycle, so the runtime leaves none that outlive
    a collection (retention.py cuts a forgotten execution's; tests/local/test_garbage.py).
    """

    def freeze_survivors(phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info["generation"] == 2:
            gc.freeze()

    gc.callbacks.append(freeze_survivors)
    return lambda: gc.callbacks.remove(freeze_survivors)


def _setting(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name} must be a positive integer, not {value!r}")
    return int(value)
