"""What a handler receives: :class:`RunContext`."""
from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Callable, Mapping

from chalicelib.core.model import Trigger

RUN_FIELDS: ContextVar[Mapping[str, Any]] = ContextVar("scheduler_run_fields", default=MappingProxyType({}))
"""``job_name``, ``execution_id``, ``slot``, ``attempt`` of the run in progress; a logging
filter adds them to every log line written while it runs, whoever writes it."""


@dataclass(frozen=True)
class RunContext:
    """The context of one attempt, passed as ``handler(ctx)``.

    ``idempotency_key`` is the same for every attempt of one slot
    (``"{job_name}@{scheduled_for ISO}"``; a manual run's slot is the instant it was
    triggered); side effects keyed on it are safe to retry. ``payload`` is the job's
    payload with this run's override merged over it. ``remaining_time_ms()`` says how
    long the handler may still run before its timeout.
    """

    job_name: str
    execution_id: str
    scheduled_for: datetime
    attempt: int
    trigger: Trigger
    idempotency_key: str
    payload: Mapping[str, Any]
    timezone: str
    logger: logging.Logger | logging.LoggerAdapter[Any]
    remaining_time_ms: Callable[[], int] = field(default=lambda: 0)
    triggered_by: str | None = None  # a manual run: who asked ("subject (role)")
