"""Create the scheduler's DynamoDB tables from ``infra/template.json`` (local stack, tests).

The template is the single source of the table schemas: this reads each
``AWS::DynamoDB::Table`` resource and creates it with the template's own key schema,
attributes, indexes and billing mode, then enables its TTL. Other resources, and
table properties CreateTable does not take (point-in-time recovery, SSE, deletion
protection, tags, ...), are ignored, intrinsic functions in them included.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from chalicelib.settings import Settings

TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "infra" / "template.json"

# Properties passed to CreateTable as they are written in the template.
_CREATE_TABLE_PROPERTIES = (
    "AttributeDefinitions",
    "KeySchema",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "BillingMode",
    "ProvisionedThroughput",
)
# Keys of a GSI/LSI that CreateTable accepts (CloudFormation allows more, e.g. contributor insights).
_INDEX_KEYS = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput", "OnDemandThroughput")


def table_names(settings: Settings) -> dict[str, str]:
    """Template logical id -> the table name these settings use."""
    return {"JobsTable": settings.jobs_table, "ExecutionsTable": settings.executions_table}


def create_tables(settings: Settings, *, client: Any = None, template_path: Path = TEMPLATE_PATH) -> list[str]:
    """Create every missing table; leave existing ones alone. Returns the names created.

    ``client`` is a boto3 DynamoDB client; by default one for ``settings.aws_region``
    and ``settings.aws_endpoint_url``.
    """
    if client is None:
        import boto3  # the local stack only; never at import time

        client = boto3.client(
            "dynamodb", region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url
        )
    template = json.loads(Path(template_path).read_text())
    names = table_names(settings)
    created: list[str] = []
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::DynamoDB::Table" or logical_id not in names:
            continue
        table_name = names[logical_id]
        if _exists(client, table_name):
            continue
        properties = resource.get("Properties", {})
        client.create_table(TableName=table_name, **_create_table_arguments(logical_id, properties))
        client.get_waiter("table_exists").wait(TableName=table_name)
        ttl = properties.get("TimeToLiveSpecification")
        if ttl is not None:
            ttl = _literal(ttl, f"{logical_id}.TimeToLiveSpecification")
            if ttl.get("Enabled"):
                client.update_time_to_live(
                    TableName=table_name,
                    TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
                )
        created.append(table_name)
    return created


def _create_table_arguments(logical_id: str, properties: Mapping[str, Any]) -> dict[str, Any]:
    arguments: dict[str, Any] = {}
    for name in _CREATE_TABLE_PROPERTIES:
        if name in properties:
            arguments[name] = _literal(properties[name], f"{logical_id}.{name}")
    for name in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if name in arguments:
            arguments[name] = [{k: index[k] for k in _INDEX_KEYS if k in index} for index in arguments[name]]
    return arguments


def _literal(value: Any, where: str) -> Any:
    """``value`` if it holds no CloudFormation intrinsic function; this module cannot evaluate one."""
    if isinstance(value, dict):
        for key in value:
            if key == "Ref" or key.startswith("Fn::"):
                raise ValueError(f"{where} uses {key}; the local stack needs a literal value there")
        return {key: _literal(item, where) for key, item in value.items()}
    if isinstance(value, list):
        return [_literal(item, where) for item in value]
    return value


def _exists(client: Any, table_name: str) -> bool:
    try:
        client.describe_table(TableName=table_name)
    except client.exceptions.ResourceNotFoundException:
        return False
    return True
