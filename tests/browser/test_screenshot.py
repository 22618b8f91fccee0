"""`make screenshot` run twice: the second run finds the same view and leaves the file alone."""

from tests.browser import screenshot
from tests.browser.conftest import chromium_or_skip


def test_a_second_screenshot_of_the_same_view_does_not_rewrite_the_file(tmp_path):
    chromium_or_skip()
    output = tmp_path / "console.png"

    assert screenshot.main(output) is True
    written = output.read_bytes()
    assert screenshot.main(output) is False
    assert output.read_bytes() == written


def test_the_tracked_png_carries_the_content_it_shows():
    assert screenshot.content_of(screenshot.OUTPUT.read_bytes()) is not None
