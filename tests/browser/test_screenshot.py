"""`make screenshot` run twice: the second run finds the same views and leaves the files alone."""

import pytest

from tests.browser import screenshot
from tests.browser.conftest import chromium_or_skip


def test_a_second_screenshot_of_the_same_views_does_not_rewrite_the_files(tmp_path):
    chromium_or_skip()
    outputs = [tmp_path / f"console-{name}.png" for name in screenshot.PAGES]

    assert screenshot.main(tmp_path) == outputs
    written = [output.read_bytes() for output in outputs]
    assert screenshot.main(tmp_path) == []
    assert [output.read_bytes() for output in outputs] == written


@pytest.mark.parametrize("name", screenshot.PAGES)
def test_each_tracked_png_carries_the_content_it_shows_at_1366_wide(name):
    png = (screenshot.DOCS / f"console-{name}.png").read_bytes()

    assert screenshot.content_of(png) is not None
    width = int.from_bytes(png[16:20], "big")  # the IHDR chunk's width
    assert width == screenshot.VIEWPORT["width"]
