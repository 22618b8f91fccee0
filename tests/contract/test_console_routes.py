"""The execution view shares make run's port under /_console/ without hiding any API route."""

import re

import pytest
import requests

from infra.composition import console_of
from infra.console import source
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


def test_a_request_id_is_found_from_the_runtimes_index_and_an_unknown_one_at_once(
    api, user, monkeypatch
):
    def scan(*_: object) -> dict[str, str]:
        raise AssertionError("the lookup scanned every execution")

    monkeypatch.setattr(source, "executions_by_request_id", scan)
    posted = api.transact({"userId": user, "ammount": "1", "type": "credit"})
    request_id = posted.headers["x-amzn-RequestId"]

    found = requests.get(f"{api.url}{PREFIX}/requests/{request_id}", timeout=30)
    unknown = requests.get(f"{api.url}{PREFIX}/requests/no-such-request", timeout=30)
    looked_up = requests.get(f"{api.url}{PREFIX}/", params={"requestId": "nope"}, timeout=30)

    assert found.status_code == 200
    assert request_id in found.text
    assert (unknown.status_code, looked_up.status_code) == (404, 404)
    assert "no-such-request" in unknown.text


@pytest.mark.parametrize(
    "path",
    ["/requests/%2F%2Fx", "/requests//x", "/executions//x", "/executions/%2Fx/live"],
    ids=["encoded-slashes", "double-slash", "execution-double-slash", "live-encoded-slash"],
)
def test_a_path_with_doubled_slashes_is_a_404_page_not_a_redirect_without_location(api, path):
    response = requests.get(f"{api.url}{PREFIX}{path}", timeout=30, allow_redirects=False)

    assert response.status_code == 404, (response.status_code, response.headers)
    assert "Location" not in response.headers
    assert "404 · Not found" in response.text


def test_a_transfers_execution_shows_both_users_rows_before_and_after(api, user):
    other = user + "-to"
    posted = api.transfer({"fromUserId": user, "toUserId": other, "amount": "25.00"})
    assert posted.status_code == 201, posted.text

    page = requests.get(
        f"{api.url}{PREFIX}/requests/{posted.headers['x-amzn-RequestId']}", timeout=30
    )

    assert page.status_code == 200
    assert "The users&#39; aggregate rows" in page.text or "The users' aggregate rows" in page.text
    users = re.findall(r'<h3 class="aggregate-user">([^<]*)</h3>', page.text)
    assert users == [user, other]
    after = re.findall(r'<pre class="after">(.*?)</pre>', page.text, re.S)
    assert "75.00" in after[0] and "125.00" in after[1]
    assert listed(api, user=user)[0][1] == user  # listed under its source


def test_a_holds_executions_are_listed_under_its_user_and_show_its_row(api, user):
    placed = api.hold({"userId": user, "amount": "30.00"})
    assert placed.status_code == 201, placed.text
    captured = api.capture(placed.json()["holdId"], {"userId": user})
    assert captured.status_code == 201, captured.text

    for response in (placed, captured):
        page = requests.get(
            f"{api.url}{PREFIX}/requests/{response.headers['x-amzn-RequestId']}", timeout=30
        )
        assert page.status_code == 200
        assert "PlaceHold" in page.text or "CaptureHold" in page.text
    after = re.findall(r'<pre class="after">(.*?)</pre>', page.text, re.S)
    assert "70.00" in after[0]  # the capture's row after it: the balance debited
    assert [row[1] for row in listed(api, user=user)[:2]] == [user, user]
