"""Headless Chromium (Debian's package) driven by Playwright, over a local API server.

`make install` installs Chromium when it is missing (apt-get, as root) or says what to install.
Without it these tests are skipped, unless REQUIRE_BROWSER is set (CI sets it), when they fail.
"""

import os
import shutil
import uuid
from pathlib import Path

import pytest
import requests

from infra.composition import serving
from infra.local.runtime import active_runtime

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))


def chromium_or_skip() -> Path:
    if CHROMIUM.is_file() or shutil.which(str(CHROMIUM)):
        return CHROMIUM
    message = f"no Chromium at {CHROMIUM}: apt-get install chromium (make install does it as root)"
    if os.environ.get("REQUIRE_BROWSER"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    executable = chromium_or_skip()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(executable), headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def server():
    with serving() as url:
        yield url


@pytest.fixture
def page(browser, server):
    context = browser.new_context(base_url=server, viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(15_000)
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture
def aws(server):
    runtime = active_runtime()
    yield runtime
    runtime.lambdas.clear_faults()


@pytest.fixture
def user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


def post_transaction(
    url: str, user_id: str, amount: str = "10", type_: str = "credit"
) -> requests.Response:
    return requests.post(
        f"{url}/transactions",
        json={"userId": user_id, "ammount": amount, "type": type_},
        headers={"Idempotent-Key": uuid.uuid4().hex},
        timeout=30,
    )
