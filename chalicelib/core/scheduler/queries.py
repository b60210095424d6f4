"""Reads: a job, the job listing, a job's executions and its last result."""
from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterator

from chalicelib.core.cron import CronSchedule
from chalicelib.core.errors import ExecutionNotFound, JobNotFound, JobUnreadable
from chalicelib.core.model import Execution, Job, JobState, UnreadableJob
from chalicelib.core.ports import Clock, Handler, HandlerCatalog, Page, Store

OVERDUE_AFTER = timedelta(minutes=5)


@dataclass(frozen=True)
class SchedulerStatus:
    """What ``GET /status`` reports."""

    by_state: dict[str, int]
    by_alert: dict[str, int]
    overdue: list[str]
    set_aside: list[str]
    last_tick: datetime | None
    now: datetime


class Queries:
    """Read-only views over the store and the handlers; nothing here writes."""

    def __init__(self, store: Store, handlers: HandlerCatalog, clock: Clock) -> None:
        self.store = store
        self.handlers = handlers
        self.clock = clock

    def get_job(self, job_name: str) -> Job:
        """One job; raises ``JobNotFound``."""
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

    def list_jobs(self, *, limit: int = 50, cursor: str | None = None, owner: str | None = None) -> Page[Job | UnreadableJob]:
        """One page in the store's order; with ``owner``, only that owner's jobs of the page
        (a page may then hold fewer than ``limit``, even none, and still have a next one)."""
        page = self.store.list_jobs(limit=limit, cursor=cursor)
        if owner is None:
            return page
        return Page(items=[j for j in page.items if isinstance(j, Job) and j.definition.owner == owner],
                    next_cursor=page.next_cursor)

    def all_jobs(self) -> Iterator[Job | UnreadableJob]:
        cursor: str | None = None
        while True:
            page = self.store.list_jobs(limit=100, cursor=cursor)
            yield from page.items
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def list_executions(self, job_name: str, *, limit: int = 20, cursor: str | None = None) -> Page[Execution]:
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

    def get_execution(self, job_name: str, execution_id: str) -> Execution:
        """One execution, with the log lines its run wrote; raises ``ExecutionNotFound``."""
        execution = self.store.get_execution(job_name, execution_id)
        if execution is None:
            raise ExecutionNotFound(job_name, execution_id)
        return execution

    def list_scheduled_jobs(self) -> list[Job | UnreadableJob]:
        """listScheduledJobs: every registered job, by name."""
        return sorted(self.all_jobs(), key=lambda job: job.name)

    def get_last_execution_result(self, job_name: str) -> Execution | None:
        """getLastExecutionResult: the newest execution (running ones included) or None;
        raises ``JobNotFound``."""
        return self.get_job(job_name).last_execution

    def upcoming(self, job_name: str, count: int = 10) -> tuple[Job, list[datetime]]:
        """The job and its next ``count`` slots from now (UTC)."""
        job = self.get_job(job_name)
        schedule = CronSchedule.parse(job.definition.cron_expression, job.definition.timezone)
        return job, list(itertools.islice(schedule.iter_after(self.clock.now()), count))

    def preview(self, cron_expression: str, timezone: str, count: int = 10) -> tuple[CronSchedule, list[datetime]]:
        """The next ``count`` slots of a definition that is not registered; nothing is stored.
        Raises ``ValidationFailed`` exactly as registration does."""
        schedule = CronSchedule.parse(cron_expression, timezone)
        return schedule, list(itertools.islice(schedule.iter_after(self.clock.now()), count))

    def list_handlers(self) -> list[Handler]:
        """The handlers a job may name, by name."""
        return self.handlers.all()

    def status(self, *, overdue_after: timedelta = OVERDUE_AFTER) -> SchedulerStatus:
        """Counts by state and alert state, the overdue jobs, the dispatcher's last tick."""
        now = self.clock.now()
        by_state: Counter[str] = Counter()
        by_alert: Counter[str] = Counter()
        overdue: list[str] = []
        set_aside: list[str] = []
        for entry in self.all_jobs():
            if isinstance(entry, UnreadableJob):
                by_state["unreadable"] += 1
                set_aside.append(entry.name)
                continue
            by_state[entry.state.value] += 1
            by_alert[entry.alert_state.value] += 1
            if entry.set_aside is not None:
                set_aside.append(entry.name)
            # Its slot came and no run started within a few minutes: the dispatcher is behind or down.
            if entry.state is JobState.ACTIVE and entry.next_run_at is not None and entry.next_run_at < now - overdue_after:
                overdue.append(entry.name)
        return SchedulerStatus(by_state=dict(by_state), by_alert=dict(by_alert), overdue=sorted(overdue),
                               set_aside=sorted(set_aside), last_tick=self.store.last_tick(), now=now)

