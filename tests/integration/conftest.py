"""moto DynamoDB per test, with the tables created from infra/template.yaml."""

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from functions.settings import Settings, get_settings
from infra.local.awslambda.functions import cold_start
from infra.local.cloudformation.template import Template
from tests.builders import TABLE_NAMES


@pytest.fixture
def settings(monkeypatch) -> Iterator[Settings]:
    for variable, table_name in TABLE_NAMES.items():
        monkeypatch.setenv(variable, table_name)
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
