"""Through the HTTP server of `make run`: schemathesis from infra/openapi.yaml, and the workload."""

import json

import pytest
import requests

from infra.local.aws import active_runtime
from infra.local.lambdas import FaultPoint
from infra.local.server import serving
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
