"""The outbox: alerts and recovery notices recorded on the job, published after commit."""
from __future__ import annotations

from dataclasses import replace

from chalicelib.core.model import Job
from chalicelib.core.scheduler.parts import Parts, retry_on_conflict


class Outbox:
    """Publishes a job's unsent notices and removes the sent ones."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts

    def flush(self, job: Job) -> int:
        """Publish the job's unsent notices; remove the sent ones. Returns how many sent.

        A notice that fails to publish stays in the outbox; the job stays due, so the
        next dispatcher tick tries again. Delivery is at least once: each notice
        carries a stable ``noticeId``.
        """
        sent: set[str] = set()
        for notice in job.outbox:
            try:
                self.parts.notifier.publish(notice)
            except Exception as exc:  # noqa: BLE001 - kept for the next tick
                self.parts.log.warning("notice publish failed; kept in outbox", extra={
                    "job_name": job.name, "notice_id": notice.notice_id, "error": f"{type(exc).__name__}: {exc}"})
                break
            sent.add(notice.notice_id)
        if not sent:
            return 0
        current = job

        def step(attempt: int) -> int:
            nonlocal current
            if attempt:
                fresh = self.parts.store.get_job(job.name)
                if fresh is None:
                    return len(sent)
                current = fresh
            remaining = tuple(n for n in current.outbox if n.notice_id not in sent)
            self.parts.store.commit(replace(current, outbox=remaining), expected_version=current.version)
            return len(sent)

        return retry_on_conflict(step, on_exhausted=lambda: len(sent))
