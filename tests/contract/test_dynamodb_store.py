"""What only the DynamoDB store has: key layout, request shapes, retries, error translation."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from chalicelib.adapters.dynamodb_models import due_index_key
from chalicelib.adapters.dynamodb_store import DynamoDBStore
from chalicelib.core.errors import ConcurrentUpdate, StoreUnavailable
from chalicelib.core.model import Lease
from chalicelib.core.ports import IdempotencyRecord
from chalicelib.settings import Settings
from devstack.tables import create_tables

from .builders import T0, make_execution, make_job


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_):
        yield self._body


def _dynamodb_error(code: str, **fields) -> AWSResponse:
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": code, **fields})
    return AWSResponse("https://dynamodb.eu-north-1.amazonaws.com/", 400, {"x-amzn-requestid": "fake"}, _Body(body.encode()))


class FailingFirst:
    """A before-send hook: answers the first ``times`` sends with an error, then lets moto answer."""

    def __init__(self, response: AWSResponse, times: int) -> None:
        self.response, self.times, self.sends = response, times, 0

    def __call__(self, **_):
        self.sends += 1
        return self.response if self.sends <= self.times else None


def _store(settings: Settings, **options) -> DynamoDBStore:
    return DynamoDBStore(settings.jobs_table, settings.executions_table, settings.aws_region, **options)


@pytest.fixture
def raw(moto_dynamodb):
    return boto3.client("dynamodb", region_name="eu-north-1")


def test_the_client_uses_standard_retry_mode(dynamodb_store):
    assert dynamodb_store.client.meta.config.retries == {"mode": "standard", "total_max_attempts": 5}


def test_throttling_that_outlasts_the_retries_is_store_unavailable(moto_dynamodb, settings):
    create_tables(settings)
    store = _store(settings, max_attempts=2)
    throttled = FailingFirst(_dynamodb_error("ProvisionedThroughputExceededException"), times=99)
    store.client.meta.events.register_first("before-send.dynamodb.GetItem", throttled)

    with pytest.raises(StoreUnavailable) as caught:
        store.get_job("nightly-report")

    assert throttled.sends == 2  # botocore retried once, then gave up
    assert caught.value.__cause__ is not None


def test_throttling_that_passes_is_retried_transparently(moto_dynamodb, settings):
    create_tables(settings)
    store = _store(settings, max_attempts=3)
    store.create_job(make_job())
    store.client.meta.events.register_first(
        "before-send.dynamodb.GetItem", FailingFirst(_dynamodb_error("ThrottlingException"), times=1)
    )

    assert store.get_job("nightly-report") == make_job()


@pytest.mark.parametrize(
    "reason, error",
    [("TransactionConflict", ConcurrentUpdate), ("ThrottlingError", StoreUnavailable)],
)
def test_transaction_cancellation_reasons_are_translated(dynamodb_store, reason, error):
    dynamodb_store.create_job(make_job())
    cancelled = _dynamodb_error(
        "TransactionCanceledException", CancellationReasons=[{"Code": "None"}, {"Code": reason, "Message": reason}]
    )
    dynamodb_store.client.meta.events.register_first(
        "before-send.dynamodb.TransactWriteItems", FailingFirst(cancelled, times=99)
    )

    with pytest.raises(error):
        dynamodb_store.commit(make_job(), expected_version=0, new_executions=[make_execution("nightly-report")])


def test_each_operation_costs_one_request(dynamodb_store):
    job = make_job(next_run_at=T0)
    dynamodb_store.create_job(job)
    dynamodb_store.reset_request_count()

    dynamodb_store.get_job(job.name)
    executions = [make_execution(job.name, attempt=a) for a in (1, 2, 3)]
    record = IdempotencyRecord(job.name, "req-1", executions[0].execution_id, T0 + timedelta(hours=24))
    dynamodb_store.commit(job, expected_version=0, new_executions=executions, idempotency=record)
    dynamodb_store.due_page(T0, limit=10)
    dynamodb_store.list_executions(job.name, limit=2, cursor=None)
    dynamodb_store.get_execution(job.name, executions[0].execution_id)
    dynamodb_store.find_idempotency(job.name, "req-1", T0)

    # The due index is read with one Query per shard (8 by default), the history with one.
    assert dynamodb_store.requests_by_operation == {"GetItem": 3, "TransactWriteItems": 1, "Query": 8 + 1}
    assert dynamodb_store.request_count == 13
    assert dynamodb_store.attempt_count == 13


def test_two_stores_on_different_tables_coexist(moto_dynamodb, settings):
    other_settings = Settings(jobs_table="other-jobs", executions_table="other-executions", aws_region="eu-north-1")
    create_tables(settings)
    create_tables(other_settings)
    first, second = _store(settings), _store(other_settings)

    first.create_job(make_job("only-in-first"))
    second.create_job(make_job("only-in-second"))

    assert first.get_job("only-in-second") is None and second.get_job("only-in-first") is None
    assert [j.name for j in first.list_jobs(limit=10, cursor=None).items] == ["only-in-first"]
    assert first.request_count == 3 and second.request_count == 2  # each store counts its own


def test_the_key_layout_is_as_documented(dynamodb_store, settings, raw):
    job = make_job(next_run_at=T0 + timedelta(hours=1, microseconds=5))
    dynamodb_store.create_job(job)
    execution = make_execution(job.name, lease_owner="worker-1")
    expires = T0 + timedelta(hours=24, milliseconds=1)
    dynamodb_store.commit(
        replace(job, lease=Lease(execution.execution_id, T0 + timedelta(minutes=5), "worker-1")),
        expected_version=0,
        new_executions=[execution],
        idempotency=IdempotencyRecord(job.name, "req-1", execution.execution_id, expires),
    )

    job_item = raw.get_item(TableName=settings.jobs_table, Key={"jobName": {"S": job.name}})["Item"]
    assert job_item["version"] == {"N": "1"}
    assert job_item["dueShard"] == {"S": "due"}
    assert job_item["dueAt"] == {"S": "2026-11-28T20:05:00.000000Z"} == {"S": due_index_key(T0 + timedelta(minutes=5))}
    assert json.loads(job_item["doc"]["S"])["definition"]["job_name"] == job.name
    # each part stored once: the version and the set-aside beside the document, not in it
    assert not {"version", "set_aside"} & set(json.loads(job_item["doc"]["S"]))

    items = raw.query(
        TableName=settings.executions_table,
        KeyConditionExpression="jobName = :j",
        ExpressionAttributeValues={":j": {"S": job.name}},
    )["Items"]
    by_sk = {item["sk"]["S"]: item for item in items}
    assert set(by_sk) == {"X#" + execution.execution_id, "K#req-1"}
    stored = by_sk["X#" + execution.execution_id]
    assert stored["status"] == {"S": "queued"} and stored["leaseOwner"] == {"S": "worker-1"}
    assert stored["expiresAt"] == {"N": str(int(execution.expires_at.timestamp()))}
    assert by_sk["K#req-1"]["expiresAt"] == {"N": str(int(expires.timestamp()) + 1)}  # rounded up


def test_a_job_without_work_carries_no_due_index_keys(dynamodb_store, settings, raw):
    job = make_job(next_run_at=None)
    dynamodb_store.create_job(job)

    item = raw.get_item(TableName=settings.jobs_table, Key={"jobName": {"S": job.name}})["Item"]

    assert "dueShard" not in item and "dueAt" not in item


def test_due_index_keys_sort_as_time():
    moments = [T0 + timedelta(microseconds=m) for m in (0, 1, 999, 1000, 999_999)] + [T0 + timedelta(days=400)]
    keys = [due_index_key(m) for m in moments]
    assert sorted(keys) == keys and len({len(k) for k in keys}) == 1


def test_an_unreachable_endpoint_is_store_unavailable(aws_env):
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    store = DynamoDBStore("jobs", "executions", "eu-north-1", "http://127.0.0.1:9", max_attempts=1)

    with pytest.raises(StoreUnavailable):
        store.get_job("nightly-report")


def test_the_due_index_is_write_sharded_and_changing_the_count_is_safe(moto_dynamodb, settings, clock):
    from chalicelib.adapters.dynamodb_models import due_shard_for
    from chalicelib.adapters.dynamodb_store import DynamoDBStore
    from devstack.tables import create_tables

    create_tables(settings)

    def store(shards: int, previous: int = 0) -> DynamoDBStore:
        return DynamoDBStore(settings.jobs_table, settings.executions_table, settings.aws_region, clock=clock,
                             due_shards=shards, previous_due_shards=previous)

    names = [f"job-{i:02d}" for i in range(40)]
    writer = store(4)
    for name in names:
        writer.create_job(make_job(name, next_run_at=T0))
    assert len({due_shard_for(n, 4) for n in names}) == 4  # spread over every shard
    assert due_shard_for("job-00", 4) == due_shard_for("job-00", 4)  # stable

    def all_due(reader: DynamoDBStore) -> list[str]:
        found, cursor = [], None
        while True:
            page = reader.due_page(T0, limit=7, cursor=cursor)
            found.extend(j.name for j in page.items)
            if page.next_cursor is None:
                return sorted(found)
            cursor = page.next_cursor

    assert all_due(store(4)) == names
    assert all_due(store(8)) == names  # raising the count: the old shards are read too
    assert all_due(store(2, previous=4)) == names  # lowering it: keep reading the old shards meanwhile
    lowered = store(2)
    for name in names:  # each job moves to its new shard on its next write
        job = lowered.get_job(name)
        lowered.commit(job, expected_version=job.version)
    assert all_due(store(2)) == names


def test_an_endpoint_that_answers_nothing_is_an_outage_not_a_broken_job(dynamodb_store, monkeypatch):
    """An overloaded endpoint's empty answer or dropped connection is StoreUnavailable (the
    job stays due), never a job fault that would set a healthy job aside."""
    from botocore.exceptions import ConnectionClosedError

    from chalicelib.core.errors import StoreUnavailable

    dynamodb_store.create_job(make_job(next_run_at=T0))
    monkeypatch.setattr(dynamodb_store._connection, "get_item", lambda *a, **k: None)
    with pytest.raises(StoreUnavailable):
        dynamodb_store.get_job("nightly-report")

    def dropped(*args, **kwargs):
        raise ConnectionClosedError(endpoint_url="http://127.0.0.1")

    monkeypatch.setattr(dynamodb_store._connection, "query", dropped)
    with pytest.raises(StoreUnavailable):
        dynamodb_store.due_page(T0, limit=10)


def test_an_endpoint_that_never_answers_is_store_unavailable(aws_env):
    """A read timeout (botocore's error carries ``response=None``) is an outage: found on the
    local stack under 1,000 every-minute jobs, where it escaped as an AttributeError (500)."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept_and_say_nothing() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    threading.Thread(target=accept_and_say_nothing, daemon=True).start()
    try:
        store = DynamoDBStore("jobs", "executions", "eu-north-1", f"http://127.0.0.1:{listener.getsockname()[1]}",
                              max_attempts=1, read_timeout_seconds=0.3)
        with pytest.raises(StoreUnavailable):
            store.get_job("nightly-report")
        with pytest.raises(StoreUnavailable):
            store.create_job(make_job(next_run_at=T0))
        with pytest.raises(StoreUnavailable):
            store.commit(make_job(next_run_at=T0), expected_version=1)
    finally:
        stop.set()
        for conn in held:
            conn.close()
        listener.close()


def test_a_replay_keeps_its_version_beside_its_document_only(dynamodb_store, settings, raw):
    from chalicelib.core.ports import ReplayUpdate
    from tests.contract.test_replay_store import make_replay

    job = make_job()
    dynamodb_store.create_job(job)
    replay = make_replay(job.name, "20261128T200000000-0000")
    dynamodb_store.commit(job, expected_version=0, replay=ReplayUpdate(replay, None))
    item = raw.get_item(TableName=settings.executions_table,
                        Key={"jobName": {"S": job.name}, "sk": {"S": "R#" + replay.replay_id}})["Item"]
    assert item["version"] == {"N": "1"} and "version" not in json.loads(item["doc"]["S"])
