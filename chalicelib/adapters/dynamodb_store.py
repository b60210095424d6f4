"""The DynamoDB :class:`~chalicelib.core.ports.Store` (PynamoDB).

Two tables, defined once in ``infra/template.json`` (the local stack creates them from
there: :mod:`devstack.tables`); the key layout is written on the models below.

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
from datetime import datetime
from typing import Any, Sequence

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.operand import Path
from pynamodb.transactions import TransactWrite

from chalicelib.adapters import dynamodb_orphans as orphans
from chalicelib.adapters.dynamodb_counting import RequestCounting
from chalicelib.adapters.dynamodb_due import due_at_of, read_due_page, set_aside_of
from chalicelib.adapters.dynamodb_errors import ConditionFailed, answer, translated
from chalicelib.adapters.dynamodb_models import (
    CHANNEL_PREFIX,
    DEFAULT_DUE_SHARDS,
    EXECUTION_PREFIX,
    IDEMPOTENCY_PREFIX,
    REPLAY_PREFIX,
    WINDOWS_KEY,
    ExecutionItem,
    JobItem,
    bind_models,
    due_index_key,
    due_shard_for,
    epoch_seconds,
)
from chalicelib.adapters.store_support import (
    check_limit,
    commit_instant,
    executions_cursor,
    executions_cursor_position,
    jobs_cursor,
    jobs_cursor_position,
    reject_repeated_executions,
    replays_cursor,
    replays_cursor_position,
)
from chalicelib.core.channels import Channel, ChannelNotFound
from chalicelib.core.codec import (
    channel_from_document,
    channel_to_document,
    encode_time,
    execution_from_document,
    execution_to_document,
    job_from_document,
    job_to_document,
    replay_from_document,
    replay_to_document,
    set_aside_from_document,
    set_aside_to_document,
    window_from_document,
    window_to_document,
)
from chalicelib.core.errors import (
    ConcurrentUpdate,
    JobAlreadyExists,
    JobNotFound,
    JobUnreadable,
)
from chalicelib.core.maintenance import MaintenanceWindow
from chalicelib.core.model import Execution, Job, SetAside, UnreadableJob, parse_iso
from chalicelib.core.ports import Clock, ExecutionUpdate, IdempotencyRecord, OrphanedRun, Page, ReplayUpdate, WindowSet
from chalicelib.core.replays import Replay
from chalicelib.settings import Settings


class DynamoDBStore(RequestCounting):
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

    # --- jobs -------------------------------------------------------------------------

    def get_job(self, job_name: str) -> Job | None:
        with translated("GetItem"):
            raw = self._connection.get_item(self._Job.Meta.table_name, job_name, consistent_read=True)
        item = answer(raw, "GetItem").get("Item")
        if item is None:
            return None
        entry = self._decode_job(item)
        if isinstance(entry, UnreadableJob):
            raise JobUnreadable(job_name, entry.reason, entry)
        return entry

    def create_job(self, job: Job) -> None:
        with translated("PutItem", lost=lambda: JobAlreadyExists(job.name)):
            # The name must be free: no item with this key exists.
            self._job_item(job).save(condition=self._Job.job_name.does_not_exist())

    def delete_job(self, job_name: str, *, expected: Job | None = None, orphan: OrphanedRun | None = None) -> None:
        Job_ = self._Job
        # Only an existing job (JobNotFound otherwise); with ``expected``, the same job (not
        # one registered again since: a record from before createdAt has none) at its version.
        condition = Job_.job_name.exists() if expected is None else (Job_.version == expected.version) & (
            (Job_.created_at == encode_time(expected.created_at)) | Job_.created_at.does_not_exist())
        def lost() -> Exception:
            if expected is None:
                return JobNotFound(job_name)
            return ConcurrentUpdate(f"Job '{job_name}' changed or went before its delete; re-read it.")

        if orphan is not None:
            with translated("TransactWriteItems", lost=lost):
                return orphans.delete_job_watching(self._connection, Job_, self._Execution, job_name, condition, orphan)
        with translated("DeleteItem", lost=lost):
            Job_(job_name).delete(condition=condition)

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

    def _unchanged(self, update: ExecutionUpdate) -> Any:
        """Still as the caller saw it: same status and lease owner ("no owner" = attribute
        absent or null), so a worker whose lease was taken over cannot overwrite the
        newer state."""
        Execution_ = self._Execution
        if update.expected_owner is None:
            owner = Execution_.lease_owner.does_not_exist() | Path(Execution_.lease_owner).is_type("NULL")
        else:
            owner = Execution_.lease_owner == update.expected_owner
        return (Execution_.status == update.expected_status.value) & owner

    def update_execution(self, update: ExecutionUpdate) -> None:
        lost = (f"Execution {update.execution.job_name}/{update.execution.execution_id} is no longer "
                f"{update.expected_status.value} with owner {update.expected_owner!r}.")
        with translated("PutItem", lost=lambda: ConcurrentUpdate(lost)):
            self._execution_item(update.execution).save(condition=self._unchanged(update))

    def orphaned_runs(self, now: datetime, *, limit: int) -> list[OrphanedRun]:
        check_limit(limit)
        return orphans.read_orphaned_runs(self._Execution, now, limit)

    def forget_orphaned_run(self, run: OrphanedRun) -> None:
        orphans.forget_orphaned_run(self._Execution, run)

    def list_jobs(self, *, limit: int, cursor: str | None) -> Page[Job | UnreadableJob]:
        """A Scan (an admin listing, not a hot path): pages in table order, not by name."""
        check_limit(limit)
        start = {"jobName": {"S": jobs_cursor_position(cursor)}} if cursor else None
        with translated("Scan"):
            # Items that are not jobs live beside them under keys starting with '#' (the
            # maintenance windows, notification channels), which no job name can.
            raw = self._connection.scan(self._Job.Meta.table_name, limit=limit, exclusive_start_key=start,  # type: ignore[arg-type]  # a key map is accepted
                                        filter_condition=~self._Job.job_name.startswith("#"))
        raw = answer(raw, "Scan")
        jobs = [self._decode_job(item) for item in raw.get("Items", [])]
        last_key = raw.get("LastEvaluatedKey")
        return Page(items=jobs, next_cursor=jobs_cursor(last_key["jobName"]["S"]) if last_key else None)

    def due_page(self, now: datetime, *, limit: int, cursor: str | None = None) -> Page[Job | UnreadableJob]:
        """Every shard queried concurrently (one Query each), merged oldest first."""
        check_limit(limit)
        raw_items, next_cursor = read_due_page(self._connection, self._Job, self._read_shards, now, limit, cursor)
        return Page(items=[self._decode_job(item) for item in raw_items], next_cursor=next_cursor)

    def set_aside(self, job_name: str, *, seen_due_at: datetime | None, set_aside: SetAside) -> bool:
        Job_ = self._Job
        # Only the entry the dispatcher read: a repair or a commit since then moved it.
        seen = Job_.due_at == due_index_key(seen_due_at) if seen_due_at is not None else Job_.due_at.does_not_exist()
        try:
            with translated("UpdateItem"):
                self._connection.update_item(
                    Job_.Meta.table_name, job_name,
                    actions=[Job_.set_aside.set(set_aside_to_document(set_aside)),
                             Job_.due_shard.set(due_shard_for(job_name, self._write_shards)),
                             Job_.due_at.set(due_index_key(set_aside.retry_at))],
                    condition=Job_.job_name.exists() & seen,
                )
        except ConditionFailed:
            return False
        return True

    def replace_unreadable_job(self, job: Job) -> None:
        with translated("PutItem", lost=lambda: JobNotFound(job.name)):
            # The record exists (a repair, not a create); whatever it holds is replaced.
            self._job_item(job).save(condition=self._Job.job_name.exists())

    # --- executions ----------------------------------------------------------------------

    def get_execution(self, job_name: str, execution_id: str) -> Execution | None:
        with translated("GetItem"):
            try:
                item = self._Execution.get(job_name, EXECUTION_PREFIX + execution_id, consistent_read=True)
            except DoesNotExist:
                return None
        return execution_from_document(item.doc)

    def list_executions(self, job_name: str, *, limit: int, cursor: str | None) -> Page:
        check_limit(limit)
        start = None
        if cursor:
            before = executions_cursor_position(cursor, job_name)
            start = {"jobName": {"S": job_name}, "sk": {"S": EXECUTION_PREFIX + before}}
        with translated("Query"):
            results = self._Execution.query(
                job_name,
                range_key_condition=self._Execution.sk.startswith(EXECUTION_PREFIX),
                scan_index_forward=False,
                limit=limit,
                last_evaluated_key=start,
            )
            executions = [execution_from_document(item.doc) for item in results]
            last_key = results.last_evaluated_key
        next_cursor = None
        if last_key:
            next_cursor = executions_cursor(job_name, last_key["sk"]["S"][len(EXECUTION_PREFIX) :])
        return Page(items=executions, next_cursor=next_cursor)

    # --- maintenance windows -----------------------------------------------------------

    def maintenance_windows(self) -> WindowSet:
        with translated("GetItem"):
            raw = self._connection.get_item(self._Job.Meta.table_name, WINDOWS_KEY, consistent_read=True)
        item = answer(raw, "GetItem").get("Item")
        if item is None:
            return WindowSet()
        record = self._Job.from_raw_data(item)
        return WindowSet(tuple(window_from_document(doc) for doc in record.doc["windows"]), int(record.version))

    def save_maintenance_windows(self, windows: Sequence[MaintenanceWindow], *, expected_version: int) -> WindowSet:
        Job_ = self._Job
        # Still as the caller read it: at its version, or absent when it read none.
        condition = Job_.job_name.does_not_exist() if expected_version == 0 else Job_.version == expected_version
        item = Job_(WINDOWS_KEY, version=expected_version + 1, doc={"windows": [window_to_document(w) for w in windows]})
        lost = f"Maintenance windows are no longer at version {expected_version}."
        with translated("PutItem", lost=lambda: ConcurrentUpdate(lost)):
            item.save(condition=condition)
        return WindowSet(tuple(windows), expected_version + 1)

    TICK_KEY = ("#dispatcher", "TICK")
    """The executions table's one non-job item: the latest tick (no job name starts with '#')."""

    # --- notification channels ---------------------------------------------------------

    def put_channel(self, channel: Channel) -> None:
        with translated("PutItem"):
            self._Job(CHANNEL_PREFIX + channel.name, version=0, doc=channel_to_document(channel)).save()

    def get_channel(self, name: str) -> Channel | None:
        with translated("GetItem"):
            raw = self._connection.get_item(self._Job.Meta.table_name, CHANNEL_PREFIX + name, consistent_read=True)
        item = answer(raw, "GetItem").get("Item")
        return None if item is None else channel_from_document(self._Job.from_raw_data(item).doc)

    def list_channels(self) -> list[Channel]:
        """A filtered Scan of the jobs table (an admin listing, as ``list_jobs`` is)."""
        with translated("Scan"):
            items = list(self._Job.scan(self._Job.job_name.startswith(CHANNEL_PREFIX)))
        return sorted((channel_from_document(item.doc) for item in items), key=lambda c: c.name)

    def delete_channel(self, name: str) -> None:
        with translated("DeleteItem", lost=lambda: ChannelNotFound(name)):
            # Only an existing channel can be deleted (ChannelNotFound otherwise).
            self._Job(CHANNEL_PREFIX + name).delete(condition=self._Job.job_name.exists())

    def record_tick(self, now: datetime) -> None:
        with translated("PutItem"):
            self._Execution(*self.TICK_KEY, doc={"at": encode_time(now)}).save()

    def last_tick(self) -> datetime | None:
        with translated("GetItem"):
            try:
                item = self._Execution.get(*self.TICK_KEY)
            except DoesNotExist:
                return None
        return parse_iso(item.doc["at"])

    def take_trigger_budget(self, caller: str, minute: datetime, *, per_minute: int, expires_at: datetime) -> bool:
        from chalicelib.adapters.dynamodb_budget import take_trigger_budget

        return take_trigger_budget(self._connection, self._Execution, caller, minute,
                                   per_minute=per_minute, expires_at=expires_at)

    def find_idempotency(self, job_name: str, key: str, now: datetime) -> IdempotencyRecord | None:
        with translated("GetItem"):
            try:
                item = self._Execution.get(job_name, IDEMPOTENCY_PREFIX + key, consistent_read=True)
            except DoesNotExist:
                return None
        # TTL deletion lags by up to days: expiry is decided here, on the exact instant.
        record = IdempotencyRecord(
            job_name=job_name,
            key=key,
            execution_id=item.doc["execution_id"],
            expires_at=parse_iso(item.doc["expires_at"]),
        )
        return record if record.expires_at > now else None

    # --- replays ----------------------------------------------------------------------

    def get_replay(self, job_name: str, replay_id: str) -> Replay | None:
        with translated("GetItem"):
            try:
                item = self._Execution.get(job_name, REPLAY_PREFIX + replay_id, consistent_read=True)
            except DoesNotExist:
                return None
        return replay_from_document(item.doc)

    def list_replays(self, job_name: str, *, limit: int, cursor: str | None) -> Page[Replay]:
        check_limit(limit)
        start = None
        if cursor:
            before = replays_cursor_position(cursor, job_name)
            start = {"jobName": {"S": job_name}, "sk": {"S": REPLAY_PREFIX + before}}
        with translated("Query"):
            results = self._Execution.query(job_name, range_key_condition=self._Execution.sk.startswith(REPLAY_PREFIX),
                                            scan_index_forward=False, limit=limit, last_evaluated_key=start)
            replays = [replay_from_document(item.doc) for item in results]
            last_key = results.last_evaluated_key
        next_cursor = replays_cursor(job_name, last_key["sk"]["S"][len(REPLAY_PREFIX):]) if last_key else None
        return Page(items=replays, next_cursor=next_cursor)

    # --- items -------------------------------------------------------------------------

    def _job_item(self, job: Job) -> JobItem:
        due_at = job.due_at
        return self._Job(
            job.name,
            version=job.version,
            created_at=encode_time(job.created_at),
            doc=job_to_document(job),
            due_shard=due_shard_for(job.name, self._write_shards) if due_at is not None else None,
            due_at=due_index_key(due_at) if due_at is not None else None,
            set_aside=set_aside_to_document(job.set_aside) if job.set_aside is not None else None,
        )

    def _decode_job(self, raw: dict[str, Any]) -> Job | UnreadableJob:
        """One raw item as a job, or as an :class:`UnreadableJob` saying why it is not one."""
        name = str(raw.get("jobName", {}).get("S", "?"))
        try:
            item = self._Job.from_raw_data(raw)
            return replace(job_from_document(item.doc), version=int(item.version),
                           set_aside=set_aside_from_document(item.set_aside))
        except Exception as exc:  # noqa: BLE001 - any decoding failure is this record's, not the store's
            return UnreadableJob(name=name, reason=f"{type(exc).__name__}: {exc}"[:300],
                                 due_at=due_at_of(raw), set_aside=set_aside_of(raw))

    def _execution_item(self, ex: Execution) -> ExecutionItem:
        return self._Execution(
            ex.job_name,
            EXECUTION_PREFIX + ex.execution_id,
            status=ex.status.value,
            lease_owner=ex.lease_owner,
            expires_at=epoch_seconds(ex.expires_at) if ex.expires_at is not None else None,
            doc=execution_to_document(ex),
        )

    def _replay_item(self, replay: Replay) -> ExecutionItem:
        return self._Execution(
            replay.job_name,
            REPLAY_PREFIX + replay.replay_id,
            version=replay.version,
            expires_at=epoch_seconds(replay.expires_at) if replay.expires_at is not None else None,
            doc=replay_to_document(replay),
        )

    def _idempotency_item(self, record: IdempotencyRecord) -> ExecutionItem:
        return self._Execution(
            record.job_name,
            IDEMPOTENCY_PREFIX + record.key,
            expires_at=epoch_seconds(record.expires_at),
            doc={"execution_id": record.execution_id, "expires_at": encode_time(record.expires_at)},
        )

