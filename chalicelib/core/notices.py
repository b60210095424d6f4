"""Every notice the scheduler sends, built in one place.

A notice is recorded on the job (its outbox) in the same write as the change it reports,
and the outbox delivers it after that write lands (:mod:`chalicelib.core.scheduler.outbox`);
a set-aside job's is delivered at once, beside a record that may not decode. Each has a
stable ``notice_id`` (delivery is at least once) and a message with what a person needs
to act: the job, what happened, and the requests that inspect or repair it.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.core.model import Execution, Job, Notice, NoticeKind, SetAside, iso


def _inspect_hints(job_name: str) -> dict[str, str]:
    base = "/api/v1/scheduler/jobs/" + job_name
    return {
        "history": f"GET {base}/executions",
        "lastResult": f"GET {base}/last-result",
        "rerun": f"POST {base}/trigger",
    }


def _error_of(execution: Execution) -> dict[str, Any] | None:
    if execution.error is None:
        return None
    return {"type": execution.error.type, "message": execution.error.message, "retryable": execution.error.retryable}


def _notice(kind: NoticeKind, job_name: str, key: str, subject: str, now: datetime, **fields: Any) -> Notice:
    """A notice of ``kind`` about ``job_name``: its id ``{job}#{kind}#{key}`` is stable (the
    same event always has the same id), its subject at most 100 characters (SNS's limit)."""
    return Notice(
        notice_id=f"{job_name}#{kind.value}#{key}",
        kind=kind,
        subject=subject[:100],
        message={"kind": kind.value, "jobName": job_name, **fields, "at": iso(now)},
        created_at=now,
    )


def alert_notice(job: Job, execution: Execution, now: datetime) -> Notice:
    failures = job.consecutive_failures
    times = "once" if failures == 1 else f"{failures} times in a row"
    return _notice(
        NoticeKind.ALERT, job.name, execution.execution_id, f"[ALERT] Scheduled job '{job.name}' has failed {times}", now,
        consecutiveFailures=failures,
        alertAfterFailures=job.definition.alert_after_failures,
        lastExecutionId=execution.execution_id,
        lastStatus=execution.status.value,
        lastScheduledFor=iso(execution.scheduled_for),
        lastError=_error_of(execution),
        lastSuccessAt=iso(job.last_success_at) if job.last_success_at else None,
        jobState=job.state.value,
        howToInspect=_inspect_hints(job.name),
    )


def recovery_notice(job: Job, execution: Execution, failures: int, now: datetime) -> Notice:
    return _notice(
        NoticeKind.RECOVERY, job.name, execution.execution_id,
        f"[RECOVERED] Scheduled job '{job.name}' succeeded after {failures} failures", now,
        failuresInStreak=failures,
        recoveredBy=execution.execution_id,
        scheduledFor=iso(execution.scheduled_for),
        howToInspect=_inspect_hints(job.name),
    )


def _repair_hints(job_name: str) -> dict[str, str]:
    base = "/api/v1/scheduler/jobs/" + job_name
    return {"inspect": f"GET {base}", "repair": "POST /api/v1/scheduler/jobs with the job's definition",
            "remove": f"DELETE {base}"}


def set_aside_notice(job_name: str, record: SetAside, now: datetime) -> Notice:
    """Published once when a job is first set aside."""
    return _notice(
        NoticeKind.SET_ASIDE, job_name, iso(record.since), f"[ALERT] Scheduled job '{job_name}' cannot be dispatched", now,
        reason=record.reason,
        since=iso(record.since),
        retryAt=iso(record.retry_at),
        attempts=record.attempts,
        howToRepair=_repair_hints(job_name),
    )


def restored_notice(job_name: str, record: SetAside, now: datetime) -> Notice:
    """Queued in the job's outbox when a set-aside job dispatches again."""
    return _notice(
        NoticeKind.RESTORED, job_name, iso(record.since), f"[RECOVERED] Scheduled job '{job_name}' dispatches again", now,
        setAsideSince=iso(record.since),
        lastReason=record.reason,
        attempts=record.attempts,
    )


def pause_expired_notice(job: Job, until: datetime, now: datetime) -> Notice:
    """The notice a pause with an end sends when it ends (``resumed`` by itself)."""
    return _notice(
        NoticeKind.PAUSE_EXPIRED, job.name, iso(until), f"[RESUMED] Scheduled job '{job.name}' resumed: its pause ended",
        now,
        pausedUntil=iso(until),
        pauseReason=job.pause_reason,
        pausedBy=None if job.paused_by is None else job.paused_by.subject,
    )
