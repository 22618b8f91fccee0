"""The runner of JSONata's own test suite (tests/bench/jsonata_suite.py) on a suite of its own,
and docs/jsonata.md's known gaps, each naming a test that exists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bench import jsonata_suite
from tests.consistency.test_known_gaps import ROOT, gap_rows, missing_pins

CASES = {
    "passes-result": {"expr": "a + 1", "data": {"a": 1}, "result": 2},
    "passes-dataset": {"expr": "name", "dataset": "dataset0", "result": "x"},
    "passes-undefined": {"expr": "nothing", "data": {}, "undefinedResult": True},
    "passes-code": {"expr": "1 +", "dataset": None, "code": "S0207"},
    "passes-error": {"expr": "'a' + 1", "dataset": None, "error": {"code": "T2001"}},
    "fails-wrong-result": {"expr": "1", "dataset": None, "result": 2},
    "fails-null-for-undefined": {"expr": "null", "dataset": None, "undefinedResult": True},
    "fails-true-for-one": {"expr": "true", "dataset": None, "result": 1},
}


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "dataset0.json").write_text(json.dumps({"name": "x"}))
    group = tmp_path / "groups" / "mine"
    group.mkdir(parents=True)
    for name, case in CASES.items():
        (group / f"{name}.json").write_text(json.dumps(case))
    return tmp_path


@pytest.mark.parametrize("engine", sorted(jsonata_suite.ENGINES))
def test_runner_judges_cases_as_jsonata_js_does(suite: Path, engine: str) -> None:
    outcome = jsonata_suite.run(suite, engine)

    assert outcome.passed == 5
    assert sorted(case.name for case, _ in outcome.failed) == [
        "fails-null-for-undefined",
        "fails-true-for-one",
        "fails-wrong-result",
    ]


def test_runner_writes_each_failure(
    suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    failures = tmp_path / "failures.jsonl"

    jsonata_suite.main([str(suite), "--engine", "jsonatapy", "--failures", str(failures)])

    assert "jsonatapy: 5/8 passed (62.5%), 3 failed" in capsys.readouterr().out
    rows = [json.loads(line) for line in failures.read_text().splitlines()]
    assert {row["case"] for row in rows} == {
        "fails-null-for-undefined",
        "fails-true-for-one",
        "fails-wrong-result",
    }


def test_every_jsonata_gap_names_a_test_that_exists() -> None:
    doc = (ROOT / "docs" / "jsonata.md").read_text()

    assert len(gap_rows(doc)) >= 8
    assert missing_pins(doc) == []
