"""The scheduler's operations: the five of the design plus dispatch and run.

One :class:`SchedulerService` is built per process by ``chalicelib.bootstrap``. Every
state change is a compare-and-swap ``Store.commit``: read the job, decide with the pure
policies, write on condition that nobody changed it meanwhile, and on a lost race read
again. Nothing here touches AWS, HTTP or the system clock.
"""
from __future__ import annotations

import contextvars
import json
import logging
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator, Mapping

from chalicelib.core.context import RUN_FIELDS, RunContext
from chalicelib.core.definitions import options_to_body, parse_definition, validate_job_name, validate_payload_object
from chalicelib.core.errors import (
    ConcurrentUpdate,
    FieldError,
    IdempotencyKeyReused,
    JobAlreadyExists,
    JobConflict,
    JobNotFound,
    RunInProgress,
    StoreUnavailable,
    ValidationFailed,
)
from chalicelib.core.model import (
    UTC,
    Execution,
    ExecutionError,
    ExecutionStatus,
    Job,
    JobDefinition,
    JobState,
    Lease,
    PendingRetry,
    Trigger,
    execution_id_for,
    idempotency_key_for,
)
from chalicelib.core.policies import LateSlots, SlotDecision, account_outcome, bounded_result, decide_slot, may_retry, retry_delay
from chalicelib.core.ports import Clock, ExecutionUpdate, IdempotencyRecord, Invoker, Metrics, Notifier, Page, RandomSource, Store
from chalicelib.core.cron import CronSchedule

MAX_RESULT_BYTES = 16 * 1024
MAX_ERROR_MESSAGE = 1000
IDEMPOTENCY_WINDOW = timedelta(hours=24)
CAS_ATTEMPTS = 8


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
    notices_sent: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Plan:
    job: Job
    new_executions: tuple[Execution, ...] = ()
    updates: tuple[ExecutionUpdate, ...] = ()
    to_invoke: tuple[Execution, ...] = ()
    finals: tuple[Execution, ...] = ()
    needs_commit: bool = True


class SchedulerService:
    """Register, trigger, inspect, cancel, pause and resume jobs; dispatch and run them."""

    def __init__(
        self,
        *,
        store: Store,
        registry: Any,
        invoker: Invoker,
        notifier: Notifier,
        metrics: Metrics,
        clock: Clock,
        rand: RandomSource,
        logger: logging.Logger | None = None,
        retention_days: int = 90,
        lease_margin_seconds: int = 60,
        dispatch_batch: int = 200,
    ) -> None:
        self.store = store
        self.registry = registry
        self.invoker = invoker
        self.notifier = notifier
        self.metrics = metrics
        self.clock = clock
        self.rand = rand
        self.log = logger or logging.getLogger("chalicelib.scheduler")
        self.retention = timedelta(days=retention_days)
        self.lease_margin = timedelta(seconds=lease_margin_seconds)
        self.dispatch_batch = dispatch_batch

    # ------------------------------------------------------------------ registration

    def parse_definition(self, body: Any) -> JobDefinition:
        """Validate a REST body against the registry; raises ``ValidationFailed``."""
        return parse_definition(body, known_handler=self.registry.__contains__, check_payload=self._check_payload)

    def _check_payload(self, handler_name: str, payload: Mapping[str, Any]) -> list[FieldError]:
        registered = self.registry.get(handler_name)
        if registered is None or registered.validate_payload is None:
            return []
        return [FieldError(f"payload.{e.field}" if not e.field.startswith("payload") else e.field, e.message)
                for e in registered.validate_payload(payload)]

    def register_job(self, job_name: str, cron_expression: str, handler: Any, **options: Any) -> Job:
        """registerJob: bind ``job_name`` to a schedule and a handler.

        ``handler`` is a registered handler's name or a callable (registered under the
        job's name; it must be registered the same way in every process that runs
        workers, i.e. at import time). Options: ``timezone``, ``payload``, ``retry``,
        ``timeout_seconds``, ``alert_after_failures``, ``misfire_grace_seconds``,
        ``pause_after_failures``, ``description``. Idempotent for an identical
        definition; raises ``JobConflict`` for the same name with another one.
        """
        if callable(handler):
            validate_job_name(job_name)
            self.registry.add(job_name, handler)
            handler = job_name
        definition = self.parse_definition(options_to_body(job_name, cron_expression, handler, options))
        job, _created = self.register(definition)
        return job

    def register(self, definition: JobDefinition) -> tuple[Job, bool]:
        """Create the job, or return the identical existing one. ``(job, created)``."""
        now = self.clock.now()
        existing = self.store.get_job(definition.job_name)
        if existing is None:
            schedule = CronSchedule.parse(definition.cron_expression, definition.timezone)
            job = Job(definition=definition, created_at=now, updated_at=now, next_run_at=schedule.next_after(now))
            try:
                self.store.create_job(job)
                self.log.info("job registered", extra={"job_name": definition.job_name, "next_run_at": job.next_run_at})
                return job, True
            except JobAlreadyExists:
                existing = self.store.get_job(definition.job_name)
                if existing is None:  # created and cancelled meanwhile
                    raise ConcurrentUpdate("job was created and removed concurrently; retry") from None
        if existing.definition != definition:
            raise JobConflict(definition.job_name)
        return existing, False

    def ensure_job(self, definition: JobDefinition) -> Job:
        """Register a code-defined job at startup, idempotently.

        A missing job is created; an identical one is left alone (its history and next
        run survive a redeploy); a changed definition replaces the stored one, and the
        next run is recomputed only when the schedule or time zone changed.
        """
        for _ in range(CAS_ATTEMPTS):
            existing = self.store.get_job(definition.job_name)
            if existing is None:
                try:
                    return self.register(definition)[0]
                except ConcurrentUpdate:
                    continue
            if existing.definition == definition:
                return existing
            now = self.clock.now()
            updated = replace(existing, definition=definition, updated_at=now)
            old = existing.definition
            if (old.cron_expression, old.timezone) != (definition.cron_expression, definition.timezone):
                updated = replace(updated, next_run_at=CronSchedule.parse(definition.cron_expression, definition.timezone).next_after(now))
            try:
                return self.store.commit(updated, expected_version=existing.version)
            except ConcurrentUpdate:
                continue
        raise ConcurrentUpdate(f"could not update job '{definition.job_name}' under contention")

    # ------------------------------------------------------------------ inspection

    def get_job(self, job_name: str) -> Job:
        job = self.store.get_job(job_name)
        if job is None:
            raise JobNotFound(job_name)
        return job

    def list_jobs(self, *, limit: int = 50, cursor: str | None = None) -> Page:
        return self.store.list_jobs(limit=limit, cursor=cursor)

    def list_scheduled_jobs(self) -> list[Job]:
        """listScheduledJobs: every registered job, by name."""
        return sorted(self._all_jobs(), key=lambda job: job.name)

    def _all_jobs(self) -> Iterator[Job]:
        cursor: str | None = None
        while True:
            page = self.store.list_jobs(limit=100, cursor=cursor)
            yield from page.items
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def get_last_execution_result(self, job_name: str) -> Execution | None:
        """getLastExecutionResult: the newest execution (running ones included) or None."""
        return self.get_job(job_name).last_execution

    def list_executions(self, job_name: str, *, limit: int = 20, cursor: str | None = None) -> Page:
        """Executions newest first. A cancelled job's history stays readable until it
        expires; a job registered again under that name lists only its own runs."""
        job = self.store.get_job(job_name)
        page = self.store.list_executions(job_name, limit=limit, cursor=cursor)
        if job is None:
            if not page.items and cursor is None:
                raise JobNotFound(job_name)
            return page
        own = [e for e in page.items if e.created_at >= job.created_at]
        # Newest first: once a run older than the job shows up, every later one is older too.
        return Page(items=own, next_cursor=page.next_cursor if len(own) == len(page.items) else None)

    # ------------------------------------------------------------------ lifecycle

    def cancel_job(self, job_name: str) -> None:
        """cancelJob: the job never runs again; its history stays until it expires."""
        self.store.delete_job(job_name)
        self.log.info("job cancelled", extra={"job_name": job_name})

    def pause_job(self, job_name: str, reason: str | None = None) -> Job:
        """Stop scheduled runs and pending retries; manual triggers still run."""

        def pause(job: Job, now: datetime) -> Job:
            return replace(job, state=JobState.PAUSED, pause_reason=reason or "paused by operator",
                           pending_retry=None, updated_at=now)

        return self._update(job_name, pause)

    def resume_job(self, job_name: str) -> Job:
        """Schedule again from now on; slots missed while paused are not replayed."""

        def resume(job: Job, now: datetime) -> Job:
            schedule = CronSchedule.parse(job.definition.cron_expression, job.definition.timezone)
            return replace(job, state=JobState.ACTIVE, pause_reason=None, next_run_at=schedule.next_after(now), updated_at=now)

        return self._update(job_name, resume)

    def _update(self, job_name: str, change: Callable[[Job, datetime], Job]) -> Job:
        for _ in range(CAS_ATTEMPTS):
            job = self.get_job(job_name)
            try:
                return self.store.commit(change(job, self.clock.now()), expected_version=job.version)
            except ConcurrentUpdate:
                continue
        raise ConcurrentUpdate(f"job '{job_name}' kept changing; retry")

    # ------------------------------------------------------------------ trigger

    def trigger_job(
        self,
        job_name: str,
        *,
        idempotency_key: str | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> Execution:
        """triggerJob: run the job now, outside its schedule.

        ``payload`` is merged over the job's payload for this run only. A repeated
        ``idempotency_key`` within 24 h returns the execution it created. Raises
        ``RunInProgress`` while another run of the job is queued or running.
        """
        override = dict(validate_payload_object(payload, "payload")) if payload is not None else {}
        for _ in range(CAS_ATTEMPTS):
            now = self.clock.now()
            if idempotency_key:
                previous = self._execution_for_key(job_name, idempotency_key, now)
                if previous is not None:
                    return self._same_request(previous, override, idempotency_key)
            job = self.get_job(job_name)
            if override:
                merged = validate_payload_object({**job.definition.payload, **override}, "payload")
                errors = self._check_payload(job.definition.handler, merged)
                if errors:
                    raise ValidationFailed(errors)
            plan_job, updates, finals = self._break_expired_lease(job, now)
            if plan_job.lease is not None:
                # A concurrent request with the same key may have just claimed this run.
                previous = self._execution_for_key(job_name, idempotency_key, now) if idempotency_key else None
                if previous is not None:
                    return self._same_request(previous, override, idempotency_key)
                raise RunInProgress(job_name, plan_job.lease.execution_id)
            slot = now.replace(microsecond=(now.microsecond // 1000) * 1000)
            if slot.second == 0 and slot.microsecond == 0:
                # Cron slots fall on whole minutes: a manual run exactly on one would take
                # that slot's execution id, so it is stamped one millisecond later.
                slot += timedelta(milliseconds=1)
            # The caller's Idempotency-Key dedupes the request; the run's own key
            # follows the contract's formula like every other run.
            execution = self._new_execution(plan_job, Trigger.MANUAL, slot, 1, now, override,
                                            idempotency_key_for(job_name, slot))
            claimed = self._claim(plan_job, execution, now)
            record = None
            if idempotency_key:
                record = IdempotencyRecord(job_name, idempotency_key, execution.execution_id, now + IDEMPOTENCY_WINDOW)
            try:
                stored = self.store.commit(claimed, expected_version=job.version, new_executions=[execution],
                                           execution_updates=updates, idempotency=record)
            except ConcurrentUpdate:
                continue
            self._after_commit(stored, finals)
            self._hand_to_worker(execution)
            self.log.info("manual run queued", extra=self._run_fields(execution))
            return execution
        raise ConcurrentUpdate(f"job '{job_name}' kept changing; retry")

    @staticmethod
    def _same_request(previous: Execution, override: Mapping[str, Any], key: str) -> Execution:
        """A repeated key must repeat the request: another payload is refused, not ignored."""
        if dict(previous.payload_override) != dict(override):
            raise IdempotencyKeyReused(key, previous.execution_id)
        return previous

    def _execution_for_key(self, job_name: str, key: str, now: datetime) -> Execution | None:
        record = self.store.find_idempotency(job_name, key, now)
        if record is None:
            return None
        return self.store.get_execution(job_name, record.execution_id)

    # ------------------------------------------------------------------ dispatch

    def dispatch(self, now: datetime) -> DispatchReport:
        """One tick at ``now`` (the EventBridge event's time): do all due work.

        Claims due slots and due retries, breaks expired leases, records skipped and
        missed slots, and retries unsent notices. Claimed executions are handed to the
        worker; nothing runs inline. Safe to call twice with the same ``now`` and from
        concurrent dispatchers: every claim is one conditional write.
        """
        report = DispatchReport(now=now)
        try:
            due = self.store.due_jobs(now, limit=self.dispatch_batch)
        except StoreUnavailable as exc:
            report.errors.append(f"due query failed: {exc}")
            self.log.error("dispatcher could not read due work", extra={"error": str(exc)})
            self._tick_metrics(report)
            return report
        report.due_jobs = len(due)
        for job in due:
            try:
                self._dispatch_job(job, now, report)
            except StoreUnavailable as exc:
                # The job stays due: the next tick picks it up again.
                report.errors.append(f"{job.name}: {exc}")
                self.log.error("dispatch of job failed; will retry next tick", extra={"job_name": job.name, "error": str(exc)})
        self._tick_metrics(report)
        self.log.info("dispatcher tick", extra={
            "now": now.isoformat(), "due_jobs": report.due_jobs, "claimed": len(report.claimed),
            "skipped": report.skipped, "missed": report.missed, "timed_out": report.timed_out,
        })
        return report

    def _tick_metrics(self, report: DispatchReport) -> None:
        self.metrics.record("DispatcherHeartbeat", 1)
        self.metrics.record("DueSlots", len(report.claimed) + report.skipped + report.missed)
        self.metrics.record("LateSlots", report.late_slots)

    def _dispatch_job(self, job: Job | None, now: datetime, report: DispatchReport) -> None:
        for attempt in range(CAS_ATTEMPTS):
            if job is None:
                return
            due_at = job.due_at
            if due_at is None or due_at > now:
                return
            plan = self._plan(job, now, report if attempt == 0 else None)
            if plan.needs_commit:
                try:
                    stored = self.store.commit(plan.job, expected_version=job.version,
                                               new_executions=plan.new_executions, execution_updates=plan.updates)
                except ConcurrentUpdate:
                    job = self.store.get_job(job.name)
                    continue
            else:
                stored = job
            self._count(plan, report)
            self._after_commit(stored, plan.finals)
            for execution in plan.to_invoke:
                report.claimed.append((execution.job_name, execution.execution_id))
                self._hand_to_worker(execution)
            return
        report.errors.append(f"{job.name if job else '?'}: gave up after {CAS_ATTEMPTS} conflicting writes")

    @staticmethod
    def _count(plan: _Plan, report: DispatchReport) -> None:
        for execution in plan.new_executions + tuple(u.execution for u in plan.updates):
            if execution.status is ExecutionStatus.SKIPPED:
                report.skipped += 1
            elif execution.status is ExecutionStatus.MISSED:
                report.missed += 1
            elif execution.status is ExecutionStatus.TIMED_OUT:
                report.timed_out += 1

    def _plan(self, job: Job, now: datetime, report: DispatchReport | None) -> _Plan:
        """Everything due on ``job`` at ``now``, as one commit."""
        original = job
        job, updates, finals = self._break_expired_lease(job, now)
        new: list[Execution] = []
        invoke: list[Execution] = []
        finals = list(finals)

        retry = job.pending_retry
        if retry is not None and retry.due_at <= now and job.lease is None:
            execution = self._new_execution(job, Trigger.RETRY, retry.scheduled_for, retry.attempt, now,
                                            retry.payload_override, retry.idempotency_key)
            job = self._claim(replace(job, pending_retry=None), execution, now)
            new.append(execution)
            invoke.append(execution)

        if job.state is JobState.ACTIVE and job.next_run_at is not None and job.next_run_at <= now:
            schedule = CronSchedule.parse(job.definition.cron_expression, job.definition.timezone)
            slot = schedule.previous_at_or_before(now) or job.next_run_at
            slot = max(slot, job.next_run_at)
            late = LateSlots(slot=slot, coalesced=max(0, schedule.count_between(job.next_run_at, slot) - 1),
                             lateness=now - slot)
            if report is not None and (late.coalesced or late.lateness > timedelta(minutes=2)):
                report.late_slots += late.coalesced + 1
            busy = job.lease is not None or job.pending_retry is not None
            decision = decide_slot(late, grace_seconds=job.definition.misfire_grace_seconds, in_flight=busy)
            job = replace(job, next_run_at=schedule.next_after(now), updated_at=now)
            key = idempotency_key_for(job.name, slot)
            if decision is SlotDecision.RUN:
                execution = self._new_execution(job, Trigger.SCHEDULE, slot, 1, now, {}, key)
                job = self._claim(job, execution, now)
                new.append(execution)
                invoke.append(execution)
                if late.coalesced:
                    self.log.warning("late slots coalesced into one run", extra={
                        "job_name": job.name, "slot": slot.isoformat(), "coalesced": late.coalesced})
            elif decision is SlotDecision.SKIP:
                in_flight = job.lease.execution_id if job.lease else "a pending retry"
                skipped = replace(
                    self._new_execution(job, Trigger.SCHEDULE, slot, 1, now, {}, key),
                    status=ExecutionStatus.SKIPPED, finished_at=now, duration_ms=0,
                    result={"reason": f"previous run still in progress ({in_flight})", "coalescedSlots": late.coalesced},
                )
                new.append(skipped)
            else:
                missed = replace(
                    self._new_execution(job, Trigger.SCHEDULE, slot, 1, now, {}, key),
                    status=ExecutionStatus.MISSED, finished_at=now, duration_ms=0,
                    error=ExecutionError("MissedSlot", (
                        f"slot {slot.isoformat()} was found {int(late.lateness.total_seconds())} s late, beyond "
                        f"misfireGraceSeconds={job.definition.misfire_grace_seconds}; "
                        f"{late.coalesced} older slot(s) coalesced into this record")),
                )
                new.append(missed)
                finals.append(missed)
                job = self._account(job, missed, now)

        # When only unsent notices were due nothing changed: no commit, and
        # _after_commit publishes them.
        return _Plan(job=job, new_executions=tuple(new), updates=tuple(updates), to_invoke=tuple(invoke),
                     finals=tuple(finals), needs_commit=job != original)

    def _break_expired_lease(self, job: Job, now: datetime) -> tuple[Job, list[ExecutionUpdate], list[Execution]]:
        """A lease past its expiry means the worker died or overran: record ``timed_out``."""
        lease = job.lease
        if lease is None or lease.expires_at > now:
            return job, [], []
        job = replace(job, lease=None, updated_at=now)
        execution = self.store.get_execution(job.name, lease.execution_id)
        if execution is None or execution.status.is_final:
            return job, [], []
        started = execution.started_at
        phase = "was never started by a worker" if execution.status is ExecutionStatus.QUEUED else "did not finish"
        timed_out = replace(
            execution,
            status=ExecutionStatus.TIMED_OUT,
            finished_at=now,
            duration_ms=int((now - started).total_seconds() * 1000) if started else None,
            error=ExecutionError("LeaseExpired", (
                f"the run {phase} within timeoutSeconds={job.definition.timeout_seconds} plus a "
                f"{int(self.lease_margin.total_seconds())} s margin; its worker died or overran")),
        )
        update = ExecutionUpdate(timed_out, expected_status=execution.status, expected_owner=execution.lease_owner)
        return self._account(job, timed_out, now), [update], [timed_out]

    def _new_execution(self, job: Job, trigger: Trigger, slot: datetime, attempt: int, now: datetime,
                       override: Mapping[str, Any], key: str) -> Execution:
        return Execution(
            execution_id=execution_id_for(slot, attempt),
            job_name=job.name,
            trigger=trigger,
            scheduled_for=slot,
            attempt=attempt,
            status=ExecutionStatus.QUEUED,
            idempotency_key=key,
            created_at=now,
            payload_override=dict(override),
            expires_at=now + self.retention,
        )

    def _claim(self, job: Job, execution: Execution, now: datetime) -> Job:
        """The job with ``execution`` as its in-flight run (queued: no owner yet)."""
        lease = Lease(execution.execution_id, now + self._lease_length(job))
        return replace(job, lease=lease, last_execution=execution, updated_at=now)

    def _lease_length(self, job: Job) -> timedelta:
        return timedelta(seconds=job.definition.timeout_seconds) + self.lease_margin

    def _account(self, job: Job, execution: Execution, now: datetime) -> Job:
        """Failure streak, alerts, auto-pause, then the next attempt if the policy allows."""
        before = job
        job = account_outcome(job, execution, now=now)
        if execution.status is ExecutionStatus.SKIPPED:
            # A skipped slot must not hide the run that is still in flight.
            job = replace(job, last_execution=before.last_execution)
        retryable = execution.status in (ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT)
        if (retryable and job.state is JobState.ACTIVE and job.pending_retry is None
                and may_retry(job.definition.retry, execution.attempt)):
            due = now + retry_delay(job.definition.retry, execution.attempt, self.rand)
            job = replace(job, pending_retry=PendingRetry(
                scheduled_for=execution.scheduled_for, attempt=execution.attempt + 1, due_at=due,
                payload_override=dict(execution.payload_override), idempotency_key=execution.idempotency_key))
        return job

    def _hand_to_worker(self, execution: Execution) -> None:
        try:
            self.invoker.invoke(execution.job_name, execution.execution_id)
        except Exception as exc:  # noqa: BLE001 - any invoke failure is recovered by the lease
            self.log.error("worker invoke failed; the lease will expire and the run be retried",
                           extra={**self._run_fields(execution), "error": f"{type(exc).__name__}: {exc}"})

    def _after_commit(self, job: Job, finals: tuple[Execution, ...] | list[Execution]) -> None:
        for execution in finals:
            self._outcome_metrics(job, execution)
        if job.outbox:
            self.flush_outbox(job)

    # ------------------------------------------------------------------ notices

    def flush_outbox(self, job: Job) -> int:
        """Publish the job's unsent notices; remove the sent ones. Returns how many sent.

        A notice that fails to publish stays in the outbox; the job stays due, so the
        next dispatcher tick tries again. Delivery is at least once: each notice
        carries a stable ``noticeId``.
        """
        sent: set[str] = set()
        for notice in job.outbox:
            try:
                self.notifier.publish(notice)
            except Exception as exc:  # noqa: BLE001 - kept for the next tick
                self.log.warning("notice publish failed; kept in outbox", extra={
                    "job_name": job.name, "notice_id": notice.notice_id, "error": f"{type(exc).__name__}: {exc}"})
                break
            sent.add(notice.notice_id)
        if not sent:
            return 0
        for _ in range(CAS_ATTEMPTS):
            remaining = tuple(n for n in job.outbox if n.notice_id not in sent)
            try:
                self.store.commit(replace(job, outbox=remaining), expected_version=job.version)
                return len(sent)
            except ConcurrentUpdate:
                fresh = self.store.get_job(job.name)
                if fresh is None:
                    return len(sent)
                job = fresh
        return len(sent)

    # ------------------------------------------------------------------ worker

    def run_execution(self, job_name: str, execution_id: str, *, worker_id: str) -> Execution | None:
        """The worker: start the claimed execution, call its handler, record the outcome.

        A second delivery of the same invoke finds the execution no longer ``queued``
        and does nothing. A worker whose lease was broken meanwhile cannot overwrite
        the newer state: its final write is conditional on its own lease.
        """
        started = self._start(job_name, execution_id, worker_id)
        if started is None:
            return None
        job, running = started
        fields = self._run_fields(running)
        token = RUN_FIELDS.set(fields)
        try:
            handler = self.registry.get(job.definition.handler)
            status, result, error = ExecutionStatus.FAILED, None, None
            if handler is None:
                error = ExecutionError("HandlerNotFound", f"no handler named '{job.definition.handler}' is registered in this worker")
            else:
                status, result, error = self._call_handler(job, running, handler.fn, fields)
            return self._finish(job_name, running, worker_id, status, result, error)
        finally:
            RUN_FIELDS.reset(token)

    def _start(self, job_name: str, execution_id: str, worker_id: str) -> tuple[Job, Execution] | None:
        for _ in range(CAS_ATTEMPTS):
            execution = self.store.get_execution(job_name, execution_id)
            if execution is None or execution.status is not ExecutionStatus.QUEUED:
                self.log.info("execution not queued; duplicate or late delivery ignored",
                              extra={"job_name": job_name, "execution_id": execution_id,
                                     "status": execution.status.value if execution else None})
                return None
            job = self.store.get_job(job_name)
            if job is None:
                self._close_orphan(replace(execution, status=ExecutionStatus.SKIPPED, finished_at=self.clock.now(),
                                           duration_ms=0, result={"reason": "the job was cancelled before the run started"}),
                                   ExecutionStatus.QUEUED, None)
                return None
            if job.lease is None or job.lease.execution_id != execution_id:
                self.log.warning("execution has no lease on its job (taken over); not run",
                                 extra={"job_name": job_name, "execution_id": execution_id})
                return None
            now = self.clock.now()
            running = replace(execution, status=ExecutionStatus.RUNNING, started_at=now, lease_owner=worker_id)
            lease = Lease(execution_id, now + self._lease_length(job), owner=worker_id)
            claimed = replace(job, lease=lease, last_execution=running, updated_at=now)
            try:
                self.store.commit(claimed, expected_version=job.version,
                                  execution_updates=[ExecutionUpdate(running, ExecutionStatus.QUEUED, None)])
            except ConcurrentUpdate:
                continue
            self.log.info("run started", extra=self._run_fields(running))
            return claimed, running
        return None

    def _call_handler(self, job: Job, running: Execution, fn: Callable[[RunContext], Any],
                      fields: dict[str, Any]) -> tuple[ExecutionStatus, Any, ExecutionError | None]:
        timeout = job.definition.timeout_seconds
        deadline = self.clock.now() + timedelta(seconds=timeout)
        ctx = RunContext(
            job_name=job.name,
            execution_id=running.execution_id,
            scheduled_for=running.scheduled_for,
            attempt=running.attempt,
            trigger=running.trigger,
            idempotency_key=running.idempotency_key,
            payload={**job.definition.payload, **running.payload_override},
            timezone=job.definition.timezone,
            logger=logging.LoggerAdapter(self.log, fields),
            remaining_time_ms=lambda: max(0, int((deadline - self.clock.now()).total_seconds() * 1000)),
        )
        outcome: dict[str, Any] = {}

        def call() -> None:
            try:
                outcome["result"] = fn(ctx)
            except BaseException as exc:  # noqa: BLE001 - a handler's failure is data
                outcome["error"] = exc

        # The handler runs in its own thread so a run past timeoutSeconds is recorded
        # as timed_out while the Lambda still has time to write it.
        thread = threading.Thread(target=contextvars.copy_context().run, args=(call,),
                                  name=f"run-{running.execution_id}", daemon=True)
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            return ExecutionStatus.TIMED_OUT, None, ExecutionError(
                "Timeout", f"handler did not finish within timeoutSeconds={timeout}")
        if "error" in outcome:
            exc = outcome["error"]
            self.log.warning("handler failed", extra={**fields, "error_type": type(exc).__name__})
            return ExecutionStatus.FAILED, None, ExecutionError(type(exc).__name__, str(exc)[:MAX_ERROR_MESSAGE] or type(exc).__name__)
        result = bounded_result(outcome.get("result"), limit_bytes=MAX_RESULT_BYTES, dumps=json.dumps)
        return ExecutionStatus.SUCCEEDED, result, None

    def _finish(self, job_name: str, running: Execution, worker_id: str, status: ExecutionStatus,
                result: Any, error: ExecutionError | None) -> Execution | None:
        for _ in range(CAS_ATTEMPTS * 2):
            now = self.clock.now()
            final = replace(running, status=status, finished_at=now, result=result, error=error,
                            duration_ms=int((now - running.started_at).total_seconds() * 1000) if running.started_at else None)
            job = self.store.get_job(job_name)
            if job is None:  # cancelled while it ran: record the outcome, account it to no job
                return self._close_orphan(final, ExecutionStatus.RUNNING, worker_id)
            if job.lease is None or job.lease.execution_id != running.execution_id or job.lease.owner != worker_id:
                self.log.warning("lease lost before the outcome was recorded; newer state kept",
                                 extra={**self._run_fields(running), "status": status.value})
                return None
            updated = self._account(replace(job, lease=None), final, now)
            try:
                stored = self.store.commit(updated, expected_version=job.version,
                                           execution_updates=[ExecutionUpdate(final, ExecutionStatus.RUNNING, worker_id)])
            except ConcurrentUpdate:
                continue
            self.log.info("run finished", extra={**self._run_fields(final), "status": status.value,
                                                 "duration_ms": final.duration_ms})
            self._after_commit(stored, [final])
            return final
        self.log.error("could not record the outcome; the lease will expire and the run be retried",
                       extra=self._run_fields(running))
        return None

    def _close_orphan(self, final: Execution, expected: ExecutionStatus, owner: str | None) -> Execution | None:
        """Record the outcome of a run whose job was cancelled, so it is not left open."""
        try:
            self.store.update_execution(ExecutionUpdate(final, expected, owner))
        except ConcurrentUpdate:
            return None
        self.log.info("run of a cancelled job closed", extra={**self._run_fields(final), "status": final.status.value})
        return final

    # ------------------------------------------------------------------ helpers

    def _outcome_metrics(self, job: Job, execution: Execution) -> None:
        if execution.status is ExecutionStatus.SUCCEEDED:
            self.metrics.record("ExecutionSucceeded", 1, job_name=job.name)
        elif execution.status.is_failure:
            self.metrics.record("ExecutionFailed", 1, job_name=job.name)
        if execution.duration_ms is not None and execution.status in (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED):
            self.metrics.record("ExecutionDurationMs", execution.duration_ms, unit="Milliseconds", job_name=job.name)
        self.metrics.record("ConsecutiveFailures", job.consecutive_failures, job_name=job.name)

    @staticmethod
    def _run_fields(execution: Execution) -> dict[str, Any]:
        return {
            "job_name": execution.job_name,
            "execution_id": execution.execution_id,
            "slot": execution.scheduled_for.astimezone(UTC).isoformat(),
            "attempt": execution.attempt,
            "trigger": execution.trigger.value,
        }
