"""The pure state changes, one table each: a job as read, an event at a pinned instant, and
the job and executions the change returns. ``plan`` is a dispatcher's tick, ``claim`` a run
taking the job's lease, ``finish`` a worker's outcome. Every row names the rule it holds;
breaking that rule turns it red. Instants are UTC; the Oslo rows cross 2026's daylight-saving
nights (spring forward 29 March at 01:00Z, fall back 25 October at 01:00Z)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from chalicelib.core.model import (
    AlertState,
    Execution,
    ExecutionError,
    ExecutionStatus,
    Job,
    JobDefinition,
    JobState,
    Lease,
    PendingRetry,
    ReplayCursor,
    RetryPolicy,
    Trigger,
    iso,
    parse_iso,
)
from chalicelib.core.scheduler.transitions import Plan, Timing, claim, finish, plan

TIMING = Timing(retention=timedelta(days=30), lease_margin=timedelta(seconds=60))


class FixedRandom:
    """The random source, pinned: 0.0 gives each retry its full delay."""

    def __init__(self, value: float = 0.0) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


def at(text: str) -> datetime:
    return parse_iso(text)


def job(cron: str = "0 2 * * *", tz: str = "UTC", next_run: str | None = "2026-11-28T02:00:00Z", *,
        grace: int = 21600, timeout: int = 600, retry: RetryPolicy = RetryPolicy(), alert_after: int = 3,
        pause_after: int | None = None, failures: int = 0, **state: Any) -> Job:
    definition = JobDefinition("report", cron, "ok", timezone=tz, retry=retry, timeout_seconds=timeout,
                               alert_after_failures=alert_after, misfire_grace_seconds=grace,
                               pause_after_failures=pause_after)
    return Job(definition, created_at=at("2026-01-01T00:00:00Z"), updated_at=at("2026-01-01T00:00:00Z"),
               next_run_at=at(next_run) if next_run else None, consecutive_failures=failures, **state)


def execution(slot: str, attempt: int = 1, status: ExecutionStatus = ExecutionStatus.RUNNING, *,
              trigger: Trigger = Trigger.SCHEDULE, started: str | None = None, retryable: bool = True,
              replay_id: str | None = None) -> Execution:
    moment = at(slot)
    failed = status in (ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT)
    return Execution(
        execution_id=f"{moment.strftime('%Y%m%dT%H%M%S')}000Z{f'-r{replay_id}' if replay_id else ''}-a{attempt:02d}",
        job_name="report", trigger=trigger, scheduled_for=moment, attempt=attempt, status=status,
        idempotency_key=f"report@{slot}", created_at=moment, payload_override={"n": 1},
        started_at=at(started) if started else (moment if status is not ExecutionStatus.QUEUED else None),
        error=ExecutionError("Boom", "it failed", retryable=retryable) if failed else None, replay_id=replay_id)


def lease(execution_id: str, expires: str) -> Lease:
    return Lease(execution_id, at(expires), owner="worker-1")


def retry_pending(slot: str, attempt: int, due: str) -> PendingRetry:
    return PendingRetry(scheduled_for=at(slot), attempt=attempt, due_at=at(due), idempotency_key=f"report@{slot}")


# ----------------------------------------------------------------------- plan

@dataclass(frozen=True)
class Tick:
    """What a plan left: each new execution as (trigger, status, slot, attempt), the executions
    it ended (updates), the job's next run, its lease, its pending retry (attempt, due), its
    failure streak, the late and coalesced counts, and whether anything needs writing."""

    runs: tuple[tuple[str, str, str, int], ...] = ()
    ended: tuple[tuple[str, str], ...] = ()
    next_run: str | None = None
    lease: str | None = None
    retry: tuple[int, str] | None = None
    failures: int = 0
    late: int = 0
    coalesced: int = 0
    commit: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def tick(result: Plan) -> Tick:
    after = result.job
    return Tick(
        runs=tuple((e.trigger.value, e.status.value, iso(e.scheduled_for), e.attempt) for e in result.new_executions),
        ended=tuple((u.execution.execution_id, u.execution.status.value) for u in result.updates),
        next_run=iso(after.next_run_at) if after.next_run_at else None,
        lease=after.lease.execution_id if after.lease else None,
        retry=(after.pending_retry.attempt, iso(after.pending_retry.due_at)) if after.pending_retry else None,
        failures=after.consecutive_failures, late=result.late_slots, coalesced=result.coalesced,
        commit=result.needs_commit)


Q, SK, MI = "queued", "skipped", "missed"
SCHEDULE, RETRY = "schedule", "retry"
RUNNING_0200 = execution("2026-11-28T02:00:00Z")
OSLO = "Europe/Oslo"

PLAN_ROWS = [
    # --- due slots, misfire grace and coalescing
    pytest.param(job(), None, "2026-11-28T02:00:30Z",
                 Tick(runs=((SCHEDULE, Q, "2026-11-28T02:00:00Z", 1),), next_run="2026-11-29T02:00:00Z",
                      lease="20261128T020000000Z-a01"),
                 id="on time: the slot is claimed and the next run is tomorrow"),
    pytest.param(job(), None, "2026-11-28T01:59:59Z", Tick(next_run="2026-11-28T02:00:00Z", commit=False),
                 id="a second early: nothing is due"),
    pytest.param(job(), None, "2026-11-28T07:59:59Z",
                 Tick(runs=((SCHEDULE, Q, "2026-11-28T02:00:00Z", 1),), next_run="2026-11-29T02:00:00Z",
                      lease="20261128T020000000Z-a01", late=1),
                 id="late within the grace: runs, counted late"),
    pytest.param(job(), None, "2026-11-28T08:00:00Z",
                 Tick(runs=((SCHEDULE, Q, "2026-11-28T02:00:00Z", 1),), next_run="2026-11-29T02:00:00Z",
                      lease="20261128T020000000Z-a01", late=1),
                 id="late by exactly misfireGraceSeconds: still runs"),
    pytest.param(job(), None, "2026-11-28T08:00:01Z",
                 Tick(runs=((SCHEDULE, MI, "2026-11-28T02:00:00Z", 1),), next_run="2026-11-29T02:00:00Z",
                      failures=1, late=1),
                 id="a second past the grace: recorded missed, a failure, nothing claimed"),
    pytest.param(job(grace=0), None, "2026-11-28T02:00:00Z",
                 Tick(runs=((SCHEDULE, Q, "2026-11-28T02:00:00Z", 1),), next_run="2026-11-29T02:00:00Z",
                      lease="20261128T020000000Z-a01"),
                 id="grace 0 on the slot's instant: runs"),
    pytest.param(job(next_run="2026-11-26T02:00:00Z"), None, "2026-11-28T02:01:00Z",
                 Tick(runs=((SCHEDULE, Q, "2026-11-28T02:00:00Z", 1),), next_run="2026-11-29T02:00:00Z",
                      lease="20261128T020000000Z-a01", late=3, coalesced=2),
                 id="three nights down: the two older slots are coalesced into the latest, which runs"),
    pytest.param(job(next_run="2026-11-26T02:00:00Z"), None, "2026-11-28T09:00:00Z",
                 Tick(runs=((SCHEDULE, MI, "2026-11-28T02:00:00Z", 1),), next_run="2026-11-29T02:00:00Z",
                      failures=1, late=3),
                 id="coalesced and past the grace: one missed record for the latest slot"),
    pytest.param(job(state=JobState.PAUSED), None, "2026-11-28T02:00:30Z",
                 Tick(next_run="2026-11-28T02:00:00Z", commit=False),
                 id="paused: a due slot does nothing"),
    # --- overlap
    pytest.param(job(lease=lease(RUNNING_0200.execution_id.replace("1128", "1127"), "2026-11-28T02:10:00Z")),
                 None, "2026-11-28T02:00:30Z",
                 Tick(runs=((SCHEDULE, SK, "2026-11-28T02:00:00Z", 1),), next_run="2026-11-29T02:00:00Z",
                      lease="20261127T020000000Z-a01"),
                 id="overlap: yesterday's run still holds the lease, today's slot is skipped"),
    pytest.param(job(pending_retry=retry_pending("2026-11-27T02:00:00Z", 2, "2026-11-28T02:05:00Z")), None,
                 "2026-11-28T02:00:30Z",
                 Tick(runs=((SCHEDULE, SK, "2026-11-28T02:00:00Z", 1),), next_run="2026-11-29T02:00:00Z",
                      retry=(2, "2026-11-28T02:05:00Z")),
                 id="overlap: a retry waiting to run skips the slot too"),
    # --- retries and leases
    pytest.param(job(next_run="2026-11-29T02:00:00Z",
                     pending_retry=retry_pending("2026-11-28T02:00:00Z", 2, "2026-11-28T02:01:00Z")),
                 None, "2026-11-28T02:01:00Z",
                 Tick(runs=((RETRY, Q, "2026-11-28T02:00:00Z", 2),), next_run="2026-11-29T02:00:00Z",
                      lease="20261128T020000000Z-a02"),
                 id="a retry due at its instant runs as the slot's next attempt"),
    pytest.param(job(next_run="2026-11-29T02:00:00Z",
                     pending_retry=retry_pending("2026-11-28T02:00:00Z", 2, "2026-11-28T02:01:00Z")),
                 None, "2026-11-28T02:00:59Z",
                 Tick(next_run="2026-11-29T02:00:00Z", retry=(2, "2026-11-28T02:01:00Z"), commit=False),
                 id="a retry a second before its instant waits"),
    pytest.param(job(next_run="2026-11-29T02:00:00Z", lease=lease("20261128T015500000Z-a01", "2026-11-28T02:06:00Z"),
                     pending_retry=retry_pending("2026-11-28T01:00:00Z", 2, "2026-11-28T02:01:00Z")),
                 None, "2026-11-28T02:01:30Z",
                 Tick(next_run="2026-11-29T02:00:00Z", lease="20261128T015500000Z-a01",
                      retry=(2, "2026-11-28T02:01:00Z"), commit=False),
                 id="a due retry waits while another run of the job holds the lease"),
    pytest.param(job(pending_retry=retry_pending("2026-11-27T02:00:00Z", 3, "2026-11-28T01:59:00Z")), None,
                 "2026-11-28T02:00:30Z",
                 Tick(runs=((RETRY, Q, "2026-11-27T02:00:00Z", 3), (SCHEDULE, SK, "2026-11-28T02:00:00Z", 1)),
                      next_run="2026-11-29T02:00:00Z", lease="20261127T020000000Z-a03"),
                 id="a due retry and a due slot: the retry runs, the slot is skipped as an overlap"),
    pytest.param(job(next_run="2026-11-29T02:00:00Z", lease=lease(RUNNING_0200.execution_id, "2026-11-28T02:11:00Z")),
                 RUNNING_0200, "2026-11-28T02:11:00Z",
                 Tick(ended=(("20261128T020000000Z-a01", "timed_out"),), next_run="2026-11-29T02:00:00Z",
                      retry=(2, "2026-11-28T02:12:00Z"), failures=1),
                 id="a lease run out: its run timed out, a failure, retried after the initial delay"),
    pytest.param(job(next_run="2026-11-29T02:00:00Z", lease=lease(RUNNING_0200.execution_id, "2026-11-28T02:11:00Z")),
                 RUNNING_0200, "2026-11-28T02:10:59Z",
                 Tick(next_run="2026-11-29T02:00:00Z", lease="20261128T020000000Z-a01", commit=False),
                 id="a lease a second before its expiry is left alone"),
    pytest.param(job(next_run="2026-11-29T02:00:00Z", failures=2, retry=RetryPolicy(max_attempts=3),
                     lease=lease("20261128T020000000Z-a03", "2026-11-28T02:11:00Z")),
                 execution("2026-11-28T02:00:00Z", 3), "2026-11-28T02:11:00Z",
                 Tick(ended=(("20261128T020000000Z-a03", "timed_out"),), next_run="2026-11-29T02:00:00Z", failures=3),
                 id="the last attempt timed out: no retry, the streak grows"),
    pytest.param(job(next_run="2026-11-29T02:00:00Z", lease=lease(RUNNING_0200.execution_id, "2026-11-28T02:11:00Z")),
                 replace(RUNNING_0200, status=ExecutionStatus.SUCCEEDED), "2026-11-28T02:11:00Z",
                 Tick(next_run="2026-11-29T02:00:00Z"),
                 id="a lease run out over a run that already ended: released, nothing recorded"),
    # --- daylight saving (Europe/Oslo)
    pytest.param(job("30 2 * * *", OSLO, "2026-03-29T01:00:00Z"), None, "2026-03-29T01:00:05Z",
                 Tick(runs=((SCHEDULE, Q, "2026-03-29T01:00:00Z", 1),), next_run="2026-03-30T00:30:00Z",
                      lease="20260329T010000000Z-a01"),
                 id="spring forward: 02:30 does not exist and runs once at 03:00 CEST, then 02:30 CEST"),
    pytest.param(job("30 2 * * *", OSLO, "2026-03-28T01:30:00Z"), None, "2026-03-28T01:30:05Z",
                 Tick(runs=((SCHEDULE, Q, "2026-03-28T01:30:00Z", 1),), next_run="2026-03-29T01:00:00Z",
                      lease="20260328T013000000Z-a01"),
                 id="spring forward: the night before, the next run is set to the end of the gap (03:00 CEST)"),
    pytest.param(job("30 2 * * *", OSLO, "2026-03-28T01:30:00Z"), None, "2026-03-29T01:00:30Z",
                 Tick(runs=((SCHEDULE, Q, "2026-03-29T01:00:00Z", 1),), next_run="2026-03-30T00:30:00Z",
                      lease="20260329T010000000Z-a01", late=2, coalesced=1),
                 id="spring forward: a night down before it is coalesced into the moved slot"),
    pytest.param(job("30 2 * * *", OSLO, "2026-10-25T00:30:00Z"), None, "2026-10-25T00:30:05Z",
                 Tick(runs=((SCHEDULE, Q, "2026-10-25T00:30:00Z", 1),), next_run="2026-10-26T01:30:00Z",
                      lease="20261025T003000000Z-a01"),
                 id="fall back: 02:30 happens twice and runs at the first; the next is 02:30 CET tomorrow"),
    pytest.param(job("0 * * * *", OSLO, "2026-10-25T01:00:00Z"), None, "2026-10-25T01:00:05Z",
                 Tick(runs=((SCHEDULE, Q, "2026-10-25T01:00:00Z", 1),), next_run="2026-10-25T02:00:00Z",
                      lease="20261025T010000000Z-a01"),
                 id="fall back: the hourly job's second 02:00 (CET) runs, then 03:00"),
    pytest.param(job("0 * * * *", OSLO, "2026-10-25T00:00:00Z"), None, "2026-10-25T00:00:05Z",
                 Tick(runs=((SCHEDULE, Q, "2026-10-25T00:00:00Z", 1),), next_run="2026-10-25T01:00:00Z",
                      lease="20261025T000000000Z-a01"),
                 id="fall back: an hourly job runs the repeated 02:00 again an hour later"),
    pytest.param(job("30 2 * * *", OSLO, "2026-10-25T00:30:00Z", grace=3600), None, "2026-10-25T01:30:00Z",
                 Tick(runs=((SCHEDULE, Q, "2026-10-25T00:30:00Z", 1),), next_run="2026-10-26T01:30:00Z",
                      lease="20261025T003000000Z-a01", late=1),
                 id="fall back: grace is counted in real time, the second 02:30 is exactly an hour late"),
    pytest.param(job("30 2 * * *", OSLO, "2026-10-25T00:30:00Z", grace=3600), None, "2026-10-25T01:30:01Z",
                 Tick(runs=((SCHEDULE, MI, "2026-10-25T00:30:00Z", 1),), next_run="2026-10-26T01:30:00Z",
                      failures=1, late=1),
                 id="fall back: a second past the grace on the repeated hour is missed"),
]


@pytest.mark.parametrize(("given", "lease_execution", "now", "expected"), PLAN_ROWS)
def test_plan(given, lease_execution, now, expected):
    assert tick(plan(given, lease_execution, at(now), TIMING, FixedRandom())) == expected


def test_a_claimed_slot_runs_with_its_own_idempotency_key_and_the_skipped_one_says_what_holds_the_job():
    claimed = plan(job(), None, at("2026-11-28T02:00:30Z"), TIMING, FixedRandom()).new_executions[0]
    assert (claimed.idempotency_key, claimed.execution_id) == ("report@2026-11-28T02:00:00Z", "20261128T020000000Z-a01")
    busy = job(lease=lease("20261127T020000000Z-a01", "2026-11-28T02:10:00Z"))
    skipped = plan(busy, None, at("2026-11-28T02:00:30Z"), TIMING, FixedRandom()).new_executions[0]
    assert skipped.result == {"reason": "previous run still in progress (20261127T020000000Z-a01)", "coalescedSlots": 0}


# ----------------------------------------------------------------------- claim

@pytest.mark.parametrize(("given", "run", "now", "lease_until", "cursor"), [
    pytest.param(job(), execution("2026-11-28T02:00:00Z", status=ExecutionStatus.QUEUED), "2026-11-28T02:00:30Z",
                 "2026-11-28T02:11:30Z", None, id="the lease lasts timeoutSeconds plus the margin, with no owner yet"),
    pytest.param(job(timeout=60), execution("2026-11-28T02:00:00Z", status=ExecutionStatus.QUEUED),
                 "2026-11-28T02:00:30Z", "2026-11-28T02:02:30Z", None, id="a 60 s job holds its lease 2 minutes"),
    pytest.param(job(replay=ReplayCursor("R1", at("2026-11-28T00:00:00Z"))),
                 execution("2026-11-20T02:00:00Z", status=ExecutionStatus.QUEUED, trigger=Trigger.REPLAY,
                           replay_id="R1"),
                 "2026-11-28T02:00:30Z", "2026-11-28T02:11:30Z",
                 ("2026-11-20T02:00:00Z", "20261120T020000000Z-rR1-a01", "queued"),
                 id="a replay's slot moves the replay's cursor to it"),
    pytest.param(job(replay=ReplayCursor("R1", at("2026-11-28T00:00:00Z"))),
                 execution("2026-11-28T02:00:00Z", status=ExecutionStatus.QUEUED), "2026-11-28T02:00:30Z",
                 "2026-11-28T02:11:30Z", (None, None, None), id="a scheduled slot leaves the replay's cursor alone"),
])
def test_claim(given, run, now, lease_until, cursor):
    after = claim(given, run, at(now), TIMING)
    assert after.lease == Lease(run.execution_id, at(lease_until), owner=None)
    assert (after.last_execution, after.updated_at) == (run, at(now))
    if cursor is None:
        assert after.replay is None
    else:
        moved = after.replay
        assert (iso(moved.slot) if moved.slot else None, moved.execution_id,
                moved.status.value if moved.status else None) == cursor


# ----------------------------------------------------------------------- finish

NOW = "2026-11-28T02:05:00Z"
HELD = lease("20261128T020000000Z-a01", "2026-11-28T02:11:00Z")
S, F, T = ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT
OK, ALERTING = AlertState.OK, AlertState.ALERTING


def ended(status: ExecutionStatus, attempt: int = 1, *, retryable: bool = True) -> Execution:
    run = execution("2026-11-28T02:00:00Z", attempt, status, started="2026-11-28T02:00:30Z", retryable=retryable)
    return replace(run, finished_at=at(NOW))


@pytest.mark.parametrize(("given", "final", "retry", "failures", "alert", "state", "notices"), [
    pytest.param(job(lease=HELD), ended(S), None, 0, OK, JobState.ACTIVE, [], id="success: lease released"),
    pytest.param(job(lease=HELD, failures=4, alert_state=ALERTING), ended(S), None, 0, OK, JobState.ACTIVE,
                 ["recovery"], id="success after alerting: streak reset, one recovery notice"),
    pytest.param(job(lease=HELD), ended(F, 1), (2, "2026-11-28T02:06:00Z"), 1, OK, JobState.ACTIVE, [],
                 id="attempt 1 of 3 failed: retried after initialDelaySeconds"),
    pytest.param(job(lease=HELD), ended(F, 2), (3, "2026-11-28T02:07:00Z"), 1, OK, JobState.ACTIVE, [],
                 id="attempt 2 of 3 failed: retried after twice the delay"),
    pytest.param(job(lease=HELD, retry=RetryPolicy(5, 3000, 3600)), ended(F, 2), (3, "2026-11-28T03:05:00Z"), 1, OK,
                 JobState.ACTIVE, [], id="the delay is capped at maxDelaySeconds"),
    pytest.param(job(lease=HELD), ended(F, 3), None, 1, OK, JobState.ACTIVE, [],
                 id="attempt 3 of 3 failed: no retry"),
    pytest.param(job(lease=HELD), ended(T, 1), (2, "2026-11-28T02:06:00Z"), 1, OK, JobState.ACTIVE, [],
                 id="a timed-out attempt is retried"),
    pytest.param(job(lease=HELD), ended(F, 1, retryable=False), None, 1, ALERTING, JobState.ACTIVE, ["alert"],
                 id="a permanent failure: no retry, alerts at once"),
    pytest.param(job(lease=HELD, failures=2), ended(F, 3), None, 3, ALERTING, JobState.ACTIVE, ["alert"],
                 id="the failure that reaches alertAfterFailures alerts once"),
    pytest.param(job(lease=HELD, failures=3, alert_state=ALERTING), ended(F, 3), None, 4, ALERTING, JobState.ACTIVE,
                 [], id="a failure while alerting sends nothing more"),
    pytest.param(job(lease=HELD, state=JobState.PAUSED), ended(F, 1), None, 1, OK, JobState.PAUSED, [],
                 id="paused while it ran: no retry"),
    pytest.param(job(lease=HELD, failures=1, pause_after=2), ended(F, 1), None, 2, OK, JobState.PAUSED, [],
                 id="the failure that reaches pauseAfterFailures pauses the job, so no retry"),
    pytest.param(job(lease=HELD, pending_retry=retry_pending("2026-11-27T02:00:00Z", 2, "2026-11-28T03:00:00Z")),
                 ended(F, 1), (2, "2026-11-28T03:00:00Z"), 1, OK, JobState.ACTIVE, [],
                 id="a retry already pending is kept, not doubled"),
])
def test_finish(given, final, retry, failures, alert, state, notices):
    after = finish(given, final, at(NOW), FixedRandom())
    assert after.lease is None
    assert ((after.pending_retry.attempt, iso(after.pending_retry.due_at)) if after.pending_retry else None) == retry
    assert (after.consecutive_failures, after.alert_state, after.state) == (failures, alert, state)
    assert [n.kind.value for n in after.outbox] == notices


def test_a_retry_keeps_the_slot_its_key_and_its_payload_override():
    after = finish(job(lease=HELD), ended(F, 1), at(NOW), FixedRandom())
    assert after.pending_retry == PendingRetry(scheduled_for=at("2026-11-28T02:00:00Z"), attempt=2,
                                               due_at=at("2026-11-28T02:06:00Z"), payload_override={"n": 1},
                                               idempotency_key="report@2026-11-28T02:00:00Z")


def test_jitter_only_shortens_a_retry():
    after = finish(job(lease=HELD), ended(F, 1), at(NOW), FixedRandom(1.0))
    assert after.pending_retry is not None and after.pending_retry.due_at == at(NOW) + timedelta(seconds=48)
