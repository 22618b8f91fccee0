"""infra/local/stepfunctions/lambda_tasks.py: a Lambda task's Invoke answered by the runtime's
function directly, with the answer botocore parses from the runtime's router."""

from __future__ import annotations

from typing import Any

import pytest
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

from infra.local.awslambda.functions import InvokeResult
from infra.local.cloudformation.template import REGION

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:AcquireLockFunction"
CREDENTIALS: Any = None  # the state's own: none, moto's client uses placeholders
RESULTS = {
    "object": InvokeResult(b'{"owner":"o","n":1}'),
    "text": InvokeResult(b"not json"),
    "error": InvokeResult(b'{"errorType":"LockBusyError"}', function_error="Unhandled"),
}


def listed(answer: dict[str, Any]) -> list[tuple[str, Any]]:
    """The answer with its keys in order, nested ones too."""
    return [(k, listed(v) if isinstance(v, dict) else v) for k, v in answer.items()]


@pytest.mark.parametrize("result", RESULTS.values(), ids=RESULTS.keys())
def test_the_answer_is_the_one_botocore_parses(local_aws, monkeypatch, result):
    invoked: list[tuple[str, bytes]] = []

    def invoke(function: str, payload: bytes) -> InvokeResult:
        invoked.append((function, payload))
        return result

    monkeypatch.setattr(local_aws.lambdas, "invoke", invoke)
    parameters = {"FunctionName": FUNCTION, "Payload": b'{"executionId":"arn:x"}'}
    direct = lambda_eval_utils._invoke_lambda_function(dict(parameters), REGION, CREDENTIALS)
    through_botocore = lambda_eval_utils._invoke_lambda_function.__wrapped__(  # type: ignore[attr-defined]
        dict(parameters), REGION, CREDENTIALS
    )

    assert listed(direct) == listed(through_botocore)
    assert invoked == [(FUNCTION, parameters["Payload"])] * 2


def test_an_invoke_the_router_would_not_read_whole_goes_through_botocore(local_aws, monkeypatch):
    monkeypatch.setattr(local_aws.lambdas, "invoke", lambda function, payload: RESULTS["object"])
    clients: list[str] = []
    client_for = lambda_eval_utils.boto_client_for

    def recorded_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        clients.append(service)
        return client_for(region, service, state_credentials)

    monkeypatch.setattr(lambda_eval_utils, "boto_client_for", recorded_client_for)
    parameters = {"FunctionName": FUNCTION, "Payload": b"{}"}
    lambda_eval_utils._invoke_lambda_function(parameters, REGION, CREDENTIALS)
    assert clients == []  # the direct way

    answer = lambda_eval_utils._invoke_lambda_function(
        {**parameters, "InvocationType": "RequestResponse"}, REGION, CREDENTIALS
    )

    assert answer["Payload"] == {"owner": "o", "n": 1}
    assert clients == ["lambda"]  # through botocore
