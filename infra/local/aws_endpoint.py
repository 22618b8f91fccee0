"""One AWS endpoint for clients outside the process (AWS CLI, SDKs, GUIs) on the runtime's state.

Port 4566 by default, the edge port that local AWS tools expect. A request is recognised by what
an AWS request carries: the Lambda API by its path, the JSON protocol by `X-Amz-Target`, the
query protocol (SQS) by its credential scope. It is rewritten to the service's AWS hostname and
sent down the path the runtime's own boto3 requests take (`infra.local.routing.send`): the DynamoDB
lock, then moto's backends, the very objects `make run` serves the API from. What moto does not
answer is answered here: the Lambda API (infra.local.awslambda.api, the real handlers), Step
Functions' TestState (infra.local.stepfunctions.teststate) and StartSyncExecution (the
runtime's start and wait, as the local API Gateway uses it).

Errors have AWS's shapes: the JSON protocol's `{"__type", "message"}` (an unknown operation is a
400 `UnknownOperationException`, a body that is not JSON a 400 `SerializationException`), and a
failure inside is a 500 `InternalFailure`, logged, never the end of the server.

Differs from AWS: signatures are not checked (any credentials pass) and the region is the one the
client signs for (the runtime's tables and state machine live in us-east-1).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from botocore.awsrequest import AWSPreparedRequest, HTTPHeaders
from botocore.exceptions import ClientError
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from infra.local import routing
from infra.local.awslambda.api import LambdaApi, is_lambda_request
from infra.local.cloudformation.template import ACCOUNT_ID
from infra.local.http_server import in_thread
from infra.local.runtime import REGION, LocalAws
from infra.local.stepfunctions import executions, interpreter, teststate

log = logging.getLogger("local_aws_endpoint")

DEFAULT_PORT = 4566


SFN_TARGET = "AWSStepFunctions"
# X-Amz-Target prefix -> (botocore's event name for the service, its AWS hostname)
_JSON_SERVICES = {
    "DynamoDB_20120810": ("dynamodb", "dynamodb.{region}.amazonaws.com"),
    "DynamoDBStreams_20120810": ("dynamodb-streams", "streams.dynamodb.{region}.amazonaws.com"),
    SFN_TARGET: ("sfn", "states.{region}.amazonaws.com"),
    "AWSEvents": ("eventbridge", "events.{region}.amazonaws.com"),
    "AmazonSQS": ("sqs", "sqs.{region}.amazonaws.com"),
    # The state machines' logs (stepfunctions/logs.py): `aws logs filter-log-events` reads them.
    "Logs_20140328": ("logs", "logs.{region}.amazonaws.com"),
}
# credential scope service -> the same, for the query protocol (form bodies with Action=...)
_QUERY_SERVICES = {"sqs": ("sqs", "sqs.{region}.amazonaws.com")}
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/(?P<region>[a-z0-9-]+)/(?P<service>[a-z0-9-]+)/")
JSON_CONTENT_TYPE = "application/x-amz-json-1.0"
# How long moto may take between an execution's status and the rest of its end.
_RECORDING_SECONDS = 1.0


class AwsEndpoint:
    """A WSGI application answering AWS API requests from the running LocalAws."""

    def __init__(self, runtime: LocalAws, *, is_lambda_only: bool = False) -> None:
        self._runtime = runtime
        self._is_lambda_only = is_lambda_only
        self._lambda = LambdaApi(runtime.lambdas, runtime.template.functions, REGION)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            response = self.handle(request)
        except Exception:
            log.exception("%s %s failed inside the endpoint", request.method, request.path)
            response = json_error(500, "InternalFailure", "the request processing has failed")
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        if is_lambda_request(request):
            return self._lambda.handle(request)
        if self._is_lambda_only:
            return json_error(404, "UnknownOperationException", "this endpoint serves Lambda only")
        target = request.headers.get("X-Amz-Target", "")
        prefix, _, operation = target.partition(".")
        scope = _SCOPE.search(request.headers.get("Authorization", ""))
        region = scope["region"] if scope else REGION
        if prefix in _JSON_SERVICES and operation:
            service, host = _JSON_SERVICES[prefix]
            return self._json_request(request, service, host.format(region=region), operation)
        if scope and scope["service"] in _QUERY_SERVICES:
            action = parse_qs(request.get_data(as_text=True)).get("Action", [""])[0]
            if action:
                service, host = _QUERY_SERVICES[scope["service"]]
                return self._send(request, service, host.format(region=region), action)
        return json_error(
            400,
            "UnknownOperationException",
            f"no AWS operation in {request.method} {request.path} (X-Amz-Target "
            f"{target!r}); this endpoint serves DynamoDB, DynamoDB Streams, "
            "Step Functions, EventBridge, SQS, CloudWatch Logs and Lambda",
        )

    def _json_request(self, request: Request, service: str, host: str, operation: str) -> Response:
        body = request.get_data()
        try:
            document = json.loads(body or b"{}")
        except ValueError as error:
            return json_error(400, "SerializationException", f"the body is not JSON: {error}")
        if not isinstance(document, dict):
            return json_error(400, "SerializationException", "the body must be a JSON object")
        if service == "sfn" and operation == "TestState":
            return self._test_state(document)
        if service == "sfn" and operation == "StartSyncExecution":
            return self._start_sync_execution(document)
        response = self._send(request, service, host, operation)
        if service == "sfn" and operation == "DescribeExecution" and response.status_code == 200:
            return self._with_recorded_end(request, host, document, response)
        return response

    def _with_recorded_end(
        self, request: Request, host: str, document: dict[str, Any], response: Response
    ) -> Response:
        """moto sets an execution's status before its output, error and cause: a terminal
        status is answered once the rest is recorded too (the runtime's own wait does the same)."""
        if json.loads(response.get_data()).get("status") not in executions.TERMINAL_STATUSES:
            return response
        if host != _JSON_SERVICES[SFN_TARGET][1].format(region=REGION):
            return response  # the runtime records the ends of its own region's executions
        deadline = time.monotonic() + _RECORDING_SECONDS
        while (
            interpreter.recorded_status(document["executionArn"])
            not in executions.TERMINAL_STATUSES
        ):
            if time.monotonic() > deadline:
                return response
            time.sleep(0.001)
        return self._send(request, "sfn", host, "DescribeExecution")

    def _send(self, request: Request, service: str, host: str, operation: str) -> Response:
        headers = HTTPHeaders()
        for name, value in request.headers.items():
            headers[name] = value
        headers["Host"] = host
        query = request.query_string.decode()
        prepared = AWSPreparedRequest(
            method=request.method,
            url=f"https://{host}{request.path}" + (f"?{query}" if query else ""),
            headers=headers,
            body=request.get_data(),
            stream_output=False,
        )
        try:
            answered = routing.send(prepared, service, operation)
        except NotImplementedError:
            answered = None
        # moto answers a path it has no handler for with an empty 404
        if answered is None or (answered.status_code == 404 and not answered.content):
            return json_error(
                400,
                "UnknownOperationException",
                f"{operation} of {service} is not implemented locally",
            )
        response = Response(answered.content, answered.status_code)
        for name, value in answered.headers.items():
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                response.headers[name] = value
        return response

    def _test_state(self, document: dict[str, Any]) -> Response:
        try:
            output = teststate.answer(document, ACCOUNT_ID, REGION)
        except teststate.TestStateRequestError as error:
            return json_error(400, error.error_type, error.message)
        return json_response(200, output)

    def _start_sync_execution(self, document: dict[str, Any]) -> Response:
        """moto has no StartSyncExecution: start and wait, as the local API Gateway does."""
        arn, execution_input = document.get("stateMachineArn"), document.get("input", "{}")
        if not isinstance(arn, str) or not isinstance(execution_input, str):
            return json_error(400, "ValidationException", "stateMachineArn and input are strings")
        try:
            json.loads(execution_input)
        except ValueError as error:
            return json_error(400, "InvalidExecutionInput", f"input is not JSON: {error}")
        if arn in self._runtime.state_machine_arns.values():
            result = self._runtime.start_sync_execution(arn, execution_input, document.get("name"))
            return json_response(200, result)
        try:
            result = executions.start_sync_execution(
                self._runtime.stepfunctions, arn, execution_input, document.get("name")
            )
        except ClientError as error:
            status = error.response["ResponseMetadata"]["HTTPStatusCode"]
            details = error.response["Error"]
            return json_error(status, details["Code"], details.get("Message", ""))
        return json_response(200, result)


def json_response(status: int, body: dict[str, Any]) -> Response:
    text = json.dumps(body, default=_epoch_seconds)
    return Response(text, status, content_type=JSON_CONTENT_TYPE)


def json_error(status: int, error_type: str, message: str) -> Response:
    return json_response(status, {"__type": error_type, "message": message})


def _epoch_seconds(value: Any) -> float:
    """JSON protocol timestamps are epoch seconds."""
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def create_endpoint_server(
    runtime: LocalAws, host: str, port: int, *, is_lambda_only: bool = False
) -> BaseWSGIServer:
    return make_server(
        host, port, AwsEndpoint(runtime, is_lambda_only=is_lambda_only), threaded=True
    )


@contextmanager
def serving_endpoint(
    runtime: LocalAws, host: str = "127.0.0.1", port: int = 0, *, is_lambda_only: bool = False
) -> Iterator[str]:
    """Serve `runtime` in a background thread; yields the endpoint URL (port 0: a free one)."""
    server = create_endpoint_server(runtime, host, port, is_lambda_only=is_lambda_only)
    with in_thread(server, "local-aws-endpoint") as url:
        yield url
