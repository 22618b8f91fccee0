"""moto DynamoDB per test, with the tables created from infra/template.yaml."""

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from functions.repositories import dynamodb
from functions.settings import Settings, get_settings
from infra.local.template import Template


@pytest.fixture
def settings(monkeypatch) -> Iterator[Settings]:
    monkeypatch.setenv("TRANSACTIONS_TABLE_NAME", "TransactionsTable")
    monkeypatch.setenv("AGGREGATES_TABLE_NAME", "AggregatesTable")
    monkeypatch.setenv("LEDGER_TABLE_NAME", "LedgerTable")
    monkeypatch.setenv("SUMMARIES_TABLE_NAME", "SummariesTable")
    monkeypatch.setenv("OUTBOX_TABLE_NAME", "OutboxTable")
    get_settings.cache_clear()
    dynamodb.client.cache_clear()
    yield get_settings()
    get_settings.cache_clear()
    dynamodb.client.cache_clear()


@pytest.fixture
def client(settings):
    with mock_aws():
        client = boto3.client("dynamodb")
        for table in Template.load().tables.values():
            client.create_table(**table.create_table_request())
        yield client
