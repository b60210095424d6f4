"""The outbox: alerts and recovery notices recorded on the job, published after commit.

Each unsent notice has its own next attempt (1 min, 2, 4 … capped at 1 h after each
failed publish), and the job's place in the due index counts that time, not the time
the notice was created: a notifier outage neither retries every notice on every tick
nor keeps the alerting jobs ahead of healthy ones.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from chalicelib.core.model import Job, Notice
from chalicelib.core.scheduler.parts import Parts, retry_on_conflict

FIRST_RETRY = timedelta(minutes=1)
MAX_RETRY = timedelta(hours=1)


def deferred(notice: Notice, now: datetime) -> Notice:
    """The notice after one more failed publish, with its next attempt backed off."""
    delay: timedelta = FIRST_RETRY * (2 ** min(notice.attempts, 12))
    return replace(notice, attempts=notice.attempts + 1, next_attempt_at=now + min(delay, MAX_RETRY))


class Outbox:
    """Publishes a job's due notices, removes the sent ones and backs off the others."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts

    def flush(self, job: Job) -> int:
        """Publish the job's notices that are due; returns how many were sent.

        A notice that fails to publish stays in the outbox with its next attempt backed
        off; once the notifier fails, the rest wait too. Delivery is at least once: each
        notice carries a stable ``noticeId``.
        """
        now = self.parts.clock.now()
        sent: set[str] = set()
        later: dict[str, Notice] = {}
        for notice in job.outbox:
            if notice.due_at > now:
                continue
            if later:  # the notifier is failing: do not hammer it in this flush
                later[notice.notice_id] = deferred(notice, now)
                continue
            try:
                self.parts.notifier.publish(notice)
            except Exception as exc:  # noqa: BLE001 - kept, with a backoff, for a later tick
                self.parts.log.warning("notice publish failed; kept in outbox", extra={
                    "job_name": job.name, "notice_id": notice.notice_id, "attempts": notice.attempts + 1,
                    "error": f"{type(exc).__name__}: {exc}"})
                later[notice.notice_id] = deferred(notice, now)
                continue
            sent.add(notice.notice_id)
        if not sent and not later:
            return 0
        current = job

        def step(attempt: int) -> int:
            nonlocal current
            if attempt:
                fresh = self.parts.store.get_job(job.name)
                if fresh is None:
                    return len(sent)
                current = fresh
            remaining = tuple(later.get(n.notice_id, n) for n in current.outbox if n.notice_id not in sent)
            self.parts.store.commit(replace(current, outbox=remaining), expected_version=current.version)
            return len(sent)

        return retry_on_conflict(step, on_exhausted=lambda: len(sent))
