"""``trigger --wait``: follow one slot's run to its outcome, its retries included.

A failed attempt that the job's retry policy will try again is not the outcome: the next
attempt of the same slot (trigger ``retry``, same ``scheduledFor``, attempt + 1) is
followed until one succeeds, fails for good, or the wait runs out.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from scheduler_cli.client import ApiClient, segment

FINAL = frozenset({"succeeded", "failed", "timed_out", "skipped", "missed"})
RETRYABLE = frozenset({"failed", "timed_out"})


@dataclass(frozen=True)
class Outcome:
    execution: dict[str, Any]
    finished: bool  # False: the wait ran out before the slot's last attempt ended

    @property
    def succeeded(self) -> bool:
        return self.finished and self.execution.get("status") == "succeeded"


def wait_for_slot(client: ApiClient, job_name: str, first: dict[str, Any], *, every: float, timeout: float,
                  report: Callable[[dict[str, Any]], None]) -> Outcome:
    """Poll ``GET /jobs/{job}/executions/{id}`` until the slot of ``first`` has its outcome."""
    deadline = time.monotonic() + timeout
    current = first
    base = f"/jobs/{segment(job_name)}"
    reported: set[str] = set()
    while True:
        current = client.call("GET", f"{base}/executions/{segment(current['executionId'])}")
        if current.get("status") in FINAL:
            if current["executionId"] not in reported:
                reported.add(current["executionId"])
                report(current)
            if not _may_retry(current):
                return Outcome(current, finished=True)
            if not _retry_pending(client, base, current):
                following = _next_attempt(client, base, current)
                if following is None:
                    return Outcome(current, finished=True)
                current = following
                continue
        if time.monotonic() >= deadline:
            return Outcome(current, finished=False)
        time.sleep(every)


def _may_retry(ended: dict[str, Any]) -> bool:
    return ended.get("status") in RETRYABLE and (ended.get("error") or {}).get("retryable") is not False


def _retry_pending(client: ApiClient, base: str, ended: dict[str, Any]) -> bool:
    """Whether the job still owes this slot an attempt: it has not accounted ``ended`` yet, or
    its retry is planned. Read before the listing: the claim of the retry clears one and
    writes the other at once, so the listing read after it holds the new attempt."""
    job = client.call("GET", base)
    last = job.get("lastExecution") or {}
    if last.get("executionId") == ended.get("executionId") and last.get("status") not in FINAL:
        return True
    return bool(job.get("pendingRetryAt"))


def _next_attempt(client: ApiClient, base: str, ended: dict[str, Any]) -> dict[str, Any] | None:
    """The slot's attempt after ``ended``, if there is one."""
    for run in client.call("GET", f"{base}/executions", params={"limit": 20}).get("executions") or []:
        if run.get("scheduledFor") == ended.get("scheduledFor") and run.get("attempt") == ended.get("attempt", 0) + 1:
            return dict(run)
    return None
