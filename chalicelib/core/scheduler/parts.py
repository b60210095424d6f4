"""What every scheduler operation is given, and the one retry-on-conflict helper."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, NoReturn, TypeVar

from chalicelib.core.errors import ConcurrentUpdate
from chalicelib.core.model import UTC, Execution
from chalicelib.core.ports import (
    Clock,
    HandlerCatalog,
    Invoker,
    Metrics,
    Notifier,
    RandomSource,
    Store,
)
from chalicelib.core.scheduler.transitions import Timing

CAS_ATTEMPTS = 8
"""How often an operation reads again after losing a compare-and-swap race."""

T = TypeVar("T")


class Retry(Exception):
    """Raised inside :func:`retry_on_conflict`'s step: read again and decide again."""


@dataclass(frozen=True)
class Parts:
    """The ports and settings the scheduler's modules share (built by the facade)."""

    store: Store
    jobs: HandlerCatalog
    invoker: Invoker
    notifier: Notifier
    metrics: Metrics
    clock: Clock
    rand: RandomSource
    log: logging.Logger
    timing: Timing
    dispatch_batch: int
    dispatch_concurrency: int
    max_timeout_seconds: int
    trigger_budget_per_minute: int | None = None
    """Manual triggers one caller may make a minute (None: unbounded)."""


def retry_on_conflict(step: Callable[[int], T], *, attempts: int = CAS_ATTEMPTS,
                      on_exhausted: Callable[[], T]) -> T:
    """Run ``step(attempt)`` until it returns without losing a race.

    A step reads, decides and commits; a lost compare-and-swap (``ConcurrentUpdate``)
    or an explicit :class:`Retry` runs it again with fresh reads. After ``attempts``
    tries, ``on_exhausted()`` gives the answer (or raises).
    """
    for attempt in range(attempts):
        try:
            return step(attempt)
        except (ConcurrentUpdate, Retry):
            continue
    return on_exhausted()


def give_up(message: str) -> Callable[[], NoReturn]:
    """An ``on_exhausted`` that raises ``ConcurrentUpdate(message)``."""

    def raise_conflict() -> NoReturn:
        raise ConcurrentUpdate(message)

    return raise_conflict


def run_fields(execution: Execution) -> dict[str, Any]:
    """The fields every log line about one run carries."""
    return {
        "job_name": execution.job_name,
        "execution_id": execution.execution_id,
        "slot": execution.scheduled_for.astimezone(UTC).isoformat(),
        "attempt": execution.attempt,
        "trigger": execution.trigger.value,
    }
