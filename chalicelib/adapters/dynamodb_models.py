"""The DynamoDB tables as PynamoDB models: key layout, the due-work index, TTL.

The tables are defined once in ``infra/template.json``; each model's docstring gives its
keys. :func:`bind_models` points fresh model classes at one store's tables and connection."""
from __future__ import annotations

import math
import zlib
from datetime import datetime
from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.core.model import UTC

DUE_SHARD = "due"
"""The due index's first shard (every job's, before the index was sharded)."""

DEFAULT_DUE_SHARDS = 8
"""Sized for 1,000 due-entry writes a second: DynamoDB takes about 1,000 writes a second
per partition key value, and a claim writes a job's entry once or twice."""


def due_shard_for(job_name: str, shards: int) -> str:
    """``dueShard``: a stable hash of the name modulo ``shards`` ("due", "due-1", …)."""
    shard = zlib.crc32(job_name.encode()) % max(1, shards)
    return due_shard_key(shard)


def due_shard_key(shard: int) -> str:
    return DUE_SHARD if shard == 0 else f"{DUE_SHARD}-{shard}"


EXECUTION_PREFIX = "X#"


IDEMPOTENCY_PREFIX = "K#"

TRIGGER_BUDGET_PARTITION = "#trigger-budget#"
"""A caller's manual-trigger counts: PK ``#trigger-budget#<caller>`` (no job name starts
with '#'), SK ``B#<minute>``."""
TRIGGER_BUDGET_PREFIX = "B#"


REPLAY_PREFIX = "R#"

ORPHANED_RUNS_PARTITION = "#orphaned-runs"
"""The watches on runs of deleted jobs, all in one partition of the executions table (no
job name starts with '#'), SK ``<lease expiry, due_index_key>#<job>#<execution id>`` so a
tick reads the expired ones with one Query; ``expiresAt`` is the watch's TTL."""


WINDOWS_KEY = "#maintenance-windows"
"""The maintenance windows, all in one item of the jobs table (no job name starts with '#'):
``version`` (N, compare-and-swap), ``doc`` ``{"windows": [window_to_document(...)]}``. A
tick reads it once (:meth:`~chalicelib.core.ports.Store.maintenance_windows`)."""

CHANNEL_PREFIX = "#channel#"
"""A notification channel in the jobs table: ``jobName`` ``#channel#<name>`` (no job name
starts with '#'), ``version`` 0, ``doc`` :func:`~chalicelib.core.stack_codec.channel_to_document`;
never in the due index. ``list_jobs`` leaves these items out."""


def due_index_key(moment: datetime) -> str:
    """``dueAt``: fixed-width UTC with microseconds, so string order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def epoch_seconds(moment: datetime) -> int:
    """TTL value: whole seconds, rounded up so DynamoDB never expires an item early."""
    return math.ceil(moment.timestamp())


class _DueIndex(GlobalSecondaryIndex):
    """``due-index`` (sparse): HASH ``dueShard`` (:func:`due_shard_for`), RANGE ``dueAt``;
    projects ALL.

    Only jobs with work (``Job.due_at`` not None) carry these attributes, so a tick
    queries ``dueShard = <shard> AND dueAt <= now`` on every shard and reads only what is
    due. The shard spreads the entries' writes over partitions.
    """

    class Meta:
        index_name = "due-index"
        projection = AllProjection()

    due_shard = UnicodeAttribute(hash_key=True, attr_name="dueShard")
    due_at = UnicodeAttribute(range_key=True, attr_name="dueAt")


class JobItem(Model):
    """Jobs table. One item per job.

    - PK ``jobName`` (S): the job's name.
    - ``version`` (N): compare-and-swap counter; every write is conditional on it.
    - ``createdAt`` (S, :func:`~chalicelib.core.codec.encode_time`): the job's generation; a
      commit is also conditional on it, so a job deleted and registered again (versions
      restart) never takes a write meant for its predecessor. Absent on older records.
    - ``doc`` (S, JSON): a :class:`~chalicelib.core.codec.JobRecord`'s document; ``version``
      and ``setAside`` are its other two parts (:func:`~chalicelib.core.codec.job_to_record`).
    - ``dueShard`` (S, :func:`due_shard_for`) and ``dueAt`` (S, :func:`due_index_key` of ``Job.due_at``):
      present only while the job has work; keys of the sparse GSI ``due-index``.
    - ``setAside`` (S, JSON, optional): :func:`~chalicelib.core.codec.set_aside_to_document`
      while the dispatcher holds the job back; beside ``doc`` so that it can be written on
      a record whose ``doc`` cannot be decoded.

    - Beside the jobs, notification channels: ``jobName`` ``"#channel#" + name`` (see
      :data:`CHANNEL_PREFIX`), ``doc`` :func:`~chalicelib.core.stack_codec.channel_to_document`.
    - And the maintenance windows, one item: ``jobName`` ``"#maintenance-windows"`` (see
      :data:`WINDOWS_KEY`), ``version``, ``doc`` ``{"windows": [...]}``.

    Unbound: :func:`bind_models` makes a subclass with the table's name and location.
    """

    job_name = UnicodeAttribute(hash_key=True, attr_name="jobName")
    version = NumberAttribute(attr_name="version")
    created_at = UnicodeAttribute(null=True, attr_name="createdAt")
    doc = JSONAttribute(attr_name="doc")
    due_shard = UnicodeAttribute(null=True, attr_name="dueShard")
    due_at = UnicodeAttribute(null=True, attr_name="dueAt")
    set_aside = JSONAttribute(null=True, attr_name="setAside")
    due_index = _DueIndex()


class ExecutionItem(Model):
    """Executions table: a job's executions and its idempotency records.

    - PK ``jobName`` (S).
    - SK ``sk`` (S): ``"X#" + execution_id`` for an execution. Execution ids
      (:func:`~chalicelib.core.model.execution_id_for`) sort by slot then attempt, so a
      descending query on ``begins_with(sk, "X#")`` lists newest first.
      ``"K#" + key`` for an idempotency record (``Idempotency-Key`` of a manual run).
      ``"R#" + replay_id`` for a replay (ids sort by creation: a descending query on
      ``begins_with(sk, "R#")`` lists a job's replays newest first).
    - Beside the jobs' partitions, a caller's manual-trigger count per minute: PK
      ``"#trigger-budget#" + caller``, SK ``"B#" + minute``, ``spent`` (N), ``expiresAt``.
    - The watches on runs of deleted jobs: PK ``"#orphaned-runs"``, SK lease expiry
      (:func:`due_index_key`) ``"#" + job + "#" + execution_id``, ``doc``, ``expiresAt``
      (see :data:`ORPHANED_RUNS_PARTITION`).
    - The latest tick, one item: PK ``"#dispatcher"``, SK ``"TICK"``, ``doc`` ``{"at": <instant>}``.
    - ``status`` (S), ``leaseOwner`` (S, absent when none): executions only, copies of
      the document's fields for conditions.
    - ``expiresAt`` (N, epoch seconds): the table's TTL attribute. Executions: their
      retention (``Execution.expires_at``); idempotency records: their expiry.
    - ``version`` (N): replays only, their compare-and-swap counter.
    - ``doc`` (S, JSON): :func:`~chalicelib.core.codec.execution_to_document`,
      ``{"execution_id", "expires_at"}`` for an idempotency record, or
      a replay's :class:`~chalicelib.core.replay_codec.ReplayRecord` (its ``doc``, with ``version`` beside it).

    Unbound: :func:`bind_models` makes a subclass with the table's name and location.
    """

    job_name = UnicodeAttribute(hash_key=True, attr_name="jobName")
    sk = UnicodeAttribute(range_key=True, attr_name="sk")
    status = UnicodeAttribute(null=True, attr_name="status")
    lease_owner = UnicodeAttribute(null=True, attr_name="leaseOwner")
    expires_at = NumberAttribute(null=True, attr_name="expiresAt")
    spent = NumberAttribute(null=True, attr_name="spent")  # trigger budget items only
    version = NumberAttribute(null=True, attr_name="version")
    doc = JSONAttribute(attr_name="doc")


def bind_models(
    jobs_table: str, executions_table: str, region: str, host: str | None, connection: Connection
) -> tuple[type[JobItem], type[ExecutionItem]]:
    """Subclasses of the models bound to these tables, all sharing ``connection``.

    Built per store, so two stores on different tables coexist in one process.
    """

    def bound(base: type[Model], table_name: str) -> Any:
        meta = type("Meta", (), {"table_name": table_name, "region": region, "host": host})
        model = type(base.__name__, (base,), {"Meta": meta, "__module__": __name__})
        # PynamoDB gives each model its own connection (and botocore client); route this
        # one through the store's, which carries the retry mode and the request counter.
        table_connection = model._get_connection()  # type: ignore[attr-defined]  # PynamoDB internal
        connection.add_meta_table(table_connection.get_meta_table())
        table_connection.connection = connection
        return model

    return bound(JobItem, jobs_table), bound(ExecutionItem, executions_table)


class BoundTables:
    """What each part of :class:`~chalicelib.adapters.dynamodb_store.DynamoDBStore` works on
    (set by its ``__init__``): the connection every request goes through, the models bound
    to the store's two tables (:func:`bind_models`), and how many due-index shards a job's
    entry is written to and read from."""

    _connection: Connection
    _Job: type[JobItem]
    _Execution: type[ExecutionItem]
    _write_shards: int
    _read_shards: int
