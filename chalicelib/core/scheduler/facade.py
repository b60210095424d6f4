"""The scheduler's public operations (API.md): one facade over its rooms.

``registration`` creates, changes and removes jobs; ``triggers`` queues manual runs;
``dispatch`` is the tick; ``worker`` runs one execution; ``outbox`` publishes notices;
``transitions`` holds the pure state changes they all make. Every state change is a
compare-and-swap ``Store.commit``: read, decide with the pure functions, write on
condition that nobody changed it meanwhile, and on a lost race read again. Nothing here
touches AWS, HTTP or the system clock.
"""
from __future__ import annotations

import itertools
import logging
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping

from chalicelib.core.cron import CronSchedule
from chalicelib.core.definitions import timeout_cap
from chalicelib.core.maintenance import MaintenanceWindow
from chalicelib.core.model import Actor, Execution, Job, JobDefinition, UnreadableJob
from chalicelib.core.ports import (
    Clock,
    Handler,
    HandlerCatalog,
    Invoker,
    Metrics,
    Notifier,
    Page,
    RandomSource,
    Store,
)
from chalicelib.core.scheduler.dispatch import Dispatcher, DispatchReport, RemainingMs
from chalicelib.core.scheduler.effects import Effects
from chalicelib.core.scheduler.outbox import Outbox
from chalicelib.core.scheduler.parts import Parts
from chalicelib.core.scheduler.queries import Queries, SchedulerStatus
from chalicelib.core.scheduler.registration import Registration
from chalicelib.core.scheduler.replay_service import Replays, ReplayView
from chalicelib.core.scheduler.transitions import Timing
from chalicelib.core.scheduler.triggers import Triggers
from chalicelib.core.scheduler.windows import MaintenanceWindows
from chalicelib.core.scheduler.worker import Worker


class SchedulerService:
    """Register, trigger, inspect, cancel, pause and resume jobs; dispatch and run them."""

    def __init__(
        self,
        *,
        store: Store,
        jobs: HandlerCatalog,
        invoker: Invoker,
        notifier: Notifier,
        metrics: Metrics,
        clock: Clock,
        rand: RandomSource,
        logger: logging.Logger | None = None,
        retention_days: int = 90,
        lease_margin_seconds: int = 60,
        dispatch_batch: int = 200,
        worker_timeout_seconds: int = 900,
        dispatch_concurrency: int = 16,
        trigger_budget_per_minute: int | None = None,
    ) -> None:
        self.parts = Parts(
            store=store, jobs=jobs, invoker=invoker, notifier=notifier, metrics=metrics, clock=clock, rand=rand,
            log=logger or logging.getLogger("chalicelib.scheduler"),
            timing=Timing(retention=timedelta(days=retention_days), lease_margin=timedelta(seconds=lease_margin_seconds)),
            dispatch_batch=dispatch_batch,
            dispatch_concurrency=max(1, dispatch_concurrency),
            max_timeout_seconds=timeout_cap(worker_timeout_seconds, lease_margin_seconds),
            trigger_budget_per_minute=trigger_budget_per_minute,
        )
        self.outbox = Outbox(self.parts)
        effects = Effects(self.parts, self.outbox)
        self.registration = Registration(self.parts)
        self.queries = Queries(store)
        self.triggers = Triggers(self.parts, effects, self.registration.check_run_payload)
        self.dispatcher = Dispatcher(self.parts, effects)
        self.worker = Worker(self.parts, effects)
        self.replays = Replays(self.parts)
        self.windows = MaintenanceWindows(self.parts)

    # ------------------------------------------------------------------ registration

    def parse_definition(self, body: Any) -> JobDefinition:
        """Validate a REST body against the job catalog; raises ``ValidationFailed``."""
        return self.registration.parse_definition(body)

    def register_job(self, job_name: str, cron_expression: str, handler: Any, **options: Any) -> Job:
        """registerJob: bind ``job_name`` to a schedule and a handler.

        ``handler`` is a registered handler's name or a callable (registered under the
        job's name once the definition validates; it must be registered the same way in
        every process that runs workers, i.e. at import time). Options: ``timezone``,
        ``payload``, ``retry``, ``timeout_seconds``, ``alert_after_failures``,
        ``misfire_grace_seconds``, ``pause_after_failures``, ``description``. Idempotent
        for an identical definition; raises ``JobConflict`` for the same name with
        another one.
        """
        return self.registration.register_job(job_name, cron_expression, handler, **options)

    def register(self, definition: JobDefinition, actor: Actor | None = None) -> tuple[Job, bool]:
        """Create the job, or return the identical existing one. ``(job, created)``.
        ``actor`` (who asked) is recorded as ``createdBy``/``updatedBy``."""
        return self.registration.register(definition, actor)

    def ensure_job(self, definition: JobDefinition) -> Job:
        """Register a code-defined job at startup, idempotently (see ``Registration.ensure_job``)."""
        return self.registration.ensure_job(definition)

    def list_handlers(self) -> list[Handler]:
        """The handlers a job may name, by name."""
        return self.parts.jobs.all()

    # ------------------------------------------------------------------ inspection

    def get_job(self, job_name: str) -> Job:
        """One job; raises ``JobNotFound``."""
        return self.queries.get_job(job_name)

    def describe_job(self, job_name: str) -> Job | UnreadableJob:
        """The job for ``GET /jobs/{jobName}``: an :class:`UnreadableJob` when its record
        cannot be decoded (it is then shown as not dispatchable, with the reason)."""
        return self.queries.describe_job(job_name)

    def list_jobs(self, *, limit: int = 50, cursor: str | None = None,
                  owner: str | None = None) -> Page[Job | UnreadableJob]:
        """One page of jobs in the store's order; one bad record never fails the page.
        ``owner`` keeps only that owner's jobs (see ``Queries.list_jobs``)."""
        return self.queries.list_jobs(limit=limit, cursor=cursor, owner=owner)

    def list_scheduled_jobs(self) -> list[Job | UnreadableJob]:
        """listScheduledJobs: every registered job, by name."""
        return sorted(self.queries.all_jobs(), key=lambda job: job.name)

    def get_last_execution_result(self, job_name: str) -> Execution | None:
        """getLastExecutionResult: the newest execution (running ones included) or None."""
        return self.queries.get_job(job_name).last_execution

    def list_executions(self, job_name: str, *, limit: int = 20, cursor: str | None = None) -> Page[Execution]:
        """Executions newest first (see ``Queries.list_executions``)."""
        return self.queries.list_executions(job_name, limit=limit, cursor=cursor)

    def get_execution(self, job_name: str, execution_id: str) -> Execution:
        """One execution, with the log lines its run wrote; raises ``ExecutionNotFound``."""
        return self.queries.get_execution(job_name, execution_id)

    def upcoming(self, job_name: str, count: int = 10) -> tuple[Job, list[datetime]]:
        """The job and its next ``count`` slots from now (UTC)."""
        job = self.queries.get_job(job_name)
        schedule = CronSchedule.parse(job.definition.cron_expression, job.definition.timezone)
        return job, list(itertools.islice(schedule.iter_after(self.parts.clock.now()), count))

    def preview(self, cron_expression: str, timezone: str, count: int = 10) -> tuple[CronSchedule, list[datetime]]:
        """The next ``count`` slots of a definition that is not registered; nothing is stored.
        Raises ``ValidationFailed`` exactly as registration does."""
        schedule = CronSchedule.parse(cron_expression, timezone)
        return schedule, list(itertools.islice(schedule.iter_after(self.parts.clock.now()), count))

    def status(self) -> SchedulerStatus:
        """Counts by state and alert state, overdue jobs, and the dispatcher's last tick."""
        return self.queries.status(self.parts.clock.now())

    # ------------------------------------------------------------------ lifecycle

    def cancel_job(self, job_name: str, *, actor: Actor | None = None) -> None:
        """cancelJob: the job never runs again; its history stays until it expires."""
        self.registration.cancel_job(job_name, actor)

    def pause_job(self, job_name: str, reason: str | None = None, *, actor: Actor | None = None,
                  until: datetime | None = None) -> Job:
        """Stop scheduled runs and pending retries; manual triggers still run. ``pausedBy``.
        With ``until`` (future, at most 90 days ahead) the job resumes by itself then, from
        its first slot at or after ``until``, and its channels get a ``pause-expired`` notice."""
        return self.registration.pause_job(job_name, reason, actor, until)

    # ------------------------------------------------------------------ maintenance windows

    def create_maintenance_window(self, body: Any, *, actor: Actor | None = None) -> MaintenanceWindow:
        """Hold covered jobs' slots during ``[from, to)`` (see ``MaintenanceWindows.create``)."""
        return self.windows.create(body, actor)

    def list_maintenance_windows(self) -> list[MaintenanceWindow]:
        """Current and upcoming windows, and those that ended in the last 7 days."""
        return self.windows.list()

    def end_maintenance_window(self, window_id: str, *, actor: Actor | None = None) -> MaintenanceWindow:
        """End a window now; ``MaintenanceWindowNotFound`` for an unknown id."""
        return self.windows.end(window_id, actor)

    def resume_job(self, job_name: str, *, actor: Actor | None = None) -> Job:
        """Schedule again from now on; slots missed while paused are not replayed."""
        return self.registration.resume_job(job_name, actor)

    # ------------------------------------------------------------------ runs

    def trigger_job(self, job_name: str, *, idempotency_key: str | None = None,
                    payload: Mapping[str, Any] | None = None, actor: Actor | None = None) -> Execution:
        """triggerJob: run the job now, outside its schedule.

        ``payload`` is merged over the job's payload for this run only. A repeated
        ``idempotency_key`` within 24 h returns the execution it created. Raises
        ``RunInProgress`` while another run of the job is queued or running. ``actor`` is
        recorded as the execution's ``triggeredBy`` and given to the job (``ctx.triggered_by``).
        Each actor may queue ``trigger_budget_per_minute`` runs a minute; past that,
        ``TriggerBudgetSpent`` says when to try again (a repeated key or a run in progress
        costs nothing).
        """
        return self.triggers.trigger_job(job_name, idempotency_key=idempotency_key, payload=payload, actor=actor)

    def replay(self, job_name: str, body: Any, *, idempotency_key: str | None = None,
               actor: Actor | None = None) -> tuple[ReplayView, bool]:
        """Run again, once each and oldest first, the past slots of ``[from, to)`` that
        ``body`` selects (``{"from", "to", "only", "maxRuns", "dryRun"}``, see
        :func:`chalicelib.core.replays.parse_replay_request`). ``(view, created)``.

        The plan comes from the job's current schedule in its time zone; it names the
        slots it leaves out and why. ``dryRun`` returns the plan and stores nothing. A
        repeated ``idempotency_key`` within 24 h returns the same replay. Raises
        ``ValidationFailed``, ``JobNotFound``, ``ReplayInProgress`` (one active replay per
        job) and ``IdempotencyKeyReused``. The dispatcher then starts one slot per tick
        while nothing else of the job is in flight; a paused job's replay waits.
        """
        return self.replays.create(job_name, body, idempotency_key=idempotency_key, actor=actor)

    def get_replay(self, job_name: str, replay_id: str) -> ReplayView:
        """One replay with its per-slot progress; raises ``ReplayNotFound``."""
        return self.replays.get(job_name, replay_id)

    def list_replays(self, job_name: str, *, limit: int = 20, cursor: str | None = None) -> tuple[Page[Any], Job | None]:
        """The job's replays, newest first, with the job they are judged against."""
        return self.replays.list_for_job(job_name, limit=limit, cursor=cursor)

    def cancel_replay(self, job_name: str, replay_id: str, *, actor: Actor | None = None) -> ReplayView:
        """Cancel what the replay has not started; raises ``ReplayNotFound``."""
        return self.replays.cancel(job_name, replay_id, actor)

    def dispatch(self, now: datetime | None = None, *, remaining_ms: RemainingMs | None = None) -> DispatchReport:
        """One tick at ``now`` (the EventBridge event's time; the clock's when None).

        Claims due slots and due retries, breaks expired leases, records skipped and
        missed slots, and retries unsent notices. Claimed executions are handed to the
        worker; nothing runs inline. Safe to call twice with the same ``now`` and from
        concurrent dispatchers: every claim is one conditional write. ``remaining_ms`` is
        the tick's time budget: it drains the due index page by page until nothing is
        due or the budget is spent. A job that cannot be dispatched is set aside.
        """
        return self.dispatcher.tick(now if now is not None else self.parts.clock.now(), remaining_ms=remaining_ms)

    def run_execution(self, job_name: str, execution_id: str, *, worker_id: str,
                      remaining_ms: Callable[[], int] | None = None) -> Execution | None:
        """The worker: start the claimed execution, call its job, record the outcome.

        A second delivery of the same invoke finds the execution no longer ``queued``
        and does nothing. A worker whose lease was broken meanwhile cannot overwrite
        the newer state: its final write is conditional on its own lease.
        ``remaining_ms`` is the Lambda context's ``get_remaining_time_in_millis``.
        """
        return self.worker.run(job_name, execution_id, worker_id=worker_id, remaining_ms=remaining_ms)

    def flush_outbox(self, job: Job) -> int:
        """Publish the job's unsent notices; returns how many were sent."""
        return self.outbox.flush(job)
