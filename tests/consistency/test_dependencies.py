"""The dependencies: what the Lambda code imports, the sources of the locks, the locks, and the
bundle `make build` makes from the runtime lock."""

import ast
import importlib.metadata
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra import build
from tests.consistency.conftest import ROOT

RUNTIME_SOURCE = ROOT / "requirements.in"
DEV_SOURCE = ROOT / "requirements-dev.in"
DEV_LOCK = ROOT / "requirements-dev.txt"
# An extra asked of a runtime dependency, and the name under functions/ that needs it: none
# since the functions dropped Powertools' Tracer (docs/tracing.md).
EXTRA_USES: dict[tuple[str, str], str] = {}

REQUIREMENT = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")
EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")
SOURCE_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(\S+)", re.MULTILINE)


def is_type_checking(test: ast.expr) -> bool:
    """`TYPE_CHECKING` or `typing.TYPE_CHECKING`: true for a type checker, false at run time."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports under `node` that run: those under `if TYPE_CHECKING:` only a type checker
    reads (the type stubs, which the bundle does not hold), so only their `else:` counts."""
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    elif isinstance(node, ast.If) and is_type_checking(node.test):
        for statement in node.orelse:
            yield from runtime_imports(statement)
    else:
        for child in ast.iter_child_nodes(node):
            yield from runtime_imports(child)


def imports_of(source: str, filename: str = "<source>") -> set[str]:
    """The top-level names of the absolute imports that run in `source`, the stdlib left out."""
    names: set[str] = set()
    for node in runtime_imports(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names)


def top_level_imports(directory: Path) -> set[str]:
    """The top-level names of the absolute imports that run under `directory`."""
    names: set[str] = set()
    for path in directory.rglob("*.py"):
        names |= imports_of(path.read_text(), filename=str(path))
    return names


def imported_names(directory: Path, module: str) -> set[str]:
    """The names imported from `module` (or its submodules) under `directory`."""
    names: set[str] = set()
    for path in directory.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == module:
                names.update(alias.name for alias in node.names)
    return names


def parse_requirement(text: str) -> tuple[str, set[str], set[str]]:
    """(name, extras asked for, extras its marker needs) of `name[a,b]==1; extra == "c"`."""
    requirement, _, marker = text.partition(";")
    match = REQUIREMENT.match(requirement)
    assert match, text
    extras = {extra.strip() for extra in (match.group(2) or "").split(",") if extra.strip()}
    return match.group(1), extras, set(EXTRA_MARKER.findall(marker))


def requirements(lines: list[str]) -> list[tuple[str, set[str]]]:
    """(name, extras) of each requirement of a requirements file, options and comments left out."""
    found = []
    for line in lines:
        text = line.split("#", 1)[0].strip()
        if text and not text.startswith("-"):
            name, extras, _ = parse_requirement(text)
            found.append((name, extras))
    return found


def runtime_distributions(requirement_lines: list[str]) -> set[str]:
    """The distributions these requirements install: themselves and what they require, with the
    extras they ask for, read from the installed metadata (the tests' virtualenv has every pin of
    the runtime lock). Markers other than `extra` count as true."""
    pending = requirements(requirement_lines)
    seen: dict[str, set[str]] = {}
    while pending:
        name, extras = pending.pop()
        key = build.canonical(name)
        if key in seen and extras <= seen[key]:
            continue
        seen.setdefault(key, set()).update(extras)
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for requirement in requires:
            dependency, dependency_extras, needs_extras = parse_requirement(requirement)
            if not needs_extras or needs_extras & seen[key]:
                pending.append((dependency, dependency_extras))
    return set(seen)


def not_provided(imports: set[str], requirement_lines: list[str]) -> set[str]:
    distributions = runtime_distributions(requirement_lines)
    provided = {
        module
        for module, owners in importlib.metadata.packages_distributions().items()
        if any(build.canonical(owner) in distributions for owner in owners)
    }
    return imports - provided


def pins(lock: Path) -> dict[str, str]:
    """A lock's pins, markers or not (build.locked refuses them, for the runtime lock only)."""
    return {
        build.canonical(name): version for name, version, _ in build.PIN.findall(lock.read_text())
    }


def source_lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


# What the Lambda code imports. The bundle holds the runtime lock only, so the functions may
# import nothing else; the tests' virtualenv has the dev lock too, so importing a handler in a
# test proves nothing.


def test_every_third_party_import_of_the_functions_is_in_requirements_in():
    imports = top_level_imports(ROOT / "functions") - {"functions"}

    assert {"aws_lambda_powertools", "boto3", "botocore"} <= imports
    assert not_provided(imports, source_lines(RUNTIME_SOURCE)) == set()


def test_an_import_that_only_the_dev_requirements_provide_fails_the_check():
    runtime = source_lines(RUNTIME_SOURCE)
    without_boto3 = [line for line in runtime if not line.startswith("boto3")]

    # PyYAML and pytest are in requirements-dev.in, so both import in the tests.
    assert not_provided({"boto3", "yaml", "pytest"}, runtime) == {"yaml", "pytest"}
    assert not_provided({"boto3"}, without_boto3) == {"boto3"}
    # The X-Ray SDK (end of support 2027-02-25) is bundled no more: Lambda traces by itself.
    assert not_provided({"aws_xray_sdk"}, runtime) == {"aws_xray_sdk"}


def test_an_import_under_type_checking_is_no_runtime_import():
    # The functions import boto3's type stubs (a dev requirement) for mypy alone.
    source = """
import typing
from typing import TYPE_CHECKING

import botocore
from . import sibling

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient
if typing.TYPE_CHECKING:
    import yaml
else:
    import boto3
if sys.version_info >= (3, 12):
    import jmespath


def client() -> "DynamoDBClient":
    import urllib3
"""

    assert imports_of(source) == {"botocore", "boto3", "jmespath", "urllib3"}


def test_the_functions_import_the_boto3_stubs_for_type_checking_only():
    stubs = {"types_boto3_dynamodb", "types_boto3_events", "types_boto3_secretsmanager"}
    sources = "\n".join(path.read_text() for path in (ROOT / "functions").rglob("*.py"))

    assert all(f"from {stub} import" in sources for stub in stubs)
    assert not stubs & top_level_imports(ROOT / "functions")


def test_every_runtime_dependency_is_imported_by_the_functions():
    imports = top_level_imports(ROOT / "functions")
    modules = importlib.metadata.packages_distributions()

    for name, extras in requirements(source_lines(RUNTIME_SOURCE)):
        provides = {
            module
            for module, owners in modules.items()
            if build.canonical(name) in {build.canonical(owner) for owner in owners}
        }
        assert provides & imports, f"{name} is bundled but never imported"
        for extra in extras:
            use = EXTRA_USES.get((build.canonical(name), extra))
            assert use, f"{name}[{extra}] is bundled for nothing the functions name"
            assert use in imported_names(ROOT / "functions", name.replace("-", "_")), use


# The locks: every package pinned, transitive ones too, with the hashes of its files.


def test_the_runtime_lock_pins_exactly_what_requirements_in_needs():
    pins = build.locked(build.REQUIREMENTS.read_text())

    assert set(pins) == runtime_distributions(source_lines(RUNTIME_SOURCE))
    assert not {"pydantic", "fastjsonschema"} & set(pins)  # what the validation extra bundled


def test_the_dev_lock_keeps_every_runtime_pin():
    runtime = build.locked(build.REQUIREMENTS.read_text())
    dev = pins(DEV_LOCK)

    assert {name: dev.get(name) for name in runtime} == runtime


@pytest.mark.parametrize(
    ("source", "lock"),
    [(RUNTIME_SOURCE, build.REQUIREMENTS), (DEV_SOURCE, DEV_LOCK)],
    ids=["runtime", "dev"],
)
def test_each_lock_was_made_from_its_source_as_it_is(source, lock):
    # A version changed in the source but not locked again (`make lock`) shows here.
    pinned = {build.canonical(name): version for name, version in SOURCE_PIN.findall(
        source.read_text())}  # fmt: skip
    locked = pins(lock)

    assert {name: locked.get(name) for name in pinned} == pinned
    for name, _ in requirements(source_lines(source)):
        assert build.canonical(name) in locked, name


@pytest.mark.parametrize("lock", [build.REQUIREMENTS, DEV_LOCK], ids=["runtime", "dev"])
def test_every_pin_of_a_lock_has_hashes(lock):
    # pip installs a lock with hashes only if every requirement in it has them.
    entries = re.split(r"\n(?=\S)", lock.read_text())
    pinned = [entry for entry in entries if build.PIN.match(entry)]

    assert len(pinned) == len(pins(lock)) > 5  # transitive pins too, not only the direct ones
    for entry in pinned:
        assert "--hash=sha256:" in entry, entry.splitlines()[0]


# The bundle: exactly the runtime lock.


def test_build_installs_exactly_the_runtime_lock_checked_by_hashes():
    command = build.pip_install_command(build.target())

    assert command[command.index("--requirement") + 1] == str(build.REQUIREMENTS)
    assert {"--no-deps", "--require-hashes", "--only-binary=:all:"} <= set(command)


def write_distribution(directory: Path, name: str, version: str) -> None:
    info = directory / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


def test_a_bundle_of_exactly_the_pins_passes(tmp_path: Path):
    write_distribution(tmp_path, "boto3", "1.44.5")
    write_distribution(tmp_path, "typing_extensions", "4.16.0")

    assert build.bundled(tmp_path) == {"boto3": "1.44.5", "typing-extensions": "4.16.0"}
    build.check_locked(tmp_path, {"boto3": "1.44.5", "typing-extensions": "4.16.0"})


@pytest.mark.parametrize(
    ("installed", "message"),
    [
        ({"boto3": "1.44.5", "pydantic": "2.13.4"}, r"not in it \['pydantic==2.13.4'\]"),
        ({}, r"missing \['boto3==1.44.5'\]"),
        ({"boto3": "1.44.6"}, r"not in it \['boto3==1.44.6'\], missing \['boto3==1.44.5'\]"),
    ],
    ids=["one-more", "one-less", "another-version"],
)
def test_a_bundle_that_is_not_the_lock_stops_the_build(tmp_path: Path, installed, message):
    for name, version in installed.items():
        write_distribution(tmp_path, name, version)

    with pytest.raises(SystemExit, match=message):
        build.check_locked(tmp_path, {"boto3": "1.44.5"})


def test_the_runtime_lock_is_read_as_pins():
    lock = "boto3==1.44.5 \\\n    --hash=sha256:ab \\\n    --hash=sha256:cd\n    # via x\n"
    lock += "six==1.17.0\n"

    assert build.locked(lock) == {"boto3": "1.44.5", "six": "1.17.0"}
    assert {"boto3", "botocore", "aws-lambda-powertools"} <= set(
        build.locked(build.REQUIREMENTS.read_text())
    )


def test_a_pin_with_an_environment_marker_stops_the_build():
    # pip would evaluate the marker for the machine that builds, not for Lambda's.
    lock = "colorama==0.4.6 ; sys_platform == 'win32' \\\n    --hash=sha256:ab\n"

    with pytest.raises(SystemExit, match=r"colorama==0\.4\.6 has a marker"):
        build.locked(lock)
