"""The executions part of the DynamoDB store: a job's runs, its idempotency records, the
latest tick, the manual-trigger budget and the watches on runs of deleted jobs, all in the
executions table.

Key layout: :class:`~chalicelib.adapters.dynamodb_models.ExecutionItem` (PK ``jobName``,
SK ``"X#" + execution id`` for a run, ``"K#" + key`` for an idempotency record; the tick,
the budget and the watches under partitions starting with '#', which no job name can).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.operand import Path

from chalicelib.adapters import dynamodb_orphans as orphans
from chalicelib.adapters.dynamodb_errors import translated
from chalicelib.adapters.dynamodb_models import (
    EXECUTION_PREFIX,
    IDEMPOTENCY_PREFIX,
    BoundTables,
    ExecutionItem,
    epoch_seconds,
)
from chalicelib.adapters.store_support import check_limit, executions_cursor, executions_cursor_position
from chalicelib.core.codec import encode_time, execution_from_document, execution_to_document
from chalicelib.core.errors import ConcurrentUpdate
from chalicelib.core.model import Execution, parse_iso
from chalicelib.core.ports import ExecutionUpdate, IdempotencyRecord, OrphanedRun, Page


class ExecutionRecords(BoundTables):
    """The :class:`~chalicelib.core.ports.Store` operations on the executions table other than
    replays (a part of ``DynamoDBStore``)."""

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

    def update_execution(self, update: ExecutionUpdate) -> None:
        lost = (f"Execution {update.execution.job_name}/{update.execution.execution_id} is no longer "
                f"{update.expected_status.value} with owner {update.expected_owner!r}.")
        with translated("PutItem", lost=lambda: ConcurrentUpdate(lost)):
            self._execution_item(update.execution).save(condition=self._unchanged(update))

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

    def _execution_item(self, ex: Execution) -> ExecutionItem:
        return self._Execution(
            ex.job_name,
            EXECUTION_PREFIX + ex.execution_id,
            status=ex.status.value,
            lease_owner=ex.lease_owner,
            expires_at=epoch_seconds(ex.expires_at) if ex.expires_at is not None else None,
            doc=execution_to_document(ex),
        )

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

    def _idempotency_item(self, record: IdempotencyRecord) -> ExecutionItem:
        return self._Execution(
            record.job_name,
            IDEMPOTENCY_PREFIX + record.key,
            expires_at=epoch_seconds(record.expires_at),
            doc={"execution_id": record.execution_id, "expires_at": encode_time(record.expires_at)},
        )

    def orphaned_runs(self, now: datetime, *, limit: int) -> list[OrphanedRun]:
        check_limit(limit)
        return orphans.read_orphaned_runs(self._Execution, now, limit)

    def forget_orphaned_run(self, run: OrphanedRun) -> None:
        orphans.forget_orphaned_run(self._Execution, run)

    TICK_KEY = ("#dispatcher", "TICK")
    """The latest tick's key in the executions table (no job name starts with '#')."""

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
