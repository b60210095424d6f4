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
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Callable, Sequence

from chalicelib.core import isolation, notices
from chalicelib.core.errors import StoreUnavailable
from chalicelib.core.maintenance import MaintenanceWindow
from chalicelib.core.model import ExecutionStatus, Job, JobDefinition, SetAside, UnreadableJob
from chalicelib.core.ports import Clock, Metrics, RandomSource, ReplayUpdate, Store
from chalicelib.core.scheduler import outbox, transitions
from chalicelib.core.scheduler.common import CAS_ATTEMPTS, lease_execution, retry_on_conflict
from chalicelib.core.scheduler.effects import AfterCommit, HandOff
from chalicelib.core.scheduler.orphans import OrphanSweep
from chalicelib.core.scheduler.outbox import Outbox
from chalicelib.core.scheduler.transitions import Timing

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

    def __init__(self, *, store: Store, clock: Clock, rand: RandomSource, timing: Timing, metrics: Metrics,
                 log: logging.Logger, outbox: Outbox, after_commit: AfterCommit, hand_off: HandOff,
                 orphans: OrphanSweep, batch: int, concurrency: int) -> None:
        self.store = store
        self.clock = clock
        self.rand = rand
        self.timing = timing
        self.metrics = metrics
        self.log = log
        self.outbox = outbox
        self.after_commit = after_commit
        self.hand_off = hand_off
        self.orphans = orphans
        self.batch = batch
        self.concurrency = max(1, concurrency)
        self._pool: ThreadPoolExecutor | None = None  # kept for the process: warm ticks reuse its threads
        self._pool_lock = threading.Lock()

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.concurrency,
                                                thread_name_prefix="dispatch")
            return self._pool

    def tick(self, now: datetime | None = None, *, remaining_ms: RemainingMs | None = None) -> DispatchReport:
        """One tick at ``now`` (the EventBridge event's time; the clock's when None).

        Claims due slots and due retries, breaks expired leases, records skipped and
        missed slots, and retries unsent notices. Claimed executions are handed to the
        worker; nothing runs inline. Safe to call twice with the same ``now`` and from
        concurrent dispatchers: every claim is one conditional write. ``remaining_ms`` is
        the tick's time budget: it drains the due index page by page until nothing is
        due or the budget is spent. A job that cannot be dispatched is set aside.
        """
        now = now if now is not None else self.clock.now()
        report = DispatchReport(now=now)
        log, batch = self.log, self.batch
        cursor: str | None = None
        windows = self._maintenance_windows(report)
        dispatch_one = functools.partial(self._dispatch_in, contextvars.copy_context(), now, windows or ())
        # Claims and hand-offs run concurrently, at most dispatch_concurrency at once: the
        # store's and the invoker's clients are thread-safe; every claim stays conditional.
        while windows is not None:
            try:
                page = self.store.due_page(now, limit=batch, cursor=cursor)
            except StoreUnavailable as exc:
                report.errors.append(f"due query failed: {exc}")
                log.error("dispatcher could not read due work", extra={"error": str(exc)})
                break
            report.pages += 1
            report.due_jobs += len(page.items)
            if len(page.items) > 1 and self.concurrency > 1:
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
            self.store.record_tick(now)
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
            return self.store.maintenance_windows().windows
        except Exception as exc:  # noqa: BLE001 - the next tick reads them again
            report.errors.append(f"maintenance windows unreadable: {type(exc).__name__}: {exc}")
            self.log.error("dispatcher could not read the maintenance windows; nothing dispatched this tick",
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
            self.log.error("dispatch of job failed; will retry next tick",
                           extra={"job_name": entry.name, "error": str(exc)})
        except Exception as exc:  # noqa: BLE001 - one job's fault must not stop the tick
            self._set_aside(entry.name, entry.due_at, entry.set_aside, f"{type(exc).__name__}: {exc}", now, report,
                            entry.definition)
        return report

    def _set_aside(self, name: str, seen_due_at: datetime | None, previous: SetAside | None, reason: str,
                   now: datetime, report: DispatchReport, definition: JobDefinition | None = None) -> None:
        record = isolation.next_set_aside(previous, reason, now)
        if not record.alerted:  # to each of the job's channels (the stack's topic for a record that does not decode)
            notified = self.outbox.deliver_now(notices.set_aside_notice(name, record, now), definition,
                                                       record.notified)
            record = replace(record, notified=notified, alerted=set(outbox.destinations(definition)) <= set(notified))
        try:
            moved = self.store.set_aside(name, seen_due_at=seen_due_at, set_aside=record)
        except Exception as exc:  # noqa: BLE001 - logged; the job stays where it is
            moved = False
            self.log.error("could not record the job as set aside", extra={
                "job_name": name, "error": f"{type(exc).__name__}: {exc}"})
        self.log.error("job set aside: it cannot be dispatched", extra={
            "job_name": name, "reason": record.reason, "retry_at": record.retry_at.isoformat(),
            "attempts": record.attempts, "recorded": moved})
        self.metrics.record("DispatchErrors", 1, job_name=name)
        report.set_aside.append(name)
        report.errors.append(f"{name}: set aside: {record.reason}")

    def _tick_metrics(self, report: DispatchReport) -> None:
        metrics = self.metrics
        metrics.record("DispatcherHeartbeat", 1)
        metrics.record("DueSlots", len(report.claimed) + report.skipped + report.missed)
        metrics.record("LateSlots", report.late_slots)
        metrics.record("DispatchErrors", len(report.set_aside))

    def _dispatch_job(self, due: Job, now: datetime, report: DispatchReport,
                      windows: Sequence[MaintenanceWindow] = ()) -> None:
        """Plan the due job and commit the plan; after a lost race, read it again and plan again."""

        def step(attempt: int) -> None:
            job = due if attempt == 0 else self.store.get_job(due.name)
            if job is None or job.due_at is None or job.due_at > now:
                return
            restored = isolation.restore(job, now)
            replay_read = transitions.replay_is_due(restored, now)
            replay = self.store.get_replay(job.name, job.replay.replay_id) if replay_read and job.replay else None
            plan = transitions.plan(restored, lease_execution(self.store, job, now, self.log), now, self.timing,
                                    self.rand, replay, replay_read=replay_read, windows=windows)
            if attempt == 0:
                report.late_slots += plan.late_slots
            if plan.needs_commit or restored is not job:
                stored = self.store.commit(plan.job, expected_version=job.version,
                                           new_executions=plan.new_executions,
                                           execution_updates=plan.updates,
                                           replay=None if plan.replay is None or replay is None
                                           else ReplayUpdate(plan.replay, replay.version))
            elif attempt:
                # Lost a race and nothing is left to change: the winner publishes the notices it
                # committed (a pause's end notifies once); any left unsent are due next tick.
                return
            else:
                stored = job
            if restored is not job:
                self.log.info("set-aside job dispatches again", extra={"job_name": job.name})
            if plan.coalesced:
                self.log.warning("late slots coalesced into one run", extra={
                    "job_name": job.name, "slot": plan.to_invoke[-1].scheduled_for.isoformat(),
                    "coalesced": plan.coalesced})
            _count(plan, report)
            self.after_commit(stored, plan.finals)
            for execution in plan.to_invoke:
                report.claimed.append((execution.job_name, execution.execution_id))
                self.hand_off(execution)

        retry_on_conflict(step, on_exhausted=lambda: report.errors.append(
            f"{due.name}: gave up after {CAS_ATTEMPTS} conflicting writes"))


def _count(plan: transitions.Plan, report: DispatchReport) -> None:
    for execution in plan.new_executions + tuple(u.execution for u in plan.updates):
        if execution.status is ExecutionStatus.SKIPPED:
            report.skipped += 1
        elif execution.status is ExecutionStatus.MISSED:
            report.missed += 1
        elif execution.status is ExecutionStatus.TIMED_OUT:
            report.timed_out += 1
