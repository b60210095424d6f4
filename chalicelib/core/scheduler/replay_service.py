"""Replays as callers ask for them: plan, start, show, list and cancel.

The dispatcher runs them (:func:`~chalicelib.core.scheduler.transitions.advance_replay`):
at most one slot per tick, and only when nothing else of the job is in flight.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from chalicelib.core import replays
from chalicelib.core.cursor import encode_cursor
from chalicelib.core.errors import IdempotencyKeyReused, JobNotFound, ReplayInProgress, ReplayNotFound
from chalicelib.core.model import UTC, Actor, Execution, Job, ReplayCursor
from chalicelib.core.ports import Clock, IdempotencyRecord, Page, ReplayUpdate, Store
from chalicelib.core.replays import Replay, ReplayRequest
from chalicelib.core.scheduler.common import give_up, retry_on_conflict
from chalicelib.core.scheduler.transitions import Timing
from chalicelib.core.scheduler.triggers import IDEMPOTENCY_WINDOW, TriggerBudget

HISTORY_PAGE = 100


@dataclass(frozen=True)
class ReplayView:
    """A replay with the job as it is now (what its progress is judged against)."""

    replay: Replay
    job: Job | None
    stored: bool = True  # False for a dry run's plan


class Replays:
    """Plans replays and records them on their job; the dispatcher advances them."""

    def __init__(self, *, store: Store, clock: Clock, timing: Timing, log: logging.Logger, budget: TriggerBudget) -> None:
        self.store = store
        self.clock = clock
        self.timing = timing
        self.log = log
        self.budget = budget

    def create(self, job_name: str, body: Any, *, idempotency_key: str | None = None,
               actor: Actor | None = None) -> tuple[ReplayView, bool]:
        """Run again, once each and oldest first, the past slots of ``[from, to)`` that
        ``body`` selects (``{"from", "to", "only", "maxRuns", "dryRun"}``, see
        :func:`chalicelib.core.replays.parse_replay_request`). ``(view, created)``.

        The plan comes from the job's current schedule in its time zone; it names the
        slots it leaves out and why. ``dryRun`` returns the plan and stores nothing. A
        repeated ``idempotency_key`` within 24 h returns the same replay. Raises
        ``ValidationFailed``, ``JobNotFound``, ``ReplayInProgress`` (one active replay per
        job) and ``IdempotencyKeyReused``. The dispatcher then starts one slot per tick
        while nothing else of the job is in flight; a paused job's replay waits. Creating
        one takes a unit of the caller's trigger budget.
        """
        store, clock = self.store, self.clock
        request = replays.parse_replay_request(body, clock.now())
        key = f"replay:{idempotency_key}" if idempotency_key else None
        budget_taken = False

        def step(_attempt: int) -> tuple[ReplayView, bool]:
            nonlocal budget_taken
            now = clock.now()
            if key and not request.dry_run:
                previous = self._replay_for_key(job_name, key, now)
                if previous is not None:
                    if not request.same_as(previous):
                        raise IdempotencyKeyReused(idempotency_key or "", previous.replay_id)
                    return ReplayView(previous, store.get_job(job_name)), False
            job = store.get_job(job_name)
            if job is None:
                raise JobNotFound(job_name)
            plan = replays.plan_replay(job, request, self._history(job, request), replay_id=new_replay_id(now, job),
                                       now=now, retention=self.timing.retention, actor=actor,
                                       idempotency_key=idempotency_key)
            if request.dry_run:
                return ReplayView(plan, job, stored=False), False
            if job.replay is not None:
                raise ReplayInProgress(job_name, job.replay.replay_id)
            if not budget_taken:  # one unit of the caller's manual budget; a dry run or a repeated key costs none
                self.budget.take(actor, now)
                budget_taken = True
            cursor = ReplayCursor(plan.replay_id, due_at=now) if plan.slots else None
            record = IdempotencyRecord(job_name, key, plan.replay_id, now + IDEMPOTENCY_WINDOW) if key else None
            stored_job = store.commit(replace(job, replay=cursor, updated_at=now), expected_version=job.version,
                                      replay=ReplayUpdate(plan, None), idempotency=record)
            self.log.info("replay planned", extra={
                "job_name": job_name, "replay_id": plan.replay_id, "slots": len(plan.slots),
                "left_out": len(plan.left_out), "only": plan.only.value})
            return ReplayView(replace(plan, version=1), stored_job), True

        return retry_on_conflict(step, on_exhausted=give_up(f"job '{job_name}' kept changing; retry"))

    def get(self, job_name: str, replay_id: str) -> ReplayView:
        """One replay with its progress; raises ``ReplayNotFound``."""
        replay = self.store.get_replay(job_name, replay_id)
        if replay is None:
            raise ReplayNotFound(job_name, replay_id)
        return ReplayView(replay, self.store.get_job(job_name))

    def list_for_job(self, job_name: str, *, limit: int = 20, cursor: str | None = None) -> tuple[Page[Replay], Job | None]:
        """The job's replays, newest first; raises ``JobNotFound`` for a job with neither
        a record nor replays."""
        job = self.store.get_job(job_name)
        page = self.store.list_replays(job_name, limit=limit, cursor=cursor)
        if job is None and not page.items and cursor is None:
            raise JobNotFound(job_name)
        return page, job

    def cancel(self, job_name: str, replay_id: str, actor: Actor | None = None) -> ReplayView:
        """Drop the slots not yet started; a slot in flight runs to its end, after which
        the next step ends the replay. Cancelling an ended replay changes nothing."""
        store, clock = self.store, self.clock

        def step(_attempt: int) -> ReplayView:
            now = clock.now()
            job = store.get_job(job_name)
            replay = store.get_replay(job_name, replay_id)
            if replay is None:
                raise ReplayNotFound(job_name, replay_id)
            ours = job is not None and job.replay is not None and job.replay.replay_id == replay_id
            if replay.status is not replays.ReplayStatus.ACTIVE or not ours or job is None:
                return ReplayView(replay, job)
            cancelled = replays.cancel(replay, now)
            keep = replays.has_slot_in_flight(cancelled)
            stored_job = store.commit(replace(job, replay=job.replay if keep else None, updated_at=now),
                                      expected_version=job.version,
                                      replay=ReplayUpdate(cancelled, replay.version))
            self.log.info("replay cancelled", extra={
                "job_name": job_name, "replay_id": replay_id, "by": str(actor) if actor else None})
            return ReplayView(replace(cancelled, version=replay.version + 1), stored_job)

        return retry_on_conflict(step, on_exhausted=give_up(f"job '{job_name}' kept changing; retry"))

    def _replay_for_key(self, job_name: str, key: str, now: datetime) -> Replay | None:
        record = self.store.find_idempotency(job_name, key, now)
        return None if record is None else self.store.get_replay(job_name, record.execution_id)

    def _history(self, job: Job, request: ReplayRequest) -> list[Execution]:
        """The job's executions of slots in ``[from, to)``, read newest first from ``to`` on."""
        return list(executions_between(self.store, job.name, request.window_from, request.window_to))



def new_replay_id(now: datetime, job: Job) -> str:
    """Sortable by creation (a job's replays list newest first) and unique per job: a
    replay is created by a commit of its job at ``job.version``, which no other commit
    of that job shares."""
    stamp = now.astimezone(UTC)
    return f"{stamp:%Y%m%dT%H%M%S}{stamp.microsecond // 1000:03d}-{job.version:04x}"


def executions_between(store: Store, job_name: str, start: datetime, end: datetime) -> list[Execution]:
    """Executions of ``job_name`` with ``start <= scheduledFor < end``.

    The listing starts just before ``end``: execution ids sort by slot, so the token of
    an executions listing (the shared format of :mod:`chalicelib.adapters.store_support`)
    positioned "before" ``end``'s id prefix skips every later run.
    """
    stamp = end.astimezone(UTC)
    cursor: str | None = encode_cursor({"k": "executions", "job": job_name,
                                        "before": f"{stamp:%Y%m%dT%H%M%S}{stamp.microsecond // 1000:03d}Z"})
    found: list[Execution] = []
    while cursor is not None:
        page = store.list_executions(job_name, limit=HISTORY_PAGE, cursor=cursor)
        for execution in page.items:
            if execution.scheduled_for < start:
                return found
            if execution.scheduled_for < end:
                found.append(execution)
        cursor = page.next_cursor
    return found
