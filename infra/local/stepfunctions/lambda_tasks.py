"""Step Functions' Lambda integration on the runtime: a task's Invoke handed to the runtime's
function without a trip through botocore.

What moto 5.2.5 does: a `lambda:invoke` task calls Lambda's Invoke with a boto3 client
(`lambda_eval_utils._invoke_lambda_function`): botocore validates and serializes the request,
signs it, resolves an endpoint, emits its events to the runtime's router (routing.py), which runs
the handler in this process, and then parses the answer the router made back into a dict. About
0.5 ms of CPU per task, three tasks a committed transaction, for a request that never leaves the
process.

Why that is wrong for us: the bench holds the local runtime's orchestration overhead to twice
the cost of the same work done directly.

What this does instead: an Invoke that names only `FunctionName` and `Payload` (what the
runtime's router reads of a request: it answers every Invoke synchronously, with
`$LATEST`) is answered by the router's own `invoke` (the same recorder attribution, the same
deadline for a task run in line), and the answer is the dict botocore would have parsed from the
router's response, key by key in its order. An Invoke with any other parameter, or with no
runtime running, goes through botocore as before.

Proven by tests/local/stepfunctions/test_lambda_tasks.py (the same answer as botocore's for a
result and for a function error, the recorder attribution), tests/statemachine (every path).
The patch is declared in infra/local/patches.py.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from typing import Any

from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

from infra.local import routing

# What the router reads of an Invoke request.
_ROUTED_PARAMETERS = frozenset({"FunctionName", "Payload"})


def invoked_in_process(invoke_lambda_function: Callable[..., Any]) -> Callable[..., Any]:
    """`lambda_eval_utils._invoke_lambda_function`: the runtime's function invoked directly."""

    @functools.wraps(invoke_lambda_function)
    def invoke(parameters: dict[str, Any], region: str, state_credentials: Any) -> Any:
        runtime = routing.active()
        if runtime is None or not set(parameters) <= _ROUTED_PARAMETERS:
            return invoke_lambda_function(parameters, region, state_credentials)
        payload = parameters.get("Payload") or b""
        if isinstance(payload, str):
            payload = payload.encode()  # as botocore sends a text payload
        result = routing.invoke(runtime, parameters["FunctionName"], payload)
        headers = {"x-amz-executed-version": "$LATEST"}
        answer: dict[str, Any] = {"ResponseMetadata": {}, "StatusCode": 200}
        if result.function_error:
            headers["x-amz-function-error"] = result.function_error
            answer["FunctionError"] = result.function_error
        answer["ResponseMetadata"] = {
            "HTTPStatusCode": 200,
            "HTTPHeaders": headers,
            "MaxAttemptsReached": True,  # moto's client makes one attempt
            "RetryAttempts": 0,
        }
        answer["ExecutedVersion"] = "$LATEST"
        answer["Payload"] = lambda_eval_utils._from_payload(io.BytesIO(result.payload))
        return answer

    return invoke
