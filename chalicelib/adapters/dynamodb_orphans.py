"""Watches on runs of deleted jobs, in DynamoDB: one partition of the executions table.

Key layout on :class:`~chalicelib.adapters.dynamodb_models.ExecutionItem`
(:data:`~chalicelib.adapters.dynamodb_models.ORPHANED_RUNS_PARTITION`): the sort key
starts with the lease's expiry, so the expired watches are one Query, oldest first.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pynamodb.connection import Connection
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamodb_errors import translated
from chalicelib.adapters.dynamodb_models import ORPHANED_RUNS_PARTITION, ExecutionItem, JobItem, due_index_key, epoch_seconds
from chalicelib.core.codec import encode_time
from chalicelib.core.model import parse_iso
from chalicelib.core.ports import OrphanedRun


def _sort_key(run: OrphanedRun) -> str:
    return f"{due_index_key(run.lease_expires_at)}#{run.job_name}#{run.execution_id}"


def delete_job_watching(connection: Connection, jobs: type[JobItem], executions: type[ExecutionItem],
                        job_name: str, same_job: Any, run: OrphanedRun) -> None:
    """Delete the job on condition ``same_job`` and record the watch on ``run``, in one transaction.

    The caller translates its errors (:func:`~chalicelib.adapters.dynamodb_errors.translated`)."""
    watch = executions(ORPHANED_RUNS_PARTITION, _sort_key(run), expires_at=epoch_seconds(run.expires_at), doc={
        "job_name": run.job_name, "execution_id": run.execution_id, "owner": run.owner,
        "lease_expires_at": encode_time(run.lease_expires_at), "expires_at": encode_time(run.expires_at)})
    # The token makes botocore's retry of a delete whose reply was lost a no-op.
    with TransactWrite(connection=connection, client_request_token=uuid.uuid4().hex) as tx:
        tx.delete(jobs(job_name), condition=same_job)
        tx.save(watch)


def read_orphaned_runs(executions: type[ExecutionItem], now: datetime, limit: int) -> list[OrphanedRun]:
    """The watches whose lease expired at or before ``now``, earliest first: one Query."""
    # '$' sorts right after '#': every key whose expiry is <= now, whatever job and run follow.
    through_now = due_index_key(now) + "$"
    with translated("Query"):
        items = list(executions.query(ORPHANED_RUNS_PARTITION, range_key_condition=executions.sk < through_now,
                                      consistent_read=True, limit=limit))
    return [OrphanedRun(job_name=item.doc["job_name"], execution_id=item.doc["execution_id"], owner=item.doc["owner"],
                        lease_expires_at=parse_iso(item.doc["lease_expires_at"]),
                        expires_at=parse_iso(item.doc["expires_at"])) for item in items[:limit]]


def forget_orphaned_run(executions: type[ExecutionItem], run: OrphanedRun) -> None:
    """Delete the watch (a no-op when it is gone already)."""
    with translated("DeleteItem"):
        executions(ORPHANED_RUNS_PARTITION, _sort_key(run)).delete()
