"""Fault-injection tests run on moto's DynamoDB, SNS and SQS."""
from __future__ import annotations

import pytest

from chalicelib.settings import Settings
from tests.contract.conftest import aws_env, moto_dynamodb  # noqa: F401 - fixtures

SETTINGS = Settings(jobs_table="fault-jobs", executions_table="fault-executions", aws_region="eu-north-1")


@pytest.fixture
def store_factory(moto_dynamodb):  # noqa: F811
    """A new DynamoDBStore (own client) on the same moto tables, each call."""
    from chalicelib.adapters.dynamodb_store import DynamoDBStore
    from devstack.tables import create_tables

    create_tables(SETTINGS)

    def make():
        return DynamoDBStore(SETTINGS.jobs_table, SETTINGS.executions_table, SETTINGS.aws_region)

    return make
