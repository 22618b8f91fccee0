"""make build: the one Lambda code asset, for the runtime and architecture the template names.

.build/lambda holds the `functions` package and the wheels of requirements.txt for that runtime
and architecture (manylinux2014_aarch64 for arm64), so every handler imports exactly as it does in
the tests. Native modules are checked to be built for the target machine.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "infra" / "template.yaml"
REQUIREMENTS = ROOT / "requirements.txt"
SOURCE = ROOT / "functions"

# ELF e_machine values: what a shared object was compiled for.
ELF_MACHINES = {"arm64": 183, "x86_64": 62}
PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}


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


def pip_install_command(build: Target) -> list[str]:
    return [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--requirement", str(REQUIREMENTS),
        "--target", str(build.code_uri),
        "--platform", build.platform,
        "--implementation", "cp",
        "--python-version", build.python_version,
        "--only-binary=:all:",
        "--no-compile",
    ]  # fmt: skip


def foreign_binaries(directory: Path, architecture: str) -> list[Path]:
    """Shared objects under `directory` not compiled for `architecture`."""
    wanted = ELF_MACHINES[architecture]
    foreign = []
    for path in sorted(directory.rglob("*.so*")):
        header = path.read_bytes()[:20]
        if header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") != wanted:
            foreign.append(path)
    return foreign


def build(build_target: Target) -> None:
    out = build_target.code_uri
    shutil.rmtree(out, ignore_errors=True)
    ignored = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(SOURCE, out / "functions", ignore=ignored)
    subprocess.run(pip_install_command(build_target), check=True)
    foreign = foreign_binaries(out, build_target.architecture)
    if foreign:
        names = "\n  ".join(str(path.relative_to(out)) for path in foreign)
        raise SystemExit(f"not built for {build_target.architecture}:\n  {names}")
    size = sum(path.stat().st_size for path in out.rglob("*") if path.is_file())
    print(
        f"{out.relative_to(ROOT)}: {build_target.runtime} {build_target.architecture}, "
        f"{size / 2**20:.1f} MiB unzipped (Lambda's limit is 250 MiB)"
    )


if __name__ == "__main__":
    build(target())
