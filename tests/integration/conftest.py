"""moto DynamoDB per test, with the tables created from infra/template.yaml."""

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from functions.repositories import dynamodb
from functions.settings import Settings, get_settings
from infra.local.template import Template
from tests.builders import TABLE_NAMES


@pytest.fixture
def settings(monkeypatch) -> Iterator[Settings]:
    for variable, table_name in TABLE_NAMES.items():
        monkeypatch.setenv(variable, table_name)
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
