"""The execution view shares make run's port under /_console/ without hiding any API route."""

import re
import time

import pytest
import requests

from infra import composition
from infra.composition import console_of
from infra.console import source
from infra.console.app import PREFIX
from infra.local.apigateway.gateway import LocalGateway
from infra.local.recorder import HttpExchange


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


def test_a_body_nested_deeper_than_the_parser_goes_leaves_every_page_readable(api, user):
    # Refused by the API with a 400 (the execution carries it as sent): the list, which reads
    # each execution's user out of its body, and the execution's own page must still open.
    deep = f'{{"userId": "{user}", "x": ' + "[" * 5000 + "]" * 5000 + "}"
    refused = api.transact(raw=deep)
    request_id = refused.headers["x-amzn-RequestId"]

    listed = requests.get(f"{api.url}{PREFIX}/", timeout=30)
    found = requests.get(f"{api.url}{PREFIX}/requests/{request_id}", timeout=30)

    assert refused.status_code == 400
    assert listed.status_code == 200
    assert (found.status_code, request_id in found.text) == (200, True)


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


def test_a_transfers_execution_shows_both_users_rows_as_they_were_before_it(api, user):
    other = user + "-to"
    first = api.transfer({"fromUserId": user, "toUserId": other, "amount": "25.00"})
    assert first.status_code == 201, first.text
    back = api.transfer({"fromUserId": other, "toUserId": user, "amount": "5.00"})
    assert back.status_code == 201, back.text

    page = requests.get(
        f"{api.url}{PREFIX}/requests/{back.headers['x-amzn-RequestId']}", timeout=30
    )

    assert page.status_code == 200
    users = re.findall(r'<h3 class="aggregate-user">([^<]*)</h3>', page.text)
    assert users == [other, user]  # the source first
    before = re.findall(r'<pre class="before">(.*?)</pre>', page.text, re.S)
    after = re.findall(r'<pre class="after">(.*?)</pre>', page.text, re.S)
    assert "125.00" in before[0] and "75.00" in before[1]
    assert "120.00" in after[0] and "80.00" in after[1]


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


def test_a_reversals_execution_is_listed_under_its_user_and_shows_its_row(api, user):
    posted = api.transact({"userId": user, "ammount": "5", "type": "credit"})
    reversed_ = api.reverse(posted.json()["transactionId"], {"userId": user})
    assert reversed_.status_code == 201, reversed_.text

    page = requests.get(
        f"{api.url}{PREFIX}/requests/{reversed_.headers['x-amzn-RequestId']}", timeout=30
    )

    assert page.status_code == 200
    assert "ReverseTransaction" in page.text
    assert "The user&#39;s aggregate row" in page.text or "The user's aggregate row" in page.text
    after = re.findall(r'<pre class="after">(.*?)</pre>', page.text, re.S)
    assert "100.00" in after[0]
    assert sorted(listed(api, user=user)) == [("SUCCEEDED", user), ("SUCCEEDED", user)]


def rows(api, **params) -> list[dict[str, str]]:
    """Each listed execution's cells, by their class."""
    page = requests.get(f"{api.url}{PREFIX}/", params=params, timeout=30)
    assert page.status_code == 200
    found = []
    for row in re.findall(r'<tr class="execution".*?</tr>', page.text, re.S):
        cells = dict(re.findall(r'<td class="([\w-]+)">(.*?)</td>', row, re.S))
        found.append({name: re.sub(r"<[^>]+>", "", value).strip() for name, value in cells.items()})
    return found


def test_the_list_shows_date_and_time_operation_amount_error_code_and_http_status(api, user):
    assert api.transact({"userId": user, "ammount": "5", "type": "credit"}).status_code == 201
    assert api.transact({"userId": user, "ammount": "999", "type": "debit"}).status_code == 422

    debit, credit = rows(api, user=user)

    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}", credit["started"])
    assert {k: credit[k] for k in ("operation", "amount", "http", "error-code")} == {
        "operation": "credit", "amount": "5", "http": "201", "error-code": ""}  # fmt: skip
    assert {k: debit[k] for k in ("operation", "amount", "http", "error-code")} == {
        "operation": "debit", "amount": "999", "http": "422",
        "error-code": "INSUFFICIENT_FUNDS"}  # fmt: skip


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"operation": "debit"}, [("debit", "999")]),
        ({"operation": "credit"}, [("credit", "7.50"), ("credit", "5")]),
        ({"amount": "5.00"}, [("credit", "5")]),  # amounts compare as numbers
        ({"error": "INSUFFICIENT_FUNDS"}, [("debit", "999")]),
        ({"http": "201"}, [("credit", "7.50"), ("credit", "5")]),
        ({"http": "201", "amount": "7.5"}, [("credit", "7.50")]),
        ({"error": "USER_BUSY"}, []),
    ],
    ids=[
        "operation",
        "another-operation",
        "amount",
        "error-code",
        "http-status",
        "two-at-once",
        "none-match",
    ],
)
def test_the_list_filters_by_operation_amount_error_code_and_http_status(
    api, user, filters, expected
):
    assert api.transact({"userId": user, "ammount": "5", "type": "credit"}).status_code == 201
    assert api.transact({"userId": user, "ammount": "999", "type": "debit"}).status_code == 422
    assert api.transact({"userId": user, "ammount": "7.50", "type": "credit"}).status_code == 201

    found = rows(api, user=user, **filters)

    assert [(row["operation"], row["amount"]) for row in found] == expected


def test_a_request_recorded_without_an_execution_opens_its_request_page(api, aws):
    # StartSyncExecution refusing the rendered input (InvalidExecutionInput) is such a request:
    # the gateway records the exchange, and no execution runs.
    aws.recorder.record_http(
        HttpExchange("req-without-execution", "POST", "/transactions", {}, "{}", 400, {},
                     '{"message": "input is not JSON"}', time.time(), time.time())
    )  # fmt: skip

    page = requests.get(f"{api.url}{PREFIX}/requests/req-without-execution", timeout=30)
    looked_up = requests.get(
        f"{api.url}{PREFIX}/", params={"requestId": "req-without-execution"}, timeout=30
    )

    assert page.status_code == looked_up.status_code == 200
    assert "started no execution" in page.text
    assert '<pre class="http-response">400' in page.text
    link = composition._console_link(aws, "req-without-execution")
    assert link == f"{PREFIX}/requests/req-without-execution"


def test_a_post_answered_at_the_door_logs_no_console_link_and_one_that_ran_does(api, aws, user):
    at_the_door = requests.post(f"{api.url}/no-such-route", json={}, timeout=30)
    ran = api.transact({"userId": user, "ammount": "1", "type": "credit"})
    assert (at_the_door.status_code, ran.status_code) == (403, 201)

    assert composition._console_link(aws, at_the_door.headers["x-amzn-RequestId"]) is None
    request_id = ran.headers["x-amzn-RequestId"]
    assert composition._console_link(aws, request_id) == f"{PREFIX}/requests/{request_id}"


def test_each_states_panel_shows_the_variables_it_assigned(api, user):
    ran = api.transact({"userId": user, "ammount": "2.50", "type": "credit"})
    assert ran.status_code == 201
    page = requests.get(
        f"{api.url}{PREFIX}/requests/{ran.headers['x-amzn-RequestId']}", timeout=30
    ).text

    def panel(state: str) -> str:
        section = rf'<section class="state-detail[^"]*"[^>]*data-state="{state}".*?</section>'
        [found] = re.findall(section, page, re.S)
        return found

    # AcquireLock's Assign: "request" and "lock" (statemachine/transaction.asl.json).
    acquired = panel("AcquireLock")
    assert "<summary>Assigned (2)</summary>" in acquired
    names = re.findall(r"<tr><th>\$(\w+)</th>", acquired)
    assert sorted(names) == ["lock", "request"]
    request = re.search(r"<tr><th>\$request</th><td><pre>(.*?)</pre>", acquired, re.S)
    assert request is not None and f"&#34;userId&#34;: &#34;{user}&#34;" in request.group(1)
    # A state that assigns nothing has no such section.
    assert "Assigned (" not in panel("IsReplay")
