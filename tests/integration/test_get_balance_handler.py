import importlib
import json

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from functions.handlers import get_balance
from functions.repositories import dynamodb
from infra.local.cloudformation.template import Template
from tests.builders import EVENTS, get_balance_event, handler_context, hold_lock


def call(event) -> tuple[int, dict]:
    response = get_balance.lambda_handler(event, handler_context())
    assert response["multiValueHeaders"]["Content-Type"] == ["application/json"]
    return response["statusCode"], json.loads(response["body"])


def test_recorded_event_of_a_new_user_gets_the_default_balance(client, settings):
    event = json.loads((EVENTS / "get_balance_rest_api.json").read_text())
    assert call(event) == (200, {
        "userId": "1", "balance": "100.00", "available": "100.00", "currency": "USD"})  # fmt: skip
    # A GET never writes.
    assert client.scan(TableName=settings.aggregates_table_name)["Items"] == []


def test_existing_user_gets_the_committed_balance(client):
    hold_lock(client, 'q"u\\é', balance="7.5")  # a balance is read whoever holds the lock
    assert call(get_balance_event({"userId": 'q"u\\é'})) == (200, {
        "userId": 'q"u\\é', "balance": "7.50", "available": "7.50", "currency": "USD"})  # fmt: skip


@pytest.mark.parametrize(
    "query",
    [None, {"userId": ""}, {"userId": "u" * 129}, {"userId": "a\tb"}, {"other": "1"}],
    ids=["no-query", "empty", "too-long", "control-character", "other-param"],
)
def test_invalid_user_id_is_a_400_naming_the_field(client, query):
    status, body = call(get_balance_event(query))
    assert status == 400
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert "userId" in body["error"]["message"]


def test_unexpected_failure_is_a_500_without_internals(client):
    with Stubber(dynamodb.client()) as stub:
        stub.add_client_error("get_item", service_error_code="InternalServerError")
        status, body = call(get_balance_event({"userId": "1"}))
    assert status == 500
    assert body == {
        "error": {"code": "INTERNAL_ERROR", "message": "the request could not be processed"}
    }


def test_the_client_built_at_import_before_the_mock_started_is_mocked(settings):
    # Given the handler imported afresh outside any mock (as Lambda's INIT builds its client)
    importlib.reload(get_balance)
    built_at_import = dynamodb.client()
    with mock_aws():
        tables = boto3.client("dynamodb")
        for table in Template.load().tables.values():
            tables.create_table(**table.create_table_request())
        hold_lock(tables, "u1", balance="3")
        # When the handler runs under the mock, then moto answers the client built before it
        assert call(get_balance_event({"userId": "u1"})) == (
            200,
            {"userId": "u1", "balance": "3.00", "available": "3.00", "currency": "USD"},
        )
        assert dynamodb.client() is built_at_import
