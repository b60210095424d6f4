"""The local stack's moto patch: a cancelled transaction leaves every item as it was,
without moto copying whole tables to get there."""
from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

REGION = "eu-north-1"


@pytest.fixture
def client(moto_dynamodb):
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(TableName="jobs", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "name", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "name", "KeyType": "HASH"}])
    ddb.create_table(TableName="runs", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "name", "AttributeType": "S"},
                                           {"AttributeName": "id", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "name", "KeyType": "HASH"},
                                {"AttributeName": "id", "KeyType": "RANGE"}])
    ddb.put_item(TableName="jobs", Item={"name": {"S": "a"}, "version": {"N": "1"}})
    ddb.put_item(TableName="runs", Item={"name": {"S": "a"}, "id": {"S": "old"}, "status": {"S": "queued"}})
    return ddb


def _tables():
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends["123456789012"][REGION].tables


def _claim(version_expected: str) -> list[dict]:
    return [
        {"Update": {"TableName": "jobs", "Key": {"name": {"S": "a"}}, "UpdateExpression": "SET version = :n",
                    "ConditionExpression": "version = :v",
                    "ExpressionAttributeValues": {":n": {"N": "2"}, ":v": {"N": version_expected}}}},
        {"Update": {"TableName": "runs", "Key": {"name": {"S": "a"}, "id": {"S": "old"}},
                    "UpdateExpression": "SET #s = :r", "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {":r": {"S": "running"}}}},
        {"Put": {"TableName": "runs", "Item": {"name": {"S": "a"}, "id": {"S": "new"}, "status": {"S": "queued"}},
                 "ConditionExpression": "attribute_not_exists(id)"}},
    ]


def _state(ddb) -> tuple:
    job = ddb.get_item(TableName="jobs", Key={"name": {"S": "a"}}, ConsistentRead=True)["Item"]
    runs = ddb.query(TableName="runs", KeyConditionExpression="#n = :a", ExpressionAttributeNames={"#n": "name"},
                     ExpressionAttributeValues={":a": {"S": "a"}})["Items"]
    return job["version"]["N"], sorted((r["id"]["S"], r["status"]["S"]) for r in runs)


def test_a_cancelled_transaction_puts_back_the_items_it_wrote_and_copies_no_table(client):
    tables_before = dict(_tables())
    # moto applies the three writes one by one before it reaches the failing check, so
    # the rollback has real work to undo: an update on each table and a new item.
    items = _claim("1")
    items.append({"ConditionCheck": {"TableName": "jobs", "Key": {"name": {"S": "missing"}},
                                     "ConditionExpression": "attribute_exists(#n)",
                                     "ExpressionAttributeNames": {"#n": "name"}}})
    with pytest.raises(ClientError) as caught:
        client.transact_write_items(TransactItems=items)
    assert caught.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert _state(client) == ("1", [("old", "queued")])
    assert all(_tables()[name] is table for name, table in tables_before.items())  # no whole-table copy


def test_a_transaction_naming_one_item_twice_changes_nothing(client):
    items = _claim("1")
    items.append({"Delete": {"TableName": "runs", "Key": {"name": {"S": "a"}, "id": {"S": "old"}}}})
    with pytest.raises(ClientError) as caught:
        client.transact_write_items(TransactItems=items)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert _state(client) == ("1", [("old", "queued")])


def test_a_committed_transaction_keeps_every_write(client):
    client.transact_write_items(TransactItems=_claim("1"))
    assert _state(client) == ("2", [("new", "queued"), ("old", "running")])
    with pytest.raises(ClientError):
        client.transact_write_items(TransactItems=_claim("1"))  # the version moved on
    assert _state(client) == ("2", [("new", "queued"), ("old", "running")])


def test_a_query_on_the_tables_own_key_reads_that_partition_only_and_pages_as_before(client, monkeypatch):
    from moto.dynamodb.models.table import Table

    for name in ("a", "b", "c"):
        for i in range(7):
            client.put_item(TableName="runs", Item={"name": {"S": name}, "id": {"S": f"r{i}"}, "status": {"S": "ok"}})
    gathered = []
    all_items = Table.all_items
    monkeypatch.setattr(Table, "all_items", lambda self: gathered.append(len(found := all_items(self))) or found)

    def page(start=None, forward=True):
        extra = {"ExclusiveStartKey": start} if start else {}
        return client.query(TableName="runs", KeyConditionExpression="#n = :b", ExpressionAttributeNames={"#n": "name"},
                            ExpressionAttributeValues={":b": {"S": "b"}}, Limit=3, ScanIndexForward=forward, **extra)

    seen, start = [], None
    while True:
        answer = page(start, forward=False)
        seen.extend(item["id"]["S"] for item in answer["Items"])
        start = answer.get("LastEvaluatedKey")
        if not start:
            break
    assert seen == [f"r{i}" for i in reversed(range(7))]  # newest first, every page, nothing from a or c
    assert set(gathered) == {7}  # moto gathered the one partition, never the 22-item table
    assert page()["Items"][0]["id"]["S"] == "r0"
    missing = client.query(TableName="runs", KeyConditionExpression="#n = :z", ExpressionAttributeNames={"#n": "name"},
                           ExpressionAttributeValues={":z": {"S": "zzz"}})
    assert missing["Items"] == [] and _tables()["runs"].items  # the table is whole again after each call
