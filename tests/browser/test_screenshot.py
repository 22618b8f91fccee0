"""`make screenshot` run twice: the second run finds the same views and leaves the files alone."""

import os
import subprocess
import sys

import pytest

from tests.browser import screenshot
from tests.browser.conftest import chromium_or_skip


def make_screenshot(directory, hash_seed: str) -> str:
    """`make screenshot` into `directory`, in a process of its own: what it printed."""
    env = {**os.environ, "PYTHONPATH": str(screenshot.ROOT), "PYTHONHASHSEED": hash_seed}
    done = subprocess.run(
        [sys.executable, "-m", "tests.browser.screenshot", str(directory)], cwd=screenshot.ROOT,
        env=env, capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    return done.stdout


def test_a_second_screenshot_of_the_same_views_does_not_rewrite_the_files(tmp_path):
    chromium_or_skip()
    outputs = [tmp_path / f"console-{name}.png" for name in screenshot.PAGES]

    first = make_screenshot(tmp_path, "0")
    written = [output.read_bytes() for output in outputs]
    # Another process, another string hashing: whatever iterates a set of names (the state
    # machine's assigned variables did) must not make the same view look new.
    second = make_screenshot(tmp_path, "1")

    assert all(f"wrote {output}" in first for output in outputs), first
    assert all(f"{output} shows this already" in second for output in outputs), second
    assert [output.read_bytes() for output in outputs] == written


@pytest.mark.parametrize("name", screenshot.PAGES)
def test_each_tracked_png_carries_the_content_it_shows_at_1366_wide(name):
    png = (screenshot.DOCS / f"console-{name}.png").read_bytes()

    assert screenshot.content_of(png) is not None
    width = int.from_bytes(png[16:20], "big")  # the IHDR chunk's width
    assert width == screenshot.VIEWPORT["width"]
