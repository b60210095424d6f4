"""What every :class:`~chalicelib.core.ports.Store` adapter shares: argument checks and
the page tokens. Both stores issue the same tokens, so a token means the same position
whichever store issued it:

- jobs: ``{"k": "jobs", "after": <last job name of the page>}``
- executions: ``{"k": "executions", "job": <job name>, "before": <last execution id>}``
- replays: ``{"k": "replays", "job": <job name>, "before": <last replay id>}``
"""
from __future__ import annotations

from datetime import datetime
from typing import Sequence

from chalicelib.core.cursor import decode_cursor, encode_cursor
from chalicelib.core.errors import InvalidCursor
from chalicelib.core.model import Execution, Job
from chalicelib.core.ports import Clock, ExecutionUpdate


def check_limit(limit: int) -> None:
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")


def jobs_cursor(after: str) -> str:
    return encode_cursor({"k": "jobs", "after": after})


def jobs_cursor_position(cursor: str) -> str:
    """The job name a jobs page starts after. Raises ``InvalidCursor``."""
    return _field(decode_cursor(cursor), "jobs", "after")


def executions_cursor(job_name: str, before: str) -> str:
    return encode_cursor({"k": "executions", "job": job_name, "before": before})


def executions_cursor_position(cursor: str, job_name: str) -> str:
    """The execution id an executions page of ``job_name`` starts before.

    Raises ``InvalidCursor``, also for a token issued for another job's listing.
    """
    data = decode_cursor(cursor)
    if _field(data, "executions", "job") != job_name:
        raise InvalidCursor()
    return _field(data, "executions", "before")


def replays_cursor(job_name: str, before: str) -> str:
    return encode_cursor({"k": "replays", "job": job_name, "before": before})


def replays_cursor_position(cursor: str, job_name: str) -> str:
    """The replay id a replays page of ``job_name`` starts before. Raises ``InvalidCursor``."""
    data = decode_cursor(cursor)
    if _field(data, "replays", "job") != job_name:
        raise InvalidCursor()
    return _field(data, "replays", "before")


def _field(data: dict, kind: str, name: str) -> str:
    value = data.get(name)
    if data.get("k") != kind or not isinstance(value, str) or not value:
        raise InvalidCursor()
    return value


def commit_instant(job: Job, clock: Clock | None) -> datetime:
    """``now`` for a commit's idempotency check: the store's clock, else ``job.updated_at``."""
    return clock.now() if clock is not None else job.updated_at


def reject_repeated_executions(
    new_executions: Sequence[Execution], execution_updates: Sequence[ExecutionUpdate]
) -> None:
    """One commit touches each execution at most once (a DynamoDB transaction must)."""
    keys = [(ex.job_name, ex.execution_id) for ex in new_executions]
    keys += [(u.execution.job_name, u.execution.execution_id) for u in execution_updates]
    if len(keys) != len(set(keys)):
        raise ValueError("a commit may insert or update each execution only once")
