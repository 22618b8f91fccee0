"""AWS on one machine: moto in-process with the template's tables, functions and state machine.

Every boto3 request goes through botocore's `before-send` event; one handler, in place of
moto's, gives each DynamoDB request DynamoDB's own atomicity (moto's backend is not thread-safe),
sends each Lambda Invoke to the real handler code in this process, and hands the rest to moto;
on the way it tells the recorder (recorder.py) which execution made which DynamoDB request.
moto's interpreter parses the ASL once instead of at every execution, and the wait for an
execution's end reads moto's own record of it instead of calling DescribeExecution. What moto
would keep or copy in proportion to the work done is fixed in the module of each service
(dynamodb.py, dynamodb_streams.py, stepfunctions.py), so that `make run` holds its speed and
memory as work accumulates.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable
from secrets import token_urlsafe
from typing import Any
from urllib.parse import unquote

import boto3
import jsonpath_ng.ext
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.handlers import BUILTIN_HANDLERS
from moto import mock_aws
from moto.core.botocore_stubber import MockRawResponse
from moto.core.model_instances import model_data
from moto.core.models import botocore_stubber
from moto.dynamodb.exceptions import ResourceNotFoundException
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
from moto.stepfunctions.parser.asl.utils import json_path
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
from moto.stepfunctions.responses import get_backend

from functions.repositories import dynamodb, event_bus, secrets
from functions.settings import get_settings
from infra.local import dynamodb as local_dynamodb
from infra.local import dynamodb_streams, eventbridge, executions, jsonata, stepfunctions
from infra.local.eventbridge import LocalEventBridge
from infra.local.lambdas import (
    LocalLambdas,
    install_log_keys_per_thread,
    install_one_resolve_at_a_time,
)
from infra.local.recorder import Recorder
from infra.local.streams import LocalStreams, StreamPoller
from infra.local.template import ACCOUNT_ID, TEMPLATE_PATH, Template

REGION = "us-east-1"
STATE_MACHINE = "TransactionStateMachine"
STATE_MACHINE_ROLE = "arn:aws:iam::123456789012:role/TransactionStateMachineRole"
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

_active: LocalAws | None = None


def _route(request: AWSPreparedRequest, event_name: str, **kwargs: Any) -> AWSResponse | None:
    runtime = _active
    if runtime is None:
        return botocore_stubber(event_name=event_name, request=request)
    _, service, operation = event_name.split(".", 2)
    if service in ("dynamodb", "dynamodb-streams"):
        with runtime.dynamodb_lock:
            send = functools.partial(botocore_stubber, event_name=event_name, request=request)
            if service == "dynamodb":
                requests = runtime.dynamodb_requests
                requests[operation] = requests.get(operation, 0) + 1
                response = runtime.recorder.dynamodb_request(
                    operation, request.body, send, _stored_item
                )
            else:
                response = send()
            written = local_dynamodb.written_tables(operation, request.body)
            if written:
                runtime.stream_retention.apply()
        if written:
            runtime.streams.written(written)
        return response
    if service == "eventbridge" and operation == "PutEvents":
        return runtime.eventbridge.put_events(
            request, lambda r: botocore_stubber(event_name=event_name, request=r)
        )
    if service == "lambda" and operation == "Invoke":
        # /2015-03-31/functions/{FunctionName}/invocations
        function = unquote(request.url.split("/functions/", 1)[1].split("/", 1)[0])
        with runtime.recorder.invocation(function.split(":function:")[-1], request.body or b""):
            result = runtime.lambdas.invoke(function, request.body or b"")
        headers = {"X-Amz-Executed-Version": "$LATEST"}
        if result.function_error:
            headers["X-Amz-Function-Error"] = result.function_error
        return AWSResponse(request.url, 200, headers, MockRawResponse(result.payload))  # type: ignore[arg-type]
    return botocore_stubber(event_name=event_name, request=request)


def _stored_item(
    table_name: str, attributes: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The recorder's view of moto's table: the key within `attributes` and the item under it,
    read from the backend directly, so that it is no DynamoDB request of its own."""
    try:
        table = dynamodb_backends[ACCOUNT_ID][REGION].get_table(table_name)
        key = {table.hash_key_attr: attributes[table.hash_key_attr]}
        if table.range_key_attr:
            key[table.range_key_attr] = attributes[table.range_key_attr]
        range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        item = table.get_item(DynamoType(key[table.hash_key_attr]), range_key)
    except (KeyError, ResourceNotFoundException):
        return attributes, None
    return key, None if item is None else item.to_json()["Attributes"]


def send(request: AWSPreparedRequest, service: str, operation: str) -> AWSResponse | None:
    """A request from outside the process (infra/local/endpoint.py), routed as boto3's are.

    `service` is botocore's event name for it ("dynamodb", "sfn", ...); None: moto has no answer.
    """
    return _route(request, f"before-send.{service}.{operation}")


def _parse_each_definition_once() -> None:
    """moto lexes and parses the whole ASL file with ANTLR at every execution start, and builds
    a JSONPath parser for every path it reads: more CPU than the rest of an execution. The parse
    tree and the compiled paths are kept; each execution still gets components of its own.
    EventBridge's delivery to a rule's target does the same with the JSONPaths of the target's
    input (eight per event without an InputTransformer, a tenth of a hot user's CPU): one cache
    of jsonpath_ng's parse serves both (Step Functions bound the name when it was imported).
    A task's ResultPath uses jsonpath_ng's other parser, four builds a transaction, each a yacc
    run whose objects are cyclic garbage: its parse is kept the same way."""
    parse = AmazonStateLanguageParser.parse
    trees: dict[str, Any] = {}

    def parse_once(definition: str) -> tuple[Any, Any]:
        if definition not in trees:
            program, trees[definition] = parse(definition)
            return program, trees[definition]
        return Preprocessor().visit(trees[definition]), trees[definition]

    AmazonStateLanguageParser.parse = staticmethod(parse_once)  # type: ignore[method-assign]
    keep = functools.lru_cache(maxsize=4096)
    jsonpath_ng.ext.parse = keep(jsonpath_ng.ext.parse)
    json_path.parse = jsonpath_ng.ext.parse
    result_path.parse = keep(jsonpath_ng.parse)


if ("before-send", _route) not in BUILTIN_HANDLERS:
    # botocore calls every before-send handler even after one has answered, so moto's stubber
    # must not stay a handler of its own: it would run each request a second time, outside the
    # lock. _route replaces it and delegates to it; sessions created from now on pick this up.
    BUILTIN_HANDLERS[BUILTIN_HANDLERS.index(("before-send", botocore_stubber))] = (
        "before-send",
        _route,
    )


def active_runtime() -> LocalAws:
    """The running LocalAws (tests reach its tables and fault points through it)."""
    if _active is None:
        raise RuntimeError("no LocalAws is running")
    return _active


class LocalAws:
    """The stand-in for AWS behind `make run` and the tests. One may be active at a time."""

    def __init__(
        self,
        template: Template | None = None,
        *,
        executions_kept: int | None = None,
        stream_records_kept: int | None = None,
        events_kept: int | None = None,
    ) -> None:
        self.template = template or Template.load(TEMPLATE_PATH, REGION)
        self.lambdas = LocalLambdas(self.template.functions, REGION)
        self.dynamodb_lock = threading.Lock()
        self.execution_retention = stepfunctions.ExecutionRetention(
            executions_kept or _setting("LOCAL_EXECUTIONS_KEPT", stepfunctions.EXECUTIONS_KEPT)
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
            events_kept or _setting("LOCAL_EVENTS_KEPT", eventbridge.EVENTS_KEPT),
        )
        self.streams = LocalStreams([])
        self.time_to_live = local_dynamodb.TimeToLive(None, {})
        self.recorder = Recorder(self.execution_retention.kept)  # what the retained ones need
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._saved_environment: dict[str, str | None] = {}

    def start(self) -> LocalAws:
        global _active
        if _active is not None:
            raise RuntimeError("another LocalAws is already running")
        self._set_environment()
        # A failed execution is a normal outcome here (an overdraft, say); moto logs each at ERROR.
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
        self._mock.start()
        _track_no_model_instances()
        jsonata.apply()  # JSONata and variables in executions (moto's engine is a stub)
        stepfunctions.retain(self.execution_retention)
        dynamodb_streams.retain(self.stream_retention)
        boto3.DEFAULT_SESSION = None  # a fresh session picks up the request routing
        _cold_start()
        _active = self
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
        self.time_to_live = local_dynamodb.TimeToLive(
            self.dynamodb,
            {
                name: table.time_to_live_attribute
                for name, table in self.template.tables.items()
                if table.time_to_live_attribute is not None
            },
        )
        spec = self.template.state_machines[STATE_MACHINE]
        self.state_machine_arn = self.stepfunctions.create_state_machine(
            name=spec.logical_id,
            definition=spec.definition,
            roleArn=STATE_MACHINE_ROLE,
            type=spec.type,
        )["stateMachineArn"]
        self.streams.start()
        self.time_to_live.start()
        return self

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
        global _active
        self.time_to_live.stop()
        self.streams.stop()
        _active = None
        stepfunctions.retain(None)
        dynamodb_streams.retain(None)
        self._mock.stop()
        _cold_start()
        for key, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def __enter__(self) -> LocalAws:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start_sync_execution(self, execution_input: str, name: str | None = None) -> dict[str, Any]:
        return executions.start_sync_execution(
            self.stepfunctions,
            self.state_machine_arn,
            execution_input,
            name,
            status_reader=_moto_status,
            longest_poll=0.01,
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


def _setting(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name} must be a positive integer, not {value!r}")
    return int(value)


def _moto_status(execution_arn: str) -> Callable[[], str]:
    """moto's own record of the execution, read without an API call: DescribeExecution costs
    milliseconds of the CPU the executions run on, and searches every execution of the machine.

    RUNNING until moto has recorded the whole end: it sets the status before the output, the
    error and the cause, so a status alone can be read with an output still missing.
    """
    execution = get_backend(ACCOUNT_ID, REGION).describe_execution(execution_arn)
    return lambda: str(execution.status) if getattr(execution, _END_RECORDED, False) else "RUNNING"


def recorded_status(execution_arn: str) -> str:
    """The execution's status once moto has recorded its whole end (RUNNING until then)."""
    return _moto_status(execution_arn)()


_END_RECORDED = "local_end_recorded"


def _mark_recorded_ends() -> None:
    terminated = BaseExecutionWorkerCommunication.terminated

    def terminated_and_marked(self: BaseExecutionWorkerCommunication) -> None:
        terminated(self)
        setattr(self.execution, _END_RECORDED, True)

    BaseExecutionWorkerCommunication.terminated = terminated_and_marked  # type: ignore[method-assign]


class _Untracked(list[Any]):
    """A list that keeps nothing appended to it."""

    def append(self, item: Any) -> None:
        pass


def _track_no_model_instances() -> None:
    """moto appends every model object it creates (each item, item copy, stream record, state
    machine copy of each execution) to a list of its class, for its server's dashboard, until the
    mock is reset: a long `make run` kept them all (each SQS message the bus delivered to its tap,
    too). The runtime has no dashboard; no service's list keeps anything (the mock's start resets
    them, hence here)."""
    for models in model_data.values():
        for model in models.values():
            model.instances_tracked = _Untracked()  # type: ignore[attr-defined]


def _cold_start() -> None:
    """Forget what the handlers cached (settings, clients), as a new Lambda sandbox would."""
    get_settings.cache_clear()
    dynamodb.client.cache_clear()
    secrets.client.cache_clear()
    secrets.cursor_key.cache_clear()
    event_bus.client.cache_clear()


# moto patched once per process, before any execution (importing this module again is a no-op).
if not hasattr(json_path.parse, "cache_info"):
    _parse_each_definition_once()
    _mark_recorded_ends()
    local_dynamodb.install()
    dynamodb_streams.install()
    stepfunctions.install()
    install_log_keys_per_thread()
    install_one_resolve_at_a_time()
