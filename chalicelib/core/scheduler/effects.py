"""What follows a commit: outcome metrics and the outbox, and the hand-off to a worker."""
from __future__ import annotations

import logging
from typing import Sequence

from chalicelib.core.model import Execution, ExecutionStatus, Job, Trigger
from chalicelib.core.ports import Invoker, Metrics
from chalicelib.core.scheduler.common import run_fields
from chalicelib.core.scheduler.outbox import Outbox
from chalicelib.core.worker_event import WorkerEvent


class AfterCommit:
    """What happens only once the state change that caused it landed: the metrics of
    finished runs, and the delivery of the job's notices."""

    def __init__(self, metrics: Metrics, outbox: Outbox) -> None:
        self.metrics = metrics
        self.outbox = outbox

    def __call__(self, job: Job, finals: Sequence[Execution]) -> None:
        """Record the metrics of finished runs and deliver the job's notices."""
        for execution in finals:
            self._outcome_metrics(job, execution)
        if job.outbox:
            self.outbox.flush(job)

    def _outcome_metrics(self, job: Job, execution: Execution) -> None:
        metrics = self.metrics
        if execution.status is ExecutionStatus.SUCCEEDED:
            metrics.record("ExecutionSucceeded", 1, job_name=job.name)
        elif execution.status.is_failure:
            metrics.record("ExecutionFailed", 1, job_name=job.name)
        if execution.duration_ms is not None and execution.status in (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED):
            metrics.record("ExecutionDurationMs", execution.duration_ms, unit="Milliseconds", job_name=job.name)
        metrics.record("ConsecutiveFailures", job.consecutive_failures, job_name=job.name)


class HandOff:
    """Starts a worker for a claimed execution, without waiting for it."""

    def __init__(self, invoker: Invoker, log: logging.Logger) -> None:
        self.invoker = invoker
        self.log = log

    def __call__(self, execution: Execution) -> None:
        """Invoke the worker; a failed invoke is left to the lease (it expires, the run is retried)."""
        try:
            self.invoker.invoke(WorkerEvent(execution.job_name, execution.execution_id),
                                manual=execution.trigger is Trigger.MANUAL)
        except Exception as exc:  # noqa: BLE001 - any invoke failure is recovered by the lease
            self.log.error("worker invoke failed; the lease will expire and the run be retried",
                           extra={**run_fields(execution), "error": f"{type(exc).__name__}: {exc}"})
