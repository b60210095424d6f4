"""The API service: what callers ask of the scheduler (the routes and the Python interface).

It is a handful of use cases, each built (in ``chalicelib.bootstrap``) with exactly the
ports it uses: ``jobs`` registers, changes and removes jobs; ``runs`` queues manual runs;
``reads`` answers queries; ``replays`` and ``windows`` manage replays and maintenance
windows. A route makes one call on one of them. Dispatching and running are the engine's
(:mod:`chalicelib.core.scheduler.engine`). Every state change is a compare-and-swap
``Store.commit``: read, decide with the pure functions of :mod:`.transitions`, write on
condition that nobody changed it meanwhile, and on a lost race read again.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from chalicelib.core.model import Actor, Execution, Job, UnreadableJob
from chalicelib.core.ports import Clock
from chalicelib.core.scheduler.queries import Queries
from chalicelib.core.scheduler.registration import Registration
from chalicelib.core.scheduler.replay_service import Replays
from chalicelib.core.scheduler.triggers import Triggers
from chalicelib.core.scheduler.windows import MaintenanceWindows


@dataclass(frozen=True)
class ApiService:
    """The scheduler as callers use it; the five operations of the design (``API.md``'s
    Python interface) are methods, the rest is one call on a use case."""

    jobs: Registration
    runs: Triggers
    reads: Queries
    replays: Replays
    windows: MaintenanceWindows
    clock: Clock
    """The time the answers are given at (views that say "active" or "ended" use it)."""

    def register_job(self, job_name: str, cron_expression: str, handler: Any, **options: Any) -> Job:
        """registerJob (see :meth:`Registration.register_job`)."""
        return self.jobs.register_job(job_name, cron_expression, handler, **options)

    def trigger_job(self, job_name: str, *, idempotency_key: str | None = None,
                    payload: Mapping[str, Any] | None = None, actor: Actor | None = None) -> Execution:
        """triggerJob (see :meth:`Triggers.trigger_job`)."""
        return self.runs.trigger_job(job_name, idempotency_key=idempotency_key, payload=payload, actor=actor)

    def get_last_execution_result(self, job_name: str) -> Execution | None:
        """getLastExecutionResult: the newest execution (running ones included) or None."""
        return self.reads.get_last_execution_result(job_name)

    def cancel_job(self, job_name: str, *, actor: Actor | None = None) -> None:
        """cancelJob: the job never runs again; its history stays until it expires."""
        self.jobs.cancel_job(job_name, actor)

    def list_scheduled_jobs(self) -> list[Job | UnreadableJob]:
        """listScheduledJobs: every registered job, by name."""
        return self.reads.list_scheduled_jobs()
