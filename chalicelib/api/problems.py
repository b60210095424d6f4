"""RFC 9457 problem details: every error the API answers with, as plain data.

``app.py`` turns a :class:`Problem` into a Chalice response.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from chalicelib.core.errors import (
    ConcurrentUpdate,
    ExecutionNotFound,
    IdempotencyKeyReused,
    InvalidCursor,
    JobConflict,
    JobNotFound,
    JobUnreadable,
    ReplayInProgress,
    ReplayNotFound,
    RunInProgress,
    SchedulerError,
    StoreUnavailable,
    TriggerBudgetSpent,
    ValidationFailed,
)
from chalicelib.core.maintenance import MaintenanceWindowNotFound

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://nightly-scheduler.dev/problems/"


@dataclass(frozen=True)
class Problem:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)  # beside Content-Type (Retry-After)


def problem(status: int, slug: str, title: str, detail: str, **extra: Any) -> Problem:
    return Problem(status, {"type": TYPE_BASE + slug, "title": title, "status": status, "detail": detail, **extra})


def problem_for(error: Exception) -> Problem:
    """Map a domain error to its problem; anything unexpected becomes an opaque 500."""
    if isinstance(error, ValidationFailed):
        return problem(400, "validation-error", "Your request is not valid.", str(error),
                       errors=[{"field": e.field, "message": e.message} for e in error.errors])
    if isinstance(error, InvalidCursor):
        return problem(400, "validation-error", "Your request is not valid.", str(error),
                       errors=[{"field": error.field, "message": "is not a token this API issued; start again without it"}])
    if isinstance(error, JobNotFound):
        return problem(404, "job-not-found", "Job not found.", str(error), jobName=error.job_name)
    if isinstance(error, JobConflict):
        return problem(409, "job-conflict", "A different job with this name exists.", str(error), jobName=error.job_name)
    if isinstance(error, RunInProgress):
        return problem(409, "run-in-progress", "A run of this job is in progress.", str(error),
                       jobName=error.job_name, executionId=error.execution_id)
    if isinstance(error, IdempotencyKeyReused):
        return problem(409, "idempotency-key-reused", "This Idempotency-Key was used for another request.",
                       str(error), executionId=error.execution_id)
    if isinstance(error, ExecutionNotFound):
        return problem(404, "execution-not-found", "Execution not found.", str(error),
                       jobName=error.job_name, executionId=error.execution_id)
    if isinstance(error, ReplayInProgress):
        return problem(409, "replay-in-progress", "This job already has an active replay.", str(error),
                       jobName=error.job_name, replayId=error.replay_id)
    if isinstance(error, ReplayNotFound):
        return problem(404, "replay-not-found", "Replay not found.", str(error),
                       jobName=error.job_name, replayId=error.replay_id)
    if isinstance(error, MaintenanceWindowNotFound):
        return problem(404, "maintenance-window-not-found", "Maintenance window not found.", str(error),
                       windowId=error.window_id)
    if isinstance(error, JobUnreadable):
        return problem(409, "job-unreadable", "The job's stored record cannot be read.", str(error),
                       jobName=error.job_name)
    if isinstance(error, TriggerBudgetSpent):
        spent = problem(429, "trigger-budget-spent", "You have triggered too many runs this minute.", str(error),
                        perMinute=error.per_minute, retryAfterSeconds=error.retry_after_seconds)
        return replace(spent, headers={"Retry-After": str(error.retry_after_seconds)})
    if isinstance(error, ConcurrentUpdate):
        return problem(409, "concurrent-update", "The job changed while your request ran.", f"{error} Retry the request.")
    if isinstance(error, StoreUnavailable):
        return problem(503, "store-unavailable", "The scheduler's store is unavailable.", "Retry in a few seconds.")
    if isinstance(error, SchedulerError):
        return problem(400, "bad-request", "Your request could not be processed.", str(error))
    return problem(500, "internal-error", "Internal error.",
                   "The scheduler failed unexpectedly; the error was logged. Retry, and report it if it persists.")
