"""Pure decisions: retry backoff, misfire/coalesce, failure accounting and alerting.

Nothing here reads a clock or a random source of its own: both are passed in.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from chalicelib.core import strict_json
from chalicelib.core.model import (
    RECENT_RUNS,
    AlertState,
    Execution,
    ExecutionStatus,
    Job,
    JobState,
    RecentRun,
    RetryPolicy,
)
from chalicelib.core.notices import alert_notice, recovery_notice
from chalicelib.core.ports import RandomSource

JITTER_SHARE = 0.2
"""A retry waits between 80% and 100% of its exponential delay ("equal-ish" jitter):
never longer than the documented delay, and spread so a fleet of failing jobs does
not retry in lockstep."""


def retry_delay(policy: RetryPolicy, failed_attempt: int, rand: RandomSource) -> timedelta:
    """Delay before the attempt after ``failed_attempt`` (1-based).

    ``initial * 2**(failed_attempt-1)`` capped at ``max``, then jittered down by up to
    :data:`JITTER_SHARE`, never below one second.
    """
    base = min(policy.initial_delay_seconds * (2 ** (failed_attempt - 1)), policy.max_delay_seconds)
    jittered = base * (1 - JITTER_SHARE * rand.random())
    return timedelta(seconds=max(1.0, jittered))


def may_retry(policy: RetryPolicy, failed_attempt: int) -> bool:
    return failed_attempt < policy.max_attempts


class SlotDecision(enum.Enum):
    RUN = "run"          # claim an execution for the slot
    SKIP = "skip"        # overlap: previous run still in flight
    MISS = "miss"        # found later than the misfire grace


@dataclass(frozen=True)
class LateSlots:
    """What a dispatcher found for a job's schedule at ``now``.

    ``slot`` is the latest slot at or before now (the one that runs, is skipped or
    is recorded missed); ``coalesced`` counts the older slots folded into it.
    """

    slot: datetime
    coalesced: int
    lateness: timedelta


def decide_slot(late: LateSlots, *, grace_seconds: int, in_flight: bool) -> SlotDecision:
    """Overlap first (a running job is never doubled), then misfire grace."""
    if in_flight:
        return SlotDecision.SKIP
    if late.lateness > timedelta(seconds=grace_seconds):
        return SlotDecision.MISS
    return SlotDecision.RUN


def recent_runs(job: Job, execution: Execution) -> tuple[RecentRun, ...]:
    """``execution`` first, then the job's earlier recent runs, at most :data:`RECENT_RUNS`."""
    run = RecentRun(execution.execution_id, execution.status, execution.scheduled_for)
    earlier = tuple(r for r in job.recent_runs if r.execution_id != execution.execution_id)
    return ((run,) + earlier)[:RECENT_RUNS]


def account_outcome(job: Job, execution: Execution, *, now: datetime) -> Job:
    """Fold a final execution into the job's failure streak, alert state and outbox.

    * success: the streak resets; a job that was alerting gets a recovery notice.
    * failure (failed, timed_out, missed): the streak grows; reaching
      ``alertAfterFailures`` while ``ok`` queues exactly one alert for the streak. A
      permanent failure (``error.retryable`` False: no retry can recover the slot)
      alerts at once, whatever ``alertAfterFailures`` says;
      reaching ``pauseAfterFailures`` (when set) pauses the job.
    * skipped: changes nothing but ``lastExecution``.

    Every final execution, skipped ones too, goes first in ``recent_runs`` (the last
    :data:`RECENT_RUNS`; an execution folded in again replaces its own entry).
    """
    job = replace(job, last_execution=execution, updated_at=now, recent_runs=recent_runs(job, execution))
    status = execution.status
    if status is ExecutionStatus.SUCCEEDED:
        recovered = job.alert_state is AlertState.ALERTING
        previous_failures = job.consecutive_failures
        job = replace(job, consecutive_failures=0, alert_state=AlertState.OK, last_success_at=execution.finished_at or now)
        if recovered:
            job = replace(job, outbox=job.outbox + (recovery_notice(job, execution, previous_failures, now),))
        return job
    if not status.is_failure:
        return job
    failures = job.consecutive_failures + 1
    job = replace(job, consecutive_failures=failures)
    permanent = execution.error is not None and not execution.error.retryable
    if (failures >= job.definition.alert_after_failures or permanent) and job.alert_state is AlertState.OK:
        job = replace(job, alert_state=AlertState.ALERTING, outbox=job.outbox + (alert_notice(job, execution, now),))
    limit = job.definition.pause_after_failures
    if limit is not None and failures >= limit and job.state is JobState.ACTIVE:
        job = replace(
            job,
            state=JobState.PAUSED,
            pause_reason=f"paused automatically after {failures} consecutive failures",
        )
    return job


FIRST_BACKOFF = timedelta(minutes=1)
MAX_BACKOFF = timedelta(hours=1)


def backoff(failures: int) -> timedelta:
    """The wait after the ``failures``-th failure in a row of what the scheduler retries
    by itself (a notice's delivery, a set-aside job's dispatch): 1 min, 2, 4 … capped at 1 h."""
    delay: timedelta = FIRST_BACKOFF * (2 ** min(max(failures, 1) - 1, 12))
    return min(delay, MAX_BACKOFF)


def bounded_result(result: Any, *, limit_bytes: int, dumps: Any) -> Any:
    """Keep a handler's summary when it fits, else a marker saying it was cut.

    The summary is made strict JSON first (:func:`~chalicelib.core.strict_json.sanitize`):
    NaN, Infinity and out-of-range numbers become ``{"$unrepresentable": text}``, lone
    surrogates U+FFFD, levels past 32 ``{"$truncated": ...}``, so the stores and the API
    can always carry it.
    """
    result = strict_json.sanitize(result)
    try:
        text = dumps(result)
    except (TypeError, ValueError, RecursionError) as exc:
        return {"truncated": True, "reason": f"result is not JSON-serialisable: {exc}"[:300]}
    if len(text.encode()) <= limit_bytes:
        return result
    return {"truncated": True, "excerpt": text[: limit_bytes // 2]}
