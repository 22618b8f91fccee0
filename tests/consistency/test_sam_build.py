"""`sam build`: every function is built by the project's own build, once for all of them.

SAM CLI builds each function with `BuildMethod: makefile` on its own (samcli/lib/build/
build_graph.py: a makefile build definition equals no other), running `make build-<LogicalId>`
with ARTIFACTS_DIR set (aws_lambda_builders/workflows/custom_make/actions.py). The template tells
it which Makefile (ContextPath), where to run it (WorkingDirectory) and what to copy to a scratch
folder first (ProjectRootDirectory), all relative to the template's folder.
"""

import os
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import build
from tests.consistency.conftest import ROOT, TEMPLATE_PATH

# What every AWS::Serverless::Function carries (Globals cannot hold Metadata).
SAM_BUILD_METADATA = {
    "BuildMethod": "makefile",
    "ProjectRootDirectory": "../functions",
    "ContextPath": "..",
    "WorkingDirectory": "..",
}


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def test_every_function_is_built_by_the_makefile_at_the_root(sam_template):
    block = yaml.safe_dump({"Metadata": SAM_BUILD_METADATA}, sort_keys=False)
    how = "give it, between its Type and its Properties (docs/deploy.md, sam build):\n" + block

    for name, function in functions(sam_template).items():
        assert function.get("Metadata") == SAM_BUILD_METADATA, f"{name}: {how}"


def test_the_build_metadata_names_folders_of_the_repository():
    base = TEMPLATE_PATH.parent

    assert (base / SAM_BUILD_METADATA["ContextPath"]).resolve() == ROOT
    assert (base / SAM_BUILD_METADATA["WorkingDirectory"]).resolve() == ROOT
    # Copied by SAM CLI before make runs, so it must exist in a clone (the bundle does not), and
    # the working directory must not be inside it, or SAM CLI would run make in the copy.
    scratch_source = (base / SAM_BUILD_METADATA["ProjectRootDirectory"]).resolve()
    assert scratch_source == build.SOURCE
    assert not ROOT.is_relative_to(scratch_source)
    assert (ROOT / "Makefile").is_file()


def make_commands(goal: str, artifacts_dir: str) -> list[list[str]]:
    """The commands `make -n <goal>` prints, run as SAM CLI runs it (nothing is executed)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    env["ARTIFACTS_DIR"] = artifacts_dir
    printed = subprocess.run(
        ["make", "--no-print-directory", "-n", "--makefile", str(ROOT / "Makefile"), goal],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [shlex.split(line) for line in printed.splitlines()]


def test_make_has_the_target_sam_build_runs_for_every_function(sam_template, tmp_path):
    for name in functions(sam_template):
        artifacts_dir = str(tmp_path / ".aws-sam" / "build" / name)

        commands = make_commands(f"build-{name}", artifacts_dir)

        assert commands[-1] == [
            ".venv/bin/python", "-m", "infra.build", "--artifacts-dir", artifacts_dir
        ], name  # fmt: skip


# The build, once for every function: a fake build in place of pip, in a temporary folder.


@pytest.fixture
def sources(tmp_path, monkeypatch) -> Path:
    """A `functions` package of one module, the bundle's only source; no compiler found."""
    package = tmp_path / "functions"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "handler.py").write_text("def lambda_handler(event, context):\n    return {}\n")
    monkeypatch.setattr(build, "SOURCE", package)
    monkeypatch.setattr(build, "compiler_candidates", lambda _: [])
    return package


@pytest.fixture
def bundle_target(tmp_path) -> build.Target:
    return build.Target("python3.12", "arm64", tmp_path / ".build" / "lambda")


class FakeBuild:
    """Copies the sources as the real build does, counting its runs, slowly enough to overlap."""

    def __init__(self) -> None:
        self.runs = 0

    def __call__(self, build_target: build.Target) -> None:
        self.runs += 1
        time.sleep(0.05)
        build_target.code_uri.mkdir(parents=True, exist_ok=True)
        for path in build.inputs().values():
            if path.is_relative_to(build.SOURCE):
                copied = build_target.code_uri / "functions" / path.relative_to(build.SOURCE)
                copied.parent.mkdir(parents=True, exist_ok=True)
                copied.write_bytes(path.read_bytes())


def test_functions_built_at_once_share_one_build(sources, bundle_target):
    fake = FakeBuild()
    built: list[bool] = []
    # `sam build --parallel`: one make, so one process, per function at the same time.
    threads = [
        threading.Thread(target=lambda: built.append(build.build_once(bundle_target, fake)))
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert fake.runs == 1
    assert sorted(built) == [False] * 5 + [True]
    assert build.is_built(bundle_target)


@pytest.mark.parametrize(
    "change",
    [
        lambda package: (package / "handler.py").write_text("def lambda_handler(e, c): ...\n"),
        lambda package: (package / "domain.py").write_text("VALUE = 1\n"),
        lambda package: (package / "handler.py").unlink(),
    ],
    ids=["edited", "added", "removed"],
)
def test_a_changed_source_is_built_again(sources, bundle_target, change):
    fake = FakeBuild()
    assert build.build_once(bundle_target, fake)
    assert not build.build_once(bundle_target, fake)

    change(sources)

    assert not build.is_built(bundle_target)
    assert build.build_once(bundle_target, fake)
    assert fake.runs == 2


def test_another_target_or_compiler_is_another_build(sources, bundle_target):
    x86 = build.Target("python3.12", "x86_64", bundle_target.code_uri)

    assert build.fingerprint(bundle_target, None) != build.fingerprint(x86, None)
    assert build.fingerprint(bundle_target, None) != build.fingerprint(
        bundle_target, "/usr/bin/python3.12"
    )


def test_a_failed_build_is_not_reused(sources, bundle_target):
    def failing(build_target: build.Target) -> None:
        build_target.code_uri.mkdir(parents=True)
        raise SystemExit("not built for arm64")

    fake = FakeBuild()
    assert build.build_once(bundle_target, fake)
    # The next run of the real build starts by removing the bundle; this one fails halfway.
    bundle_target.code_uri.rename(bundle_target.code_uri.with_name("old"))

    with pytest.raises(SystemExit, match="not built for arm64"):
        build.build_once(bundle_target, failing)

    assert not build.is_built(bundle_target)
    assert build.build_once(bundle_target, fake)


def test_each_function_gets_the_whole_bundle(tmp_path):
    bundle = tmp_path / "lambda"
    (bundle / "functions" / "handlers").mkdir(parents=True)
    (bundle / "functions" / "handlers" / "get_balance.py").write_text("HANDLER = 1\n")
    (bundle / "boto3.py").write_text("BOTO3 = 1\n")
    artifacts_dir = tmp_path / ".aws-sam" / "build" / "GetBalanceFunction"
    artifacts_dir.mkdir(parents=True)  # SAM CLI creates it before it runs make

    build.copy_bundle(bundle, artifacts_dir)
    # The bundle rebuilt (new files, as the build writes them), then copied into the same folder.
    (bundle / "boto3.py").unlink()
    (bundle / "boto3.py").write_text("BOTO3 = 2\n")
    build.copy_bundle(bundle, artifacts_dir)

    copied = sorted(p.relative_to(artifacts_dir).as_posix() for p in artifacts_dir.rglob("*.py"))
    assert copied == ["boto3.py", "functions/handlers/get_balance.py"]
    assert (artifacts_dir / "boto3.py").read_text() == "BOTO3 = 2\n"
    assert (artifacts_dir / "functions" / "handlers" / "get_balance.py").read_text() == (
        "HANDLER = 1\n"
    )


def test_without_artifacts_dir_make_says_what_to_run(capsys):
    with pytest.raises(SystemExit, match="run make build"):
        build.main(["--artifacts-dir", ""])


def test_a_failed_install_is_a_message_not_a_traceback(bundle_target, monkeypatch):
    failing_pip = [sys.executable, "-c", "raise SystemExit('ERROR: No matching distribution')"]
    monkeypatch.setattr(build, "pip_install_command", lambda _: failing_pip)

    with pytest.raises(SystemExit, match=r"pip could not install requirements\.txt for python3"):
        build.build(bundle_target)
