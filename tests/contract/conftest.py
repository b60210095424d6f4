"""Fixtures of the store contract suite: every store, each with a pinned clock.

The DynamoDB store runs on moto (``moto.mock_aws``) with tables created from
``infra/template.json`` by :func:`devstack.tables.create_tables`.
"""
from __future__ import annotations

from typing import Iterator

import pytest

from chalicelib.adapters.memory_store import MemoryStore
from chalicelib.settings import Settings
from tests.fakes import FakeClock

from .builders import T0


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and the project's region; never a real account."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL",
                 "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-north-1")


@pytest.fixture
def moto_dynamodb(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto's DynamoDB, with each request applied atomically.

    Real DynamoDB serialises writes to an item and applies a transaction all at once;
    moto does neither across threads (a failed transaction even restores a snapshot
    taken before other threads' writes). One lock around moto's operations gives the
    concurrency test the server-side atomicity it relies on, so it tests our
    conditions and not moto's races.
    """
    from moto import mock_aws

    from devstack.moto_atomic import serialise_dynamodb

    serialise_dynamodb(monkeypatch.setattr)
    with mock_aws():
        yield


@pytest.fixture
def settings() -> Settings:
    return Settings(jobs_table="contract-jobs", executions_table="contract-executions", aws_region="eu-north-1")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def dynamodb_store(moto_dynamodb: None, settings: Settings, clock: FakeClock):
    from chalicelib.adapters.dynamodb_store import DynamoDBStore
    from devstack.tables import create_tables

    create_tables(settings)
    return DynamoDBStore(settings.jobs_table, settings.executions_table, settings.aws_region, clock=clock)


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest, clock: FakeClock):
    """Each contract test runs once per store."""
    if request.param == "memory":
        return MemoryStore(clock=clock)
    return request.getfixturevalue("dynamodb_store")
