"""Through the HTTP server of `make run`: schemathesis from infra/openapi.yaml, and the workload."""

import json
from types import SimpleNamespace

import pytest
import requests

from infra.composition import serving
from infra.local.awslambda.functions import FaultPoint
from infra.local.runtime import active_runtime
from tests.invariants import violations
from tests.reliability import workload
from tests.reliability.http import Http, fuzz


@pytest.fixture(scope="module")
def base_url():
    with serving() as url:
        yield url


def test_fuzzed_requests_get_documented_answers_and_no_5xx(base_url):
    report = fuzz(base_url, examples=12)

    assert report.failures == []
    assert report.requests >= 40
    assert not any(" 5" in status for status in report.statuses)
    assert violations(active_runtime().dynamodb) == []


def test_workload_over_http_keeps_every_invariant_and_answer_consistent(base_url):
    aws = active_runtime()
    transport = Http(base_url, aws)
    ops = workload.generate(seed=1, count=32, users=4, hot_share=0.35, prefix="http")

    records = workload.run(transport, ops, threads=16)
    settled = workload.settle(aws, transport, records, faults_injected=False)

    assert transport.problems == []
    assert settled.problems == []
    assert workload.check(aws, records + settled.records, faults_injected=False) == []


def test_a_500_is_traced_to_the_execution_that_ended_it(base_url):
    aws = active_runtime()
    transport = Http(base_url, aws)
    request = json.dumps({"userId": "traced", "ammount": "1", "type": "credit"})
    aws.lambdas.inject_fault("PutTransactionFunction", FaultPoint.BEFORE)
    try:
        answer = transport.transact(request, "k1")
    finally:
        aws.lambdas.clear_faults()

    assert (answer.status, answer.error) == ("FAILED", "InjectedFaultError")
    assert answer.execution_arn is not None
    assert "PutTransaction" in aws.entered_states(answer.execution_arn)
    assert transport.problems == []


def error(code: str) -> str:
    return json.dumps({"error": {"code": code, "message": "m"}})


SUCCEEDED_ARN = "arn:aws:states:us-east-1:123456789012:execution:wallet:succeeded"
# A server that breaks the contract: each answer, and the one problem the transport reports.
BROKEN_ANSWERS = {
    "body not JSON": (502, "<html>", {}, "POST 'k': 502: body is not JSON: '<html>'"),
    "201 replayed flag": (201, "{}", {"Idempotent-Replayed": "yes"},
                          "POST 'k': 201: Idempotent-Replayed: 'yes'"),
    "replayed flag on an error": (400, error("VALIDATION_ERROR"), {"Idempotent-Replayed": "true"},
                                  "POST 'k': 400: Idempotent-Replayed on an error"),
    "status of another code": (409, error("VALIDATION_ERROR"), {},
                               "POST 'k': 409: body {'error': {'code': 'VALIDATION_ERROR', "
                               "'message': 'm'}}"),
    "429 without Retry-After": (429, error("USER_BUSY"), {}, "POST 'k': 429: no Retry-After"),
    "500 without an execution": (500, error("INTERNAL_ERROR"), {},
                                 "POST 'k': 500: a 500 that no execution explains"),
    "500 of a success": (500, error("INTERNAL_ERROR"), {"x-amzn-RequestId": "r1"},
                         "POST 'k': 500: a 500 for an execution that succeeded"),
}  # fmt: skip


@pytest.mark.parametrize(("status", "text", "headers", "problem"), BROKEN_ANSWERS.values(),
                         ids=BROKEN_ANSWERS.keys())  # fmt: skip
def test_an_answer_against_the_contract_is_reported(monkeypatch, status, text, headers, problem):
    response = requests.Response()
    response.status_code, response._content = status, text.encode()
    response.headers.update(headers)
    monkeypatch.setattr(requests.Session, "post", lambda *args, **kwargs: response)
    stepfunctions = SimpleNamespace(describe_execution=lambda executionArn: {"status": "SUCCEEDED"})
    executions = {"r1": SUCCEEDED_ARN}
    aws = SimpleNamespace(stepfunctions=stepfunctions, execution_arn=executions.get)
    transport = Http("http://unused", aws)

    transport.transact("{}", "k")

    assert transport.problems == [problem]


def test_lone_surrogate_in_the_body_is_a_400_naming_the_field(base_url):
    raw = '{"userId": "\\ud800", "ammount": "1", "type": "credit"}'
    headers = {"Content-Type": "application/json", "Idempotent-Key": "k"}
    response = requests.post(f"{base_url}/transactions", data=raw.encode(), headers=headers,
                             timeout=60)  # fmt: skip

    assert response.status_code == 400
    assert json.loads(response.text)["error"]["code"] == "VALIDATION_ERROR"
    assert "userId" in json.loads(response.text)["error"]["message"]


@pytest.mark.slow
def test_fuzzing_longer(base_url):
    report = fuzz(base_url, examples=150, seed=1)

    assert report.failures == []
    assert violations(active_runtime().dynamodb) == []
