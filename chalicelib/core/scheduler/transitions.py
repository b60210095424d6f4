"""The state changes a tick, a trigger and a worker make, as pure functions.

Each takes the job as read and everything else it needs (the lease's execution, the
time, the lease length) and returns the new job with the executions to write. None
of them reads the store or the clock: the callers read first, decide here, then
commit on condition that nothing changed meanwhile.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Mapping, Sequence

from chalicelib.core import replays
from chalicelib.core.cron import CronSchedule
from chalicelib.core.maintenance import (
    MaintenanceWindow,
    covered_until,
    skip_reason,
    window_covering,
)
from chalicelib.core.model import (
    SYSTEM,
    Execution,
    ExecutionError,
    ExecutionStatus,
    HeldSlot,
    Job,
    JobState,
    Lease,
    PendingRetry,
    Trigger,
    execution_id_for,
    idempotency_key_for,
)
from chalicelib.core.notices import pause_expired_notice
from chalicelib.core.policies import (
    LateSlots,
    SlotDecision,
    account_outcome,
    decide_slot,
    may_retry,
    recent_runs,
    retry_delay,
)
from chalicelib.core.ports import ExecutionUpdate, RandomSource
from chalicelib.core.replays import Replay

LATE_AFTER = timedelta(minutes=2)
"""A slot found later than this counts in ``LateSlots``."""


@dataclass(frozen=True)
class Timing:
    """The durations every transition needs: how long records live and leases last."""

    retention: timedelta
    lease_margin: timedelta

    def lease_length(self, job: Job) -> timedelta:
        return timedelta(seconds=job.definition.timeout_seconds) + self.lease_margin


@dataclass(frozen=True)
class Plan:
    """Everything due on one job at one instant, as one commit."""

    job: Job
    new_executions: tuple[Execution, ...] = ()
    updates: tuple[ExecutionUpdate, ...] = ()
    to_invoke: tuple[Execution, ...] = ()
    finals: tuple[Execution, ...] = ()
    late_slots: int = 0
    coalesced: int = 0
    needs_commit: bool = True
    replay: Replay | None = None  # the job's replay as this plan leaves it (None: unchanged)


def new_execution(job: Job, trigger: Trigger, slot: datetime, attempt: int, now: datetime,
                  override: Mapping[str, Any], key: str, timing: Timing, replay_id: str | None = None) -> Execution:
    """A queued execution of ``job`` for ``slot``, kept for the retention period."""
    return Execution(
        execution_id=execution_id_for(slot, attempt, replay_id),
        job_name=job.name,
        trigger=trigger,
        scheduled_for=slot,
        attempt=attempt,
        status=ExecutionStatus.QUEUED,
        idempotency_key=key,
        created_at=now,
        payload_override=dict(override),
        expires_at=now + timing.retention,
        replay_id=replay_id,
    )


def claim(job: Job, execution: Execution, now: datetime, timing: Timing) -> Job:
    """The job with ``execution`` as its in-flight run (queued: no owner yet)."""
    lease = Lease(execution.execution_id, now + timing.lease_length(job))
    return track_replay(replace(job, lease=lease, last_execution=execution, updated_at=now), execution)


def track_replay(job: Job, execution: Execution) -> Job:
    """Keep the job's replay cursor on its slot's latest attempt (claims and outcomes)."""
    cursor = job.replay
    if cursor is None or execution.replay_id != cursor.replay_id:
        return job
    return replace(job, replay=replace(cursor, slot=execution.scheduled_for, execution_id=execution.execution_id,
                                       status=execution.status))


def start(job: Job, execution: Execution, now: datetime, worker_id: str, timing: Timing) -> tuple[Job, Execution]:
    """The worker's claim: the execution running under ``worker_id``, its lease renewed."""
    running = replace(execution, status=ExecutionStatus.RUNNING, started_at=now, lease_owner=worker_id)
    lease = Lease(execution.execution_id, now + timing.lease_length(job), owner=worker_id)
    return replace(job, lease=lease, last_execution=running, updated_at=now), running


def account(job: Job, execution: Execution, now: datetime, rand: RandomSource) -> Job:
    """Failure streak, alerts, auto-pause, then the next attempt if the policy allows."""
    before = job
    job = account_outcome(job, execution, now=now)
    if execution.status is ExecutionStatus.SKIPPED:
        # A skipped slot must not hide the run that is still in flight.
        job = replace(job, last_execution=before.last_execution)
    permanent = execution.error is not None and not execution.error.retryable
    retryable = execution.status in (ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT) and not permanent
    if (retryable and job.state is JobState.ACTIVE and job.pending_retry is None
            and may_retry(job.definition.retry, execution.attempt)):
        due = now + retry_delay(job.definition.retry, execution.attempt, rand)
        job = replace(job, pending_retry=PendingRetry(
            scheduled_for=execution.scheduled_for, attempt=execution.attempt + 1, due_at=due,
            payload_override=dict(execution.payload_override), idempotency_key=execution.idempotency_key,
            replay_id=execution.replay_id))
    return track_replay(job, execution)


def final_execution(running: Execution, now: datetime, status: ExecutionStatus, result: Any,
                    error: ExecutionError | None) -> Execution:
    """The running execution as it ended at ``now``."""
    duration = int((now - running.started_at).total_seconds() * 1000) if running.started_at else None
    return replace(running, status=status, finished_at=now, result=result, error=error, duration_ms=duration)


def finish(job: Job, final: Execution, now: datetime, rand: RandomSource) -> Job:
    """The job once its run ended as ``final``: lease released, outcome accounted."""
    return account(replace(job, lease=None), final, now, rand)


def lease_has_expired(job: Job, now: datetime) -> bool:
    """True when the job's lease ran out: its worker died or overran."""
    return job.lease is not None and job.lease.expires_at <= now


def break_expired_lease(job: Job, lease_execution: Execution | None, now: datetime, timing: Timing,
                        rand: RandomSource) -> tuple[Job, list[ExecutionUpdate], list[Execution]]:
    """Release a lease past its expiry and record its run ``timed_out``.

    ``lease_execution`` is the lease's execution as read by the caller (None when it is
    gone). A lease that has not expired is left alone.
    """
    lease = job.lease
    if lease is None or lease.expires_at > now:
        return job, [], []
    job = replace(job, lease=None, updated_at=now)
    if lease_execution is None or lease_execution.status.is_final:
        return job, [], []
    started = lease_execution.started_at
    phase = "was never started by a worker" if lease_execution.status is ExecutionStatus.QUEUED else "did not finish"
    timed_out = replace(
        lease_execution,
        status=ExecutionStatus.TIMED_OUT,
        finished_at=now,
        duration_ms=int((now - started).total_seconds() * 1000) if started else None,
        error=ExecutionError("LeaseExpired", (
            f"the run {phase} within timeoutSeconds={job.definition.timeout_seconds} plus a "
            f"{int(timing.lease_margin.total_seconds())} s margin; its worker died or overran")),
    )
    update = ExecutionUpdate(timed_out, expected_status=lease_execution.status,
                             expected_owner=lease_execution.lease_owner)
    return account(job, timed_out, now, rand), [update], [timed_out]


def plan(job: Job, lease_execution: Execution | None, now: datetime, timing: Timing, rand: RandomSource,
         replay: Replay | None = None, *, replay_read: bool = False,
         windows: Sequence[MaintenanceWindow] = ()) -> Plan:
    """Everything due on ``job`` at ``now``: a broken lease, a due retry, a due slot,
    then the next step of its replay.

    A due slot runs, is skipped (a run still in flight) or is recorded missed (found
    later than ``misfireGraceSeconds``); late slots between the stored next run and
    ``now`` are coalesced into one. The replay (``replay``, read by the caller when
    ``replay_read``) takes a step only when nothing else of the job is in flight. When
    nothing but unsent notices was due, the plan needs no commit.

    ``windows`` are the maintenance windows as the tick read them: a pause whose end has
    come ends first; a due slot inside a window covering the job is recorded ``skipped``
    (once, whatever else was due); a due retry waits for the window's end; a slot a
    ``runMissed`` window held runs once no window covers the job.
    """
    original = job
    job = expire_pause(job, now)
    job, updates, finals = break_expired_lease(job, lease_execution, now, timing, rand)
    new: list[Execution] = []
    invoke: list[Execution] = []
    late_slots = coalesced = 0

    retry = job.pending_retry
    held_until = covered_until(job, now, windows) if retry is not None and retry.due_at <= now else None
    if retry is not None and held_until is not None:
        job = replace(job, pending_retry=replace(retry, due_at=held_until), updated_at=now)
    elif retry is not None and retry.due_at <= now and job.lease is None:
        execution = new_execution(job, Trigger.RETRY, retry.scheduled_for, retry.attempt, now,
                                  retry.payload_override, retry.idempotency_key, timing, retry.replay_id)
        job = claim(replace(job, pending_retry=None), execution, now, timing)
        new.append(execution)
        invoke.append(execution)

    if job.state is JobState.ACTIVE and job.next_run_at is not None and job.next_run_at <= now:
        schedule = CronSchedule.parse(job.definition.cron_expression, job.definition.timezone)
        slot = max(schedule.previous_at_or_before(now) or job.next_run_at, job.next_run_at)
        late = LateSlots(slot=slot, coalesced=max(0, schedule.count_between(job.next_run_at, slot) - 1),
                         lateness=now - slot)
        if late.coalesced or late.lateness > LATE_AFTER:
            late_slots = late.coalesced + 1
        busy = job.lease is not None or job.pending_retry is not None
        decision = decide_slot(late, grace_seconds=job.definition.misfire_grace_seconds, in_flight=busy)
        job = replace(job, next_run_at=schedule.next_after(now), updated_at=now)
        scheduled = new_execution(job, Trigger.SCHEDULE, slot, 1, now, {}, idempotency_key_for(job.name, slot), timing)
        window = window_covering(job, slot, windows)
        if window is not None:
            new.append(replace(
                scheduled, status=ExecutionStatus.SKIPPED, finished_at=now, duration_ms=0,
                skip_reason=skip_reason(window),
                result={"maintenanceWindow": window.window_id, "coalescedSlots": late.coalesced}))
            job = replace(job, recent_runs=recent_runs(job, new[-1]))  # the overview's strip shows skipped slots
            if window.run_missed:
                job = replace(job, held_slot=HeldSlot(slot, window.window_id, window.ends_at))
        elif decision is SlotDecision.RUN:
            job = claim(job, scheduled, now, timing)
            new.append(scheduled)
            invoke.append(scheduled)
            coalesced = late.coalesced
        elif decision is SlotDecision.SKIP:
            in_flight = job.lease.execution_id if job.lease else "a pending retry"
            new.append(replace(
                scheduled, status=ExecutionStatus.SKIPPED, finished_at=now, duration_ms=0,
                result={"reason": f"previous run still in progress ({in_flight})", "coalescedSlots": late.coalesced},
            ))
            job = replace(job, recent_runs=recent_runs(job, new[-1]))
        else:
            missed = replace(
                scheduled, status=ExecutionStatus.MISSED, finished_at=now, duration_ms=0,
                error=ExecutionError("MissedSlot", (
                    f"slot {slot.isoformat()} was found {int(late.lateness.total_seconds())} s late, beyond "
                    f"misfireGraceSeconds={job.definition.misfire_grace_seconds}; "
                    f"{late.coalesced} older slot(s) coalesced into this record")),
            )
            new.append(missed)
            finals.append(missed)
            job = account(job, missed, now, rand)

    job, released = release_held_slot(job, now, timing, windows)
    if released is not None:
        new.append(released)
        invoke.append(released)

    stepped: Replay | None = None
    if replay_read:
        job, stepped, started = advance_replay(job, replay, now, timing)
        if started is not None:
            new.append(started)
            invoke.append(started)

    return Plan(job=job, new_executions=tuple(new), updates=tuple(updates), to_invoke=tuple(invoke),
                finals=tuple(finals), late_slots=late_slots, coalesced=coalesced, needs_commit=job != original,
                replay=stepped)


def expire_pause(job: Job, now: datetime) -> Job:
    """A pause whose ``until`` has come ends: the job is active again from ``until`` on (its
    next slot is the first at or after ``until``, so a slot at exactly ``until`` runs and
    the slots inside the pause are not replayed), and a ``pause-expired`` notice is queued."""
    until = job.paused_until
    if job.state is not JobState.PAUSED or until is None or until > now:
        return job
    schedule = CronSchedule.parse(job.definition.cron_expression, job.definition.timezone)
    resumed = replace(job, state=JobState.ACTIVE, pause_reason=None, paused_by=None, paused_until=None,
                      next_run_at=schedule.next_after(until - timedelta(microseconds=1)), updated_at=now,
                      updated_by=SYSTEM)
    return replace(resumed, outbox=resumed.outbox + (pause_expired_notice(job, until, now),))


HELD_SLOT_RECHECK = timedelta(minutes=1)
"""How soon a held slot is looked at again while another run of its job is in flight."""


def release_held_slot(job: Job, now: datetime, timing: Timing,
                      windows: Sequence[MaintenanceWindow]) -> tuple[Job, Execution | None]:
    """Run once the slot a ``runMissed`` window held, when its time has come and no window
    covers the job any more (overlapping windows: after the last). It runs as a late slot
    does (trigger ``schedule``, its own ``scheduledFor`` and idempotency key), with its own
    execution id (``…Z-r<window id>-a01``: the skip record holds ``…Z-a01``). It waits for
    a run in flight; a paused job drops it, as a pause drops its slots."""
    held = job.held_slot
    if held is None or held.release_at > now:
        return job, None
    still = covered_until(job, now, windows)
    if still is not None:
        return replace(job, held_slot=replace(held, release_at=still), updated_at=now), None
    if job.state is not JobState.ACTIVE:
        return replace(job, held_slot=None, updated_at=now), None
    if job.lease is not None or job.pending_retry is not None:
        return replace(job, held_slot=replace(held, release_at=now + HELD_SLOT_RECHECK), updated_at=now), None
    execution = replace(new_execution(job, Trigger.SCHEDULE, held.slot, 1, now, {},
                                      idempotency_key_for(job.name, held.slot), timing),
                        execution_id=execution_id_for(held.slot, 1, held.window_id))
    return claim(replace(job, held_slot=None), execution, now, timing), execution


def replay_is_due(job: Job, now: datetime) -> bool:
    """Whether the dispatcher should read the job's replay for :func:`plan`, which decides
    (:func:`advance_replay`) once the rest of the job's due work is done."""
    return job.replay is not None and job.replay.due_at <= now and job.state is JobState.ACTIVE


def advance_replay(job: Job, replay: Replay | None, now: datetime,
                   timing: Timing) -> tuple[Job, Replay | None, Execution | None]:
    """One step of the job's replay, when nothing else of the job is in flight: record how
    the slot in flight ended, then claim the oldest pending slot (trigger ``replay``, the
    slot's own ``scheduledFor`` and idempotency key), or, with none left, end the replay.

    ``replay`` is the stored replay the job's cursor names (None when it is gone: the
    cursor is dropped). Returns the job, the replay to write (None: unchanged) and the
    execution claimed.
    """
    cursor = job.replay
    if cursor is None or not job.replay_may_advance or cursor.due_at > now:
        return job, None, None
    if replay is None or replay.replay_id != cursor.replay_id:
        return replace(job, replay=None, updated_at=now), None, None
    stepped = replays.settle(replay, cursor, now)
    slot = replays.next_pending(stepped)
    if slot is None:
        return replace(job, replay=None, updated_at=now), replays.finish(stepped, now), None
    execution = new_execution(job, Trigger.REPLAY, slot, 1, now, {}, idempotency_key_for(job.name, slot), timing,
                              replay_id=replay.replay_id)
    job = claim(job, execution, now, timing)
    return job, replays.mark_running(stepped, slot, execution.execution_id, now), execution
