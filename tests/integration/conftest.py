"""moto DynamoDB per test, with the tables created from infra/template.yaml."""

import boto3
import pytest
from moto import mock_aws

from functions.settings import Settings, get_settings
from infra.local.awslambda.functions import cold_start
from infra.local.cloudformation.template import Template


@pytest.fixture
def settings(monkeypatch) -> Settings:
    monkeypatch.setenv("TRANSACTIONS_TABLE_NAME", "TransactionsTable")
    monkeypatch.setenv("AGGREGATES_TABLE_NAME", "AggregatesTable")
    monkeypatch.setenv("LEDGER_TABLE_NAME", "LedgerTable")
    monkeypatch.setenv("SUMMARIES_TABLE_NAME", "SummariesTable")
    monkeypatch.setenv("OUTBOX_TABLE_NAME", "OutboxTable")
    cold_start()
    yield get_settings()
    cold_start()


@pytest.fixture
def client(settings):
    with mock_aws():
        client = boto3.client("dynamodb")
        for table in Template.load().tables.values():
            client.create_table(**table.create_table_request())
        yield client
