"""The drawing of every machine in statemachine/, as Chromium lays out its text: no edge label
over another, and each inside the box the layout reserved for it."""

import json
from pathlib import Path

import pytest

from infra.console.app import STATIC
from infra.console.layout import Layout
from tests.unit.test_console_layout import DRAWN, DRAWN_IDS

LABEL_BOXES = """() => [...document.querySelectorAll("svg.machine g.edge > text")].map(text => {
  const box = text.getBBox();
  return [text.closest("g").dataset.from + " -> " + text.closest("g").dataset.to,
          box.x, box.y, box.x + box.width, box.y + box.height];
})"""


@pytest.fixture(scope="module")
def drawing_page(browser):
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    yield page
    page.close()


@pytest.mark.parametrize("definition", DRAWN, ids=DRAWN_IDS)
def test_no_two_edge_labels_of_the_drawn_machine_overlap(drawing_page, definition):
    layout = Layout.of(definition)
    css = (STATIC / "console.css").read_text()
    drawing_page.set_content(f"<style>{css}</style>{layout.svg({}, set())}")

    drawn = drawing_page.evaluate(LABEL_BOXES)

    assert drawn
    overlapping = [
        (a[0], b[0])
        for index, a in enumerate(drawn)
        for b in drawn[index + 1 :]
        if a[1] < b[3] and b[1] < a[3] and a[2] < b[4] and b[2] < a[4]
    ]
    assert overlapping == []
    # Chromium's text stays inside the box the layout placed it by (so the layout's own check,
    # tests/unit/test_console_layout.py, holds for what is drawn).
    for (edge, left, top, right, bottom), label in zip(drawn, layout.labels, strict=True):
        reserved = label.box
        assert reserved[0] - 1 <= left and right <= reserved[2] + 1, (edge, right, reserved)
        assert reserved[1] - 2 <= top and bottom <= reserved[3] + 2, (edge, bottom, reserved)


def test_every_machine_of_the_project_is_checked():
    machines = sorted(Path(__file__).parents[2].joinpath("statemachine").glob("*.asl.json"))
    assert len(DRAWN) == len(machines) + 1
    assert DRAWN[: len(machines)] == [json.loads(path.read_text()) for path in machines]
