"""Fault isolation: one job's fault stays that job's (STYLE.md habit 9).

A job the dispatcher cannot dispatch (a record it cannot decode, a stored definition
the current code refuses, any exception while planning or claiming it) is *set aside*:
held back with the capped exponential backoff (:func:`policies.backoff`) so it neither runs every tick nor holds a
place at the head of the due index. It is alerted once, shown as not dispatchable, and
dispatched again as soon as planning succeeds (after a repair, or registering it again),
with a ``restored`` notice.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from chalicelib.core.model import Job, SetAside
from chalicelib.core.notices import restored_notice
from chalicelib.core.policies import backoff

MAX_REASON = 500


def next_set_aside(previous: SetAside | None, reason: str, now: datetime) -> SetAside:
    """The record after one more failure to dispatch (the first when ``previous`` is None)."""
    attempts = previous.attempts + 1 if previous is not None else 1
    return SetAside(
        reason=reason[:MAX_REASON],
        since=previous.since if previous is not None else now,
        retry_at=now + backoff(attempts),
        attempts=attempts,
        alerted=previous.alerted if previous is not None else False,
        notified=previous.notified if previous is not None else (),
    )


def restore(job: Job, now: datetime) -> Job:
    """The job no longer set aside, with a ``restored`` notice if its set-aside was alerted."""
    record = job.set_aside
    if record is None:
        return job
    outbox = job.outbox + (restored_notice(job.name, record, now),) if record.alerted else job.outbox
    return replace(job, set_aside=None, outbox=outbox, updated_at=now)
