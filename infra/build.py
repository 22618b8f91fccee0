"""make build: the one Lambda code asset, for the runtime and architecture the template names.

.build/lambda holds the `functions` package and the wheels of the runtime lock, requirements.txt,
for that runtime and architecture (manylinux2014_aarch64 for arm64), so every handler imports
exactly as it does in the tests. pip installs the lock's pins and nothing else (no resolving here),
each checked against the lock's hashes; the bundle is then checked to hold exactly those pins, and
its native modules to be built for the target machine.

Lambda's /var/task is read-only, so a bundle without bytecode makes every cold start compile each
module it imports (boto3, botocore, Powertools) and throw the result away. When an
interpreter of exactly the runtime's version is found ($LAMBDA_PYTHON, else python3.12 on the
PATH), the bundle is compiled with it: bytecode is only used by the version that wrote it.

`sam build` runs `make build-<LogicalId>` once per function (Metadata: BuildMethod: makefile in
the template), several at once with --parallel; each runs `python -m infra.build --artifacts-dir`,
which builds the bundle only if it was not already built from the same inputs (a fingerprint
beside it, taken under a lock) and copies it into that function's ARTIFACTS_DIR.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "infra" / "template.yaml"
# The runtime lock (`make lock`): every package the Lambda code needs, pinned, with its hashes.
REQUIREMENTS = ROOT / "requirements.txt"
SOURCE = ROOT / "functions"

# ELF e_machine values: what a shared object was compiled for.
ELF_MACHINES = {"arm64": 183, "x86_64": 62}
PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
# An interpreter of the runtime's version to compile the bundle with, when python3.12 on the PATH
# is not one (a pyenv shim of an inactive version, say).
COMPILER_ENV = "LAMBDA_PYTHON"
# A pin of the lock: `name==version`, then an environment marker or the line's continuation.
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(;[^\\]*)?", re.MULTILINE)


@dataclass(frozen=True)
class Target:
    runtime: str  # "python3.12"
    architecture: str  # "arm64"
    code_uri: Path

    @property
    def python_version(self) -> str:
        return self.runtime.removeprefix("python")

    @property
    def platform(self) -> str:
        return PLATFORMS[self.architecture]


def target(template_path: Path = TEMPLATE_PATH) -> Target:
    """The runtime, architecture and CodeUri every function of the template shares (Globals)."""
    document = cfn_yaml.load(str(template_path))
    function = document["Globals"]["Function"]
    [architecture] = function["Architectures"]
    return Target(
        runtime=str(function["Runtime"]),
        architecture=str(architecture),
        code_uri=(template_path.parent / str(function["CodeUri"])).resolve(),
    )


def canonical(name: str) -> str:
    """A distribution's name as PyPI compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(lock: str) -> dict[str, str]:
    """The pins of a lock file's text, {canonical name: version}.

    Raises: SystemExit for a pin with an environment marker: pip would evaluate it for the machine
    that builds, not for Lambda's, and a package needed on one would be left out on the other.
    """
    pins = {}
    for name, version, marker in PIN.findall(lock):
        if marker:
            raise SystemExit(f"{name}=={version} has a marker ({marker.strip('; ')}): see build.py")
        pins[canonical(name)] = version
    return pins


def bundled(directory: Path) -> dict[str, str]:
    """The distributions installed under `directory`, {canonical name: version}."""
    return {
        canonical(dist.metadata["Name"]): dist.version
        for dist in importlib.metadata.distributions(path=[str(directory)])
    }


def check_locked(directory: Path, pins: dict[str, str]) -> None:
    """Raises: SystemExit if the distributions under `directory` are not exactly `pins`."""
    installed = bundled(directory)
    unlocked = sorted(f"{name}=={v}" for name, v in installed.items() if pins.get(name) != v)
    missing = sorted(f"{name}=={v}" for name, v in pins.items() if installed.get(name) != v)
    if unlocked or missing:
        raise SystemExit(
            f"the bundle is not {REQUIREMENTS.name}: not in it {unlocked}, missing {missing}"
        )


def pip_install_command(build: Target) -> list[str]:
    return [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--requirement", str(REQUIREMENTS),
        # The lock lists every package: install exactly those, each file checked by its hash.
        "--no-deps", "--require-hashes",
        "--target", str(build.code_uri),
        "--platform", build.platform,
        "--implementation", "cp",
        "--python-version", build.python_version,
        "--only-binary=:all:",
        # This interpreter's bytecode would be for its own version, not the runtime's.
        "--no-compile",
    ]  # fmt: skip


def interpreter_version(executable: str) -> str | None:
    """The version of a working interpreter ("3.12"); None for a missing or broken one."""
    probe = "import sys; print('%d.%d' % sys.version_info[:2])"
    try:
        ran = subprocess.run([executable, "-c", probe], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return ran.stdout.strip() if ran.returncode == 0 else None


def compiler_candidates(build_target: Target) -> list[str]:
    found = shutil.which(build_target.runtime)  # "python3.12" is also the executable's name
    return [name for name in (os.environ.get(COMPILER_ENV), found) if name]


def find_compiler(python_version: str, candidates: Iterable[str]) -> str | None:
    """The first candidate that runs and is exactly `python_version`."""
    for candidate in candidates:
        if interpreter_version(candidate) == python_version:
            return candidate
    return None


def compile_command(executable: str, directory: Path) -> list[str]:
    # unchecked-hash: the runtime uses the bytecode without comparing it to the source. Bytecode
    # checked by timestamp would not do: a zip keeps mtimes to 2 s, so about half the files would
    # look changed and be compiled again, in memory, at every cold start.
    return [
        executable, "-m", "compileall", "-q", "-j", "0",
        "--invalidation-mode", "unchecked-hash", str(directory),
    ]  # fmt: skip


def compile_bundle(executable: str, directory: Path) -> int:
    """Compile every module under `directory` with `executable`; the number of .pyc files."""
    ran = subprocess.run(compile_command(executable, directory), capture_output=True, text=True)
    if ran.returncode != 0:
        raise SystemExit(f"compileall failed:\n{ran.stdout}{ran.stderr}")
    return sum(1 for _ in directory.rglob("*.pyc"))


def foreign_binaries(directory: Path, architecture: str) -> list[Path]:
    """Shared objects under `directory` not compiled for `architecture`."""
    wanted = ELF_MACHINES[architecture]
    foreign = []
    for path in sorted(directory.rglob("*.so*")):
        header = path.read_bytes()[:20]
        if header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") != wanted:
            foreign.append(path)
    return foreign


def inputs() -> dict[str, Path]:
    """The files the bundle is built from, by name: the lock, this builder, functions/ as copied."""
    sources = {
        f"functions/{path.relative_to(SOURCE).as_posix()}": path
        for path in sorted(SOURCE.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    return {"requirements.txt": REQUIREMENTS, "infra/build.py": Path(__file__), **sources}


def fingerprint(build_target: Target, compiler: str | None) -> str:
    """A digest of everything a build depends on: equal fingerprints, equal bundles."""
    digest = hashlib.sha256()
    described = (build_target.runtime, build_target.architecture, compiler)
    digest.update(repr(described).encode())
    for name, path in inputs().items():
        data = path.read_bytes()
        digest.update(f"\0{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def fingerprint_path(bundle: Path) -> Path:
    # Beside the bundle, not in it: SAM zips the whole folder.
    return bundle.with_name(f"{bundle.name}.fingerprint")


def build(build_target: Target) -> None:
    out = build_target.code_uri
    shutil.rmtree(out, ignore_errors=True)
    ignored = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(SOURCE, out / "functions", ignore=ignored)
    pins = locked(REQUIREMENTS.read_text())
    if subprocess.run(pip_install_command(build_target)).returncode != 0:
        raise SystemExit(
            f"pip could not install {REQUIREMENTS.name} for {build_target.runtime} "
            f"{build_target.architecture} (its message is above): no bundle was built"
        )
    check_locked(out, pins)
    foreign = foreign_binaries(out, build_target.architecture)
    if foreign:
        names = "\n  ".join(str(path.relative_to(out)) for path in foreign)
        raise SystemExit(f"not built for {build_target.architecture}:\n  {names}")
    compiler = find_compiler(build_target.python_version, compiler_candidates(build_target))
    if compiler is None:
        bytecode = (
            f"no bytecode: no working {build_target.runtime} found (set {COMPILER_ENV}), so each "
            "cold start compiles the modules it imports"
        )
    else:
        bytecode = f"{compile_bundle(compiler, out)} modules compiled by {compiler}"
    size = sum(path.stat().st_size for path in out.rglob("*") if path.is_file())
    print(
        f"{out.relative_to(ROOT)}: {build_target.runtime} {build_target.architecture}, "
        f"{size / 2**20:.1f} MiB unzipped (Lambda's limit is 250 MiB); {bytecode}"
    )


def current_fingerprint(build_target: Target) -> str:
    compiler = find_compiler(build_target.python_version, compiler_candidates(build_target))
    return fingerprint(build_target, compiler)


def build_recorded(build_target: Target, run: Callable[[Target], None] = build) -> None:
    """Build, then record what from (the inputs as they were when the build started)."""
    stamp = fingerprint_path(build_target.code_uri)
    built_from = current_fingerprint(build_target)
    # A bundle half rebuilt, or left by a build that failed, is not the one fingerprinted.
    stamp.unlink(missing_ok=True)
    run(build_target)
    stamp.write_text(built_from)


def is_built(build_target: Target) -> bool:
    """Whether the bundle on disk was built from the current inputs."""
    stamp = fingerprint_path(build_target.code_uri)
    if not (build_target.code_uri.is_dir() and stamp.is_file()):
        return False
    return stamp.read_text() == current_fingerprint(build_target)


def build_once(build_target: Target, run: Callable[[Target], None] = build) -> bool:
    """Build the bundle unless it is already built from the current inputs; True if it built.

    The lock makes concurrent callers (`sam build --parallel`) wait for one build and reuse it.
    """
    out = build_target.code_uri
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.with_name(f"{out.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed, or the process dies
        if is_built(build_target):
            return False
        build_recorded(build_target, run)
        return True


def link_or_copy(source: str, destination: str) -> None:
    # A hard link: thirteen functions would otherwise hold thirteen copies of the bundle. Safe
    # because a build never rewrites a file in place (it removes the bundle and writes new files).
    if os.path.lexists(destination):
        os.remove(destination)  # left by an earlier build into the same folder
    try:
        os.link(source, destination)
    except OSError:  # another filesystem, or one without hard links
        shutil.copy2(source, destination)


def copy_bundle(bundle: Path, artifacts_dir: Path) -> None:
    """The whole bundle into one function's ARTIFACTS_DIR, which SAM CLI zips as its code."""
    shutil.copytree(bundle, artifacts_dir, dirs_exist_ok=True, copy_function=link_or_copy)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m infra.build",
        description="The Lambda code asset in .build/lambda (make build), or in one function's "
        "build folder (sam build).",
    )
    parser.add_argument(
        "--artifacts-dir",
        help="as `sam build` runs it (make build-<LogicalId>): build unless already built from "
        "the same inputs, then copy the bundle into this folder",
    )
    artifacts_dir = parser.parse_args(argv).artifacts_dir
    build_target = target()
    if artifacts_dir is None:
        build_recorded(build_target)
        return
    if not artifacts_dir:
        raise SystemExit(
            "ARTIFACTS_DIR is empty: `sam build` sets it when it runs make build-<LogicalId>. "
            "To build the bundle yourself, run make build."
        )
    if not build_once(build_target):
        print(f"{build_target.code_uri.relative_to(ROOT)}: already built from these sources")
    copy_bundle(build_target.code_uri, Path(artifacts_dir))


if __name__ == "__main__":
    main()
