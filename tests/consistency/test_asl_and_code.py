"""One source of truth: the ASL, the domain errors, the HTTP error table and the README agree."""

import inspect
import json
import re
from pathlib import Path

from functions.domain import errors
from functions.http_errors import HTTP_ERRORS
from infra.local.diagram import ASL_PATH, mermaid

ROOT = Path(__file__).resolve().parents[2]
DEFINITION = json.loads(ASL_PATH.read_text())
DOMAIN_ERRORS = {
    name for name, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, errors.WalletError)
}  # fmt: skip


def error_names_in_asl() -> set[str]:
    names = set()
    for state in DEFINITION["States"].values():
        for rule in state.get("Retry", []) + state.get("Catch", []):
            names.update(rule["ErrorEquals"])
    return names


def test_every_custom_error_in_the_asl_is_a_domain_error_class():
    custom = {n for n in error_names_in_asl() if not n.startswith(("States.", "Lambda."))}
    assert custom
    assert custom <= DOMAIN_ERRORS


def test_retries_never_cover_business_errors():
    transient = {"UserBusyError", "StorageThrottledError"}
    for name, state in DEFINITION["States"].items():
        for retry in state.get("Retry", []):
            assert "States.ALL" not in retry["ErrorEquals"], name
            assert "States.TaskFailed" not in retry["ErrorEquals"], name
            custom = {e for e in retry["ErrorEquals"] if not e.startswith("Lambda.")}
            assert custom <= transient, name
            assert retry["JitterStrategy"] == "FULL" and "MaxDelaySeconds" in retry, name


def test_retry_budget_fits_in_the_timeouts():
    """Worst case of every retry delay plus task timeouts stays under the execution timeout."""
    assert DEFINITION["TimeoutSeconds"] < 29  # API Gateway's integration limit
    acquire = DEFINITION["States"]["AcquireLock"]["Retry"][0]
    delays = [
        min(acquire["IntervalSeconds"] * acquire["BackoffRate"] ** attempt,
            acquire["MaxDelaySeconds"])
        for attempt in range(acquire["MaxAttempts"])
    ]  # fmt: skip
    assert sum(delays) < DEFINITION["TimeoutSeconds"] / 2


def test_the_fail_state_re_raises_the_original_error():
    [fail] = [s for s in DEFINITION["States"].values() if s["Type"] == "Fail"]
    assert (fail["ErrorPath"], fail["CausePath"]) == ("$.error.Error", "$.error.Cause")
    for name, state in DEFINITION["States"].items():
        for catch in state.get("Catch", []):
            assert catch["ResultPath"] in ("$.error", "$.compensationError"), name


def test_http_errors_are_domain_errors_with_their_contract_codes():
    for name, http_error in HTTP_ERRORS.items():
        assert name in DOMAIN_ERRORS
        assert getattr(errors, name).code == http_error.code


def test_readme_diagram_matches_the_asl():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```mermaid\n(.*?)\n```", readme, re.S)
    assert block, "README has no mermaid diagram"
    assert block.group(1) == mermaid(DEFINITION), "run: python -m infra.local.diagram"
