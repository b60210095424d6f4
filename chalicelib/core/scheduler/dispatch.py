"""The dispatcher tick: claim due slots and retries, break expired leases (those of
cancelled or replaced jobs' runs too), record skipped and missed slots, retry unsent
notices, and hand claimed runs to workers.

A tick drains the due index page by page until nothing due is left or its time budget
runs out; what is left is the oldest work, so the next tick takes it first. Whatever
goes wrong with one job stays with that job (:mod:`chalicelib.core.isolation`).
"""
from __future__ import annotations

import contextvars
import functools
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Callable, Sequence

from chalicelib.core import isolation, notices
from chalicelib.core.errors import ConcurrentUpdate, StoreUnavailable
from chalicelib.core.maintenance import MaintenanceWindow
from chalicelib.core.model import Execution, ExecutionStatus, Job, JobDefinition, SetAside, UnreadableJob
from chalicelib.core.ports import ReplayUpdate
from chalicelib.core.scheduler import outbox, transitions
from chalicelib.core.scheduler.effects import Effects
from chalicelib.core.scheduler.orphans import OrphanSweep
from chalicelib.core.scheduler.parts import CAS_ATTEMPTS, Parts

RemainingMs = Callable[[], int]
"""Milliseconds the tick may still use (the dispatch Lambda's remaining time less a margin)."""


@dataclass
class DispatchReport:
    """What one dispatcher tick did (also its log line and metrics)."""

    now: datetime
    due_jobs: int = 0
    claimed: list[tuple[str, str]] = field(default_factory=list)
    skipped: int = 0
    missed: int = 0
    timed_out: int = 0
    late_slots: int = 0
    set_aside: list[str] = field(default_factory=list)
    pages: int = 0
    budget_exhausted: bool = False
    errors: list[str] = field(default_factory=list)

    def merge(self, part: DispatchReport) -> None:
        """Add what one job's dispatch did (each runs on a pool thread with its own report)."""
        self.claimed.extend(part.claimed)
        self.skipped += part.skipped
        self.missed += part.missed
        self.timed_out += part.timed_out
        self.late_slots += part.late_slots
        self.set_aside.extend(part.set_aside)
        self.errors.extend(part.errors)


class Dispatcher:
    """One tick at a time; safe to run twice with the same ``now`` and concurrently."""

    def __init__(self, parts: Parts, effects: Effects) -> None:
        self.parts = parts
        self.effects = effects
        self.orphans = OrphanSweep(parts)
        self._pool: ThreadPoolExecutor | None = None  # kept for the process: warm ticks reuse its threads
        self._pool_lock = threading.Lock()

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.parts.dispatch_concurrency,
                                                thread_name_prefix="dispatch")
            return self._pool

    def tick(self, now: datetime, *, remaining_ms: RemainingMs | None = None) -> DispatchReport:
        """One tick at ``now``: do all due work (see :meth:`SchedulerService.dispatch`)."""
        report = DispatchReport(now=now)
        log, batch = self.parts.log, self.parts.dispatch_batch
        cursor: str | None = None
        windows = self._maintenance_windows(report)
        dispatch_one = functools.partial(self._dispatch_in, contextvars.copy_context(), now, windows or ())
        # Claims and hand-offs run concurrently, at most dispatch_concurrency at once: the
        # store's and the invoker's clients are thread-safe; every claim stays conditional.
        while windows is not None:
            try:
                page = self.parts.store.due_page(now, limit=batch, cursor=cursor)
            except StoreUnavailable as exc:
                report.errors.append(f"due query failed: {exc}")
                log.error("dispatcher could not read due work", extra={"error": str(exc)})
                break
            report.pages += 1
            report.due_jobs += len(page.items)
            if len(page.items) > 1 and self.parts.dispatch_concurrency > 1:
                parts_done = list(self._executor().map(dispatch_one, page.items))
            else:
                parts_done = [dispatch_one(entry) for entry in page.items]
            for part in parts_done:
                report.merge(part)
            cursor = page.next_cursor
            if cursor is None:
                break
            if remaining_ms is not None and remaining_ms() <= 0:
                # The rest is the oldest due work: the next tick reads it first.
                report.budget_exhausted = True
                log.warning("dispatcher budget spent with due work left; the next tick takes it first",
                            extra={"now": now.isoformat(), "due_jobs": report.due_jobs})
                break
        if remaining_ms is None or remaining_ms() > 0:  # else the next tick closes them
            report.timed_out += self.orphans.sweep(now, report.errors)
        self._tick_metrics(report)
        try:
            self.parts.store.record_tick(now)
        except Exception as exc:  # noqa: BLE001 - the tick's work is done; only its record is missing
            log.warning("could not record the tick", extra={"error": f"{type(exc).__name__}: {exc}"})
        log.info("dispatcher tick", extra={
            "now": now.isoformat(), "due_jobs": report.due_jobs, "claimed": len(report.claimed),
            "skipped": report.skipped, "missed": report.missed, "timed_out": report.timed_out,
            "set_aside": len(report.set_aside), "pages": report.pages,
        })
        return report

    def _maintenance_windows(self, report: DispatchReport) -> Sequence[MaintenanceWindow] | None:
        """The maintenance windows, read once for the whole tick; None when they cannot be
        read (nothing is dispatched then: a slot inside a window must not run)."""
        try:
            return self.parts.store.maintenance_windows().windows
        except Exception as exc:  # noqa: BLE001 - the next tick reads them again
            report.errors.append(f"maintenance windows unreadable: {type(exc).__name__}: {exc}")
            self.parts.log.error("dispatcher could not read the maintenance windows; nothing dispatched this tick",
                                 extra={"error": f"{type(exc).__name__}: {exc}"})
            return None

    def _dispatch_in(self, context: contextvars.Context, now: datetime, windows: Sequence[MaintenanceWindow],
                     entry: Job | UnreadableJob) -> DispatchReport:
        """``_dispatch_entry`` on a pool thread, in a copy of the tick's context."""
        return context.copy().run(self._dispatch_entry, entry, now, windows)

    def _dispatch_entry(self, entry: Job | UnreadableJob, now: datetime,
                        windows: Sequence[MaintenanceWindow] = ()) -> DispatchReport:
        """One due entry, with its own report; nothing it raises leaves this method."""
        report = DispatchReport(now=now)
        if isinstance(entry, UnreadableJob):
            self._set_aside(entry.name, entry.due_at, entry.set_aside,
                            f"its stored record cannot be decoded ({entry.reason})", now, report)
            return report
        try:
            self._dispatch_job(entry, now, report, windows)
        except StoreUnavailable as exc:
            # The store's fault, not the job's: it stays due and the next tick picks it up.
            report.errors.append(f"{entry.name}: {exc}")
            self.parts.log.error("dispatch of job failed; will retry next tick",
                                 extra={"job_name": entry.name, "error": str(exc)})
        except Exception as exc:  # noqa: BLE001 - one job's fault must not stop the tick
            self._set_aside(entry.name, entry.due_at, entry.set_aside, f"{type(exc).__name__}: {exc}", now, report,
                            entry.definition)
        return report

    def _set_aside(self, name: str, seen_due_at: datetime | None, previous: SetAside | None, reason: str,
                   now: datetime, report: DispatchReport, definition: JobDefinition | None = None) -> None:
        parts = self.parts
        record = isolation.next_set_aside(previous, reason, now)
        if not record.alerted:  # to each of the job's channels (the stack's topic for a record that does not decode)
            notified = self.effects.outbox.deliver_now(notices.set_aside_notice(name, record, now), definition,
                                                       record.notified)
            record = replace(record, notified=notified, alerted=set(outbox.destinations(definition)) <= set(notified))
        try:
            moved = parts.store.set_aside(name, seen_due_at=seen_due_at, set_aside=record)
        except Exception as exc:  # noqa: BLE001 - logged; the job stays where it is
            moved = False
            parts.log.error("could not record the job as set aside", extra={
                "job_name": name, "error": f"{type(exc).__name__}: {exc}"})
        parts.log.error("job set aside: it cannot be dispatched", extra={
            "job_name": name, "reason": record.reason, "retry_at": record.retry_at.isoformat(),
            "attempts": record.attempts, "recorded": moved})
        parts.metrics.record("DispatchErrors", 1, job_name=name)
        report.set_aside.append(name)
        report.errors.append(f"{name}: set aside: {record.reason}")

    def _tick_metrics(self, report: DispatchReport) -> None:
        metrics = self.parts.metrics
        metrics.record("DispatcherHeartbeat", 1)
        metrics.record("DueSlots", len(report.claimed) + report.skipped + report.missed)
        metrics.record("LateSlots", report.late_slots)
        metrics.record("DispatchErrors", len(report.set_aside))

    def _dispatch_job(self, job: Job | None, now: datetime, report: DispatchReport,
                      windows: Sequence[MaintenanceWindow] = ()) -> None:
        name = job.name if job else "?"
        for attempt in range(CAS_ATTEMPTS):
            if job is None or job.due_at is None or job.due_at > now:
                return
            restored = isolation.restore(job, now)
            replay_read = transitions.replay_is_due(restored, now)
            replay = self.parts.store.get_replay(job.name, job.replay.replay_id) if replay_read and job.replay else None
            plan = transitions.plan(restored, self._lease_execution(job, now), now, self.parts.timing, self.parts.rand,
                                    replay, replay_read=replay_read, windows=windows)
            if attempt == 0:
                report.late_slots += plan.late_slots
            if plan.needs_commit or restored is not job:
                try:
                    stored = self.parts.store.commit(plan.job, expected_version=job.version,
                                                     new_executions=plan.new_executions,
                                                     execution_updates=plan.updates,
                                                     replay=None if plan.replay is None or replay is None
                                                     else ReplayUpdate(plan.replay, replay.version))
                except ConcurrentUpdate:
                    job = self.parts.store.get_job(job.name)
                    continue
            elif attempt:
                # Lost a race and nothing is left to change: the winner publishes the notices it
                # committed (a pause's end notifies once); any left unsent are due next tick.
                return
            else:
                stored = job
            if restored is not job:
                self.parts.log.info("set-aside job dispatches again", extra={"job_name": job.name})
            if plan.coalesced:
                self.parts.log.warning("late slots coalesced into one run", extra={
                    "job_name": job.name, "slot": plan.to_invoke[-1].scheduled_for.isoformat(),
                    "coalesced": plan.coalesced})
            _count(plan, report)
            self.effects.after_commit(stored, plan.finals)
            for execution in plan.to_invoke:
                report.claimed.append((execution.job_name, execution.execution_id))
                self.effects.hand_to_worker(execution)
            return
        report.errors.append(f"{name}: gave up after {CAS_ATTEMPTS} conflicting writes")

    def _lease_execution(self, job: Job, now: datetime) -> Execution | None:
        """The expired lease's execution, read before planning (None when no lease expired,
        or when its record cannot be decoded: the lease is then released without it)."""
        if not transitions.lease_has_expired(job, now):
            return None
        assert job.lease is not None
        try:
            return self.parts.store.get_execution(job.name, job.lease.execution_id)
        except StoreUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - the run's record is lost; the job is not
            self.parts.log.error("the expired lease's execution cannot be read; lease released", extra={
                "job_name": job.name, "execution_id": job.lease.execution_id,
                "error": f"{type(exc).__name__}: {exc}"})
            return None


def _count(plan: transitions.Plan, report: DispatchReport) -> None:
    for execution in plan.new_executions + tuple(u.execution for u in plan.updates):
        if execution.status is ExecutionStatus.SKIPPED:
            report.skipped += 1
        elif execution.status is ExecutionStatus.MISSED:
            report.missed += 1
        elif execution.status is ExecutionStatus.TIMED_OUT:
            report.timed_out += 1
