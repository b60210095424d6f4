"""The dispatcher tick: claim due slots and retries, break expired leases, record
skipped and missed slots, retry unsent notices, and hand claimed runs to workers."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from chalicelib.core.errors import ConcurrentUpdate, StoreUnavailable
from chalicelib.core.model import Execution, ExecutionStatus, Job
from chalicelib.core.scheduler import transitions
from chalicelib.core.scheduler.effects import Effects
from chalicelib.core.scheduler.parts import CAS_ATTEMPTS, Parts


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


class Dispatcher:
    """One tick at a time; safe to run twice with the same ``now`` and concurrently."""

    def __init__(self, parts: Parts, effects: Effects) -> None:
        self.parts = parts
        self.effects = effects

    def tick(self, now: datetime) -> DispatchReport:
        """One tick at ``now``: do all due work (see :meth:`SchedulerService.dispatch`)."""
        report = DispatchReport(now=now)
        log = self.parts.log
        try:
            due = self.parts.store.due_jobs(now, limit=self.parts.dispatch_batch)
        except StoreUnavailable as exc:
            report.errors.append(f"due query failed: {exc}")
            log.error("dispatcher could not read due work", extra={"error": str(exc)})
            self._tick_metrics(report)
            return report
        report.due_jobs = len(due)
        for job in due:
            try:
                self._dispatch_job(job, now, report)
            except StoreUnavailable as exc:
                # The job stays due: the next tick picks it up again.
                report.errors.append(f"{job.name}: {exc}")
                log.error("dispatch of job failed; will retry next tick", extra={"job_name": job.name, "error": str(exc)})
        self._tick_metrics(report)
        log.info("dispatcher tick", extra={
            "now": now.isoformat(), "due_jobs": report.due_jobs, "claimed": len(report.claimed),
            "skipped": report.skipped, "missed": report.missed, "timed_out": report.timed_out,
        })
        return report

    def _tick_metrics(self, report: DispatchReport) -> None:
        metrics = self.parts.metrics
        metrics.record("DispatcherHeartbeat", 1)
        metrics.record("DueSlots", len(report.claimed) + report.skipped + report.missed)
        metrics.record("LateSlots", report.late_slots)

    def _dispatch_job(self, job: Job | None, now: datetime, report: DispatchReport) -> None:
        name = job.name if job else "?"
        for attempt in range(CAS_ATTEMPTS):
            if job is None or job.due_at is None or job.due_at > now:
                return
            plan = transitions.plan(job, self._lease_execution(job, now), now, self.parts.timing, self.parts.rand)
            if attempt == 0:
                report.late_slots += plan.late_slots
            if plan.needs_commit:
                try:
                    stored = self.parts.store.commit(plan.job, expected_version=job.version,
                                                     new_executions=plan.new_executions,
                                                     execution_updates=plan.updates)
                except ConcurrentUpdate:
                    job = self.parts.store.get_job(job.name)
                    continue
            else:
                stored = job
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
        """The expired lease's execution, read before planning (None when no lease expired)."""
        if not transitions.lease_has_expired(job, now):
            return None
        assert job.lease is not None
        return self.parts.store.get_execution(job.name, job.lease.execution_id)


def _count(plan: transitions.Plan, report: DispatchReport) -> None:
    for execution in plan.new_executions + tuple(u.execution for u in plan.updates):
        if execution.status is ExecutionStatus.SKIPPED:
            report.skipped += 1
        elif execution.status is ExecutionStatus.MISSED:
            report.missed += 1
        elif execution.status is ExecutionStatus.TIMED_OUT:
            report.timed_out += 1
