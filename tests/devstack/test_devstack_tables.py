"""devstack.tables builds the tables infra/template.json defines, and only those."""
from __future__ import annotations

import copy
import json

import boto3
import pytest

from chalicelib.settings import Settings
from devstack.tables import TEMPLATE_PATH, create_tables


@pytest.fixture
def dynamodb(moto_dynamodb):
    return boto3.client("dynamodb", region_name="eu-north-1")


def _template() -> dict:
    return json.loads(TEMPLATE_PATH.read_text())


def _schema(template: dict, logical_id: str) -> dict:
    return template["Resources"][logical_id]["Properties"]


def test_tables_get_the_template_schema_and_the_settings_names(dynamodb, settings):
    created = create_tables(settings, client=dynamodb)

    assert created == [settings.jobs_table, settings.executions_table]
    template = _template()
    for logical_id, name in (("JobsTable", settings.jobs_table), ("ExecutionsTable", settings.executions_table)):
        table = dynamodb.describe_table(TableName=name)["Table"]
        expected = _schema(template, logical_id)
        assert table["KeySchema"] == expected["KeySchema"]
        assert sorted(table["AttributeDefinitions"], key=str) == sorted(expected["AttributeDefinitions"], key=str)
        assert table["BillingModeSummary"]["BillingMode"] == expected["BillingMode"]
    jobs = dynamodb.describe_table(TableName=settings.jobs_table)["Table"]
    (index,) = jobs["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "due-index"
    assert index["KeySchema"] == [
        {"AttributeName": "dueShard", "KeyType": "HASH"},
        {"AttributeName": "dueAt", "KeyType": "RANGE"},
    ]
    ttl = dynamodb.describe_time_to_live(TableName=settings.executions_table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiresAt"}


def test_existing_tables_are_left_alone(dynamodb, settings):
    create_tables(settings, client=dynamodb)
    dynamodb.put_item(TableName=settings.jobs_table, Item={"jobName": {"S": "kept"}})

    assert create_tables(settings, client=dynamodb) == []
    assert "Item" in dynamodb.get_item(TableName=settings.jobs_table, Key={"jobName": {"S": "kept"}})


def test_other_resources_and_unused_properties_are_ignored_intrinsics_included(dynamodb, settings, tmp_path):
    template = copy.deepcopy(_template())
    template["Conditions"] = {"IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}}
    template["Resources"]["AlertTopic"] = {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Ref": "Topic"}}}
    template["Resources"]["OtherTable"] = {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": {"Ref": "X"}}}
    for logical_id in ("JobsTable", "ExecutionsTable"):
        properties = _schema(template, logical_id)
        properties["PointInTimeRecoverySpecification"] = {"PointInTimeRecoveryEnabled": {"Fn::If": ["IsProd", True, False]}}
        properties["SSESpecification"] = {"SSEEnabled": True}
        properties["DeletionProtectionEnabled"] = {"Fn::If": ["IsProd", True, False]}
        properties["Tags"] = [{"Key": "stage", "Value": {"Ref": "Stage"}}]
    _schema(template, "JobsTable")["GlobalSecondaryIndexes"][0]["ContributorInsightsSpecification"] = {"Enabled": True}
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template))

    assert create_tables(settings, client=dynamodb, template_path=path) == [settings.jobs_table, settings.executions_table]
    assert sorted(dynamodb.list_tables()["TableNames"]) == sorted([settings.jobs_table, settings.executions_table])


def test_an_intrinsic_in_a_schema_property_is_reported(dynamodb, settings, tmp_path):
    template = copy.deepcopy(_template())
    _schema(template, "JobsTable")["BillingMode"] = {"Fn::If": ["IsProd", "PROVISIONED", "PAY_PER_REQUEST"]}
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template))

    with pytest.raises(ValueError, match="JobsTable.BillingMode"):
        create_tables(settings, client=dynamodb, template_path=path)


def test_the_default_client_follows_the_settings(moto_dynamodb):
    settings = Settings(jobs_table="t-jobs", executions_table="t-executions", aws_region="eu-north-1")
    create_tables(settings)
    names = boto3.client("dynamodb", region_name="eu-north-1").list_tables()["TableNames"]
    assert sorted(names) == ["t-executions", "t-jobs"]
