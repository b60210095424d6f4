"""Domain errors. Each carries what a person needs to act; ``chalicelib.api.problems`` maps them to HTTP."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class SchedulerError(Exception):
    """Base of every error the core raises on purpose."""


class SecretUnavailable(SchedulerError):
    """A secret could not be read or used; the message names the id, never the value.

    ``retryable`` is False for a secret that is missing, empty or unusable (no retry
    fixes it) and True for a transient failure to read it (throttling, no connection).
    """

    def __init__(self, message: str, *, retryable: bool = False):
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class ValidationFailed(SchedulerError):
    """The caller's input is invalid; ``errors`` names every offending field."""

    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))


class JobNotFound(SchedulerError):
    def __init__(self, job_name: str):
        self.job_name = job_name
        super().__init__(f"No job named '{job_name}' is registered.")


class JobAlreadyExists(SchedulerError):
    def __init__(self, job_name: str):
        self.job_name = job_name
        super().__init__(f"A job named '{job_name}' already exists.")


class JobConflict(SchedulerError):
    """Same name, another definition (409 on ``POST /jobs``)."""

    def __init__(self, job_name: str):
        self.job_name = job_name
        super().__init__(
            f"A job named '{job_name}' already exists with another definition. "
            "Cancel it first or choose another name."
        )


class RunInProgress(SchedulerError):
    def __init__(self, job_name: str, execution_id: str):
        self.job_name = job_name
        self.execution_id = execution_id
        super().__init__(f"Job '{job_name}' has a run in progress ({execution_id}); try again when it ends.")


class TriggerBudgetSpent(SchedulerError):
    """The caller has made its manual triggers for this minute (429 with ``Retry-After``)."""

    def __init__(self, caller: str, per_minute: int, retry_after_seconds: int):
        self.caller = caller
        self.per_minute = per_minute
        self.retry_after_seconds = retry_after_seconds
        super().__init__(f"You may trigger at most {per_minute} runs a minute; "
                         f"try again in {retry_after_seconds} s.")


class IdempotencyKeyReused(SchedulerError):
    """An ``Idempotency-Key`` sent again with a different request body (409)."""

    def __init__(self, key: str, execution_id: str):
        self.key = key
        self.execution_id = execution_id
        super().__init__(
            f"Idempotency-Key '{key}' was already used for execution {execution_id} with another payload; "
            "use a new key for a different request."
        )


class ReplayInProgress(SchedulerError):
    """A job has at most one active replay (409)."""

    def __init__(self, job_name: str, replay_id: str):
        self.job_name = job_name
        self.replay_id = replay_id
        super().__init__(f"Job '{job_name}' already has an active replay ({replay_id}); wait for it to finish "
                         "or cancel it (DELETE its replay) first.")


class ReplayNotFound(SchedulerError):
    def __init__(self, job_name: str, replay_id: str):
        self.job_name = job_name
        self.replay_id = replay_id
        super().__init__(f"Job '{job_name}' has no replay '{replay_id}' (or it expired).")


class ExecutionNotFound(SchedulerError):
    def __init__(self, job_name: str, execution_id: str):
        self.job_name = job_name
        self.execution_id = execution_id
        super().__init__(f"Job '{job_name}' has no execution '{execution_id}' (or it expired).")


class JobUnreadable(SchedulerError):
    """The job's stored record cannot be decoded; registering the job again replaces it."""

    def __init__(self, job_name: str, reason: str, entry: Any = None):
        self.job_name = job_name
        self.reason = reason
        self.entry = entry  # the store's UnreadableJob: its due entry and set-aside record
        super().__init__(
            f"The stored record of job '{job_name}' cannot be read ({reason}). Register the job again "
            "(POST /jobs with its definition) to replace the record, or delete it."
        )


class PermanentFailure(Exception):
    """Raise from a handler for a failure no retry can fix (bad input, a refusal).

    The slot's attempts end at once, the execution records ``retryable: false`` and the
    failure alerts whatever ``alertAfterFailures`` says. Any other exception is retried
    by the job's retry policy.
    """

    retryable = False


class ConcurrentUpdate(SchedulerError):
    """A conditional write lost: somebody else changed the job or execution first."""


class InvalidCursor(SchedulerError):
    def __init__(self, field: str = "nextToken"):
        self.field = field
        super().__init__(f"{field} is not a token this API issued.")


class NotifierUnavailable(SchedulerError):
    """Publishing a notice failed; it stays in the job's outbox."""


class StoreUnavailable(SchedulerError):
    """The store kept failing after its own retries (throttling, outage)."""
