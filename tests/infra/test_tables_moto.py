"""The packaged template's tables, created in moto from their own properties, serve the store's access paths.

Keys, the due-work index and TTL, exercised by the DynamoDB store itself (its own item
layout), so a template change the store cannot live with fails here.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from .cfn import Evaluator
from .conftest import Packaged

# The first test to need the packaged templates pays for `chalice package` (wheels from PyPI on a cold cache).
pytestmark = pytest.mark.timeout(900)

PARAMETERS = {"Stage": "prod", "SupabaseUrl": "https://abcd.supabase.co"}


def create_table_from_template(client: Any, properties: dict[str, Any]) -> str:
    """CreateTable, then the settings CloudFormation applies with separate calls (TTL, PITR)."""
    name = properties["TableName"]
    sse = properties.get("SSESpecification", {})
    arguments = {
        "TableName": name,
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
        "BillingMode": properties["BillingMode"],
        "DeletionProtectionEnabled": properties["DeletionProtectionEnabled"],
        "SSESpecification": {"Enabled": sse["SSEEnabled"], "SSEType": sse["SSEType"]},
        "Tags": properties["Tags"],
    }
    if "GlobalSecondaryIndexes" in properties:
        arguments["GlobalSecondaryIndexes"] = properties["GlobalSecondaryIndexes"]
    client.create_table(**arguments)
    if "TimeToLiveSpecification" in properties:
        client.update_time_to_live(TableName=name, TimeToLiveSpecification=properties["TimeToLiveSpecification"])
    if properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]:
        client.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification={
            "PointInTimeRecoveryEnabled": True})
    return name


@pytest.fixture()
def tables(packaged: dict[str, Packaged]) -> Any:
    p = packaged["prod"]
    ev = Evaluator(p.template, PARAMETERS)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-north-1")
        names = {logical_id: create_table_from_template(client, ev.resolve(p.resource(logical_id)["Properties"]))
                 for logical_id in ("JobsTable", "ExecutionsTable")}
        yield client, names


def test_the_key_layout_the_store_relies_on_is_unchanged(packaged: dict[str, Packaged]) -> None:
    resources = packaged["prod"].template["Resources"]
    jobs, executions = resources["JobsTable"]["Properties"], resources["ExecutionsTable"]["Properties"]
    assert jobs["KeySchema"] == [{"AttributeName": "jobName", "KeyType": "HASH"}]
    assert [(i["IndexName"], i["KeySchema"]) for i in jobs["GlobalSecondaryIndexes"]] == [
        ("due-index", [{"AttributeName": "dueShard", "KeyType": "HASH"},
                       {"AttributeName": "dueAt", "KeyType": "RANGE"}])]
    assert executions["KeySchema"] == [{"AttributeName": "jobName", "KeyType": "HASH"},
                                       {"AttributeName": "sk", "KeyType": "RANGE"}]
    assert executions["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}


def test_tables_are_created_as_the_stack_would_create_them(tables: Any) -> None:
    client, names = tables
    assert names == {"JobsTable": "nightly-scheduler-prod-jobs", "ExecutionsTable": "nightly-scheduler-prod-executions"}
    for name in names.values():
        table = client.describe_table(TableName=name)["Table"]
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert table["DeletionProtectionEnabled"] is True
        assert table["SSEDescription"]["Status"] == "ENABLED"
        backups = client.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
        assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    ttl = client.describe_time_to_live(TableName=names["ExecutionsTable"])["TimeToLiveDescription"]
    assert (ttl["AttributeName"], ttl["TimeToLiveStatus"]) == ("expiresAt", "ENABLED")


def _store(names: dict[str, str]) -> Any:
    from chalicelib.adapters.dynamodb_store import DynamoDBStore

    return DynamoDBStore(names["JobsTable"], names["ExecutionsTable"], "eu-north-1")


def test_the_store_finds_due_work_through_the_packaged_due_index(tables: Any) -> None:
    """The store's own items (its key layout, its due entries) on the tables CloudFormation creates."""
    from chalicelib.core.model import JobState
    from tests.contract.builders import T0, make_job

    _client, names = tables
    store = _store(names)
    for name, due_in in (("b-job", 60), ("a-job", 59), ("later", 120)):
        store.create_job(make_job(name, next_run_at=T0 + timedelta(minutes=due_in)))
    store.create_job(make_job("paused", state=JobState.PAUSED, next_run_at=None))
    due = store.due_page(T0 + timedelta(minutes=60), limit=10).items
    assert [job.name for job in due] == ["a-job", "b-job"]


def test_the_store_lists_executions_newest_first_on_the_packaged_tables(tables: Any) -> None:
    from tests.contract.builders import T0, make_execution, make_job

    _client, names = tables
    store = _store(names)
    job = make_job("certification-expiry-check")
    store.create_job(job)
    slots = [T0 - timedelta(days=2), T0, T0 - timedelta(days=1)]
    store.commit(job, expected_version=job.version,
                 new_executions=[make_execution(job.name, slot) for slot in slots])
    page = store.list_executions(job.name, limit=2, cursor=None)
    assert [e.scheduled_for for e in page.items] == [T0, T0 - timedelta(days=1)]
    assert page.next_cursor is not None


def test_the_local_stack_loader_reads_the_packaged_tables(packaged: dict[str, Packaged]) -> None:
    """devstack.tables creates tables from a template; it must keep working on the merged one."""
    import devstack.tables as tables_module
    from chalicelib.settings import Settings

    settings = Settings(jobs_table="jobs", executions_table="executions", aws_region="eu-north-1")
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-north-1")
        created = tables_module.create_tables(settings, client=client, template_path=packaged["prod"].path)
        assert sorted(created) == ["executions", "jobs"]


def test_the_dispatcher_and_worker_run_on_the_packaged_tables(tables: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Claim, run, retry and history on tables built from the packaged template alone."""
    from chalicelib.adapters.dynamodb_store import DynamoDBStore
    from chalicelib.core.model import ExecutionStatus
    from tests.fakes import Harness, utc

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    _client, names = tables
    store = DynamoDBStore(names["JobsTable"], names["ExecutionsTable"], "eu-north-1")
    harness = Harness(utc(2026, 11, 28, 20, 0), store=store)
    attempts: list[int] = []

    def flaky(ctx: Any) -> dict[str, int]:
        attempts.append(ctx.attempt)
        if ctx.attempt == 1:
            raise RuntimeError("first attempt fails")
        return {"attempt": ctx.attempt}

    harness.registry.add("flaky", flaky)
    harness.service.register_job("nightly", "0 2 * * *", "flaky", timezone="Europe/Oslo")
    harness.tick(utc(2026, 11, 29, 1, 0))
    harness.tick(utc(2026, 11, 29, 1, 0))  # the same event again: nothing new
    harness.tick(utc(2026, 11, 29, 1, 1))  # the retry is due 60 s later
    history = harness.service.reads.list_executions("nightly", limit=10)
    assert [(e.attempt, e.status) for e in history.items] == [(2, ExecutionStatus.SUCCEEDED), (1, ExecutionStatus.FAILED)]
    assert attempts == [1, 2]
    job = harness.service.reads.get_job("nightly")
    assert job.last_execution.status is ExecutionStatus.SUCCEEDED and job.next_run_at == utc(2026, 11, 30, 1, 0)
