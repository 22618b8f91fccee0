"""docs/console-compensated.png: the execution view of a compensated execution (`make screenshot`).

A credit whose UpdateBalance crashes after committing: the Catch runs DeleteTransaction (which
reverts the commit) and ReleaseLockAfterFailure, and the API answers 500.
"""

import uuid
from pathlib import Path

import requests
from playwright.sync_api import sync_playwright

from infra.composition import serving
from infra.local.awslambda.functions import FaultPoint
from infra.local.runtime import active_runtime
from tests.browser.conftest import CHROMIUM

OUTPUT = Path(__file__).resolve().parents[2] / "docs" / "console-compensated.png"


def main() -> None:
    with serving() as url:
        active_runtime().lambdas.inject_fault("UpdateBalanceFunction", FaultPoint.AFTER)
        response = requests.post(
            f"{url}/transactions",
            json={"userId": "alice", "ammount": "25.00", "type": "credit"},
            headers={"Idempotent-Key": uuid.uuid4().hex},
            timeout=30,
        )
        assert response.status_code == 500, response.text
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
            page = browser.new_page(viewport={"width": 1400, "height": 1250})
            page.goto(f"{url}/_console/?requestId={response.headers['x-amzn-RequestId']}")
            page.locator("#state-UpdateBalance").scroll_into_view_if_needed()
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(OUTPUT))
            browser.close()
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
