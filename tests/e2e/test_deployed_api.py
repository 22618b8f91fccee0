"""Opt-in: the deployed stack AWS_SAM_STACK_NAME names, over HTTPS, signed with SigV4 if IAM.

Run with `make e2e`, which passes --noconftest: the root conftest swaps in fake credentials for
moto, and these tests need the real ones (environment, profile or SSO, as boto3 finds them).
"""

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

STACK_NAME = os.environ.get("AWS_SAM_STACK_NAME", "")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not STACK_NAME, reason="AWS_SAM_STACK_NAME is not set (docs/deploy.md)"),
]


@dataclass
class DeployedApi:
    url: str
    is_iam: bool
    session: boto3.Session

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        body = kwargs.pop("body", None)
        headers = {"Content-Type": "application/json", **kwargs.pop("headers", {})}
        data = kwargs.pop("raw", None) if body is None else json.dumps(body)  # raw: bytes as sent
        request = AWSRequest(method, self.url + path, data=data, headers=headers, **kwargs)
        if self.is_iam:
            credentials = self.session.get_credentials()
            assert credentials is not None  # the stack fixture fails the tests without any
            frozen = credentials.get_frozen_credentials()
            SigV4Auth(frozen, "execute-api", self.session.region_name).add_auth(request)
        prepared = request.prepare()
        return requests.request(
            method, prepared.url, headers=dict(prepared.headers), data=data, timeout=35
        )

    def balance(self, user_id: str) -> requests.Response:
        return self.request("GET", "/balance", params={"userId": user_id})

    def credit(self, user_id: str, amount: str, key: str) -> requests.Response:
        return self.request(
            "POST", "/transactions", headers={"Idempotent-Key": key},
            body={"userId": user_id, "ammount": amount, "type": "credit"},
        )  # fmt: skip


@pytest.fixture(scope="module")
def stack() -> dict[str, str]:
    session = boto3.Session()
    credentials = session.get_credentials()
    if credentials is None:
        pytest.fail("no AWS credentials: configure a profile or environment variables")
    if credentials.access_key == "testing":
        pytest.fail("the fake moto credentials are set: run `make e2e` (pytest --noconftest)")
    cloudformation = session.client("cloudformation")
    [description] = cloudformation.describe_stacks(StackName=STACK_NAME)["Stacks"]
    return {output["OutputKey"]: output["OutputValue"] for output in description["Outputs"]}


@pytest.fixture(scope="module")
def api(stack) -> DeployedApi:
    return DeployedApi(stack["ApiUrl"], stack["ApiAuthorization"] == "AWS_IAM", boto3.Session())


@pytest.fixture
def user_id(stack) -> Iterator[str]:
    """A user of this test only; its items are deleted afterwards."""
    user_id = f"e2e-{uuid.uuid4().hex}"
    yield user_id
    dynamodb = boto3.client("dynamodb")
    dynamodb.delete_item(TableName=stack["AggregatesTableName"], Key={"userId": {"S": user_id}})
    items = dynamodb.query(
        TableName=stack["TransactionsTableName"],
        KeyConditionExpression="userId = :u",
        ExpressionAttributeValues={":u": {"S": user_id}},
        ProjectionExpression="userId, idempotencyKey",
    )["Items"]
    for key in items:
        dynamodb.delete_item(TableName=stack["TransactionsTableName"], Key=key)


def test_new_user_has_the_default_balance(api, user_id):
    response = api.balance(user_id)

    assert response.status_code == 200, response.text
    body = {"userId": user_id, "balance": "100.00", "available": "100.00", "currency": "USD"}
    assert response.json() == body


def test_credit_is_applied_once_and_replayed(api, user_id):
    key = uuid.uuid4().hex

    first = api.credit(user_id, "10", key)
    replay = api.credit(user_id, "10", key)

    assert first.status_code == 201, first.text
    assert first.json()["balance"] == "110.00"
    assert first.headers.get("Idempotent-Replayed") is None
    assert replay.status_code == 201, replay.text
    assert replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert Decimal(api.balance(user_id).json()["balance"]) == Decimal("110.00")


def test_unsigned_requests_are_refused_when_auth_is_iam(api):
    if not api.is_iam:
        pytest.skip("the stack was deployed with ApiAuthorization=NONE")

    response = requests.get(f"{api.url}/balance", params={"userId": "1"}, timeout=35)

    assert response.status_code == 403


def test_a_user_id_that_is_not_utf8_is_a_400_and_credits_no_wallet(api, stack, user_id):
    # API Gateway hands the integration U+FFFD in place of bytes that are not UTF-8, so two such
    # ids would name one wallet: the functions refuse it (docs/api.md, "Text is UTF-8").
    body = b'{"userId": "' + user_id.encode() + b'\xff\xfe", "ammount": "1", "type": "credit"}'

    response = api.request("POST", "/transactions", headers={"Idempotent-Key": "k"}, raw=body)

    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    merged = {"userId": {"S": user_id + "\ufffd\ufffd"}}
    row = boto3.client("dynamodb").get_item(TableName=stack["AggregatesTableName"], Key=merged)
    assert "Item" not in row
