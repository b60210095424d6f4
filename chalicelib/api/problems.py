"""RFC 9457 problem details: every error the API answers with, as plain data.

:data:`PROBLEMS` is the one table from a domain error's type to its status, problem type
and title (and the members it adds). A type missing from it is an opaque 500, which
``chalicelib.api.http.api`` logs; a test checks that every domain error is in it. That
decorator turns a :class:`Problem` into a Chalice response.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from chalicelib.core.channels import ChannelInUse, ChannelNotFound, ChannelUnusable
from chalicelib.core.errors import (
    ConcurrentUpdate,
    ExecutionNotFound,
    IdempotencyKeyReused,
    InvalidCursor,
    JobAlreadyExists,
    JobConflict,
    JobNotFound,
    JobUnreadable,
    NotifierUnavailable,
    PermanentFailure,
    ReplayInProgress,
    ReplayNotFound,
    RunInProgress,
    SchedulerError,
    SecretUnavailable,
    StoreUnavailable,
    TriggerBudgetSpent,
    ValidationFailed,
)
from chalicelib.core.maintenance import MaintenanceWindowNotFound
from chalicelib.jobs.certification.rule import BlastRadiusExceeded
from chalicelib.jobs.job_secrets import SecretRefRefused

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://nightly-scheduler.dev/problems/"


@dataclass(frozen=True)
class Problem:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)  # beside Content-Type (Retry-After)


def _none(_error: Any) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class ProblemKind:
    """How one error type is answered: ``members`` adds to the body, ``detail`` is the
    error's message unless given, ``headers`` go beside Content-Type."""

    status: int
    slug: str
    title: str
    members: Callable[[Any], dict[str, Any]] = _none
    detail: Callable[[Any], str] = str
    headers: Callable[[Any], dict[str, str]] = _none


INTERNAL = ProblemKind(500, "internal-error", "Internal error.", detail=lambda _e: (
    "The scheduler failed unexpectedly; the error was logged. Retry, and report it if it persists."))
"""Anything not in the table, and errors that a route never raises on purpose."""

_INVALID = "Your request is not valid."

PROBLEMS: dict[type[BaseException], ProblemKind] = {
    ValidationFailed: ProblemKind(400, "validation-error", _INVALID, lambda e: {
        "errors": [{"field": f.field, "message": f.message} for f in e.errors]}),
    InvalidCursor: ProblemKind(400, "validation-error", _INVALID, lambda e: {
        "errors": [{"field": e.field, "message": "is not a token this API issued; start again without it"}]}),
    JobNotFound: ProblemKind(404, "job-not-found", "Job not found.", lambda e: {"jobName": e.job_name}),
    JobConflict: ProblemKind(409, "job-conflict", "A different job with this name exists.",
                             lambda e: {"jobName": e.job_name}),
    JobAlreadyExists: ProblemKind(409, "job-conflict", "A different job with this name exists.",
                                  lambda e: {"jobName": e.job_name}),
    RunInProgress: ProblemKind(409, "run-in-progress", "A run of this job is in progress.",
                               lambda e: {"jobName": e.job_name, "executionId": e.execution_id}),
    IdempotencyKeyReused: ProblemKind(409, "idempotency-key-reused", "This Idempotency-Key was used for another request.",
                                      lambda e: {"executionId": e.execution_id}),
    ExecutionNotFound: ProblemKind(404, "execution-not-found", "Execution not found.",
                                   lambda e: {"jobName": e.job_name, "executionId": e.execution_id}),
    ReplayInProgress: ProblemKind(409, "replay-in-progress", "This job already has an active replay.",
                                  lambda e: {"jobName": e.job_name, "replayId": e.replay_id}),
    ReplayNotFound: ProblemKind(404, "replay-not-found", "Replay not found.",
                                lambda e: {"jobName": e.job_name, "replayId": e.replay_id}),
    MaintenanceWindowNotFound: ProblemKind(404, "maintenance-window-not-found", "Maintenance window not found.",
                                           lambda e: {"windowId": e.window_id}),
    JobUnreadable: ProblemKind(409, "job-unreadable", "The job's stored record cannot be read.",
                               lambda e: {"jobName": e.job_name}),
    TriggerBudgetSpent: ProblemKind(
        429, "trigger-budget-spent", "You have triggered too many runs this minute.",
        lambda e: {"perMinute": e.per_minute, "retryAfterSeconds": e.retry_after_seconds},
        headers=lambda e: {"Retry-After": str(e.retry_after_seconds)}),
    ConcurrentUpdate: ProblemKind(409, "concurrent-update", "The job changed while your request ran.",
                                  detail=lambda e: f"{e} Retry the request."),
    # The scheduler's own dependencies failed: the caller may retry, an operator reads the log.
    StoreUnavailable: ProblemKind(503, "store-unavailable", "The scheduler's store is unavailable.",
                                  detail=lambda _e: "Retry in a few seconds."),
    SecretUnavailable: ProblemKind(503, "secret-unavailable", "A secret the scheduler needs cannot be read.",
                                   detail=lambda _e: "Retry in a few seconds; the error was logged."),
    NotifierUnavailable: ProblemKind(503, "notifier-unavailable", "Notices cannot be published now.",
                                     detail=lambda _e: "Retry in a few seconds; the error was logged."),
    # Raised in a run (recorded on its execution) or by the outbox, never by a route on
    # purpose: reaching one is the scheduler's fault.
    SchedulerError: INTERNAL,
    PermanentFailure: INTERNAL,
    SecretRefRefused: INTERNAL,
    BlastRadiusExceeded: INTERNAL,
    ChannelNotFound: ProblemKind(404, "channel-not-found", "Notification channel not found.",
                                 lambda e: {"channel": e.name}),
    ChannelInUse: ProblemKind(409, "channel-in-use", "Jobs name this channel.",
                              lambda e: {"channel": e.name, "jobs": e.jobs}),
    ChannelUnusable: INTERNAL,
}


def problem_for(error: BaseException) -> Problem:
    """The problem :data:`PROBLEMS` declares for ``error``'s exact type; an opaque 500 for a
    type it does not name (a subclass too: each is declared on its own)."""
    kind = PROBLEMS.get(type(error), INTERNAL)
    return Problem(kind.status, {"type": TYPE_BASE + kind.slug, "title": kind.title, "status": kind.status,
                                 "detail": kind.detail(error), **kind.members(error)}, kind.headers(error))
