"""Replays on the memory store with pinned instants: the plan (DST nights included), the
selection, one slot at a time through the claim path, the overlap rule, pause, cancel
and idempotency.

Europe/Oslo 2026: spring-forward on 29 March (02:00 CET -> 03:00 CEST at 01:00Z), fall-back
on 25 October (03:00 CEST -> 02:00 CET at 01:00Z: 02:00-02:59 local happens twice).
"""
from __future__ import annotations

from datetime import date, datetime

import pytest

from chalicelib.core.errors import IdempotencyKeyReused, JobNotFound, ReplayInProgress, ValidationFailed
from chalicelib.core.model import ExecutionStatus, Trigger, iso
from chalicelib.core.replays import ReplayStatus, SlotState
from chalicelib.core.worker_event import WorkerEvent
from chalicelib.jobs.certification.rule import run_date
from tests.fakes import Harness, utc


def slots(view) -> list[str]:
    return [iso(s.scheduled_for) for s in view.replay.slots]


def left_out(view) -> list[tuple[str, str]]:
    return [(iso(s.scheduled_for), s.reason) for s in view.replay.left_out]


def body(start: str, end: str, **extra) -> dict:
    return {"from": start, "to": end, **extra}


# ----------------------------------------------------------------------- the plan across DST


@pytest.mark.parametrize(("cron", "start", "end", "expected"), [
    # fall-back night: the wall-clock 02:00 runs once, at its first occurrence (CEST)
    ("0 2 * * *", "2026-10-23T22:00:00Z", "2026-10-26T23:00:00Z",
     ["2026-10-24T00:00:00Z", "2026-10-25T00:00:00Z", "2026-10-26T01:00:00Z"]),
    # spring-forward night: 02:30 does not exist on 29 March and runs at 03:00 CEST
    ("30 2 * * *", "2026-03-27T23:00:00Z", "2026-03-30T22:00:00Z",
     ["2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"]),
    # real time across the fall-back: 02:00 local at both occurrences
    ("0 * * * *", "2026-10-24T23:00:00Z", "2026-10-25T02:00:00Z",
     ["2026-10-24T23:00:00Z", "2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z"]),
    # real time across the spring-forward: no 02:xx local, no burst
    ("0 * * * *", "2026-03-28T23:00:00Z", "2026-03-29T02:00:00Z",
     ["2026-03-28T23:00:00Z", "2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z"]),
])
def test_the_plan_lists_the_jobs_slots_in_its_time_zone_across_daylight_saving(cron, start, end, expected):
    h = Harness(utc(2026, 1, 1, 12, 0))
    h.registry.add("ok", lambda ctx: None)
    h.service.register_job("oslo", cron, "ok", timezone="Europe/Oslo")
    h.service.jobs.pause_job("oslo")  # no run in its history: every slot is one with no run
    h.clock.set(utc(2026, 12, 1, 12, 0))
    view, created = h.service.replays.create("oslo", body(start, end, only="all", dryRun=True))
    assert created is False and view.stored is False
    assert slots(view) == expected and left_out(view) == []
    assert h.store.list_replays("oslo", limit=10, cursor=None).items == []  # a dry run stores nothing


# ----------------------------------------------------------------------- which slots


@pytest.fixture
def history() -> Harness:
    """A UTC job at 02:00 with one night of each kind (no retries):

    11-01 before the job existed; 11-02 succeeded; 11-03 failed; 11-04 missed (dispatcher
    down past the grace); 11-05 no run (paused); 11-06 succeeded.
    """
    h = Harness(utc(2026, 11, 1, 12, 0))
    bad_nights = {date(2026, 11, 3)}

    def nightly(ctx):
        if ctx.scheduled_for.date() in bad_nights:
            raise RuntimeError("supabase was down")
        return {"night": ctx.scheduled_for.date().isoformat()}

    h.registry.add("nightly", nightly)
    h.bad_nights = bad_nights  # type: ignore[attr-defined]
    h.service.register_job("report", "0 2 * * *", "nightly", retry={"maxAttempts": 1})
    h.tick(utc(2026, 11, 2, 2, 0))
    h.tick(utc(2026, 11, 3, 2, 0))
    h.tick(utc(2026, 11, 4, 9, 0))  # 7 h late: recorded missed
    h.clock.set(utc(2026, 11, 4, 10, 0))
    h.service.jobs.pause_job("report")
    h.clock.set(utc(2026, 11, 5, 10, 0))
    h.service.jobs.resume_job("report")
    h.tick(utc(2026, 11, 6, 2, 0))
    h.clock.set(utc(2026, 11, 7, 12, 0))
    return h


def test_only_failed_picks_failed_timed_out_and_missed_slots_and_says_why_the_others_are_left_out(history):
    view, created = history.service.replays.create("report", body("2026-11-01T00:00:00Z", "2026-11-07T00:00:00Z"))
    assert created is True and view.replay.only.value == "failed"
    assert slots(view) == ["2026-11-03T02:00:00Z", "2026-11-04T02:00:00Z"]
    assert left_out(view) == [("2026-11-01T02:00:00Z", "outside-history"), ("2026-11-02T02:00:00Z", "already-succeeded"),
                              ("2026-11-05T02:00:00Z", "no-run"), ("2026-11-06T02:00:00Z", "already-succeeded")]


def test_only_missed_picks_missed_slots_and_slots_with_no_run(history):
    view, _ = history.service.replays.create("report", body("2026-11-01T00:00:00Z", "2026-11-07T00:00:00Z",
                                                    only="missed", dryRun=True))
    assert slots(view) == ["2026-11-04T02:00:00Z", "2026-11-05T02:00:00Z"]
    assert left_out(view) == [("2026-11-01T02:00:00Z", "outside-history"), ("2026-11-02T02:00:00Z", "already-succeeded"),
                              ("2026-11-03T02:00:00Z", "failed"), ("2026-11-06T02:00:00Z", "already-succeeded")]


def test_only_all_picks_every_slot_of_the_jobs_history_and_max_runs_keeps_the_oldest(history):
    view, _ = history.service.replays.create("report", body("2026-11-01T00:00:00Z", "2026-11-07T00:00:00Z",
                                                    only="all", dryRun=True))
    assert slots(view) == [f"2026-11-0{d}T02:00:00Z" for d in range(2, 7)]
    assert left_out(view) == [("2026-11-01T02:00:00Z", "outside-history")]
    capped, _ = history.service.replays.create("report", body("2026-11-01T00:00:00Z", "2026-11-07T00:00:00Z",
                                                      only="all", maxRuns=2, dryRun=True))
    assert slots(capped) == ["2026-11-02T02:00:00Z", "2026-11-03T02:00:00Z"]
    assert [r for _, r in left_out(capped)] == ["outside-history", "max-runs", "max-runs", "max-runs"]


def test_a_slots_outcome_is_its_latest_run_a_replays_included(history):
    night = body("2026-11-03T00:00:00Z", "2026-11-04T00:00:00Z")
    history.service.replays.create("report", night)
    history.tick(utc(2026, 11, 7, 12, 1))  # runs 11-03 again: it fails again
    history.tick(utc(2026, 11, 7, 12, 2))  # the replay ends
    again, _ = history.service.replays.create("report", {**night, "dryRun": True})
    assert slots(again) == ["2026-11-03T02:00:00Z"]  # still failed
    history.bad_nights.clear()  # the cause is fixed
    history.service.replays.create("report", night)
    history.tick(utc(2026, 11, 7, 12, 3))
    history.tick(utc(2026, 11, 7, 12, 4))
    last, _ = history.service.replays.create("report", {**night, "dryRun": True})
    assert slots(last) == [] and left_out(last) == [("2026-11-03T02:00:00Z", "already-succeeded")]


@pytest.mark.parametrize(("payload", "field"), [
    ({"to": "2026-11-07T00:00:00Z"}, "from"),
    ({"from": "2026-11-01", "to": "2026-11-07T00:00:00Z"}, "from"),
    ({"from": "2026-11-01T00:00:00", "to": "2026-11-07T00:00:00Z"}, "from"),
    ({"from": "2026-11-07T00:00:00Z", "to": "2026-11-01T00:00:00Z"}, "from"),
    ({"from": "2026-11-01T00:00:00Z", "to": "2026-11-08T00:00:00Z"}, "to"),
    ({"from": "2026-11-01T00:00:00Z", "to": 5}, "to"),
    ({"from": "2026-11-01T00:00:00Z", "to": "2026-11-07T00:00:00Z", "only": "succeeded"}, "only"),
    ({"from": "2026-11-01T00:00:00Z", "to": "2026-11-07T00:00:00Z", "only": {}}, "only"),  # unhashable: a 500 once
    ({"from": "2026-11-01T00:00:00Z", "to": "2026-11-07T00:00:00Z", "only": ["all"]}, "only"),
    ({"from": "2026-11-01T00:00:00Z", "to": "2026-11-07T00:00:00Z", "maxRuns": 0}, "maxRuns"),
    ({"from": "2026-11-01T00:00:00Z", "to": "2026-11-07T00:00:00Z", "maxRuns": True}, "maxRuns"),
    ({"from": "2026-11-01T00:00:00Z", "to": "2026-11-07T00:00:00Z", "dryRun": "yes"}, "dryRun"),
    ({"from": "2026-11-01T00:00:00Z", "to": "2026-11-07T00:00:00Z", "form": 1}, "form"),
    ({"from": "2025-01-01T00:00:00Z", "to": "2026-11-07T00:00:00Z"}, "from"),  # 675 slots > 500
])
def test_a_bad_request_names_the_field(history, payload, field):
    with pytest.raises(ValidationFailed) as err:
        history.service.replays.create("report", payload)
    assert field in {e.field for e in err.value.errors}


def test_an_unknown_job_is_not_found(history):
    with pytest.raises(JobNotFound):
        history.service.replays.create("nope", body("2026-11-01T00:00:00Z", "2026-11-07T00:00:00Z"))


# ----------------------------------------------------------------------- running it


def test_three_failed_nights_across_the_fall_back_replay_one_at_a_time_as_those_nights():
    """The report's scenario: Supabase was down for the nights of 24, 25 and 26 October
    (Oslo); once it is back, a replay runs them again, oldest first, each as its own night."""
    h = Harness(utc(2026, 10, 20, 12, 0))
    down = {"supabase": True}
    seen: list[tuple[str, str, str, int, str, str]] = []

    def check(ctx):
        seen.append((ctx.trigger.value, iso(ctx.scheduled_for), ctx.idempotency_key, ctx.attempt,
                     run_date(ctx.scheduled_for, ctx.timezone).isoformat(), ctx.execution_id))
        if down["supabase"]:
            raise RuntimeError("supabase unavailable")
        return {"asOf": run_date(ctx.scheduled_for, ctx.timezone).isoformat()}

    h.registry.add("check", check)
    h.service.register_job("cert", "0 2 * * *", "check", timezone="Europe/Oslo",
                           retry={"maxAttempts": 2, "initialDelaySeconds": 60, "maxDelaySeconds": 60})
    for night in (utc(2026, 10, 24, 0, 0), utc(2026, 10, 25, 0, 0), utc(2026, 10, 26, 1, 0)):
        h.tick(night)
        h.tick(night.replace(minute=1))  # the retry fails too
    down["supabase"] = False
    seen.clear()
    h.clock.set(utc(2026, 10, 26, 9, 0))

    view, _ = h.service.replays.create("cert", body("2026-10-23T22:00:00Z", "2026-10-26T09:00:00Z"))
    assert slots(view) == ["2026-10-24T00:00:00Z", "2026-10-25T00:00:00Z", "2026-10-26T01:00:00Z"]
    rid = view.replay.replay_id
    for minute in range(1, 5):  # one slot per tick; the fourth tick ends the replay
        report = h.tick(utc(2026, 10, 26, 9, minute))
        assert len(report.claimed) == (1 if minute < 4 else 0)

    assert [row[:5] for row in seen] == [
        ("replay", "2026-10-24T00:00:00Z", "cert@2026-10-24T00:00:00Z", 1, "2026-10-24"),
        ("replay", "2026-10-25T00:00:00Z", "cert@2026-10-25T00:00:00Z", 1, "2026-10-25"),
        ("replay", "2026-10-26T01:00:00Z", "cert@2026-10-26T01:00:00Z", 1, "2026-10-26"),
    ]
    assert [row[5] for row in seen] == [f"2026102{d}T0{h_}0000000Z-r{rid}-a01" for d, h_ in ((4, 0), (5, 0), (6, 1))]
    done = h.service.replays.get("cert", rid).replay
    assert done.status is ReplayStatus.COMPLETED
    assert [(iso(s.scheduled_for), s.state, s.outcome, s.execution_id) for s in done.slots] == [
        (iso(s.scheduled_for), SlotState.DONE, ExecutionStatus.SUCCEEDED, row[5]) for s, row in zip(done.slots, seen, strict=True)]
    job = h.service.reads.get_job("cert")
    assert job.replay is None and job.consecutive_failures == 0 and job.next_run_at == utc(2026, 10, 27, 1, 0)


def test_a_failed_replay_slot_is_retried_as_usual_before_the_next_slot_starts():
    h = Harness(utc(2026, 11, 1, 12, 0))
    attempts: list[tuple[str, str, int]] = []

    def flaky(ctx):
        attempts.append((ctx.trigger.value, iso(ctx.scheduled_for), ctx.attempt))
        if ctx.trigger is Trigger.REPLAY and ctx.scheduled_for == utc(2026, 11, 2, 2, 0):
            raise RuntimeError("first attempt fails")

    h.registry.add("flaky", flaky)
    h.service.register_job("job", "0 2 * * *", "flaky", retry={"maxAttempts": 3, "initialDelaySeconds": 60})
    h.service.jobs.pause_job("job")
    h.clock.set(utc(2026, 11, 4, 12, 0))
    h.service.jobs.resume_job("job")
    view, _ = h.service.replays.create("job", body("2026-11-02T00:00:00Z", "2026-11-04T00:00:00Z", only="missed"))
    assert h.tick(utc(2026, 11, 4, 12, 1)).claimed  # 11-02 replayed: fails
    assert h.tick(utc(2026, 11, 4, 12, 1, 30)).claimed == []  # its retry is not due: the replay waits
    h.tick(utc(2026, 11, 4, 12, 2))  # the retry (same slot, same key) succeeds
    h.tick(utc(2026, 11, 4, 12, 3))  # 11-03
    h.tick(utc(2026, 11, 4, 12, 4))  # the end
    assert attempts == [("replay", "2026-11-02T02:00:00Z", 1), ("retry", "2026-11-02T02:00:00Z", 2),
                        ("replay", "2026-11-03T02:00:00Z", 1)]
    done = h.service.replays.get("job", view.replay.replay_id).replay
    rid = view.replay.replay_id
    assert done.status is ReplayStatus.COMPLETED
    assert [(s.outcome, s.execution_id) for s in done.slots] == [
        (ExecutionStatus.SUCCEEDED, f"20261102T020000000Z-r{rid}-a02"),
        (ExecutionStatus.SUCCEEDED, f"20261103T020000000Z-r{rid}-a01")]
    retry = h.service.reads.get_execution("job", f"20261102T020000000Z-r{rid}-a02")
    assert (retry.trigger, retry.replay_id, retry.idempotency_key) == (Trigger.RETRY, rid, "job@2026-11-02T02:00:00Z")
    assert h.service.reads.get_job("job").consecutive_failures == 0  # the last run succeeded


def replay_harness() -> tuple[Harness, str]:
    """A job whose workers never start by themselves, with three missed nights to replay."""
    h = Harness(utc(2026, 11, 1, 12, 0), inline=False)
    h.registry.add("ok", lambda ctx: None)
    h.service.register_job("job", "0 2 * * *", "ok")
    h.service.jobs.pause_job("job")
    h.clock.set(utc(2026, 11, 5, 12, 0))
    h.service.jobs.resume_job("job")
    view, _ = h.service.replays.create("job", body("2026-11-02T00:00:00Z", "2026-11-05T00:00:00Z", only="missed"))
    assert slots(view) == ["2026-11-02T02:00:00Z", "2026-11-03T02:00:00Z", "2026-11-04T02:00:00Z"]
    return h, view.replay.replay_id


def run_worker(h: Harness, job: str, execution_id: str) -> None:
    h.engine.worker.run(WorkerEvent(job, execution_id), worker_id="w1")


def test_replay_slots_start_one_per_tick_oldest_first_and_never_while_a_run_is_in_flight():
    h, rid = replay_harness()
    first = h.tick(utc(2026, 11, 5, 12, 1)).claimed
    assert [e for _, e in first] == [f"20261102T020000000Z-r{rid}-a01"]
    assert h.tick(utc(2026, 11, 5, 12, 2)).claimed == []  # its run is in flight
    assert h.service.replays.get("job", rid).replay.slots[0].state is SlotState.RUNNING
    run_worker(h, "job", first[0][1])
    h.clock.set(utc(2026, 11, 5, 12, 2, 30))
    h.service.trigger_job("job")  # the job's own run, in flight: the replay waits
    assert h.tick(utc(2026, 11, 5, 12, 3)).claimed == []
    from chalicelib.core import replays
    assert replays.progress(h.service.replays.get("job", rid).replay, h.service.reads.get_job("job"))[1] == \
        "waiting: a run of the job is in flight"
    run_worker(h, "job", h.service.reads.get_job("job").lease.execution_id)
    second = h.tick(utc(2026, 11, 5, 12, 4)).claimed
    assert [e for _, e in second] == [f"20261103T020000000Z-r{rid}-a01"]
    view = h.service.replays.get("job", rid)
    assert [(s.state, s.outcome) for s in view.replay.slots] == [
        (SlotState.DONE, ExecutionStatus.SUCCEEDED), (SlotState.RUNNING, None), (SlotState.PENDING, None)]


def test_the_jobs_own_slot_coming_due_while_a_replay_slot_runs_is_skipped_by_the_overlap_rule():
    h, rid = replay_harness()
    claimed = h.tick(utc(2026, 11, 6, 1, 59)).claimed  # the replay's first slot, still running at 02:00
    report = h.tick(utc(2026, 11, 6, 2, 0))
    assert report.claimed == [] and report.skipped == 1
    run_worker(h, "job", claimed[0][1])
    assert len(h.tick(utc(2026, 11, 6, 2, 1)).claimed) == 1  # then the replay goes on


def test_a_paused_jobs_replay_waits_and_says_so():
    h, rid = replay_harness()
    h.service.jobs.pause_job("job", "maintenance")
    from chalicelib.core import replays
    assert h.tick(utc(2026, 11, 5, 12, 1)).claimed == []
    assert replays.progress(h.service.replays.get("job", rid).replay, h.service.reads.get_job("job")) == (
        "active", "waiting: job paused")
    h.clock.set(utc(2026, 11, 5, 12, 2))
    h.service.jobs.resume_job("job")
    assert [e for _, e in h.tick(utc(2026, 11, 5, 12, 3)).claimed] == [f"20261102T020000000Z-r{rid}-a01"]


def test_cancel_drops_the_slots_not_started_and_lets_the_running_one_finish():
    h, rid = replay_harness()
    [(_, running)] = h.tick(utc(2026, 11, 5, 12, 1)).claimed
    h.clock.set(utc(2026, 11, 5, 12, 1, 30))
    view = h.service.replays.cancel("job", rid)
    assert view.replay.status is ReplayStatus.CANCELLED
    assert [s.state for s in view.replay.slots] == [SlotState.RUNNING, SlotState.CANCELLED, SlotState.CANCELLED]
    with pytest.raises(ReplayInProgress):  # until its running slot has ended
        h.service.replays.create("job", body("2026-11-02T00:00:00Z", "2026-11-05T00:00:00Z", only="all"))
    run_worker(h, "job", running)
    assert h.tick(utc(2026, 11, 5, 12, 2)).claimed == []
    done = h.service.replays.get("job", rid).replay
    assert [(s.state, s.outcome) for s in done.slots] == [
        (SlotState.DONE, ExecutionStatus.SUCCEEDED), (SlotState.CANCELLED, None), (SlotState.CANCELLED, None)]
    assert done.status is ReplayStatus.CANCELLED and h.service.reads.get_job("job").replay is None
    assert h.tick(utc(2026, 11, 5, 12, 3)).claimed == []
    again, created = h.service.replays.create("job", body("2026-11-02T00:00:00Z", "2026-11-05T00:00:00Z", only="missed"))
    assert created and slots(again) == ["2026-11-03T02:00:00Z", "2026-11-04T02:00:00Z"]


def test_cancel_with_nothing_in_flight_ends_the_replay_at_once():
    h, rid = replay_harness()
    view = h.service.replays.cancel("job", rid)
    assert view.replay.status is ReplayStatus.CANCELLED and h.service.reads.get_job("job").replay is None
    assert h.tick(utc(2026, 11, 5, 12, 1)).claimed == []
    assert h.service.replays.cancel("job", rid).replay.status is ReplayStatus.CANCELLED  # again: no change


def test_an_idempotency_key_returns_the_same_replay_and_a_second_active_replay_is_refused():
    h, rid = replay_harness()
    request = body("2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z", only="all")
    with pytest.raises(ReplayInProgress):
        h.service.replays.create("job", request)
    h.service.replays.cancel("job", rid)
    first, created = h.service.replays.create("job", body("2026-11-02T00:00:00Z", "2026-11-05T00:00:00Z", only="missed"),
                                      idempotency_key="night-redo")
    again, created_again = h.service.replays.create(
        "job", body("2026-11-02T00:00:00Z", "2026-11-05T00:00:00Z", only="missed"), idempotency_key="night-redo")
    assert created is True and created_again is False
    assert again.replay.replay_id == first.replay.replay_id
    assert len(h.store.list_replays("job", limit=10, cursor=None).items) == 2
    with pytest.raises(IdempotencyKeyReused):
        h.service.replays.create("job", body("2026-11-02T00:00:00Z", "2026-11-05T00:00:00Z", only="all"),
                         idempotency_key="night-redo")


def test_list_shows_replays_newest_first(history):
    first, _ = history.service.replays.create("report", body("2026-11-03T00:00:00Z", "2026-11-04T00:00:00Z"))
    history.service.replays.cancel("report", first.replay.replay_id)
    history.clock.set(datetime(2026, 11, 7, 12, 0, 5, tzinfo=first.replay.created_at.tzinfo))
    second, _ = history.service.replays.create("report", body("2026-11-04T00:00:00Z", "2026-11-05T00:00:00Z"))
    page, job = history.service.replays.list_for_job("report", limit=1)
    assert [r.replay_id for r in page.items] == [second.replay.replay_id] and page.next_cursor
    rest, _ = history.service.replays.list_for_job("report", limit=1, cursor=page.next_cursor)
    assert [r.replay_id for r in rest.items] == [first.replay.replay_id] and rest.next_cursor is None
