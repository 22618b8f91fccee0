"""API Gateway (REST) on the local runtime: the routes and integrations of infra/openapi.yaml.

The document the AWS deployment uses: its `aws_proxy` integration invokes the local function with
a REST proxy event, and its StartSyncExecution integration renders the real mapping templates
around the local start-and-wait execution (moto has no StartSyncExecution).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.exceptions import BadRequest, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from infra.local.apigateway.openapi import (
    HttpResponse,
    gateway_response,
    load_openapi,
    map_integration_response,
    request_template,
)
from infra.local.apigateway.vtl import render
from infra.local.cloudformation.template import ACCOUNT_ID, function_arn
from infra.local.recorder import HttpExchange
from infra.local.runtime import REGION, LocalAws

STAGE = "local"
PARTITION = "aws"
# API Gateway's payload limit (REST APIs: 10 MB), answered with the REQUEST_TOO_LARGE response.
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
# StartSyncExecution's limit on "input", in bytes of UTF-8.
MAX_EXECUTION_INPUT_BYTES = 256 * 1024
_LAMBDA_URI = re.compile(r":lambda:path/2015-03-31/functions/(?P<arn>.+)/invocations$")
_METHODS = {"get", "head", "options", "post", "put", "patch", "delete"}


class LocalGateway:
    """A WSGI application answering as the deployed REST API does."""

    def __init__(self, aws: LocalAws) -> None:
        self._aws = aws
        self.document = load_openapi(substitutions(aws))
        rules = [
            Rule(path.replace("{", "<").replace("}", ">"), methods=[method.upper()],
                 endpoint=(path, method))
            for path, item in self.document["paths"].items()
            for method in item
            if method in _METHODS
        ]  # fmt: skip
        self._routes = Map(rules, strict_slashes=False, merge_slashes=False)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:
        context = _context(request)
        try:
            payload = _read_payload(request)
        except (OSError, BadRequest):
            # A body that is no HTTP body: chunks not in chunked encoding, or fewer bytes than its
            # Content-Length before the client stopped sending. Refused before any integration.
            response = self._gateway("DEFAULT_4XX", 400, "Bad Request")
        else:
            if payload is None:
                response = self._gateway("REQUEST_TOO_LARGE", 413, "Request Too Long")
            else:
                response = self._route(request, payload, context)
        response.headers["x-amzn-RequestId"] = context["requestId"]  # as on every AWS answer
        return response

    def _route(self, request: Request, payload: str, context: dict[str, Any]) -> Response:
        try:
            (path, method), path_parameters = self._routes.bind_to_environ(request.environ).match()
        except (NotFound, MethodNotAllowed):
            return self._missing_authentication_token()
        if request.method.lower() != method:
            # werkzeug lets HEAD match every GET rule; API Gateway runs only the methods the
            # document defines and answers any other without calling the integration.
            return self._missing_authentication_token()
        context["resourcePath"] = path
        integration = self.document["paths"][path][method]["x-amazon-apigateway-integration"]
        if integration["type"] == "aws_proxy":
            return self._invoke_proxy(request, payload, integration, path_parameters, context)
        return self._start_sync_execution(request, payload, integration, path_parameters, context)

    def _missing_authentication_token(self) -> Response:
        """API Gateway's answer to a path or method the document does not define."""
        return self._gateway("MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token")

    def _invoke_proxy(
        self, request: Request, payload: str, integration: Mapping[str, Any],
        path_parameters: Mapping[str, str], context: dict[str, Any],
    ) -> Response:  # fmt: skip
        function = _LAMBDA_URI.search(integration["uri"])
        assert function, f"not a Lambda proxy integration: {integration['uri']}"
        event = {
            "resource": context["resourcePath"],
            "path": request.path,
            "httpMethod": request.method,
            "headers": dict(_headers(request)) or None,
            "multiValueHeaders": _multi_value_headers(request) or None,
            "queryStringParameters": {k: v[-1] for k, v in _query(request).items()} or None,
            "multiValueQueryStringParameters": _query(request) or None,
            "pathParameters": dict(path_parameters) or None,
            "stageVariables": None,
            "requestContext": context,
            "body": payload or None,
            "isBase64Encoded": False,
        }
        result = self._aws.lambdas.invoke(function["arn"], json.dumps(event).encode())
        try:
            assert result.function_error is None
            answer = json.loads(result.payload)
            multi_value = answer.get("multiValueHeaders") or {}
            headers = [(name, value) for name, values in multi_value.items() for value in values]
            headers += list((answer.get("headers") or {}).items())
            return Response(answer.get("body") or "", int(answer["statusCode"]), headers)
        except (AssertionError, ValueError, KeyError, TypeError):
            # API Gateway's answer to a failed function or a malformed proxy response.
            return self._gateway("DEFAULT_5XX", 502, "Internal server error")

    def _start_sync_execution(
        self, request: Request, payload: str, integration: Mapping[str, Any],
        path_parameters: Mapping[str, str], context: dict[str, Any],
    ) -> Response:  # fmt: skip
        template = request_template(integration, request.headers.get("Content-Type"))
        if template is None:
            return self._gateway("UNSUPPORTED_MEDIA_TYPE", 415, "Unsupported Media Type")
        params = {
            "path": dict(path_parameters),
            "querystring": {k: v[-1] for k, v in _query(request).items()},
            "header": dict(_headers(request)),
        }
        body = payload or "{}"  # API Gateway's empty payload
        rendered = render(template, body=body, params=params, context=context)
        status, answer = self._call_start_sync_execution(rendered.text)
        response = map_integration_response(
            integration, status, answer, params=params, context=context
        )
        self._aws.recorder.record_http(_exchange(request, payload, response, context))
        return _to_werkzeug(response)

    def _call_start_sync_execution(self, payload: str) -> tuple[int, str]:
        """Step Functions' StartSyncExecution: (HTTP status, JSON body).

        Refuses, as Step Functions does, an input that is not JSON or is over 256 KiB.
        """
        try:
            request = json.loads(payload)
            arn, execution_input = request["stateMachineArn"], request.get("input", "{}")
            size = len(execution_input.encode("utf-8", "surrogatepass"))
            if size > MAX_EXECUTION_INPUT_BYTES:
                raise ValueError(
                    f"input is {size} bytes; at most {MAX_EXECUTION_INPUT_BYTES} are allowed"
                )
            json.loads(execution_input)
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            return 400, json.dumps({"__type": "InvalidExecutionInput", "message": str(error)})
        if arn not in self._aws.state_machine_arns.values():
            return 400, json.dumps({"__type": "StateMachineDoesNotExist", "message": arn})
        response = self._aws.start_sync_execution(arn, execution_input, request.get("name"))
        return 200, json.dumps(response, default=_epoch_seconds)

    def _gateway(self, response_type: str, status: int, message: str) -> Response:
        """A response API Gateway sends itself: the document's, else API Gateway's default."""
        configured = gateway_response(self.document, response_type) or gateway_response(
            self.document, "DEFAULT_4XX" if status < 500 else "DEFAULT_5XX"
        )
        if configured is None:
            configured = HttpResponse(status, {}, json.dumps({"message": message}))
        return _to_werkzeug(configured)


def substitutions(aws: LocalAws) -> dict[str, str]:
    """The values of the document's Fn::Sub placeholders: the template's resources as the
    runtime created them (each state machine's ARN as `${Name.Arn}` and `${Name}`, as `!Ref`
    gives it), and a role for the StartSyncExecution integrations."""
    machines = aws.state_machine_arns
    return {
        "AWS::Partition": PARTITION,
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT_ID,
        "ApiStartSyncExecutionRole.Arn": f"arn:aws:iam::{ACCOUNT_ID}:role/local",
        **{f"{name}.Arn": function_arn(name, REGION) for name in aws.template.functions},
        **{f"{name}.Arn": arn for name, arn in machines.items()},
        **{f"{name}.Name": name for name in machines},
        **dict(machines),
    }


def _read_payload(request: Request) -> str | None:
    """The request's body as text; None when it is over API Gateway's payload limit.

    An oversized body is still read to its end, so that the client, still sending, gets the answer.
    """
    data = request.stream.read(MAX_PAYLOAD_BYTES + 1)
    if len(data) > MAX_PAYLOAD_BYTES:
        while request.stream.read(1024 * 1024):
            pass
        return None
    # As API Gateway converts a text payload: bytes that are not UTF-8 become U+FFFD, which the
    # functions then refuse (functions.domain.requests.REPLACEMENT_CHARACTER).
    return data.decode("utf-8", "replace")


def _headers(request: Request) -> list[tuple[str, str]]:
    """The request's headers as UTF-8 text, as the body is: bytes that are not become U+FFFD.

    WSGI hands header values over as ISO-8859-1, so a UTF-8 key would arrive as mojibake and
    two different malformed keys as two different valid-looking ones.
    """
    return [(name, _utf8_text(value)) for name, value in request.headers.items()]


def _query(request: Request) -> dict[str, list[str]]:
    """The query string's parameters as UTF-8 text, with U+FFFD where they are not: bytes sent as
    they are (curl sends `?userId=é` so) and percent-escapes alike, so that both spellings of one
    id name one wallet (werkzeug keeps an escape that is not UTF-8 as it was: "%FF" would name
    the same user as "%25FF")."""
    query: dict[str, list[str]] = {}
    # As ISO-8859-1, each byte is one character and each escape unquotes to its byte's character;
    # the bytes are then read as the UTF-8 they should be.
    text = request.query_string.decode("latin-1")
    for name, value in parse_qsl(text, keep_blank_values=True, encoding="latin-1"):
        query.setdefault(_utf8_text(name), []).append(_utf8_text(value))
    return query


def _multi_value_headers(request: Request) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for name, value in _headers(request):
        headers.setdefault(name, []).append(value)
    return headers


def _utf8_text(value: str) -> str:
    return value.encode("latin-1", "replace").decode("utf-8", "replace")


def _exchange(
    request: Request, payload: str, response: HttpResponse, context: Mapping[str, Any]
) -> HttpExchange:
    """The request and the answer around an execution, for the execution view."""
    return HttpExchange(
        request_id=context["requestId"],
        method=request.method,
        path=request.full_path.rstrip("?"),
        request_headers=dict(request.headers),
        request_body=payload,
        status=response.status,
        response_headers={"x-amzn-RequestId": context["requestId"], **response.headers},
        response_body=response.body,
        started=context["requestTimeEpoch"] / 1000,
        ended=time.time(),
    )


def _to_werkzeug(response: HttpResponse) -> Response:
    headers = {"Content-Type": "application/json", **response.headers}
    return Response(response.body, response.status, headers)


def _context(request: Request) -> dict[str, Any]:
    """$context and the proxy event's requestContext, as API Gateway fills them."""
    return {
        "accountId": ACCOUNT_ID,
        "apiId": "local",
        "domainName": request.host,
        "extendedRequestId": uuid.uuid4().hex[:16],
        "httpMethod": request.method,
        "identity": {"sourceIp": request.remote_addr, "userAgent": request.user_agent.string},
        "path": f"/{STAGE}{request.path}",
        "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
        "requestId": str(uuid.uuid4()),
        "requestTime": datetime.now(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "requestTimeEpoch": int(time.time() * 1000),
        "resourcePath": request.path,
        "stage": STAGE,
    }


def _epoch_seconds(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"cannot serialize {type(value).__name__}")
