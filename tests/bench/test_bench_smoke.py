"""The bench runs end to end at a tiny size. Counts are asserted; timings never are."""

import json

import pytest

from tests.bench import imports, report, suite


@pytest.fixture(scope="module")
def quick_result():
    return suite.run(suite.Sizes.quick(), quick=True)


def test_a_committed_transaction_takes_four_dynamodb_requests_and_no_read(quick_result):
    committed = quick_result["requestCounts"]["committed"]

    assert committed["status"] == "SUCCEEDED"
    assert committed["dynamodbTotal"] <= suite.TARGET_DYNAMODB_REQUESTS
    assert "GetItem" not in committed["dynamodb"]
    assert committed["rru"] == 0
    assert committed["lambdaTotal"] == 5
    assert quick_result["target"]["met"] is True


def test_replays_and_overdrafts_are_counted_from_their_own_calls(quick_result):
    counts = quick_result["requestCounts"]

    assert counts["replay"]["status"] == "SUCCEEDED"
    assert "TransactWriteItems" not in counts["replay"]["dynamodb"]
    assert "UpdateBalanceFunction" not in counts["replay"]["lambda"]
    assert counts["overdraft"]["error"] == "InsufficientFundsError"
    assert "TransactWriteItems" not in counts["overdraft"]["dynamodb"]
    assert counts["overdraft"]["lambda"]["DeleteTransactionFunction"] == 1


def test_load_phases_leave_the_invariants_intact(quick_result):
    phases = quick_result["load"]

    assert {phase["scenario"] for phase in phases} >= {"sequential", "many-users x2"}
    assert all(phase["invariantViolations"] == 0 for phase in phases)
    assert all(sum(phase["statuses"].values()) == phase["requests"] for phase in phases)
    assert set(quick_result["imports"]["modules"]) == set(imports.handler_modules())


def test_results_are_written_read_back_and_rendered(quick_result, tmp_path):
    path = suite.write(quick_result, tmp_path)
    loaded = json.loads(path.read_text())

    assert loaded == json.loads((tmp_path / "latest.json").read_text())
    assert loaded["version"] == suite.SCHEMA_VERSION
    assert "Cost per million" in report.text(loaded)
    assert "| --- |" in report.markdown(loaded)
    assert "req/s" in report.compare(loaded, loaded)
