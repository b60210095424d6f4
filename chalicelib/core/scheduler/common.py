"""What several scheduler operations share: retrying a step that lost a race, reading an
expired lease's run, and the fields every log line about one run carries."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Callable, NoReturn, TypeVar

from chalicelib.core.errors import ConcurrentUpdate, StoreUnavailable
from chalicelib.core.model import UTC, Execution, Job
from chalicelib.core.ports import Store
from chalicelib.core.scheduler import transitions

CAS_ATTEMPTS = 8
"""How often an operation reads again after losing a compare-and-swap race."""

T = TypeVar("T")


def retry_on_conflict(step: Callable[[int], T], *, attempts: int = CAS_ATTEMPTS,
                      on_exhausted: Callable[[], T]) -> T:
    """Run ``step(attempt)`` until it returns without losing a race.

    A step reads, decides and commits; a lost compare-and-swap (``ConcurrentUpdate``)
    runs it again, and the step reads afresh. After ``attempts`` tries,
    ``on_exhausted()`` gives the answer (or raises).
    """
    for attempt in range(attempts):
        try:
            return step(attempt)
        except ConcurrentUpdate:
            continue
    return on_exhausted()


def give_up(message: str) -> Callable[[], NoReturn]:
    """An ``on_exhausted`` that raises ``ConcurrentUpdate(message)``."""

    def raise_conflict() -> NoReturn:
        raise ConcurrentUpdate(message)

    return raise_conflict


def lease_execution(store: Store, job: Job, now: datetime, log: logging.Logger) -> Execution | None:
    """The execution of the job's expired lease, read before planning: None when no lease
    expired, or when its record cannot be decoded (the lease is then released without it;
    the run's record is lost, the job is not)."""
    if not transitions.lease_has_expired(job, now):
        return None
    assert job.lease is not None
    try:
        return store.get_execution(job.name, job.lease.execution_id)
    except StoreUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001 - the run's record is lost; the job is not
        log.error("the expired lease's execution cannot be read; lease released", extra={
            "job_name": job.name, "execution_id": job.lease.execution_id,
            "error": f"{type(exc).__name__}: {exc}"})
        return None


def run_fields(execution: Execution) -> dict[str, Any]:
    """The fields every log line about one run carries."""
    return {
        "job_name": execution.job_name,
        "execution_id": execution.execution_id,
        "slot": execution.scheduled_for.astimezone(UTC).isoformat(),
        "attempt": execution.attempt,
        "trigger": execution.trigger.value,
    }
