"""The known gaps page: each row names a test that exists, so no gap is listed unpinned."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "known-gaps.md"
HEADING = "# Known gaps: where the local stack differs from AWS"


def gap_rows(readme: str) -> list[list[str]]:
    """The cells of each row of the section's table (its header and rule left out)."""
    section = readme[readme.index(HEADING) :]
    end = section.find("\n#", len(HEADING))
    section = section if end == -1 else section[:end]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows[2:]]


def missing_pins(readme: str, root: Path = ROOT) -> list[str]:
    """Each row whose last cell names no test, or a test file or function that does not exist."""
    missing = []
    for gap, *_, pinned_by in gap_rows(readme):
        pins = re.findall(r"`(tests/[^`]+)`", pinned_by)
        if not pins:
            missing.append(f"{gap}: no test named")
        for pin in pins:
            path, _, name = pin.partition("::")
            if not (root / path).is_file():
                missing.append(f"{gap}: {path} does not exist")
                continue
            tree = ast.parse((root / path).read_text())
            tests = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
            if not name.startswith("test_") or name not in tests:
                missing.append(f"{gap}: {path} has no test {name!r}")
    return missing


def test_every_known_gap_names_a_test_that_exists():
    readme = PAGE.read_text()

    assert len(gap_rows(readme)) >= 20
    assert missing_pins(readme) == []


@pytest.mark.parametrize(
    ("pinned_by", "found"),
    [("`tests/nowhere.py::test_x`", "tests/nowhere.py does not exist"),
     ("`tests/consistency/test_known_gaps.py::test_gone`", "has no test 'test_gone'"),
     ("`tests/consistency/test_known_gaps.py::gap_rows`", "has no test 'gap_rows'"),
     ("`tests/consistency/test_known_gaps.py`", "has no test ''"),
     ("nothing", "no test named")],
    ids=["missing-file", "missing-test", "not-a-test", "file-only", "no-test"],
)  # fmt: skip
def test_a_gap_without_its_test_is_found(pinned_by, found):
    readme = f"{HEADING}\n\n| gap | aws | here | pinned by |\n| --- | --- | --- | --- |\n"
    readme += f"| a gap | x | y | {pinned_by} |\n\n## Next\n"

    [problem] = missing_pins(readme)
    assert found in problem
