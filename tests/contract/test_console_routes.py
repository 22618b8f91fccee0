"""The execution view shares make run's port under /_console/ without hiding any API route."""

import requests

from infra.console.app import PREFIX
from infra.local.gateway import LocalGateway


def test_no_api_path_is_under_the_console_prefix(aws):
    paths = LocalGateway(aws).document["paths"]
    assert paths
    assert not [path for path in paths if path == PREFIX or path.startswith(PREFIX + "/")]


def test_the_console_and_the_api_answer_side_by_side(api):
    console = requests.get(f"{api.url}{PREFIX}/", timeout=30)
    assert console.status_code == 200
    assert console.headers["Content-Type"].startswith("text/html")
    assert "x-amzn-RequestId" not in console.headers  # not an API answer

    assert api.balance("1").json()["balance"] == "100.00"
    # A path that merely starts like the prefix is the API's: API Gateway's 403.
    assert requests.get(f"{api.url}{PREFIX}x", timeout=30).status_code == 403
