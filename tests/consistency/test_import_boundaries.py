"""The runtime (infra/local) and the execution view (infra/console) do not import each other:
the view defines what it reads and the runtime provides it; infra/composition.py wires them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(source: str, package: str) -> set[str]:
    """Every module a Python source imports, relative imports resolved against `package`."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def crossings(package_dir: Path, forbidden: str) -> list[str]:
    """`path: module` for each import in the package's modules of `forbidden` or below it."""
    found = []
    for path in sorted(package_dir.rglob("*.py")):
        package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
        for module in imported_modules(path.read_text(), package):
            if module == forbidden or module.startswith(forbidden + "."):
                found.append(f"{path.relative_to(ROOT)}: {module}")
    return found


def test_no_module_of_the_runtime_imports_the_view():
    assert list((ROOT / "infra" / "local").rglob("*.py"))
    assert crossings(ROOT / "infra" / "local", "infra.console") == []


def test_no_module_of_the_view_imports_the_runtime():
    assert list((ROOT / "infra" / "console").rglob("*.py"))
    assert crossings(ROOT / "infra" / "console", "infra.local") == []


@pytest.mark.parametrize(
    ("source", "package", "imported"),
    [("import infra.console.app", "infra.local", "infra.console.app"),
     ("from infra import console", "infra.local", "infra.console"),
     ("from ..console import app", "infra.local", "infra.console.app"),
     ("from ...console.source import Executions", "infra.local.apigateway",
      "infra.console.source.Executions")],
    ids=["import", "from-package", "relative", "relative-deeper"],
)  # fmt: skip
def test_every_form_of_import_is_seen(source, package, imported):
    assert imported in imported_modules(source, package)
