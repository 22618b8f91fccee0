"""The execution view in a real browser: from a POST to its execution, its path and its states."""

import re
import threading
import time

from playwright.sync_api import expect

from infra.local.awslambda.functions import FaultPoint
from tests.browser.conftest import post_transaction

HAPPY_PATH = ["AcquireLock", "PutTransaction", "IsReplay", "UpdateBalance",
              "ReleaseLock", "TransactionSucceeded"]  # fmt: skip


def state(page, name: str):
    return page.locator(f'svg.machine g.state[data-state="{name}"]')


def test_after_a_post_the_list_leads_to_the_execution_its_path_and_a_states_input_and_output(
    page, server, user
):
    response = post_transaction(server, user, amount="12.50")
    assert response.status_code == 201
    request_id = response.headers["x-amzn-RequestId"]

    page.goto("/_console/")
    row = page.locator("tr.execution", has=page.locator("td.request-id", has_text=request_id))
    expect(row).to_have_count(1)
    expect(row.locator("td.user")).to_have_text(user)
    expect(row.locator("td.http")).to_have_text("201")
    expect(row).to_have_attribute("data-status", "SUCCEEDED")
    expect(row).to_have_attribute("data-name", request_id)  # as openapi.yaml names it
    row.locator("a.open").click()

    expect(page.locator("#execution-status")).to_have_text("SUCCEEDED")
    for name in HAPPY_PATH:
        expect(state(page, name)).to_have_attribute("data-status", "succeeded")
    for name in ("ReturnStoredResult", "DeleteTransaction", "TransactionFailed"):
        expect(state(page, name)).to_have_attribute("data-status", "not-entered")
    taken = page.locator('svg.machine g.edge[data-taken="true"]')
    expect(taken).to_have_count(len(HAPPY_PATH) - 1)
    expect(page.locator("#failure")).to_have_count(0)

    state(page, "UpdateBalance").click()
    assert page.url.endswith("#state-UpdateBalance")
    detail = page.locator("#state-UpdateBalance")
    # Its input is PutTransaction's result (JSONata: the request itself is in $request).
    transaction_id = response.json()["transactionId"]
    expect(detail.locator("details.input pre")).to_contain_text(
        f'"transactionId": "{transaction_id}"'
    )
    expect(detail.locator("details.output pre")).to_contain_text('"amount": "12.50"')
    expect(detail.locator("details.output pre")).to_contain_text('"balance": "112.50"')
    expect(detail.locator(".dynamodb-request")).to_have_count(1)
    expect(detail.locator(".dynamodb-request")).to_have_attribute(
        "data-operation", "TransactWriteItems"
    )
    expect(page.locator(".aggregate pre.before")).to_have_text("(no item)")  # a new user
    expect(page.locator(".aggregate pre.after")).to_contain_text('"balance": "112.50"')
    expect(page.locator(".aggregate pre.after")).not_to_contain_text("lockOwner")
    expect(page.locator("pre.http-request")).to_contain_text(f'"userId": "{user}"')
    expect(page.locator("pre.http-response")).to_contain_text(request_id)


def test_a_500_leads_through_the_request_id_lookup_to_its_failing_step(page, server, aws, user):
    aws.lambdas.inject_fault("UpdateBalanceFunction", FaultPoint.AFTER)
    response = post_transaction(server, user)
    assert response.status_code == 500

    page.goto("/_console/")
    page.fill("input[name=requestId]", response.headers["x-amzn-RequestId"])
    page.click("form.lookup button")

    expect(page.locator("#execution-status")).to_have_text("FAILED")
    banner = page.locator("#failure")
    expect(banner).to_contain_text("InjectedFaultError")
    expect(banner).to_contain_text("UpdateBalanceFunction crashed after its work")
    banner.locator("a.failing-step").click()
    assert page.url.endswith("#state-UpdateBalance")
    failing = page.locator("#state-UpdateBalance")
    expect(failing).to_have_attribute("data-status", "caught")
    expect(failing.locator(".error-name").first).to_have_text("InjectedFaultError")
    expect(state(page, "UpdateBalance")).to_have_attribute("data-status", "caught")
    expect(state(page, "DeleteTransaction")).to_have_attribute("data-status", "succeeded")
    expect(state(page, "TransactionFailed")).to_have_attribute("data-status", "failed")
    catch = page.locator(
        'svg.machine g.edge.catch[data-from="UpdateBalance"][data-to="DeleteTransaction"]'
    )
    expect(catch).to_have_attribute("data-taken", "true")
    expect(catch.locator("text")).to_have_text("catch States.ALL")
    # The commit went through before the crash; the compensation reverted it.
    commit = failing.locator('.dynamodb-request[data-operation="TransactWriteItems"]')
    expect(commit.locator(".item pre").nth(1)).to_contain_text('"balance": "110.00"')
    expect(page.locator(".aggregate pre.after")).to_contain_text('"balance": "100.00"')


def test_a_busy_lock_shows_its_refused_conditional_checks_and_a_running_execution_goes_live(
    page, server, aws, user
):
    aws.dynamodb.put_item(
        TableName="AggregatesTable",
        Item={"userId": {"S": user}, "balance": {"N": "100.00"}, "lockOwner": {"S": "other"},
              "leaseUntil": {"N": str(int(time.time()) + 60)}},
    )  # fmt: skip
    answers = []
    posting = threading.Thread(target=lambda: answers.append(post_transaction(server, user)))
    posting.start()
    page.goto(f"/_console/?user={user}")
    deadline = time.monotonic() + 20
    while page.locator("tr.execution").count() == 0:
        assert time.monotonic() < deadline, "the execution never appeared in the list"
        time.sleep(0.05)
        page.reload()
    page.locator("tr.execution a.open").click()
    expect(page.locator("#execution-status")).to_have_text("RUNNING")
    refused = page.locator("#state-AcquireLock .dynamodb-request.refused")
    expect(refused.first).to_contain_text("ConditionalCheckFailedException")

    aws.dynamodb.update_item(
        TableName="AggregatesTable", Key={"userId": {"S": user}},
        UpdateExpression="REMOVE lockOwner, leaseUntil",
    )  # fmt: skip
    posting.join(30)

    # The page reloads itself once the execution moves on.
    expect(page.locator("#execution-status")).to_have_text("SUCCEEDED", timeout=20_000)
    assert answers[0].status_code == 201
    expect(state(page, "AcquireLock")).to_have_attribute("data-status", "succeeded")
    # AcquireLock waits for the lock inside the function: each attempt's first request is the
    # refused write, then it polls (GetItem); the attempt running when the lock was freed took it
    # with its last request. An attempt that gave up before (a slow browser) failed busy.
    detail = page.locator("#state-AcquireLock")
    attempts = detail.locator("tr.attempt-row")
    expect(attempts.last).to_have_class(re.compile(r"\bsucceeded\b"))
    tries = attempts.count()
    failed = detail.locator("tr.attempt-row.failed")
    expect(failed).to_have_count(tries - 1)
    for index in range(tries - 1):
        expect(failed.nth(index)).to_contain_text("UserBusyError")
    expect(detail.locator(".dynamodb-request.refused")).to_have_count(tries)
    for index in range(tries):
        requests = detail.locator("ol.dynamodb").nth(index).locator(".dynamodb-request")
        expect(requests.first).to_have_class(re.compile(r"\brefused\b"))
        expect(requests.first).to_contain_text("ConditionalCheckFailedException")
        expect(requests.nth(1)).to_have_attribute("data-operation", "GetItem")
    taken = detail.locator("ol.dynamodb").last.locator(".dynamodb-request").last
    expect(taken).to_have_attribute("data-operation", "UpdateItem")
    expect(taken).to_have_class(re.compile(r"\bok\b"))


def test_an_unknown_execution_is_a_404_page(page):
    response = page.goto("/_console/executions/no-such-execution")

    assert response.status == 404
    expect(page.locator(".error-page h1")).to_have_text("404 · No such execution")
    expect(page.locator(".error-page")).to_contain_text("'no-such-execution'")
    expect(page.locator("body")).not_to_contain_text("Traceback")


def test_a_malformed_execution_name_is_a_400_page(page):
    response = page.goto("/_console/executions/" + "x" * 81)

    assert response.status == 400
    expect(page.locator(".error-page h1")).to_have_text("400 · Not an execution name")
    expect(page.locator(".error-page")).to_contain_text("1-80 characters")


def test_an_unknown_request_id_and_an_unknown_page_are_404_pages(page):
    response = page.goto("/_console/?requestId=0000-not-a-request")
    assert response.status == 404
    expect(page.locator(".error-page")).to_contain_text("0000-not-a-request")

    response = page.goto("/_console/nothing/here")
    assert response.status == 404
    expect(page.locator(".error-page h1")).to_have_text("404 · Not found")
