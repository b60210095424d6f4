"""The jobs part of the DynamoDB store: one item per job in the jobs table.

Key layout: :class:`~chalicelib.adapters.dynamodb_models.JobItem` (PK ``jobName``; the due
index's ``dueShard``/``dueAt`` only while the job has work). A record that cannot be decoded
is read as an :class:`~chalicelib.core.model.UnreadableJob`, never as a store failure.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.adapters import dynamodb_orphans as orphans
from chalicelib.adapters.dynamodb_due import due_at_of, read_due_page, set_aside_of
from chalicelib.adapters.dynamodb_errors import ConditionFailed, answer, translated
from chalicelib.adapters.dynamodb_models import BoundTables, JobItem, due_index_key, due_shard_for
from chalicelib.adapters.store_support import check_limit, jobs_cursor, jobs_cursor_position
from chalicelib.core.codec import JobRecord, encode_time, job_from_record, job_to_record, set_aside_to_document
from chalicelib.core.errors import ConcurrentUpdate, JobAlreadyExists, JobNotFound, JobUnreadable
from chalicelib.core.model import Job, SetAside, UnreadableJob
from chalicelib.core.ports import OrphanedRun, Page


class JobRecords(BoundTables):
    """The :class:`~chalicelib.core.ports.Store` operations on jobs (a part of ``DynamoDBStore``)."""

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

    def _job_item(self, job: Job) -> JobItem:
        due_at = job.due_at
        record = job_to_record(job)
        return self._Job(
            job.name,
            version=record.version,
            created_at=encode_time(job.created_at),
            doc=record.doc,
            due_shard=due_shard_for(job.name, self._write_shards) if due_at is not None else None,
            due_at=due_index_key(due_at) if due_at is not None else None,
            set_aside=record.set_aside,
        )

    def _decode_job(self, raw: dict[str, Any]) -> Job | UnreadableJob:
        """One raw item as a job, or as an :class:`UnreadableJob` saying why it is not one."""
        name = str(raw.get("jobName", {}).get("S", "?"))
        try:
            item = self._Job.from_raw_data(raw)
            return job_from_record(JobRecord(doc=item.doc, version=int(item.version), set_aside=item.set_aside))
        except Exception as exc:  # noqa: BLE001 - any decoding failure is this record's, not the store's
            return UnreadableJob(name=name, reason=f"{type(exc).__name__}: {exc}"[:300],
                                 due_at=due_at_of(raw), set_aside=set_aside_of(raw))
