"""One simulated day of the month's jobs on moto's DynamoDB, across Oslo's fall-back night."""
from __future__ import annotations

import pytest

from tests.fakes import utc
from tests.sim.simulation import run_simulation


@pytest.mark.timeout(900)  # about two minutes alone; moto copies its tables on every transaction
def test_a_simulated_day_on_moto_keeps_every_invariant(record_property, monkeypatch):
    from moto import mock_aws

    from chalicelib.adapters.dynamodb_store import DynamoDBStore
    from chalicelib.settings import Settings
    from devstack.moto_atomic import serialise_dynamodb
    from devstack.tables import create_tables

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-north-1")
    serialise_dynamodb(monkeypatch.setattr)
    settings = Settings(jobs_table="sim-jobs", executions_table="sim-executions", aws_region="eu-north-1")
    with mock_aws():
        create_tables(settings)
        store = DynamoDBStore.from_settings(settings)
        # 25 Oct 2026: Oslo's fall-back night, in the middle of the simulated day.
        _harness, result = run_simulation(utc(2026, 10, 24, 12, 0), 1, seed=7, store=store)
    record_property("summary", "simulated day (moto DynamoDB): " + result.summary())
    assert result.problems == []
    assert result.counts["succeeded"] > 1_000 and result.alerts > 0
