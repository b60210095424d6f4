"""Pauses that end by themselves and maintenance windows (issue 17 parts 2-3), on the
memory store with pinned instants, ticking minute by minute through the nights."""
from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from chalicelib.core.errors import ValidationFailed
from chalicelib.core.maintenance import MaintenanceWindow, window_covering
from chalicelib.core.model import ExecutionStatus, JobState, Trigger
from chalicelib.core.worker_event import WorkerEvent
from tests.fakes import Harness, rendezvous_commits, utc

MINUTE = timedelta(minutes=1)


def ok(ctx):
    return {"ran": ctx.execution_id}


def boom(ctx):
    raise RuntimeError("database said no")


@pytest.fixture
def h() -> Harness:
    harness = Harness(utc(2026, 10, 24, 10, 0))
    harness.registry.add("ok", ok)
    harness.registry.add("boom", boom)
    return harness


def tick_through(h: Harness, start: datetime, end: datetime) -> None:
    moment = start
    while moment <= end:
        h.tick(moment)
        moment += MINUTE


def runs(h: Harness, name: str) -> list[tuple[str, str, str, int, str | None]]:
    """(scheduledFor, status, trigger, attempt, skipReason) oldest first."""
    return [(e.scheduled_for.isoformat(), e.status.value, e.trigger.value, e.attempt, e.skip_reason)
            for e in sorted(h.executions(name), key=lambda e: (e.scheduled_for, e.created_at))]


def window_body(start: str, end: str, **scope) -> dict:
    return {"from": start, "to": end, "reason": "database migration", **(scope or {"jobs": ["nightly"]})}


# --------------------------------------------------------------------------- pauses with an end


def test_a_pause_that_ends_inside_the_repeated_hour_of_oslos_fall_back_night_resumes_once(h):
    # 0 2 * * * Europe/Oslo on 2026-10-25: 02:00 CEST = 00:00Z (the slot: a repeated wall
    # time runs once, at its first occurrence); 02:00 CET = 01:00Z is not a slot.
    h.service.register_job("nightly", "0 2 * * *", "ok", timezone="Europe/Oslo")
    until = utc(2026, 10, 25, 0, 30)  # 02:30 CEST, before the clocks go back
    paused = h.service.jobs.pause_job("nightly", "migration", until=until)
    assert paused.state is JobState.PAUSED and paused.paused_until == until
    assert paused.due_at == until

    tick_through(h, utc(2026, 10, 24, 23, 50), utc(2026, 10, 25, 0, 29))
    assert h.service.reads.get_job("nightly").state is JobState.PAUSED and h.notifier.sent == []
    h.tick(utc(2026, 10, 25, 0, 30))
    job = h.service.reads.get_job("nightly")
    assert (job.state, job.paused_until, job.pause_reason) == (JobState.ACTIVE, None, None)
    assert job.next_run_at == utc(2026, 10, 26, 1, 0)  # 02:00 CET on the 26th, not 01:00Z on the 25th
    tick_through(h, utc(2026, 10, 25, 0, 31), utc(2026, 10, 26, 1, 5))

    assert runs(h, "nightly") == [("2026-10-26T01:00:00+00:00", "succeeded", "schedule", 1, None)]
    [notice] = h.notifier.sent
    assert notice.kind.value == "pause-expired"
    assert notice.notice_id == "nightly#pause-expired#2026-10-25T00:30:00Z"
    assert notice.created_at == utc(2026, 10, 25, 0, 30)
    assert notice.message["pauseReason"] == "migration"


def test_a_slot_at_exactly_the_pauses_end_runs(h):
    h.service.register_job("nightly", "0 2 * * *", "ok", timezone="Europe/Oslo")
    h.service.jobs.pause_job("nightly", until=utc(2026, 10, 26, 1, 0))  # 02:00 CET on the 26th
    tick_through(h, utc(2026, 10, 24, 23, 55), utc(2026, 10, 26, 1, 2))
    assert runs(h, "nightly") == [("2026-10-26T01:00:00+00:00", "succeeded", "schedule", 1, None)]
    assert [n.kind.value for n in h.notifier.sent] == ["pause-expired"]


def test_a_manual_resume_or_a_new_pause_replaces_the_end(h):
    h.service.register_job("nightly", "0 2 * * *", "ok", timezone="Europe/Oslo")
    h.service.jobs.pause_job("nightly", until=utc(2026, 10, 25, 0, 30))
    assert h.service.jobs.resume_job("nightly").paused_until is None
    h.service.jobs.pause_job("nightly", until=utc(2026, 10, 25, 0, 30))
    assert h.service.jobs.pause_job("nightly", "indefinitely").paused_until is None
    tick_through(h, utc(2026, 10, 25, 0, 29), utc(2026, 10, 25, 0, 31))
    assert h.service.reads.get_job("nightly").state is JobState.PAUSED and h.notifier.sent == []


@pytest.mark.parametrize("until", [utc(2026, 10, 24, 10, 0), utc(2026, 10, 24, 9, 0),
                                   utc(2026, 10, 24, 10, 0) + timedelta(days=90, seconds=1)])
def test_a_pause_end_not_in_the_next_90_days_is_refused_naming_until(h, until):
    h.service.register_job("nightly", "0 2 * * *", "ok")
    with pytest.raises(ValidationFailed) as err:
        h.service.jobs.pause_job("nightly", until=until)
    assert [e.field for e in err.value.errors] == ["until"]
    assert h.service.reads.get_job("nightly").state is JobState.ACTIVE


def test_two_dispatchers_at_the_pauses_end_resume_once_and_notify_once(h):
    h.service.register_job("nightly", "0 2 * * *", "ok", timezone="Europe/Oslo")
    h.service.jobs.pause_job("nightly", until=utc(2026, 10, 25, 0, 30))
    version = h.service.reads.get_job("nightly").version
    h.clock.set(utc(2026, 10, 25, 0, 30))
    barrier = threading.Barrier(2)
    rendezvous_commits(h.store, 2)  # both have planned the resume before either writes
    publish = h.notifier.publish

    def slow_publish(notice):  # the winner is still publishing when the loser reads again
        time.sleep(0.3)
        publish(notice)

    h.notifier.publish = slow_publish

    def tick() -> None:
        barrier.wait()
        h.engine.dispatcher.tick(utc(2026, 10, 25, 0, 30))

    threads = [threading.Thread(target=tick) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [n.kind.value for n in h.notifier.sent] == ["pause-expired"]
    job = h.service.reads.get_job("nightly")
    assert job.state is JobState.ACTIVE and job.outbox == ()
    assert job.version == version + 2  # one resume, one outbox flush


# --------------------------------------------------------------------------- maintenance windows


def test_a_window_over_the_oslo_fall_back_night_skips_the_nightly_slot_once(h):
    h.service.register_job("nightly", "0 2 * * *", "ok", timezone="Europe/Oslo")
    # 00:00Z-02:00Z covers both 02:00 wall times of the night (CEST at 00:00Z, CET at 01:00Z).
    window = h.service.windows.create(
        window_body("2026-10-25T02:00:00+02:00", "2026-10-25T03:00:00+01:00"))
    assert (window.starts_at, window.ends_at) == (utc(2026, 10, 25, 0, 0), utc(2026, 10, 25, 2, 0))
    tick_through(h, utc(2026, 10, 24, 23, 55), utc(2026, 10, 26, 1, 5))
    reason = (f"maintenance window {window.window_id} (2026-10-25T00:00:00Z to 2026-10-25T02:00:00Z): "
              "database migration")
    assert runs(h, "nightly") == [
        ("2026-10-25T00:00:00+00:00", "skipped", "schedule", 1, reason),
        ("2026-10-26T01:00:00+00:00", "succeeded", "schedule", 1, None),
    ]
    job = h.service.reads.get_job("nightly")
    assert job.consecutive_failures == 0 and job.held_slot is None and h.notifier.sent == []
    assert h.service.reads.status().overdue == []


def test_a_skipped_slot_is_no_failure_sends_no_alert_and_leaves_nothing_overdue(h):
    h.service.register_job("nightly", "0 2 * * *", "boom", timezone="UTC", alert_after_failures=1,
                           retry={"maxAttempts": 1})
    h.service.windows.create(window_body("2026-10-25T01:00:00Z", "2026-10-25T03:00:00Z"))
    tick_through(h, utc(2026, 10, 25, 1, 58), utc(2026, 10, 25, 2, 30))
    assert runs(h, "nightly")[0][1] == "skipped"
    job = h.service.reads.get_job("nightly")
    assert (job.consecutive_failures, job.alert_state.value, job.next_run_at) == (0, "ok", utc(2026, 10, 26, 2, 0))
    assert h.notifier.sent == [] and h.service.reads.status().overdue == []
    assert h.metrics.total("ExecutionFailed") == 0


def test_run_missed_runs_the_latest_skipped_slot_once_when_the_window_ends(h):
    h.service.register_job("hourly", "0 * * * *", "ok", timezone="Europe/Oslo")
    window = h.service.windows.create(
        {**window_body("2026-10-25T00:30:00Z", "2026-10-25T03:10:00Z", jobs=["hourly"]), "runMissed": True})
    tick_through(h, utc(2026, 10, 25, 0, 0), utc(2026, 10, 25, 4, 5))
    skipped = [(s, "skipped", "schedule", 1, f"maintenance window {window.window_id} (2026-10-25T00:30:00Z to "
                "2026-10-25T03:10:00Z): database migration")
               for s in ("2026-10-25T01:00:00+00:00", "2026-10-25T02:00:00+00:00", "2026-10-25T03:00:00+00:00")]
    assert runs(h, "hourly") == [
        ("2026-10-25T00:00:00+00:00", "succeeded", "schedule", 1, None),
        *skipped,
        ("2026-10-25T03:00:00+00:00", "succeeded", "schedule", 1, None),  # the latest skipped slot, at 03:10
        ("2026-10-25T04:00:00+00:00", "succeeded", "schedule", 1, None),
    ]
    late = [e for e in h.executions("hourly") if e.status is ExecutionStatus.SUCCEEDED
            and e.scheduled_for == utc(2026, 10, 25, 3, 0)][0]
    assert late.created_at == utc(2026, 10, 25, 3, 10)
    assert late.execution_id == f"20261025T030000000Z-r{window.window_id}-a01"
    assert late.idempotency_key == "hourly@2026-10-25T03:00:00Z" and late.trigger is Trigger.SCHEDULE
    assert h.service.reads.get_job("hourly").held_slot is None


def test_without_run_missed_nothing_is_replayed_when_the_window_ends(h):
    h.service.register_job("hourly", "0 * * * *", "ok")
    h.service.windows.create(window_body("2026-10-25T00:30:00Z", "2026-10-25T02:10:00Z", jobs=["hourly"]))
    tick_through(h, utc(2026, 10, 25, 0, 0), utc(2026, 10, 25, 3, 5))
    assert [(s[:16], st) for s, st, *_ in runs(h, "hourly")] == [
        ("2026-10-25T00:00", "succeeded"), ("2026-10-25T01:00", "skipped"), ("2026-10-25T02:00", "skipped"),
        ("2026-10-25T03:00", "succeeded")]


def test_overlapping_windows_skip_a_slot_once_and_run_missed_waits_for_the_last(h):
    h.service.register_job("hourly", "0 * * * *", "ok")
    first = h.service.windows.create(
        {**window_body("2026-10-25T00:30:00Z", "2026-10-25T02:30:00Z", all=True), "runMissed": True})
    h.service.windows.create(window_body("2026-10-25T01:30:00Z", "2026-10-25T03:30:00Z", jobs=["hourly"]))
    tick_through(h, utc(2026, 10, 25, 0, 0), utc(2026, 10, 25, 4, 5))
    assert [(s[:16], st) for s, st, *_ in runs(h, "hourly")] == [
        ("2026-10-25T00:00", "succeeded"), ("2026-10-25T01:00", "skipped"), ("2026-10-25T02:00", "skipped"),
        ("2026-10-25T02:00", "succeeded"),  # held by the first (runMissed), released after the second ends
        ("2026-10-25T03:00", "skipped"), ("2026-10-25T04:00", "succeeded")]
    skip_02 = [e for e in h.executions("hourly") if e.scheduled_for == utc(2026, 10, 25, 2, 0)
               and e.status is ExecutionStatus.SKIPPED]
    assert len(skip_02) == 1 and first.window_id in skip_02[0].skip_reason  # named once, by the earlier window
    released = [e for e in h.executions("hourly") if e.scheduled_for == utc(2026, 10, 25, 2, 0)
                and e.status is ExecutionStatus.SUCCEEDED][0]
    assert released.created_at == utc(2026, 10, 25, 3, 30)


def test_a_run_in_progress_when_a_window_starts_is_not_interrupted(h):
    h2 = Harness(utc(2026, 10, 25, 0, 0), inline=False)
    h2.registry.add("ok", ok)
    h2.service.register_job("hourly", "0 * * * *", "ok")
    h2.tick(utc(2026, 10, 25, 1, 0))
    [(name, execution_id)] = h2.invoker.invocations
    h2.service.windows.create(window_body("2026-10-25T01:00:30Z", "2026-10-25T02:30:00Z", jobs=["hourly"]))
    h2.clock.set(utc(2026, 10, 25, 1, 5))
    final = h2.engine.worker.run(WorkerEvent(name, execution_id), worker_id="w1")
    assert final is not None and final.status is ExecutionStatus.SUCCEEDED


def test_a_due_retry_waits_for_the_window_to_end(h):
    h.service.register_job("nightly", "0 2 * * *", "boom", retry={"maxAttempts": 2, "initialDelaySeconds": 600})
    h.tick(utc(2026, 10, 25, 2, 0))
    assert h.service.reads.get_job("nightly").pending_retry.due_at == utc(2026, 10, 25, 2, 10)
    h.service.windows.create(window_body("2026-10-25T02:05:00Z", "2026-10-25T02:40:00Z"))
    tick_through(h, utc(2026, 10, 25, 2, 1), utc(2026, 10, 25, 2, 45))
    retry = [e for e in h.executions("nightly") if e.attempt == 2][0]
    assert retry.created_at == utc(2026, 10, 25, 2, 40)


def test_ending_a_window_early_lets_the_next_slot_run(h):
    h.clock.set(utc(2026, 10, 25, 0, 50))
    h.service.register_job("hourly", "0 * * * *", "ok")
    window = h.service.windows.create(
        window_body("2026-10-25T00:30:00Z", "2026-10-25T05:00:00Z", jobs=["hourly"]))
    tick_through(h, utc(2026, 10, 25, 0, 55), utc(2026, 10, 25, 1, 30))
    ended = h.service.windows.end(window.window_id)
    assert ended.ends_at == utc(2026, 10, 25, 1, 30) and h.service.windows.list() == [ended]
    tick_through(h, utc(2026, 10, 25, 1, 31), utc(2026, 10, 25, 2, 1))
    assert [(s[:16], st) for s, st, *_ in runs(h, "hourly")] == [
        ("2026-10-25T01:00", "skipped"), ("2026-10-25T02:00", "succeeded")]


def test_a_window_covers_by_name_owner_or_all_only(h):
    job = h.service.register_job("nightly", "0 2 * * *", "ok")
    base = dict(starts_at=utc(2026, 10, 25, 1, 0), ends_at=utc(2026, 10, 25, 3, 0), reason="r",
                created_at=utc(2026, 10, 24, 10, 0))
    by_name = MaintenanceWindow("mw-20261024T100000-000001", jobs=("other", "nightly"), **base)
    other = MaintenanceWindow("mw-20261024T100000-000002", jobs=("other",), **base)
    by_owner = MaintenanceWindow("mw-20261024T100000-000003", owner="mentor-team", **base)
    everything = MaintenanceWindow("mw-20261024T100000-000004", all_jobs=True, **base)
    slot = utc(2026, 10, 25, 2, 0)
    assert window_covering(job, slot, [other, by_name]) == by_name
    assert window_covering(job, slot, [other, by_owner]) is None  # the job has no owner
    owned = replace(job, definition=replace(job.definition, owner="mentor-team"))
    assert window_covering(owned, slot, [other, by_owner]) == by_owner
    assert window_covering(job, slot, [everything, by_name]) == by_name  # same start: the lower id
    assert window_covering(job, utc(2026, 10, 25, 3, 0), [everything]) is None  # [from, to)
    assert window_covering(job, utc(2026, 10, 25, 1, 0), [everything]) == everything


def test_the_dispatcher_reads_the_windows_once_per_tick(h):
    for name in ("a", "b", "c"):
        h.service.register_job(name, "* * * * *", "ok")
    reads = []
    original = h.store.maintenance_windows

    def counted():
        reads.append(1)
        return original()

    h.store.maintenance_windows = counted
    report = h.tick(utc(2026, 10, 24, 10, 1))
    assert len(report.claimed) == 3 and len(reads) == 1


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("body, field", [
    ({"from": "2026-10-25T01:00:00Z", "to": "2026-10-25T01:00:00Z", "reason": "x", "all": True}, "to"),
    ({"from": "2026-10-25T01:00:00Z", "to": "2026-10-25T00:00:00Z", "reason": "x", "all": True}, "to"),
    ({"from": "2026-10-25T01:00:00Z", "to": "2026-11-01T01:00:01Z", "reason": "x", "all": True}, "to"),
    ({"from": "2027-01-23T10:00:01Z", "to": "2027-01-23T12:00:00Z", "reason": "x", "all": True}, "from"),
    ({"from": "2026-10-24T08:00:00Z", "to": "2026-10-24T09:00:00Z", "reason": "x", "all": True}, "to"),
    ({"from": "2026-10-25T01:00:00", "to": "2026-10-25T02:00:00Z", "reason": "x", "all": True}, "from"),
    ({"from": "tomorrow", "to": "2026-10-25T02:00:00Z", "reason": "x", "all": True}, "from"),
    ({"from": "2026-10-25T01:00:00Z", "to": "2026-10-25T02:00:00Z", "all": True}, "reason"),
    ({"from": "2026-10-25T01:00:00Z", "to": "2026-10-25T02:00:00Z", "reason": "x"}, "jobs"),
    ({"from": "2026-10-25T01:00:00Z", "to": "2026-10-25T02:00:00Z", "reason": "x", "all": True,
      "owner": "a"}, "owner+all"),
    ({"from": "2026-10-25T01:00:00Z", "to": "2026-10-25T02:00:00Z", "reason": "x", "all": False}, "all"),
    ({"from": "2026-10-25T01:00:00Z", "to": "2026-10-25T02:00:00Z", "reason": "x", "jobs": []}, "jobs"),
    ({"from": "2026-10-25T01:00:00Z", "to": "2026-10-25T02:00:00Z", "reason": "x", "jobs": ["Bad"]}, "jobs[0]"),
    ({"from": "2026-10-25T01:00:00Z", "to": "2026-10-25T02:00:00Z", "reason": "x", "owner": "Team A"}, "owner"),
    ({"from": "2026-10-25T01:00:00Z", "to": "2026-10-25T02:00:00Z", "reason": "x", "all": True,
      "runMissed": "yes"}, "runMissed"),
    ({"from": "2026-10-25T01:00:00Z", "to": "2026-10-25T02:00:00Z", "reason": "x", "all": True, "until": 1}, "until"),
])
def test_a_bad_window_is_refused_naming_the_field(h, body, field):
    with pytest.raises(ValidationFailed) as err:
        h.service.windows.create(body)
    assert [e.field for e in err.value.errors] == field.split("+")
    assert h.service.windows.list() == []


def test_windows_created_in_the_same_second_get_distinct_ids(h):
    first = h.service.windows.create(window_body("2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"))
    second = h.service.windows.create(window_body("2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"))
    assert (first.window_id, second.window_id) == ("mw-20261024T100000-000000", "mw-20261024T100000-000001")
    assert h.service.windows.list() == [first, second]


def test_windows_are_listed_until_seven_days_after_their_end(h):
    window = h.service.windows.create(window_body("2026-10-24T11:00:00Z", "2026-10-24T12:00:00Z"))
    h.clock.set(utc(2026, 10, 31, 11, 59))
    assert h.service.windows.list() == [window]
    h.clock.set(utc(2026, 10, 31, 12, 0))
    assert h.service.windows.list() == []
