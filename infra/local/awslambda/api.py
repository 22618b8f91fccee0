"""The Lambda API over HTTP (Invoke, GetFunction, ListFunctions) for the template's functions.

What `sam local start-lambda` serves, and what the AWS CLI and SDKs call: `POST
/2015-03-31/functions/{name}/invocations` runs the real handler in this process
(infra.local.awslambda.functions), so a function error is a 200 with
`X-Amz-Function-Error: Unhandled` and the error's `errorType`, as on AWS. Errors of the API
itself carry Lambda's `x-amzn-ErrorType` header and `{"Type", "message"}` body:
an unknown function is a 404 `ResourceNotFoundException`.

Differs from AWS: versions and aliases are not kept (any qualifier other than `$LATEST` is not
found), an `Event` invocation runs once in a thread of this process (no retries, no
destinations), and `LogType: Tail` returns no log.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import Any
from urllib.parse import unquote

from werkzeug.wrappers import Request, Response

from infra.local.awslambda.functions import LocalLambdas
from infra.local.cloudformation.template import FunctionSpec, function_arn

log = logging.getLogger("local_lambda")

PREFIX = "/2015-03-31/functions"
_INVOKE = re.compile(rf"^{PREFIX}/(?P<name>[^/]+)/invocations/?$")
_FUNCTION = re.compile(rf"^{PREFIX}/(?P<name>[^/]+)/?$")
_FUNCTIONS = re.compile(rf"^{PREFIX}/?$")
# Lambda's limit on a synchronous request's payload.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")


def is_lambda_request(request: Request) -> bool:
    return request.path.startswith(PREFIX)


class LambdaApi:
    """A WSGI application answering the Lambda API for `lambdas`."""

    def __init__(self, lambdas: LocalLambdas, functions: dict[str, FunctionSpec], region: str):
        self._lambdas = lambdas
        self._functions = functions
        self._region = region

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:
        path = unquote(request.path)
        if (match := _INVOKE.match(request.path)) and request.method == "POST":
            return self._invoke(unquote(match["name"]), request)
        if (match := _FUNCTION.match(request.path)) and request.method == "GET":
            return self._get_function(unquote(match["name"]), request)
        if _FUNCTIONS.match(request.path) and request.method == "GET":
            functions = [self._configuration(spec) for spec in self._functions.values()]
            return _json(200, {"Functions": functions})
        message = f"no Lambda operation {request.method} {path}"
        return _error(404, "UnknownOperationException", message)

    def _invoke(self, name: str, request: Request) -> Response:
        spec = self._resolve(name, request.args.get("Qualifier"))
        if spec is None:
            return _not_found(name, self._region)
        invocation_type = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation_type not in INVOCATION_TYPES:
            return _error(
                400,
                "InvalidParameterValueException",
                f"X-Amz-Invocation-Type must be one of {', '.join(INVOCATION_TYPES)}",
            )
        payload = request.get_data()
        if len(payload) > MAX_PAYLOAD_BYTES:
            return _error(
                413,
                "RequestTooLargeException",
                f"Request must be smaller than {MAX_PAYLOAD_BYTES} bytes "
                "for the InvokeFunction operation",
            )
        try:
            json.loads(payload or b"{}")
        except ValueError as error:
            return _error(
                400,
                "InvalidRequestContentException",
                f"Could not parse request body into json: {error}",
            )
        if invocation_type == "DryRun":
            return Response(status=204)
        if invocation_type == "Event":
            threading.Thread(
                target=self._invoke_in_background,
                args=(spec, payload),
                name=f"invoke-{spec.logical_id}",
                daemon=True,
            ).start()
            return Response(status=202)
        result = self._lambdas.invoke(spec.logical_id, payload)
        response = Response(result.payload, 200, content_type="application/json")
        response.headers["X-Amz-Executed-Version"] = "$LATEST"
        if result.function_error:
            response.headers["X-Amz-Function-Error"] = result.function_error
        return response

    def _invoke_in_background(self, spec: FunctionSpec, payload: bytes) -> None:
        result = self._lambdas.invoke(spec.logical_id, payload)
        if result.function_error:
            log.warning(
                "asynchronous invocation of %s failed: %s",
                spec.logical_id,
                result.payload.decode(errors="replace"),
            )

    def _get_function(self, name: str, request: Request) -> Response:
        spec = self._resolve(name, request.args.get("Qualifier"))
        if spec is None:
            return _not_found(name, self._region)
        return _json(200, {"Configuration": self._configuration(spec)})

    def _resolve(self, name: str, qualifier: str | None) -> FunctionSpec | None:
        """A function by name, ARN or partial ARN (`name:qualifier` too), as Lambda takes it."""
        base = name.split(":function:")[-1]
        base, _, qualifier_in_name = base.partition(":")
        if (qualifier or qualifier_in_name or "$LATEST") != "$LATEST":
            return None
        return self._functions.get(base)

    def _configuration(self, spec: FunctionSpec) -> dict[str, Any]:
        return {
            "FunctionName": spec.logical_id,
            "FunctionArn": spec.arn(self._region),
            "Handler": spec.handler,
            "Timeout": spec.timeout_seconds,
            "Version": "$LATEST",
            "Environment": {"Variables": dict(spec.environment)},
        }


def _not_found(name: str, region: str) -> Response:
    arn = name if name.startswith("arn:") else function_arn(name, region)
    return _error(404, "ResourceNotFoundException", f"Function not found: {arn}")


def _error(status: int, error_type: str, message: str) -> Response:
    response = _json(status, {"Type": "User", "message": message})
    response.headers["x-amzn-ErrorType"] = error_type
    return response


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status, content_type="application/json")
