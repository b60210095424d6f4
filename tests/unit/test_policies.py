"""The pure policies, one table each: a given state and event at a pinned instant, and
what the policy decides. Every row names the rule it holds; breaking that rule turns it red."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from chalicelib.core.model import (
    UTC,
    AlertState,
    Execution,
    ExecutionError,
    ExecutionStatus,
    Job,
    JobDefinition,
    JobState,
    NoticeKind,
    RetryPolicy,
    Trigger,
)
from chalicelib.core.policies import LateSlots, SlotDecision, account_outcome, decide_slot, may_retry, retry_delay


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


class FixedRandom:
    """The random source, pinned."""

    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


SLOT = utc(2026, 11, 28, 2, 0)
NOW = utc(2026, 11, 28, 2, 0, 30)
S, MS = timedelta(seconds=1), timedelta(microseconds=1)


# ------------------------------------------------------------------ decide_slot

def late(lateness: timedelta, coalesced: int = 0) -> LateSlots:
    return LateSlots(slot=SLOT, coalesced=coalesced, lateness=lateness)


RUN, SKIP, MISS = SlotDecision.RUN, SlotDecision.SKIP, SlotDecision.MISS


@pytest.mark.parametrize(("lateness", "grace", "in_flight", "expected"), [
    pytest.param(0 * S, 21600, False, RUN, id="on time: runs"),
    pytest.param(21600 * S, 21600, False, RUN, id="late by exactly the grace: still runs"),
    pytest.param(21600 * S + MS, 21600, False, MISS, id="a microsecond past the grace: missed"),
    pytest.param(86400 * S, 21600, False, MISS, id="a day late: missed"),
    pytest.param(0 * S, 0, False, RUN, id="grace 0, on the instant: runs"),
    pytest.param(1 * S, 0, False, MISS, id="grace 0, a second late: missed"),
    pytest.param(0 * S, 21600, True, SKIP, id="overlap: a run in flight skips the slot"),
    pytest.param(86400 * S, 21600, True, SKIP, id="overlap comes before grace: in flight and late is a skip"),
])
def test_decide_slot(lateness, grace, in_flight, expected):
    assert decide_slot(late(lateness), grace_seconds=grace, in_flight=in_flight) is expected


def test_coalesced_slots_do_not_change_the_decision():
    assert decide_slot(late(60 * S, coalesced=5), grace_seconds=3600, in_flight=False) is RUN


# ------------------------------------------------------------------ retries

@pytest.mark.parametrize(("policy", "failed_attempt", "rand", "expected"), [
    pytest.param(RetryPolicy(3, 60, 3600), 1, 0.0, 60 * S, id="first retry waits the initial delay"),
    pytest.param(RetryPolicy(3, 60, 3600), 2, 0.0, 120 * S, id="doubles after each failed attempt"),
    pytest.param(RetryPolicy(10, 60, 3600), 7, 0.0, 3600 * S, id="capped at maxDelaySeconds (60*2**6 = 3840)"),
    pytest.param(RetryPolicy(3, 60, 3600), 1, 1.0, 48 * S, id="jitter takes off at most 20%"),
    pytest.param(RetryPolicy(3, 60, 3600), 2, 0.5, 108 * S, id="jitter scales the doubled delay"),
    pytest.param(RetryPolicy(3, 1, 1), 1, 1.0, 1 * S, id="never below one second"),
])
def test_retry_delay(policy, failed_attempt, rand, expected):
    assert retry_delay(policy, failed_attempt, FixedRandom(rand)) == expected


@pytest.mark.parametrize(("max_attempts", "failed_attempt", "expected"), [
    pytest.param(3, 1, True, id="attempt 1 of 3 may retry"),
    pytest.param(3, 2, True, id="attempt 2 of 3 may retry"),
    pytest.param(3, 3, False, id="the last attempt does not retry"),
    pytest.param(1, 1, False, id="maxAttempts 1: never retried"),
])
def test_may_retry(max_attempts, failed_attempt, expected):
    assert may_retry(RetryPolicy(max_attempts=max_attempts), failed_attempt) is expected


# ------------------------------------------------------------------ failure accounting and alerts

def job(failures: int = 0, alert: AlertState = AlertState.OK, state: JobState = JobState.ACTIVE,
        alert_after: int = 3, pause_after: int | None = None) -> Job:
    definition = JobDefinition("report", "0 2 * * *", "ok", alert_after_failures=alert_after,
                               pause_after_failures=pause_after)
    return Job(definition, created_at=utc(2026, 11, 1), updated_at=utc(2026, 11, 1), state=state,
               consecutive_failures=failures, alert_state=alert)


def run(status: ExecutionStatus, retryable: bool = True) -> Execution:
    error = None if status in (ExecutionStatus.SUCCEEDED, ExecutionStatus.SKIPPED) else ExecutionError(
        "Boom", "it failed", retryable=retryable)
    return Execution("20261128T020000Z-a01", "report", Trigger.SCHEDULE, SLOT, 1, status, "report@slot",
                     created_at=SLOT, started_at=SLOT, finished_at=NOW, error=error)


OK, ALERTING = AlertState.OK, AlertState.ALERTING
ACTIVE, PAUSED = JobState.ACTIVE, JobState.PAUSED
SUCCEEDED, FAILED, TIMED_OUT, MISSED, SKIPPED = (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED,
                                                 ExecutionStatus.TIMED_OUT, ExecutionStatus.MISSED,
                                                 ExecutionStatus.SKIPPED)
ALERT, RECOVERY = NoticeKind.ALERT, NoticeKind.RECOVERY


@pytest.mark.parametrize(("given", "outcome", "failures", "alert", "state", "notices"), [
    pytest.param(job(), run(SUCCEEDED), 0, OK, ACTIVE, [], id="success on a healthy job changes nothing"),
    pytest.param(job(2), run(SUCCEEDED), 0, OK, ACTIVE, [], id="success resets the streak, no notice below the threshold"),
    pytest.param(job(4, ALERTING), run(SUCCEEDED), 0, OK, ACTIVE, [RECOVERY], id="success after alerting: one recovery"),
    pytest.param(job(0), run(FAILED), 1, OK, ACTIVE, [], id="first failure: counted, below the threshold"),
    pytest.param(job(1), run(FAILED), 2, OK, ACTIVE, [], id="second failure: one below the threshold"),
    pytest.param(job(2), run(FAILED), 3, ALERTING, ACTIVE, [ALERT], id="reaching alertAfterFailures: one alert"),
    pytest.param(job(3, ALERTING), run(FAILED), 4, ALERTING, ACTIVE, [], id="already alerting: no second alert"),
    pytest.param(job(0, alert_after=1), run(FAILED), 1, ALERTING, ACTIVE, [ALERT], id="alertAfterFailures 1 alerts at once"),
    pytest.param(job(0), run(FAILED, retryable=False), 1, ALERTING, ACTIVE, [ALERT],
                 id="a permanent failure alerts at once, whatever the threshold"),
    pytest.param(job(1, ALERTING), run(FAILED, retryable=False), 2, ALERTING, ACTIVE, [],
                 id="a permanent failure while alerting: no second alert"),
    pytest.param(job(2), run(TIMED_OUT), 3, ALERTING, ACTIVE, [ALERT], id="a timed-out run counts as a failure"),
    pytest.param(job(2), run(MISSED), 3, ALERTING, ACTIVE, [ALERT], id="a missed slot counts as a failure"),
    pytest.param(job(2), run(SKIPPED), 2, OK, ACTIVE, [], id="a skipped slot changes neither streak nor alert"),
    pytest.param(job(4, ALERTING, pause_after=5), run(FAILED), 5, ALERTING, PAUSED, [],
                 id="reaching pauseAfterFailures pauses the job"),
    pytest.param(job(3, ALERTING, pause_after=5), run(FAILED), 4, ALERTING, ACTIVE, [],
                 id="one below pauseAfterFailures stays active"),
    pytest.param(job(2, pause_after=3), run(FAILED), 3, ALERTING, PAUSED, [ALERT],
                 id="alert and pause on the same failure"),
])
def test_account_outcome(given, outcome, failures, alert, state, notices):
    after = account_outcome(given, outcome, now=NOW)
    assert (after.consecutive_failures, after.alert_state, after.state) == (failures, alert, state)
    assert [n.kind for n in after.outbox] == notices
    assert after.last_execution == outcome
    assert after.recent_runs[0].execution_id == outcome.execution_id


def test_an_automatic_pause_says_why_and_a_paused_job_keeps_its_own_reason():
    paused = account_outcome(job(4, ALERTING, pause_after=5), run(FAILED), now=NOW)
    assert paused.pause_reason == "paused automatically after 5 consecutive failures"
    operator = replace(job(5, ALERTING, PAUSED, pause_after=5), pause_reason="paused by operator")
    assert account_outcome(operator, run(FAILED), now=NOW).pause_reason == "paused by operator"


def test_success_records_when_it_finished_as_the_last_success():
    assert account_outcome(job(1), run(SUCCEEDED), now=NOW + timedelta(hours=1)).last_success_at == NOW
