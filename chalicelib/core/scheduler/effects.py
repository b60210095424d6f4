"""What follows a commit: outcome metrics, the outbox, and the hand-off to a worker."""
from __future__ import annotations

from typing import Sequence

from chalicelib.core.model import Execution, ExecutionStatus, Job, Trigger
from chalicelib.core.scheduler.outbox import Outbox
from chalicelib.core.scheduler.parts import Parts, run_fields


class Effects:
    """Side effects that happen only after the state change that caused them landed."""

    def __init__(self, parts: Parts, outbox: Outbox) -> None:
        self.parts = parts
        self.outbox = outbox

    def after_commit(self, job: Job, finals: Sequence[Execution]) -> None:
        """Record the metrics of finished runs and publish the job's notices."""
        for execution in finals:
            self._outcome_metrics(job, execution)
        if job.outbox:
            self.outbox.flush(job)

    def hand_to_worker(self, execution: Execution) -> None:
        """Start a worker for a claimed execution; a failed invoke is left to the lease."""
        try:
            self.parts.invoker.invoke(execution.job_name, execution.execution_id,
                                      manual=execution.trigger is Trigger.MANUAL)
        except Exception as exc:  # noqa: BLE001 - any invoke failure is recovered by the lease
            self.parts.log.error("worker invoke failed; the lease will expire and the run be retried",
                                 extra={**run_fields(execution), "error": f"{type(exc).__name__}: {exc}"})

    def _outcome_metrics(self, job: Job, execution: Execution) -> None:
        metrics = self.parts.metrics
        if execution.status is ExecutionStatus.SUCCEEDED:
            metrics.record("ExecutionSucceeded", 1, job_name=job.name)
        elif execution.status.is_failure:
            metrics.record("ExecutionFailed", 1, job_name=job.name)
        if execution.duration_ms is not None and execution.status in (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED):
            metrics.record("ExecutionDurationMs", execution.duration_ms, unit="Milliseconds", job_name=job.name)
        metrics.record("ConsecutiveFailures", job.consecutive_failures, job_name=job.name)
