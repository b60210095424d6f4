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


def alert_notice(job: Job, execution: Execution, now: datetime) -> Notice:
    name = job.name
    failures = job.consecutive_failures
    times = "once" if failures == 1 else f"{failures} times in a row"
    subject = f"[ALERT] Scheduled job '{name}' has failed {times}"
    return Notice(
        notice_id=f"{name}#alert#{execution.execution_id}",
        kind=NoticeKind.ALERT,
        subject=subject[:100],
        message={
            "kind": NoticeKind.ALERT.value,
            "jobName": name,
            "consecutiveFailures": failures,
            "alertAfterFailures": job.definition.alert_after_failures,
            "lastExecutionId": execution.execution_id,
            "lastStatus": execution.status.value,
            "lastScheduledFor": iso(execution.scheduled_for),
            "lastError": _error_of(execution),
            "lastSuccessAt": iso(job.last_success_at) if job.last_success_at else None,
            "jobState": job.state.value,
            "howToInspect": _inspect_hints(name),
            "at": iso(now),
        },
        created_at=now,
    )


def recovery_notice(job: Job, execution: Execution, failures: int, now: datetime) -> Notice:
    name = job.name
    subject = f"[RECOVERED] Scheduled job '{name}' succeeded after {failures} failures"
    return Notice(
        notice_id=f"{name}#recovery#{execution.execution_id}",
        kind=NoticeKind.RECOVERY,
        subject=subject[:100],
        message={
            "kind": NoticeKind.RECOVERY.value,
            "jobName": name,
            "failuresInStreak": failures,
            "recoveredBy": execution.execution_id,
            "scheduledFor": iso(execution.scheduled_for),
            "at": iso(now),
            "howToInspect": _inspect_hints(name),
        },
        created_at=now,
    )


def _hints(job_name: str) -> dict[str, str]:
    base = "/api/v1/scheduler/jobs/" + job_name
    return {"inspect": f"GET {base}", "repair": "POST /api/v1/scheduler/jobs with the job's definition",
            "remove": f"DELETE {base}"}


def set_aside_notice(job_name: str, record: SetAside, now: datetime) -> Notice:
    """Published once when a job is first set aside."""
    return Notice(
        notice_id=f"{job_name}#set-aside#{iso(record.since)}",
        kind=NoticeKind.SET_ASIDE,
        subject=f"[ALERT] Scheduled job '{job_name}' cannot be dispatched"[:100],
        message={
            "kind": NoticeKind.SET_ASIDE.value,
            "jobName": job_name,
            "reason": record.reason,
            "since": iso(record.since),
            "retryAt": iso(record.retry_at),
            "attempts": record.attempts,
            "howToRepair": _hints(job_name),
            "at": iso(now),
        },
        created_at=now,
    )


def restored_notice(job_name: str, record: SetAside, now: datetime) -> Notice:
    """Queued in the job's outbox when a set-aside job dispatches again."""
    return Notice(
        notice_id=f"{job_name}#restored#{iso(record.since)}",
        kind=NoticeKind.RESTORED,
        subject=f"[RECOVERED] Scheduled job '{job_name}' dispatches again"[:100],
        message={
            "kind": NoticeKind.RESTORED.value,
            "jobName": job_name,
            "setAsideSince": iso(record.since),
            "lastReason": record.reason,
            "attempts": record.attempts,
            "at": iso(now),
        },
        created_at=now,
    )


def pause_expired_notice(job: Job, until: datetime, now: datetime) -> Notice:
    """The notice a pause with an end sends when it ends (``resumed`` by itself)."""
    name = job.name
    return Notice(
        notice_id=f"{name}#pause-expired#{iso(until)}",
        kind=NoticeKind.PAUSE_EXPIRED,
        subject=f"[RESUMED] Scheduled job '{name}' resumed: its pause ended"[:100],
        message={
            "kind": NoticeKind.PAUSE_EXPIRED.value,
            "jobName": name,
            "pausedUntil": iso(until),
            "pauseReason": job.pause_reason,
            "pausedBy": None if job.paused_by is None else job.paused_by.subject,
            "at": iso(now),
        },
        created_at=now,
    )
