"""`make reliability` itself, at a tiny size: worker processes, faults under load, HTTP, figures."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability import soak

ROOT = Path(__file__).resolve().parents[2]


def test_soak_runs_end_to_end_and_reports_no_violation():
    # The in-process phases it skips here run in make test as tests of their own.
    command = [sys.executable, "-m", "tests.reliability", "--phases", "http",
               "--operations", "96", "--processes", "2", "--threads", "8", "--users", "3",
               "--forced-operations", "16", "--http-operations", "24",
               "--fuzz-requests", "20", "--fuzz-examples", "5"]  # fmt: skip
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}

    run = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True,
                         timeout=600)  # fmt: skip

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "violations found: 0" in run.stdout
    assert figure(r"load: (\d+) requests", run.stdout) >= 96  # 429s retried count again
    assert figure(r"faults under load: (\d+) armed", run.stdout) >= 2
    assert figure(r"http workload: 201 applied (\d+)", run.stdout) > 0
    assert figure(r"http fuzzing \(schemathesis\): (\d+) requests", run.stdout) >= 20
    assert "ops/s" in run.stderr and "load: 96 operations" in run.stderr  # the progress display


def test_an_unknown_phase_is_refused_before_anything_runs(capsys):
    with pytest.raises(SystemExit) as exit_:
        soak.main(["--phases", "http,nope"])

    assert exit_.value.code == 2
    assert "unknown phases: nope" in capsys.readouterr().err


def figure(pattern: str, text: str) -> int:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in the output:\n{text}"
    return int(match.group(1))
