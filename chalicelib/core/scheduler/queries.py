"""Reads: a job, the job listing, a job's executions and its last result."""
from __future__ import annotations

from typing import Iterator

from chalicelib.core.errors import JobNotFound, JobUnreadable
from chalicelib.core.model import Execution, Job, UnreadableJob
from chalicelib.core.ports import Page, Store


class Queries:
    """Read-only views over the store; nothing here writes."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get_job(self, job_name: str) -> Job:
        job = self.store.get_job(job_name)
        if job is None:
            raise JobNotFound(job_name)
        return job

    def describe_job(self, job_name: str) -> Job | UnreadableJob:
        """The job, or what can be said of a record that cannot be decoded."""
        try:
            return self.get_job(job_name)
        except JobUnreadable as exc:
            return exc.entry if isinstance(exc.entry, UnreadableJob) else UnreadableJob(job_name, exc.reason)

    def list_jobs(self, *, limit: int, cursor: str | None) -> Page[Job | UnreadableJob]:
        return self.store.list_jobs(limit=limit, cursor=cursor)

    def all_jobs(self) -> Iterator[Job | UnreadableJob]:
        cursor: str | None = None
        while True:
            page = self.store.list_jobs(limit=100, cursor=cursor)
            yield from page.items
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def list_executions(self, job_name: str, *, limit: int, cursor: str | None) -> Page[Execution]:
        """Executions newest first. A cancelled job's history stays readable until it
        expires; a job registered again under that name lists only its own runs."""
        try:
            job = self.store.get_job(job_name)
        except JobUnreadable:
            return self.store.list_executions(job_name, limit=limit, cursor=cursor)
        page = self.store.list_executions(job_name, limit=limit, cursor=cursor)
        if job is None:
            if not page.items and cursor is None:
                raise JobNotFound(job_name)
            return page
        own = [e for e in page.items if e.created_at >= job.created_at]
        # Newest first: once a run older than the job shows up, every later one is older too.
        return Page(items=own, next_cursor=page.next_cursor if len(own) == len(page.items) else None)
