"""The way every boto3 request of the process takes while a runtime runs: botocore's `before-send`.

One handler, in place of moto's, gives each DynamoDB request DynamoDB's own atomicity (moto's
backend is not thread-safe), sends each Lambda Invoke to the real handler code in this process,
and hands the rest to moto; on the way it tells the recorder (recorder.py) which execution made
which DynamoDB request. The handler takes moto's place in botocore's handler list only while a
runtime runs (the `botocore.handlers:BUILTIN_HANDLERS` patch of infra/local/patches.py).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from moto.core.botocore_stubber import MockRawResponse
from moto.core.models import botocore_stubber
from moto.dynamodb.exceptions import ResourceNotFoundException
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType

from infra.local.awslambda.functions import InvokeResult
from infra.local.cloudformation.template import ACCOUNT_ID, REGION
from infra.local.dynamodb import transactions
from infra.local.stepfunctions import task_timeouts

if TYPE_CHECKING:
    from infra.local.runtime import LocalAws


_active: LocalAws | None = None


def activate(runtime: LocalAws | None) -> None:
    """Route requests to `runtime` (None: to moto alone, as when no runtime runs)."""
    global _active
    _active = runtime


def active() -> LocalAws | None:
    return _active


def route(request: AWSPreparedRequest, event_name: str, **kwargs: Any) -> AWSResponse | None:
    runtime = _active
    if runtime is None:
        return botocore_stubber(event_name=event_name, request=request)
    _, service, operation = event_name.split(".", 2)
    # botocore serialized these requests (JSON, or Invoke's payload) to bytes, not a stream; so
    # does infra/local/aws_endpoint.py with the body it received.
    body = cast("bytes | None", request.body)
    if service in ("dynamodb", "dynamodb-streams"):
        with runtime.dynamodb_lock:
            send = functools.partial(botocore_stubber, event_name=event_name, request=request)
            if service == "dynamodb":
                requests = runtime.dynamodb_requests
                requests[operation] = requests.get(operation, 0) + 1
                response = runtime.recorder.dynamodb_request(operation, body, send, _stored_item)
            else:
                response = send()
            written = transactions.written_tables(operation, body)
            if written:
                runtime.stream_retention.apply()
        if written:
            runtime.streams.written(written)
        return response
    if service == "eventbridge" and operation == "PutEvents":
        # moto answers every PutEvents while it mocks (None only when it is off)
        return runtime.eventbridge.put_events(
            request, lambda r: cast(AWSResponse, botocore_stubber(event_name=event_name, request=r))
        )
    if service == "lambda" and operation == "Invoke":
        # /2015-03-31/functions/{FunctionName}/invocations
        function = unquote(request.url.split("/functions/", 1)[1].split("/", 1)[0])
        result = invoke(runtime, function, body or b"")
        headers = {"X-Amz-Executed-Version": "$LATEST"}
        if result.function_error:
            headers["X-Amz-Function-Error"] = result.function_error
        return AWSResponse(request.url, 200, headers, MockRawResponse(result.payload))  # type: ignore[arg-type]
    return botocore_stubber(event_name=event_name, request=request)


def invoke(runtime: LocalAws, function: str, payload: bytes) -> InvokeResult:
    """Lambda's Invoke of one of the runtime's functions, told to the recorder.

    Raises: KeyError for a function the template does not have.
    """

    def invoke_recorded() -> InvokeResult:
        with runtime.recorder.invocation(function.split(":function:")[-1], payload):
            return runtime.lambdas.invoke(function, payload)

    try:
        longest = runtime.lambdas.resolve(function).timeout_seconds
    except KeyError:
        return invoke_recorded()  # raises as an unknown function does
    # A task state run on its machine's thread keeps its TimeoutSeconds this way.
    return task_timeouts.within_deadline(invoke_recorded, longest)


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
    """A request from outside the process (infra/local/aws_endpoint.py), routed as boto3's are.

    `service` is botocore's event name for it ("dynamodb", "sfn", ...); None: moto has no answer.
    """
    return route(request, f"before-send.{service}.{operation}")
