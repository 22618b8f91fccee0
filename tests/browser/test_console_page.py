"""The execution view as a person debugging a saga sees it, at 1366 x 768 and at 1920 x 1080:
the drawing beside the selected state's panel, sections collapsed, what each step changed, no
line wider than its column, and every link opening something."""

from urllib.parse import urljoin

import pytest
import requests
from playwright.sync_api import expect

from infra.local.awslambda.functions import FaultPoint
from tests.browser.conftest import post_transaction

SCREENS = [{"width": 1366, "height": 768}, {"width": 1920, "height": 1080}]
# Every block whose content is wider than it is and does not scroll it: a line wider than its
# column (what scrolls inside its own box, a long JSON document, is fine).
OVERFLOWING = """() => {
  const found = [];
  for (const element of document.querySelectorAll("main *")) {
    if (element.closest("svg") || !element.getClientRects().length) continue;
    const style = getComputedStyle(element);
    if (!/^(block|flex|grid|list-item|table|table-cell|flow-root)$/.test(style.display)) continue;
    if (/auto|scroll|hidden/.test(style.overflowX)) continue;
    if (element.scrollWidth > element.clientWidth + 1) {
      const what = `${element.tagName}.${element.className}`;
      found.push(`${what} ${element.scrollWidth} > ${element.clientWidth}`);
    }
  }
  if (document.documentElement.scrollWidth > window.innerWidth) found.push("the page is wider");
  return found;
}"""


@pytest.fixture
def compensated(server, aws, user) -> str:
    """The x-amzn-RequestId of a credit whose UpdateBalance crashed after committing."""
    aws.lambdas.inject_fault("UpdateBalanceFunction", FaultPoint.AFTER)
    response = post_transaction(server, user, amount="25.00")
    assert response.status_code == 500
    aws.lambdas.clear_faults()
    return response.headers["x-amzn-RequestId"]


@pytest.fixture
def succeeded(server, user) -> str:
    response = post_transaction(server, user, amount="12.50")
    assert response.status_code == 201
    return response.headers["x-amzn-RequestId"]


@pytest.fixture(params=SCREENS, ids=lambda screen: f"{screen['width']}x{screen['height']}")
def screen_page(request, browser, server):
    context = browser.new_context(base_url=server, viewport=request.param)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def test_the_drawing_and_the_failing_states_panel_sit_side_by_side_in_the_first_screen(
    screen_page, compensated
):
    page = screen_page
    page.goto(f"/_console/requests/{compensated}")

    drawing = page.locator("section.diagram svg.machine").bounding_box()
    panel = page.locator("#state-UpdateBalance")
    expect(panel).to_be_visible()  # the failing state, shown without a click
    box = panel.bounding_box()
    assert drawing["x"] + drawing["width"] <= box["x"]
    assert drawing["y"] < page.viewport_size["height"] and box["y"] < page.viewport_size["height"]
    expect(page.locator("section.state-detail:visible")).to_have_count(1)
    expect(page.locator('svg.machine g.state.selected[data-state="UpdateBalance"]')).to_have_count(
        1
    )

    page.locator('svg.machine g.state[data-state="DeleteTransaction"]').click()

    expect(page.locator("#state-DeleteTransaction")).to_be_visible()
    expect(page.locator("#state-UpdateBalance")).to_be_hidden()
    expect(page.locator("section.state-detail:visible")).to_have_count(1)
    expect(
        page.locator('svg.machine g.state.selected[data-state="DeleteTransaction"]')
    ).to_have_count(1)


def test_every_section_starts_collapsed(screen_page, compensated):
    page = screen_page
    page.goto(f"/_console/requests/{compensated}")

    sections = page.locator("details")
    assert sections.count() > 5
    assert page.locator("details[open]").count() == 0
    for title in ("Timeline", "aggregate row", "Events published", "HTTP request", "History"):
        expect(page.locator("details.section > summary", has_text=title)).to_have_count(1)


def test_what_a_step_changed_in_its_input_is_shown_as_keys_added_changed_and_removed(
    page, succeeded
):
    page.goto(f"/_console/requests/{succeeded}#state-UpdateBalance")
    changes = page.locator("#state-UpdateBalance table.changes tr.change")

    expect(changes.first).to_be_visible()
    for row in changes.all():
        kind = row.get_attribute("data-kind")
        assert row.get_attribute("data-path")
        # An added key shows its new value, a removed one its old value, a changed one both.
        was, now = row.locator("pre.was").count(), row.locator("pre.now").count()
        assert (was, now) == {"added": (0, 1), "removed": (1, 0), "changed": (1, 1)}[kind]
    # The whole input and output stay one click away.
    expect(page.locator("#state-UpdateBalance details.input pre")).to_be_hidden()
    page.locator("#state-UpdateBalance details.input summary").click()
    expect(page.locator("#state-UpdateBalance details.input pre")).to_be_visible()


@pytest.mark.parametrize("path", ["/transactions", "/transfers"])
def test_no_line_is_wider_than_its_column_with_every_section_open(
    screen_page, server, compensated, user, path
):
    page = screen_page
    if path == "/transfers":
        response = requests.post(
            f"{server}/transfers",
            json={"fromUserId": user, "toUserId": user + "-to", "ammount": "5.00"},
            headers={"Idempotent-Key": user}, timeout=30,
        )  # fmt: skip
        assert response.status_code == 201, response.text
        request_id = response.headers["x-amzn-RequestId"]
    else:
        request_id = compensated
    for url in ("/_console/", f"/_console/requests/{request_id}"):
        page.goto(url)
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        # Every state's panel at once, as if each were selected.
        page.add_style_tag(content=".panel .state-detail { display: block !important }")
        assert page.evaluate(OVERFLOWING) == [], url


def test_every_link_of_the_list_and_of_an_executions_page_opens_something(
    page, server, compensated, succeeded
):
    for start in (
        "/_console/",
        f"/_console/requests/{compensated}",
        f"/_console/requests/{succeeded}",
    ):
        page.goto(start)
        links = page.eval_on_selector_all(
            "a[href]", "links => links.map(a => a.getAttribute('href'))"
        )
        svg_links = page.eval_on_selector_all(
            "svg a", "links => links.map(a => a.getAttribute('href'))"
        )
        assert svg_links or start == "/_console/"
        for href in set(links + svg_links):
            if href.startswith("#"):
                assert page.locator(f'[id="{href[1:]}"]').count() == 1, (start, href)
            else:
                answer = requests.get(urljoin(page.url, href), timeout=30)
                assert answer.status_code == 200, (start, href, answer.status_code)


def test_a_compensated_executions_page_is_at_most_two_screens_tall(screen_page, compensated):
    page = screen_page
    page.goto(f"/_console/requests/{compensated}")

    height = page.evaluate("document.documentElement.scrollHeight")

    assert height <= 2 * page.viewport_size["height"], height
