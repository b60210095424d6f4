"""Replays: run the past slots of a range again, once each, oldest first.

A replay is planned once, when it is asked for: the slots its range holds under the
job's current schedule (in the job's time zone, daylight saving included), which of
them it will run and which it leaves out and why. It is then stored and advanced by
the dispatcher one slot at a time (:func:`chalicelib.core.scheduler.transitions.advance_replay`).

Everything here is pure: the caller reads the job and its history, and writes.
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping

from chalicelib.core.cron import CronSchedule
from chalicelib.core.errors import FieldError, ValidationFailed
from chalicelib.core.model import (
    Actor,
    Execution,
    ExecutionStatus,
    Job,
    JobState,
    ReplayCursor,
    parse_iso,
)

MAX_SLOTS = 500
"""The most slots one replay's range may hold."""

REPLAY_FIELDS = frozenset({"from", "to", "only", "maxRuns", "dryRun"})
REPLAY_ID = re.compile(r"[0-9]{8}T[0-9]{9}-[0-9a-f]{4,12}")
"""What :func:`~chalicelib.core.scheduler.replay_service.new_replay_id` makes (matched whole)."""


class ReplaySelection(str, enum.Enum):
    """Which slots of the range a replay runs (``only``).

    * ``failed``: slots whose final outcome was failed, timed_out or missed;
    * ``missed``: slots recorded missed, or with no run at all (the dispatcher was down,
      the job was paused, or the slot was coalesced into a later one);
    * ``all``: every slot of the range.

    Whatever the selection, a slot before the job was created (outside its history), or
    one whose run is still in flight, is left out.
    """

    FAILED = "failed"
    MISSED = "missed"
    ALL = "all"


class ReplayStatus(str, enum.Enum):
    ACTIVE = "active"  # slots left to run
    COMPLETED = "completed"  # every planned slot ran
    CANCELLED = "cancelled"  # DELETE: the slots not yet started were dropped


class SlotState(str, enum.Enum):
    PENDING = "pending"
    RUNNING = "running"  # claimed; its attempts (retries included) are not over
    DONE = "done"  # ``outcome`` says how its last attempt ended
    CANCELLED = "cancelled"  # the replay was cancelled before it started


@dataclass(frozen=True)
class ReplaySlot:
    """One slot a replay runs, and how far it got."""

    scheduled_for: datetime
    state: SlotState = SlotState.PENDING
    execution_id: str | None = None  # its first attempt's (later attempts: the job's cursor, then its last)
    outcome: ExecutionStatus | None = None


@dataclass(frozen=True)
class LeftOut:
    """A slot of the range the replay does not run: ``reason`` is a stable code,
    ``detail`` says it in words."""

    scheduled_for: datetime
    reason: str
    detail: str


@dataclass(frozen=True)
class ReplayRequest:
    """A validated ``POST /jobs/{jobName}/replays`` body. ``window_from`` is included,
    ``window_to`` excluded: the range is ``[from, to)``."""

    window_from: datetime
    window_to: datetime
    only: ReplaySelection = ReplaySelection.FAILED
    max_runs: int | None = None
    dry_run: bool = False

    def same_as(self, replay: Replay) -> bool:
        """Whether ``replay`` was made by this request (an ``Idempotency-Key`` sent again)."""
        return (replay.window_from, replay.window_to, replay.only, replay.max_runs) == (
            self.window_from, self.window_to, self.only, self.max_runs)


@dataclass(frozen=True)
class Replay:
    """A stored replay of one job: its plan and its progress.

    ``job_created_at`` names the job it belongs to: a job deleted and registered again
    under the same name is another job, which this replay never runs.
    """

    replay_id: str
    job_name: str
    window_from: datetime
    window_to: datetime
    only: ReplaySelection
    max_runs: int | None
    slots: tuple[ReplaySlot, ...]
    left_out: tuple[LeftOut, ...]
    status: ReplayStatus
    created_at: datetime
    updated_at: datetime
    job_created_at: datetime
    created_by: Actor | None = None
    idempotency_key: str | None = None
    expires_at: datetime | None = None  # retention, as for executions
    version: int = 0


# ----------------------------------------------------------------------- the request


def parse_replay_request(body: Any, now: datetime) -> ReplayRequest:
    """The body of ``POST /jobs/{jobName}/replays``; ValidationFailed names every bad field."""
    if not isinstance(body, Mapping):
        raise ValidationFailed([FieldError("body", "must be a JSON object with 'from' and 'to'")])
    errors: list[FieldError] = [FieldError(str(name), "is not a field of a replay request; "
                                           "use from, to, only, maxRuns, dryRun")
                                for name in sorted(map(str, body)) if name not in REPLAY_FIELDS]
    bounds = {name: _instant(body, name, errors) for name in ("from", "to")}
    only = body.get("only", ReplaySelection.FAILED.value)
    if not isinstance(only, str) or only not in {s.value for s in ReplaySelection}:
        errors.append(FieldError("only", "must be one of 'failed', 'missed', 'all'"))
    max_runs = body.get("maxRuns")
    if max_runs is not None and (isinstance(max_runs, bool) or not isinstance(max_runs, int)
                                 or not 1 <= max_runs <= MAX_SLOTS):
        errors.append(FieldError("maxRuns", f"must be a whole number from 1 to {MAX_SLOTS}"))
    dry_run = body.get("dryRun", False)
    if not isinstance(dry_run, bool):
        errors.append(FieldError("dryRun", "must be true or false"))
    start, end = bounds["from"], bounds["to"]
    if start is not None and end is not None and start >= end:
        errors.append(FieldError("from", "must be before 'to'"))
    if end is not None and end > now:
        errors.append(FieldError("to", f"must not be in the future (now is {now.isoformat()}): "
                                 "a replay runs past slots only"))
    if errors:
        raise ValidationFailed(errors)
    assert start is not None and end is not None
    return ReplayRequest(start, end, ReplaySelection(only), max_runs, dry_run)


def validate_replay_id(value: str) -> str:
    """A replay id as the API issues them (``20261026T090000000-0007``); 400 otherwise."""
    if not REPLAY_ID.fullmatch(value):
        raise ValidationFailed([FieldError("replayId", "is not a replay id this API issued")])
    return value


def _instant(body: Mapping[str, Any], name: str, errors: list[FieldError]) -> datetime | None:
    value = body.get(name)
    if value is None:
        errors.append(FieldError(name, "is required: an ISO-8601 instant such as '2026-10-24T00:00:00Z'"))
        return None
    try:
        if not isinstance(value, str) or "T" not in value or len(value) > 40:
            raise ValueError(value)
        moment = parse_iso(value)
    except (ValueError, OverflowError):
        errors.append(FieldError(name, "must be an ISO-8601 instant with a time zone, "
                                 "such as '2026-10-24T00:00:00Z' or '2026-10-24T02:00:00+02:00'"))
        return None
    if moment.year < 2000:
        errors.append(FieldError(name, "must be after the year 2000"))
        return None
    return moment


# ----------------------------------------------------------------------- the plan


def slots_in(schedule: CronSchedule, start: datetime, end: datetime) -> list[datetime]:
    """The schedule's slots ``s`` with ``start <= s < end``, ascending; ValidationFailed
    (naming ``from``) when there are more than :data:`MAX_SLOTS`."""
    found: list[datetime] = []
    for slot in schedule.iter_after(start - timedelta(microseconds=1)):
        if slot >= end:
            return found
        if len(found) == MAX_SLOTS:
            raise ValidationFailed([FieldError("from", (
                f"the range holds more than {MAX_SLOTS} slots of this job's schedule; narrow from/to"))])
        found.append(slot)
    return found


def plan_replay(job: Job, request: ReplayRequest, history: Iterable[Execution], *, replay_id: str,
                now: datetime, retention: timedelta, actor: Actor | None = None,
                idempotency_key: str | None = None) -> Replay:
    """The replay ``request`` makes of ``job`` at ``now``.

    ``history`` holds the job's executions of the range (any order; runs of an earlier
    job of the same name are ignored). Slots run oldest first; past ``maxRuns`` the
    newer ones are left out.
    """
    schedule = CronSchedule.parse(job.definition.cron_expression, job.definition.timezone)
    runs: dict[datetime, list[Execution]] = {}
    for execution in history:
        if execution.created_at >= job.created_at:
            runs.setdefault(execution.scheduled_for, []).append(execution)
    planned: list[ReplaySlot] = []
    left_out: list[LeftOut] = []
    for slot in slots_in(schedule, request.window_from, request.window_to):
        why = _left_out_because(job, slot, runs.get(slot, []), request.only)
        if why is None and request.max_runs is not None and len(planned) >= request.max_runs:
            why = ("max-runs", f"beyond maxRuns={request.max_runs} (the oldest slots run first)")
        if why is None:
            planned.append(ReplaySlot(slot))
        else:
            left_out.append(LeftOut(slot, *why))
    return Replay(
        replay_id=replay_id, job_name=job.name, window_from=request.window_from, window_to=request.window_to,
        only=request.only, max_runs=request.max_runs, slots=tuple(planned), left_out=tuple(left_out),
        status=ReplayStatus.ACTIVE if planned else ReplayStatus.COMPLETED,
        created_at=now, updated_at=now, job_created_at=job.created_at, created_by=actor,
        idempotency_key=idempotency_key, expires_at=now + retention,
    )


def _left_out_because(job: Job, slot: datetime, runs: list[Execution],
                      only: ReplaySelection) -> tuple[str, str] | None:
    """Why ``slot`` is not run, as (code, words), or None when it is."""
    if slot < job.created_at:
        return "outside-history", "before the job was created: outside its history"
    if any(not run.status.is_final for run in runs) or (
            job.pending_retry is not None and job.pending_retry.scheduled_for == slot):
        return "in-flight", "a run of this slot is in flight or waiting to retry"
    if not runs and job.state is JobState.ACTIVE and job.next_run_at is not None and slot >= job.next_run_at:
        return "not-yet-dispatched", "the dispatcher has not reached this slot yet"
    if only is ReplaySelection.ALL:
        return None
    outcome = final_outcome(runs)
    if outcome is ExecutionStatus.SUCCEEDED:
        return "already-succeeded", "already succeeded"
    if outcome is ExecutionStatus.SKIPPED:
        return "skipped", "it was skipped while an earlier run was in flight (replay it with only=all)"
    if only is ReplaySelection.FAILED:
        if outcome is None:
            return "no-run", "no run was recorded (replay it with only=missed)"
        return None
    if outcome is None or outcome is ExecutionStatus.MISSED:
        return None
    return "failed", f"it ran and ended {outcome.value} (replay it with only=failed)"


def final_outcome(runs: Iterable[Execution]) -> ExecutionStatus | None:
    """A slot's outcome: how its latest final run ended (a replay's included), or None."""
    finals = [run for run in runs if run.status.is_final]
    if not finals:
        return None
    return max(finals, key=lambda run: (run.created_at, run.attempt)).status


# ----------------------------------------------------------------------- progress


def next_pending(replay: Replay) -> datetime | None:
    """The oldest slot not yet started, or None (also when the replay is not active)."""
    if replay.status is not ReplayStatus.ACTIVE:
        return None
    return next((s.scheduled_for for s in replay.slots if s.state is SlotState.PENDING), None)


def mark_running(replay: Replay, slot: datetime, execution_id: str, now: datetime) -> Replay:
    return _with_slot(replay, slot, now, state=SlotState.RUNNING, execution_id=execution_id)


def settle(replay: Replay, cursor: ReplayCursor, now: datetime) -> Replay:
    """Record how the slot in flight ended, from the job's cursor (its last attempt)."""
    if cursor.slot is None:
        return replay
    status = cursor.status
    if status is None or not status.is_final:
        # Its lease was broken with its record unreadable: the run was lost.
        status = ExecutionStatus.TIMED_OUT
    return _with_slot(replay, cursor.slot, now, state=SlotState.DONE, execution_id=cursor.execution_id,
                      outcome=status)


def finish(replay: Replay, now: datetime) -> Replay:
    """No slot left to start: completed (a cancelled replay stays cancelled)."""
    status = ReplayStatus.CANCELLED if replay.status is ReplayStatus.CANCELLED else ReplayStatus.COMPLETED
    return replace(replay, status=status, updated_at=now)


def cancel(replay: Replay, now: datetime) -> Replay:
    """The slots not yet started are dropped; one in flight runs to its end."""
    slots = tuple(replace(s, state=SlotState.CANCELLED) if s.state is SlotState.PENDING else s
                  for s in replay.slots)
    return replace(replay, slots=slots, status=ReplayStatus.CANCELLED, updated_at=now)


def has_slot_in_flight(replay: Replay) -> bool:
    return any(s.state is SlotState.RUNNING for s in replay.slots)


def _with_slot(replay: Replay, slot: datetime, now: datetime, **changes: Any) -> Replay:
    slots = tuple(replace(s, **changes) if s.scheduled_for == slot else s for s in replay.slots)
    return replace(replay, slots=slots, updated_at=now)


def progress(replay: Replay, job: Job | None) -> tuple[str, str]:
    """``(status, statusDetail)`` as the API shows them, given the job as it is now.

    status is the stored one, or ``stopped`` when the replay no longer belongs to the
    job (it was deleted, or deleted and registered again) with slots unfinished.
    """
    done = [s for s in replay.slots if s.state is SlotState.DONE]
    succeeded = sum(1 for s in done if s.outcome is ExecutionStatus.SUCCEEDED)
    tally = f"{succeeded} succeeded, {len(done) - succeeded} did not"
    ours = job is not None and job.replay is not None and job.replay.replay_id == replay.replay_id
    unfinished = replay.status is ReplayStatus.ACTIVE or has_slot_in_flight(replay)
    if not unfinished:
        return replay.status.value, f"{replay.status.value}: {tally}"
    if not ours or job is None:
        return "stopped", "stopped: the job was deleted or registered again"
    cursor = job.replay
    assert cursor is not None
    own_run = job.lease is not None and job.lease.execution_id == cursor.execution_id
    own_retry = job.pending_retry is not None and job.pending_retry.replay_id == replay.replay_id
    if job.state is JobState.PAUSED and not own_run:
        return replay.status.value, "waiting: job paused"
    if own_run or own_retry:
        assert cursor.slot is not None
        return replay.status.value, f"running: slot {cursor.slot.isoformat()} ({tally} so far)"
    if job.lease is not None or job.pending_retry is not None:
        return replay.status.value, "waiting: a run of the job is in flight"
    return replay.status.value, f"waiting for the dispatcher's next tick ({tally} so far)"
