"""Fault isolation: one job's fault stays that job's (STYLE.md habit 9).

A job the dispatcher cannot dispatch (a record it cannot decode, a stored definition
the current code refuses, any exception while planning or claiming it) is *set aside*:
held back with a capped exponential backoff so it neither runs every tick nor holds a
place at the head of the due index. It is alerted once, shown as not dispatchable, and
dispatched again as soon as planning succeeds (after a repair, or registering it again),
with a ``restored`` notice.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from chalicelib.core.model import Job, Notice, NoticeKind, SetAside, iso

FIRST_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(hours=1)
MAX_REASON = 500


def set_aside_delay(attempts: int) -> timedelta:
    """1 min, 2, 4 … capped at 1 h, for the ``attempts``-th failure in a row."""
    delay: timedelta = FIRST_DELAY * (2 ** min(max(attempts, 1) - 1, 12))
    return min(delay, MAX_DELAY)


def next_set_aside(previous: SetAside | None, reason: str, now: datetime) -> SetAside:
    """The record after one more failure to dispatch (the first when ``previous`` is None)."""
    attempts = previous.attempts + 1 if previous is not None else 1
    return SetAside(
        reason=reason[:MAX_REASON],
        since=previous.since if previous is not None else now,
        retry_at=now + set_aside_delay(attempts),
        attempts=attempts,
        alerted=previous.alerted if previous is not None else False,
        notified=previous.notified if previous is not None else (),
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


def restore(job: Job, now: datetime) -> Job:
    """The job no longer set aside, with a ``restored`` notice if its set-aside was alerted."""
    record = job.set_aside
    if record is None:
        return job
    outbox = job.outbox + (restored_notice(job.name, record, now),) if record.alerted else job.outbox
    return replace(job, set_aside=None, outbox=outbox, updated_at=now)
