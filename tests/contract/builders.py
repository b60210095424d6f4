"""Values for the store tests: a pinned instant, jobs and executions built around it."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.core.model import (
    Execution,
    ExecutionStatus,
    Job,
    JobDefinition,
    Trigger,
    execution_id_for,
    idempotency_key_for,
)

T0 = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)


def make_job(name: str = "nightly-report", **changes: Any) -> Job:
    job = Job(
        definition=JobDefinition(job_name=name, cron_expression="0 2 * * *", handler="noop"),
        created_at=T0,
        updated_at=T0,
        next_run_at=T0 + timedelta(hours=6),
    )
    return replace(job, **changes)


def make_execution(job_name: str, slot: datetime = T0, attempt: int = 1, **changes: Any) -> Execution:
    execution = Execution(
        execution_id=execution_id_for(slot, attempt),
        job_name=job_name,
        trigger=Trigger.SCHEDULE,
        scheduled_for=slot,
        attempt=attempt,
        status=ExecutionStatus.QUEUED,
        idempotency_key=idempotency_key_for(job_name, slot),
        created_at=slot,
        expires_at=slot + timedelta(days=90),
    )
    return replace(execution, **changes)
