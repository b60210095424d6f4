"""The DynamoDB :class:`~chalicelib.core.ports.Store` (PynamoDB).

Two tables, defined once in ``infra/template.json`` (the local stack creates them from
there: :mod:`devstack.tables`); the key layout is written on the models in
:mod:`~chalicelib.adapters.dynamodb_models`. :class:`DynamoDBStore` is one class built from
parts, each in its own module: the jobs (:mod:`~chalicelib.adapters.dynamodb_jobs`), the
executions, idempotency records, tick and trigger budget
(:mod:`~chalicelib.adapters.dynamodb_executions`), and the replays, maintenance windows and
channels (:mod:`~chalicelib.adapters.dynamodb_replays`); this module holds the connection
and :meth:`DynamoDBStore.commit`, the one transaction that writes across them.

Every request goes through one botocore client per store, configured with botocore's
*standard* retry mode; :attr:`DynamoDBStore.request_count` counts what it sends.
Storage errors are translated here: a lost condition becomes ``ConcurrentUpdate`` (or
``JobAlreadyExists`` / ``JobNotFound``), throttling or an outage that outlasts the
retries becomes ``StoreUnavailable``; anything else (a bug, a missing table) propagates.
"""
from __future__ import annotations

import math
import uuid
from dataclasses import replace
from typing import Any, Sequence

from pynamodb.connection import Connection
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamodb_counting import RequestCounting
from chalicelib.adapters.dynamodb_errors import translated
from chalicelib.adapters.dynamodb_executions import ExecutionRecords
from chalicelib.adapters.dynamodb_jobs import JobRecords
from chalicelib.adapters.dynamodb_models import DEFAULT_DUE_SHARDS, bind_models
from chalicelib.adapters.dynamodb_replays import ReplayRecords, StackSettingsRecords
from chalicelib.adapters.store_support import commit_instant, reject_repeated_executions
from chalicelib.core.codec import encode_time
from chalicelib.core.errors import ConcurrentUpdate
from chalicelib.core.model import Execution, Job
from chalicelib.core.ports import (
    Clock,
    ExecutionUpdate,
    IdempotencyRecord,
    ReplayUpdate,
)
from chalicelib.settings import Settings


class DynamoDBStore(JobRecords, ExecutionRecords, ReplayRecords, StackSettingsRecords, RequestCounting):
    """Implements :class:`~chalicelib.core.ports.Store` on the jobs and executions tables.

    ``endpoint_url`` is for the local stack and tests only. ``max_attempts`` is botocore's
    ``total_max_attempts`` (first try included) in standard retry mode. ``clock`` tells
    :meth:`commit` when an existing idempotency record has expired and may be re-bound;
    without one the commit's instant is the committed job's ``updated_at``.

    Request counting (for benchmarks): :attr:`request_count` is the number of DynamoDB
    API calls made, :attr:`requests_by_operation` the same per operation name,
    :attr:`attempt_count` the HTTP sends including retries; :meth:`reset_request_count`
    sets them to zero. They are kept by handlers on :attr:`client`'s events
    (``before-call.dynamodb.*`` and ``before-send.dynamodb.*``).
    """

    def __init__(
        self,
        jobs_table: str,
        executions_table: str,
        region: str,
        endpoint_url: str | None = None,
        *,
        clock: Clock | None = None,
        max_attempts: int = 5,
        connect_timeout_seconds: float = 5.0,
        read_timeout_seconds: float = 10.0,
        max_pool_connections: int = 32,
        due_shards: int = DEFAULT_DUE_SHARDS,
        previous_due_shards: int = 0,
    ) -> None:
        self._clock = clock
        # A job's entry moves to its shard under due_shards on its next write; until every
        # job has been written once after lowering the count, read the old shards too.
        self._write_shards = max(1, due_shards)
        self._read_shards = max(self._write_shards, previous_due_shards)
        self._connection = Connection(
            region=region,
            host=endpoint_url,
            connect_timeout_seconds=connect_timeout_seconds,
            read_timeout_seconds=read_timeout_seconds,
            max_pool_connections=max_pool_connections,
            retry_configuration={"mode": "standard", "total_max_attempts": max_attempts},
        )
        self._Job, self._Execution = bind_models(jobs_table, executions_table, region, endpoint_url, self._connection)
        # Build the (thread-safe) botocore client now, once, rather than racing on first use.
        events = self._connection.client.meta.events
        self._start_counting(events)

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock | None = None) -> DynamoDBStore:
        return cls(
            settings.jobs_table,
            settings.executions_table,
            settings.aws_region,
            settings.aws_endpoint_url,
            clock=clock,
            due_shards=settings.due_shards,
            previous_due_shards=settings.due_shards_previous,
            # One connection per thread that may call at once: the tick's claims, the API's
            # requests and, on the local stack, the in-process workers.
            max_pool_connections=max(32, settings.dispatch_concurrency + 16 + (
                settings.local_worker_concurrency if settings.worker_mode == "thread" else 0)),
        )

    # --- instrumentation --------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The botocore client every request of this store goes through (for instrumentation)."""
        return self._connection.client

    def commit(
        self,
        job: Job,
        *,
        expected_version: int,
        new_executions: Sequence[Execution] = (),
        execution_updates: Sequence[ExecutionUpdate] = (),
        idempotency: IdempotencyRecord | None = None,
        replay: ReplayUpdate | None = None,
    ) -> Job:
        reject_repeated_executions(new_executions, execution_updates)
        stored_job = replace(job, version=expected_version + 1)
        Job_, Execution_ = self._Job, self._Execution
        lost = f"Commit of job '{job.name}' at version {expected_version} lost to another writer; re-read and retry."
        # The token makes botocore's retry of a commit whose reply was lost a no-op
        # instead of a false ConcurrentUpdate (DynamoDB remembers it for 10 minutes).
        with translated("TransactWriteItems", lost=lambda: ConcurrentUpdate(lost)), \
                TransactWrite(connection=self._connection, client_request_token=uuid.uuid4().hex) as tx:
            # Compare-and-swap: the job exists and is still at the version the caller read,
            # and is the same job: one registered again restarts its versions (a record
            # written before createdAt was stored has none).
            same_job = (Job_.created_at == encode_time(job.created_at)) | Job_.created_at.does_not_exist()
            tx.save(self._job_item(stored_job), condition=(Job_.version == expected_version) & same_job)
            for ex in new_executions:
                # A claim: this (job, execution id) must not exist yet.
                tx.save(self._execution_item(ex), condition=Execution_.sk.does_not_exist())
            for update in execution_updates:
                tx.save(self._execution_item(update.execution), condition=self._unchanged(update))
            if idempotency is not None:
                now = math.floor(commit_instant(job, self._clock).timestamp())
                # The key is free: never bound, or its record has expired (expiresAt
                # rounded up, now rounded down: "<=" means expired for certain).
                tx.save(
                    self._idempotency_item(idempotency),
                    condition=Execution_.sk.does_not_exist() | (Execution_.expires_at <= now),
                )
            if replay is not None:
                # The replay is still as the caller read it (or new: no such replay yet).
                expected = replay.expected_version
                tx.save(self._replay_item(replace(replay.replay, version=(expected or 0) + 1)),
                        condition=Execution_.sk.does_not_exist() if expected is None
                        else Execution_.version == expected)
        return stored_job
