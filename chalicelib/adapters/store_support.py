"""What every :class:`~chalicelib.core.ports.Store` adapter shares: argument checks and
the page tokens (made in :mod:`chalicelib.core.cursor`, imported here for the stores), so
a token means the same position whichever store issued it."""
from __future__ import annotations

from datetime import datetime
from typing import Sequence

from chalicelib.core.cursor import (
    due_cursor as due_cursor,
)
from chalicelib.core.cursor import (
    due_cursor_position as due_cursor_position,
)
from chalicelib.core.cursor import (
    executions_cursor as executions_cursor,
)
from chalicelib.core.cursor import (
    executions_cursor_position as executions_cursor_position,
)
from chalicelib.core.cursor import (
    jobs_cursor as jobs_cursor,
)
from chalicelib.core.cursor import (
    jobs_cursor_position as jobs_cursor_position,
)
from chalicelib.core.cursor import (
    replays_cursor as replays_cursor,
)
from chalicelib.core.cursor import (
    replays_cursor_position as replays_cursor_position,
)
from chalicelib.core.model import Execution, Job
from chalicelib.core.ports import Clock, ExecutionUpdate


def check_limit(limit: int) -> None:
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")


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
