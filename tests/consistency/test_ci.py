"""CI: what .ci/run runs, through the Makefile, so that a linter's finding blocks a change as a
failing test does."""

import shlex
import subprocess

from tests.consistency.conftest import ROOT


def commands(script: str) -> list[list[str]]:
    """The commands of a shell script, comments and blank lines left out."""
    lines = (line.split("#", 1)[0].strip() for line in script.splitlines())
    return [shlex.split(line) for line in lines if line]


def test_ci_runs_the_linters_then_the_tests_through_the_makefile():
    ran = commands((ROOT / ".ci" / "run").read_text())

    makes = [command for command in ran if command[0] == "make"]
    assert makes == [["make", "lint"], ["make", "test"]]
    assert ["set", "-euo", "pipefail"] in ran  # a failing lint stops the run, failed


def test_make_lint_runs_ruff_and_mypy():
    planned = subprocess.run(
        ["make", "--dry-run", "--no-print-directory", "lint"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    tools = [shlex.split(line)[0].rsplit("/", 1)[-1:] + shlex.split(line)[1:] for line in
             planned.splitlines() if "/ruff " in line or line.endswith("/mypy")]  # fmt: skip

    assert tools == [["ruff", "check", "."], ["ruff", "format", "--check", "."], ["mypy"]]
