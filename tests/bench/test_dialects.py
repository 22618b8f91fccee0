"""The dialect phase of the bench (tests/bench/dialects.py): the JSONPath baseline fixture renders
as the deployed machine does and still commits, and a section runs alone. Timings never asserted."""

import json

import pytest

from infra.local.cloudformation.template import Template
from infra.local.runtime import LocalAws
from tests.bench import __main__ as cli
from tests.bench import dialects, report, suite


@pytest.fixture(scope="module")
def section_result():
    return suite.run_sections({"dialects"}, suite.Sizes.quick(), quick=True)


def test_the_baseline_is_the_jsonpath_machine_with_the_same_states_and_placeholders():
    spec = Template.load().state_machines[dialects.MACHINE]
    baseline = json.loads(dialects.baseline_definition(spec))
    deployed = json.loads(spec.definition)

    assert "QueryLanguage" not in baseline  # JSONPath, the default
    assert deployed["QueryLanguage"] == "JSONata"
    assert list(baseline["States"]) == list(deployed["States"])
    assert "${" not in json.dumps(baseline)
    for name, state in baseline["States"].items():
        if state["Type"] == "Task":  # the same functions and table, with the same retries
            assert state["Parameters"].get("FunctionName") == deployed["States"][name][
                "Arguments"
            ].get("FunctionName"), name
            assert state["Parameters"].get("TableName") == deployed["States"][name][
                "Arguments"
            ].get("TableName"), name
            assert state["Retry"] == deployed["States"][name]["Retry"], name


def test_substitutions_are_read_from_the_rendered_text():
    raw = '{"a": "${One}", "b": "${Two}", "c": "${One}"}'

    assert dialects.substitutions(raw, '{"a": "x:1", "b": "y", "c": "x:1"}') == {
        "One": "x:1",
        "Two": "y",
    }
    with pytest.raises(ValueError, match="placeholders"):
        dialects.substitutions(raw, '{"a": "x", "b": "y", "c": "other"}')


def test_a_placeholder_without_a_value_is_refused():
    with pytest.raises(KeyError):
        dialects.render('{"a": "${Missing}"}', {"Other": "x"})


def test_a_definition_is_measured_by_size_and_states():
    text = '{\n  "StartAt": "A",\n  "States": {"A": {"Type": "Succeed"}}\n}\n'

    assert dialects.definition_figures(text) == {
        "queryLanguage": "JSONPath",
        "bytes": len(text),
        "compactBytes": len('{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}'),
        "lines": 4,
        "states": 1,
    }


def test_a_section_measures_both_dialects_on_the_same_run(section_result, tmp_path):
    measured = section_result["dialects"]

    assert section_result["sections"] == ["dialects"]
    assert measured["pairs"] == suite.Sizes.quick().dialect_pairs
    assert measured["definition"]["jsonata"]["queryLanguage"] == "JSONata"
    assert measured["definition"]["jsonpath"]["queryLanguage"] == "JSONPath"
    for dialect in dialects.DIALECTS:
        for kind in ("executionMs", "cpuMs", "clientMs"):
            assert measured[dialect][kind]["count"] == measured["pairs"], (dialect, kind)
    assert set(measured["ratioOfMedians"]) == {"execution", "cpu", "client"}
    path = suite.write(section_result, tmp_path)
    assert path.name.endswith("-dialects.json")
    assert not (tmp_path / "latest.json").exists()  # that stays the last full run
    assert "JSONata / JSONPath" in report.section_text(json.loads(path.read_text()))


def test_an_execution_that_does_not_commit_stops_the_phase_and_removes_the_baseline(
    monkeypatch, tmp_path
):
    failing = tmp_path / "failing.asl.json"
    failing.write_text(json.dumps({"StartAt": "No", "States": {"No": {"Type": "Fail"}}}))
    monkeypatch.setattr(dialects, "BASELINE_PATH", failing)

    with LocalAws() as aws:
        with pytest.raises(dialects.DialectError, match="FAILED"):
            dialects.measure(aws, 1)

        names = [m["name"] for m in aws.stepfunctions.list_state_machines()["stateMachines"]]
        assert dialects.BASELINE_NAME not in names
        assert dialects.MACHINE in names


def test_an_unknown_section_is_refused(capsys):
    with pytest.raises(ValueError, match="unknown sections: nothing"):
        suite.run_sections({"nothing"}, suite.Sizes.quick(), quick=True)
    with pytest.raises(SystemExit):
        cli.main(["--sections", "nothing"])
    assert "unknown sections: nothing" in capsys.readouterr().err


def test_a_failed_section_fails_the_command(monkeypatch, capsys):
    def failing(*_args, **_kwargs):
        raise suite.BenchError("transaction machine: JSONata|JSONPath: FAILED")

    monkeypatch.setattr(suite, "run_sections", failing)

    assert cli.main(["--sections", "dialects", "--quick"]) == 1
    assert "bench failed" in capsys.readouterr().err
