"""Through the HTTP server of `make run`: the workload's transport, and schemathesis fuzzing.

The fuzzing is driven by infra/openapi.yaml: positive and negative requests for each operation;
every response must be no 5xx, a documented status, and match its schema and headers.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from functions.http_errors import HTTP_ERRORS, INTERNAL_ERROR
from tests.reliability.runtime import Answer

OPENAPI_PATH = Path(__file__).resolve().parents[2] / "infra" / "openapi.yaml"
ERROR_NAMES = {error.code: name for name, error in HTTP_ERRORS.items()}
STATUSES = {error.code: error.status for error in (*HTTP_ERRORS.values(), INTERNAL_ERROR)}


class Http:
    """The workload's requests as a client sends them; one session per thread.

    A 500 is traced to its execution through the x-amzn-RequestId header, so that the checks can
    tell a runtime starved of CPU from a fault of the product, as they do without HTTP.
    """

    def __init__(self, base_url: str, aws: Any) -> None:
        self.base_url = base_url
        self.problems: list[str] = []
        self._aws = aws
        self._local = threading.local()
        self._lock = threading.Lock()

    def _execution_of(self, request_id: str | None) -> str | None:
        return None if request_id is None else self._aws.execution_arn(request_id)

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def _problem(self, line: str) -> None:
        with self._lock:
            self.problems.append(line)

    def transact(self, body: str, key: str) -> Answer:
        response = self._session().post(
            f"{self.base_url}/transactions",
            data=body.encode(),
            headers={"Content-Type": "application/json", "Idempotent-Key": key},
            timeout=60,
        )
        where = f"POST {key!r}: {response.status_code}"
        try:
            answer = response.json()
        except ValueError:
            self._problem(f"{where}: body is not JSON: {response.text[:200]!r}")
            return Answer("FAILED", f"HTTP {response.status_code}", None, None)
        replayed = response.headers.get("Idempotent-Replayed")
        if response.status_code == 201:
            if replayed not in (None, "true"):
                self._problem(f"{where}: Idempotent-Replayed: {replayed!r}")
            output = {"transaction": answer, "replayed": replayed == "true"}
            return Answer("SUCCEEDED", None, output, None)
        if replayed is not None:
            self._problem(f"{where}: Idempotent-Replayed on an error")
        error = answer.get("error", {}) if isinstance(answer, dict) else {}
        code = error.get("code", "")
        name = ERROR_NAMES.get(code, f"HTTP {response.status_code}")
        if STATUSES.get(code) != response.status_code:
            self._problem(f"{where}: body {answer}")
        if response.status_code == 429 and not response.headers.get("Retry-After"):
            self._problem(f"{where}: no Retry-After")
        cause = json.dumps({"errorMessage": error.get("message", "")})
        if response.status_code == INTERNAL_ERROR.status:
            return self._internal_error(response, where, cause)
        return Answer("FAILED", name, None, None, cause)

    def _internal_error(self, response: requests.Response, where: str, cause: str) -> Answer:
        """A 500 as its execution ended (a 500 outside an execution is a finding of its own)."""
        arn = self._execution_of(response.headers.get("x-amzn-RequestId"))
        if arn is None:
            self._problem(f"{where}: a 500 that no execution explains")
            return Answer("FAILED", "HTTP 500", None, None, cause)
        execution = self._aws.stepfunctions.describe_execution(executionArn=arn)
        if execution["status"] == "SUCCEEDED":
            self._problem(f"{where}: a 500 for an execution that succeeded")
        return Answer(execution["status"], execution.get("error"), None, arn, cause)

    def balance(self, user_id: str) -> tuple[int, dict[str, Any]]:
        response = self._session().get(
            f"{self.base_url}/balance", params={"userId": user_id}, timeout=60
        )
        return response.status_code, response.json()


@dataclass
class FuzzReport:
    requests: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


def fuzz(
    base_url: str,
    examples: int,
    *,
    seed: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> FuzzReport:
    """`examples` positive and `examples` negative cases per operation of infra/openapi.yaml.

    seed=None derandomizes (the same cases every run, for make test).
    """
    import schemathesis
    from schemathesis.core.result import Ok

    schema = schemathesis.openapi.from_path(str(OPENAPI_PATH))
    report = FuzzReport()
    session = requests.Session()
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()  # an operation schemathesis cannot read
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            _fuzz_operation(result.ok(), mode, base_url, session, examples, seed, report, progress)
    return report


def _fuzz_operation(
    operation: Any,
    mode: Any,
    base_url: str,
    session: requests.Session,
    examples: int,
    seed: int | None,
    report: FuzzReport,
    progress: Callable[[int], None] | None,
) -> None:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [not_a_server_error, status_code_conformance, content_type_conformance,
              response_schema_conformance, response_headers_conformance]  # fmt: skip

    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=seed is None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def send(case: Any) -> None:
        response = case.call(base_url=base_url, session=session, timeout=60)
        report.requests += 1
        report.statuses[f"{operation.label} {response.status_code}"] += 1
        if progress is not None:
            progress(report.requests)
        try:
            case.validate_response(response, checks=checks)
        except Exception as error:  # each failure is recorded; the fuzzing goes on
            report.failures.append(
                f"{operation.label} ({mode.value}) -> {response.status_code}: "
                f"{str(error)[:400]}\n    reproduce: {case.as_curl_command()}"
            )

    if seed is not None:
        send = hypothesis_seed(seed)(send)
    send()
