"""The cold-start harness: Lambda's environment, the task roots, the figures it derives."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench import coldstart

ACQUIRE_LOCK = "functions.handlers.acquire_lock"


def test_every_handler_module_has_its_function_in_the_template():
    functions = coldstart.functions_by_module()

    assert set(coldstart.handler_modules()) <= set(functions)
    assert functions[ACQUIRE_LOCK].name == "AcquireLockFunction"
    assert functions[ACQUIRE_LOCK].handler == f"{ACQUIRE_LOCK}.lambda_handler"
    assert functions[ACQUIRE_LOCK].memory_mb == 256


def test_the_environment_is_lambdas_and_the_functions_and_nothing_of_this_shell(tmp_path):
    function = coldstart.functions_by_module()[ACQUIRE_LOCK]

    env = coldstart.lambda_environment(function, tmp_path, "3.12", tmp_path, bytecode=True)
    plain = coldstart.lambda_environment(function, tmp_path, "3.12", tmp_path, bytecode=False)

    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "wallet-AcquireLockFunction"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert env["LAMBDA_TASK_ROOT"] == env["PYTHONPATH"] == str(tmp_path)
    assert env["_HANDLER"] == f"{ACQUIRE_LOCK}.lambda_handler"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_XRAY_DAEMON_ADDRESS"] == "169.254.79.129:2000"
    assert env["AWS_REGION"] == "us-east-1"
    # The template's environment, a !Ref as the resource's logical id.
    assert env["AGGREGATES_TABLE_NAME"] == "AggregatesTable"
    assert env["LOCK_LEASE_SECONDS"] == "25"
    assert {k for k in env if k.startswith("PYTHON")} == {"PYTHONPATH"}
    assert plain["PYTHONDONTWRITEBYTECODE"] == "1"


def test_the_spread_of_a_sample():
    figures = coldstart.spread([3.0, 1.0, 100.0, 2.0, 4.0])

    # Quartiles (exclusive method) of 1 2 3 4 100: 1.5 and 52.
    assert figures == {
        "medianMs": 3.0,
        "minMs": 1.0,
        "maxMs": 100.0,
        "iqrMs": 50.5,
        "runsMs": [3.0, 1.0, 100.0, 2.0, 4.0],
    }
    assert coldstart.spread([7.0])["iqrMs"] == 0


def _run(import_ms: float, total_ms: float, clients: list[str], cpu_ms: float = 0) -> dict:
    return {"importMs": import_ms, "importAndClientsMs": total_ms, "clients": clients,
            "importCpuMs": cpu_ms or import_ms, "importAndClientsCpuMs": cpu_ms or total_ms,
            "modules": 500, "xrayContext": None}  # fmt: skip


def test_each_handler_is_held_against_the_baseline_runs_beside_it():
    # The load drifts: the baseline beside the first run took 200 ms, beside the others 100.
    baseline = [_run(300, 400, ["dynamodb"], cpu_ms=c) for c in (200, 100, 100)]
    runs = {
        # A wall time inflated by the neighbours: the CPU time is what is judged.
        ACQUIRE_LOCK: {
            v: [_run(400, 800, ["dynamodb"], cpu_ms=c) for c in (260, 130, 140)]
            for v in coldstart.VARIANTS
        },
        "functions.handlers.get_transactions": {
            v: [_run(500, 500, ["dynamodb", "secrets"], cpu_ms=110)] * 3 for v in coldstart.VARIANTS
        },
        "functions.handlers.forward_events": {
            v: [_run(600, 600, ["event_bus"])] * 3 for v in coldstart.VARIANTS
        },
    }
    paired = {
        ACQUIRE_LOCK: {v: baseline for v in coldstart.VARIANTS},
        "functions.handlers.get_transactions": {
            v: [_run(300, 400, ["dynamodb", "secrets"], cpu_ms=100)] * 3 for v in coldstart.VARIANTS
        },
        "functions.handlers.forward_events": {
            v: [_run(300, 300, ["event_bus"])] * 3 for v in coldstart.VARIANTS
        },
    }

    figures = coldstart.summarise(runs, paired, "python3.12", "3.12", 3, [])

    acquire = figures["handlers"][ACQUIRE_LOCK]["withBytecode"]
    # Each run over the baseline beside it (1.3 1.3 1.4), not the medians' 140/100.
    assert acquire["cpuPairRatios"] == [1.3, 1.3, 1.4]
    assert acquire["cpuRatioToBaseline"] == 1.3
    assert acquire["ratioToBaseline"] == 2.0
    assert acquire["baselineCpu"]["medianMs"] == 100
    # A handler's second client is the baseline's too.
    assert (
        figures["handlers"]["functions.handlers.get_transactions"]["withBytecode"][
            "cpuRatioToBaseline"
        ]
        == 1.1
    )
    # Only the DynamoDB handlers are held to the target: forward_events builds no such client.
    assert figures["target"] == {
        "ratio": 1.2,
        "judgedOn": "cpuRatioToBaseline",
        "worstDynamodbHandler": ACQUIRE_LOCK,
        "worstRatio": 1.3,
        "worstWallRatio": 2.0,
        "met": False,
    }
    # The baseline's row: its runs that built one DynamoDB client.
    assert figures["baseline"]["clients"] == ["dynamodb"]
    assert figures["baseline"]["withBytecode"]["importAndClientsCpu"]["runsMs"] == [200, 100, 100]
    assert coldstart.BASELINE not in figures["handlers"]


def test_the_baseline_row_is_of_the_clients_most_handlers_build():
    handlers = {m: ["dynamodb", "secrets"] for m in (ACQUIRE_LOCK, "functions.handlers.get_hold")}
    handlers["functions.handlers.forward_events"] = ["event_bus"]
    runs = {m: {v: [_run(300, 300, c)] for v in coldstart.VARIANTS} for m, c in handlers.items()}
    paired = {
        m: {v: [_run(200, 200, c, cpu_ms=cpu)] for v in coldstart.VARIANTS}
        for (m, c), cpu in zip(handlers.items(), (100, 110, 900), strict=True)
    }

    figures = coldstart.summarise(runs, paired, "python3.12", "3.12", 1, [])

    # No handler builds one DynamoDB client alone: the row is not labelled with one.
    assert figures["baseline"]["clients"] == ["dynamodb", "secrets"]
    assert figures["baseline"]["withBytecode"]["importAndClientsCpu"]["runsMs"] == [100, 110]


def test_without_an_interpreter_of_the_runtimes_version_this_one_is_used(monkeypatch):
    monkeypatch.setattr(coldstart, "python_candidates", lambda version: [])

    executable, version = coldstart.runtime_python("3.99")

    assert executable == sys.executable
    assert version == f"{sys.version_info.major}.{sys.version_info.minor}"


@pytest.fixture(scope="module")
def roots():
    python, _ = coldstart.runtime_python("3.12")
    with coldstart.task_roots(python) as built:
        yield python, built


SYS_PATH_PROBE = (
    "import sys, json, functions.settings as m; print(json.dumps([sys.path, "
    "sys.dont_write_bytecode, m.__cached__ is not None and __import__('os').path.exists("
    "m.__cached__)]))"
)


def _probe_sys(python: str, built: dict, variant: str) -> list:
    function = coldstart.functions_by_module()[ACQUIRE_LOCK]
    root: Path = built[variant]
    env = coldstart.lambda_environment(
        function, root, "3.12", built["home"], bytecode=variant == "withBytecode"
    )
    ran = subprocess.run(
        [python, "-S", "-c", SYS_PATH_PROBE],
        capture_output=True, text=True, env=env, cwd=root, check=True,
    )  # fmt: skip
    return json.loads(ran.stdout)


def test_only_the_bundle_is_on_the_path_and_only_one_tree_has_bytecode(roots):
    python, built = roots

    path, no_writes, cached = _probe_sys(python, built, "withoutBytecode")
    assert not any("site-packages" in entry for entry in path)
    assert str(built["withoutBytecode"]) in path
    assert (no_writes, cached) == (True, False)
    assert not list(built["withoutBytecode"].rglob("*.pyc"))

    _, no_writes, cached = _probe_sys(python, built, "withBytecode")
    assert (no_writes, cached) == (False, True)


def test_a_handler_probe_times_its_import_and_its_client(roots):
    python, built = roots
    function = coldstart.functions_by_module()[ACQUIRE_LOCK]

    measured = coldstart.probe(python, "3.12", ACQUIRE_LOCK, function, built, "withBytecode")

    assert measured["clients"] == ["dynamodb"]
    assert 0 < measured["importMs"] <= measured["importAndClientsMs"]
    assert 0 < measured["importCpuMs"] <= measured["importAndClientsCpuMs"]
    assert measured["xrayContext"] is None  # no X-Ray SDK in the bundle any more


def test_the_baseline_builds_the_clients_it_is_given(roots):
    python, built = roots
    function = coldstart.functions_by_module()[ACQUIRE_LOCK]

    def baseline(*clients: str) -> dict:
        return coldstart.probe(
            python, "3.12", coldstart.BASELINE, function, built, "withBytecode", clients
        )

    assert baseline("dynamodb", "secrets")["clients"] == ["dynamodb", "secrets"]
    assert baseline("event_bus")["clients"] == ["event_bus"]
    assert baseline()["clients"] == []


def test_without_valgrind_no_instructions_are_counted(roots, monkeypatch):
    python, built = roots
    monkeypatch.setattr(coldstart.shutil, "which", lambda name: None)

    counted = coldstart.count_instructions(
        python, "3.12", {ACQUIRE_LOCK: ("dynamodb",)}, coldstart.functions_by_module(), built
    )

    assert counted is None


@pytest.mark.skipif(not shutil.which("valgrind"), reason="valgrind counts the instructions")
def test_instructions_are_counted_beside_the_baseline_of_the_same_clients(roots):
    python, built = roots

    counted = coldstart.count_instructions(
        python, "3.12", {ACQUIRE_LOCK: ("dynamodb",)}, coldstart.functions_by_module(), built
    )

    assert counted is not None
    acquire = counted["handlers"][ACQUIRE_LOCK]
    # The handler does all the baseline does (boto3 and its client) and its own imports.
    assert acquire["instructions"] > acquire["baselineInstructions"] > 100_000_000
    assert acquire["ratioToBaseline"] == round(
        acquire["instructions"] / acquire["baselineInstructions"], 3
    )


@pytest.mark.skipif(not shutil.which("valgrind"), reason="valgrind counts the instructions")
def test_a_module_that_does_not_import_under_valgrind_is_a_cold_start_error(roots):
    python, built = roots

    with pytest.raises(coldstart.ColdStartError, match="nope under valgrind"):
        coldstart.count_instructions(
            python, "3.12", {"functions.handlers.nope": ()},
            {**coldstart.functions_by_module(), "functions.handlers.nope":
             coldstart.functions_by_module()[ACQUIRE_LOCK]}, built,
        )  # fmt: skip


def test_a_valgrind_that_reports_no_count_is_a_cold_start_error(roots, tmp_path, monkeypatch):
    python, built = roots
    # A valgrind that ends well but prints no "I refs" line.
    silent = tmp_path / "valgrind"
    silent.write_text("#!/bin/sh\nexit 0\n")
    silent.chmod(0o755)
    monkeypatch.setattr(coldstart, "VALGRIND", (str(silent),))

    with pytest.raises(coldstart.ColdStartError, match="bench_baseline under valgrind"):
        coldstart.count_instructions(
            python, "3.12", {ACQUIRE_LOCK: ("dynamodb",)}, coldstart.functions_by_module(), built
        )


def test_a_module_that_does_not_import_is_a_cold_start_error(roots):
    python, built = roots
    function = coldstart.functions_by_module()[ACQUIRE_LOCK]

    with pytest.raises(coldstart.ColdStartError, match="No module named"):
        coldstart.probe(python, "3.12", "functions.handlers.nope", function, built, "withBytecode")


def test_a_baseline_run_that_measured_nothing_is_a_cold_start_error():
    # Its pair would have no ratio, and a handler without one would pass the target unjudged.
    handler = [{"importAndClientsCpuMs": 300.0}, {"importAndClientsCpuMs": 310.0}]
    baseline = [{"importAndClientsCpuMs": 290.0}, {"importAndClientsCpuMs": 0.0}]

    with pytest.raises(coldstart.ColdStartError, match="measured 0 for importAndClientsCpuMs"):
        coldstart.pair_ratios(handler, baseline, "importAndClientsCpuMs")
    assert coldstart.pair_ratios(handler[:1], baseline[:1], "importAndClientsCpuMs") == [1.034]
