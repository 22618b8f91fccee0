"""The execution view shares make run's port under /_console/ without hiding any API route."""

import re

import requests

from infra.composition import console_of
from infra.console.app import PREFIX
from infra.local.apigateway.gateway import LocalGateway


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


def listed(api, **params) -> list[tuple[str, str]]:  # (status, user) of each row
    page = requests.get(f"{api.url}{PREFIX}/", params=params, timeout=30)
    assert page.status_code == 200
    rows = re.findall(r'<tr class="execution"[^>]*data-status="(\w+)">.*?<td class="user">([^<]*)<',
                      page.text, re.S)  # fmt: skip
    return rows


def test_the_list_filters_by_status_and_by_user(api, user):
    other = user + "-other"
    assert api.transact({"userId": user, "ammount": "5", "type": "credit"}).status_code == 201
    assert api.transact({"userId": user, "ammount": "999", "type": "debit"}).status_code == 422
    assert api.transact({"userId": other, "ammount": "5", "type": "credit"}).status_code == 201

    assert sorted(listed(api, user=user)) == [("FAILED", user), ("SUCCEEDED", user)]
    assert listed(api, user=user, status="FAILED") == [("FAILED", user)]
    assert listed(api, user=other) == [("SUCCEEDED", other)]
    assert all(status == "SUCCEEDED" for status, _ in listed(api, status="SUCCEEDED"))
    assert listed(api, user="nobody-" + user) == []


def test_the_list_is_newest_first_up_to_its_limit_and_counts_the_rest(api, aws, user):
    for amount in ("1", "2", "3"):
        api.transact({"userId": user, "ammount": amount, "type": "credit"})
    executions = console_of(aws).executions

    newest, total = executions.summaries(limit=2)

    assert len(newest) == 2
    assert total >= 3
    assert newest[0].started >= newest[1].started
    assert newest[0].user_id == user
    assert newest[0].http_status == 201
