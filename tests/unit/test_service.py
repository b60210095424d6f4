"""The service's behaviour on the memory store, with pinned instants."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from chalicelib.core.errors import JobConflict, JobNotFound, RunInProgress, ValidationFailed
from chalicelib.core.model import AlertState, ExecutionStatus, JobState, Trigger
from chalicelib.core.worker_event import WorkerEvent
from tests.fakes import Harness, rendezvous_commits, utc


def ok(ctx):
    return {"ran": ctx.execution_id}


def boom(ctx):
    raise RuntimeError("database said no")


@pytest.fixture
def h() -> Harness:
    harness = Harness(utc(2026, 11, 28, 20, 0, 0))
    harness.registry.add("ok", ok)
    harness.registry.add("boom", boom)
    return harness


def test_register_computes_next_slot_in_the_jobs_time_zone(h):
    job = h.service.register_job("nightly", "0 2 * * *", "ok", timezone="Europe/Oslo")
    assert job.next_run_at == utc(2026, 11, 29, 1, 0)
    assert job.state is JobState.ACTIVE and job.consecutive_failures == 0


def test_register_is_idempotent_for_the_same_definition_and_conflicts_for_another(h):
    first = h.service.register_job("nightly", "0 2 * * *", "ok")
    again, created = h.service.jobs.register_definition(first.definition)
    assert created is False and again.version == first.version
    with pytest.raises(JobConflict):
        h.service.register_job("nightly", "0 3 * * *", "ok")


def test_register_refuses_bad_input_naming_every_field(h):
    with pytest.raises(ValidationFailed) as err:
        h.service.register_job("Bad_Name", "0 2 * * * *", "nope", timezone="Mars/Base", timeout_seconds=0)
    fields = {e.field for e in err.value.errors}
    assert {"jobName", "cronExpression", "handler", "timezone", "timeoutSeconds"} <= fields
    assert h.store.list_jobs(limit=10, cursor=None).items == []


def test_register_accepts_a_callable_handler(h):
    calls = []
    h.service.register_job("inline-fn", "* * * * *", lambda ctx: calls.append(ctx.attempt))
    h.tick(utc(2026, 11, 28, 20, 1))
    assert calls == [1]


def test_a_due_slot_is_claimed_once_and_run_by_the_worker(h):
    h.service.register_job("every-minute", "* * * * *", "ok")
    report = h.tick(utc(2026, 11, 28, 20, 1))
    assert len(report.claimed) == 1
    again = h.tick(utc(2026, 11, 28, 20, 1))  # the same event delivered twice
    assert again.claimed == []
    [execution] = h.executions("every-minute")
    assert execution.status is ExecutionStatus.SUCCEEDED
    assert execution.scheduled_for == utc(2026, 11, 28, 20, 1)
    assert execution.idempotency_key == "every-minute@2026-11-28T20:01:00Z"
    assert execution.result == {"ran": execution.execution_id}
    job = h.service.reads.get_job("every-minute")
    assert job.last_execution.status is ExecutionStatus.SUCCEEDED
    assert job.next_run_at == utc(2026, 11, 28, 20, 2)
    assert job.lease is None


def test_concurrent_ticks_claim_each_slot_once(h):
    h.service.register_job("every-minute", "* * * * *", "ok")
    h.clock.set(utc(2026, 11, 28, 20, 1))
    barrier = threading.Barrier(8)
    rendezvous_commits(h.store, 8)  # all eight have planned the same claim before any writes

    claims: list[int] = []

    def tick():
        barrier.wait()
        claims.append(len(h.engine.dispatcher.tick(utc(2026, 11, 28, 20, 1)).claimed))

    threads = [threading.Thread(target=tick) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claims) == [0] * 7 + [1]
    assert len(h.executions("every-minute")) == 1


def test_failed_attempts_retry_with_backoff_then_alert_once_and_recover(h):
    h.service.register_job("flaky", "0 2 * * *", "boom", retry={"maxAttempts": 3, "initialDelaySeconds": 60,
                                                                 "maxDelaySeconds": 3600}, alert_after_failures=3)
    h.tick(utc(2026, 11, 29, 2, 0))
    job = h.service.reads.get_job("flaky")
    assert job.consecutive_failures == 1
    assert job.pending_retry.attempt == 2
    assert job.pending_retry.due_at == utc(2026, 11, 29, 2, 1)  # 60 s, no jitter with random()=0
    h.tick(utc(2026, 11, 29, 2, 0, 59))
    assert len(h.executions("flaky")) == 1  # not before its time
    h.tick(utc(2026, 11, 29, 2, 1))
    job = h.service.reads.get_job("flaky")
    assert job.pending_retry.due_at == utc(2026, 11, 29, 2, 3)  # 120 s after the second failure
    h.tick(utc(2026, 11, 29, 2, 3))
    job = h.service.reads.get_job("flaky")
    assert job.consecutive_failures == 3 and job.pending_retry is None
    assert job.alert_state is AlertState.ALERTING
    runs = sorted(h.executions("flaky"), key=lambda e: e.attempt)
    assert [(e.attempt, e.trigger, e.status) for e in runs] == [
        (1, Trigger.SCHEDULE, ExecutionStatus.FAILED),
        (2, Trigger.RETRY, ExecutionStatus.FAILED),
        (3, Trigger.RETRY, ExecutionStatus.FAILED),
    ]
    assert {e.idempotency_key for e in runs} == {"flaky@2026-11-29T02:00:00Z"}
    assert runs[0].error.type == "RuntimeError" and "database said no" in runs[0].error.message
    assert h.notifier.kinds() == ["alert"]
    alert = h.notifier.sent[0]
    assert alert.message["consecutiveFailures"] == 3 and alert.message["lastError"]["type"] == "RuntimeError"
    assert "flaky" in alert.subject

    # the next night fails again: still one alert for the streak
    h.tick(utc(2026, 11, 30, 2, 0))
    assert h.notifier.kinds() == ["alert"]
    h.registry._handlers["boom"] = h.registry.get("ok").__class__("boom", "", ok)  # the fix is deployed
    h.tick(utc(2026, 11, 30, 2, 1))
    job = h.service.reads.get_job("flaky")
    assert job.consecutive_failures == 0 and job.alert_state is AlertState.OK
    assert h.notifier.kinds() == ["alert", "recovery"]
    assert h.metrics.total("ExecutionFailed", "flaky") == 4
    assert h.metrics.total("ExecutionSucceeded", "flaky") == 1


def test_a_slot_that_comes_due_while_a_run_is_in_flight_is_skipped():
    h = Harness(utc(2026, 11, 28, 20, 0), inline=False)  # the worker never starts
    h.registry.add("ok", ok)
    h.service.register_job("every-minute", "* * * * *", "ok", timeout_seconds=300)
    h.tick(utc(2026, 11, 28, 20, 1))
    h.tick(utc(2026, 11, 28, 20, 2))
    statuses = sorted((e.scheduled_for, e.status) for e in h.executions("every-minute"))
    assert statuses == [(utc(2026, 11, 28, 20, 1), ExecutionStatus.QUEUED),
                        (utc(2026, 11, 28, 20, 2), ExecutionStatus.SKIPPED)]
    assert h.service.get_last_execution_result("every-minute").status is ExecutionStatus.QUEUED


def test_an_expired_lease_is_timed_out_and_retried_and_the_late_worker_cannot_overwrite_it():
    h = Harness(utc(2026, 11, 28, 20, 0), inline=False)
    h.registry.add("ok", ok)
    h.service.register_job("nightly", "0 21 * * *", "ok", timeout_seconds=60,
                           retry={"maxAttempts": 2, "initialDelaySeconds": 30, "maxDelaySeconds": 30})
    h.tick(utc(2026, 11, 28, 21, 0))
    [(job_name, execution_id)] = h.invoker.invocations
    # 60 s timeout + 60 s margin: at 21:02 the lease has run out.
    h.tick(utc(2026, 11, 28, 21, 2))
    first = h.store.get_execution("nightly", execution_id)
    assert first.status is ExecutionStatus.TIMED_OUT and first.error.type == "LeaseExpired"
    job = h.service.reads.get_job("nightly")
    assert job.consecutive_failures == 1 and job.pending_retry.attempt == 2
    # the original worker wakes up now: nothing it does changes the recorded state
    assert h.engine.worker.run(WorkerEvent(job_name, execution_id), worker_id="zombie") is None
    assert h.store.get_execution("nightly", execution_id).status is ExecutionStatus.TIMED_OUT
    h.tick(utc(2026, 11, 28, 21, 2, 30))
    retry_id = h.invoker.invocations[-1][1]
    final = h.engine.worker.run(WorkerEvent("nightly", retry_id), worker_id="w2")
    assert final.status is ExecutionStatus.SUCCEEDED and final.attempt == 2


def test_a_worker_that_finishes_after_its_lease_was_broken_keeps_the_newer_state():
    h = Harness(utc(2026, 11, 28, 20, 0), inline=False)
    started = threading.Event()
    release = threading.Event()

    def slow(ctx):
        started.set()
        release.wait(5)
        return {"late": True}

    h.registry.add("slow", slow)
    h.service.register_job("slow-job", "0 21 * * *", "slow", timeout_seconds=30,
                           retry={"maxAttempts": 1, "initialDelaySeconds": 1, "maxDelaySeconds": 1})
    h.tick(utc(2026, 11, 28, 21, 0))
    _, execution_id = h.invoker.invocations[0]
    result: dict = {}
    worker = threading.Thread(target=lambda: result.setdefault("final", h.engine.worker.run(
        WorkerEvent("slow-job", execution_id), worker_id="w1")))
    worker.start()
    assert started.wait(5)
    h.tick(utc(2026, 11, 28, 21, 5))  # lease (30 s + 60 s) long gone
    release.set()
    worker.join(5)
    assert result["final"] is None
    assert h.store.get_execution("slow-job", execution_id).status is ExecutionStatus.TIMED_OUT


def test_a_handler_past_its_timeout_is_recorded_timed_out(h):
    def sleepy(ctx):
        time.sleep(3)

    h.registry.add("sleepy", sleepy)
    h.service.register_job("sleepy-job", "* * * * *", "sleepy", timeout_seconds=1,
                           retry={"maxAttempts": 1, "initialDelaySeconds": 1, "maxDelaySeconds": 1})
    h.tick(utc(2026, 11, 28, 20, 1))
    [execution] = h.executions("sleepy-job")
    assert execution.status is ExecutionStatus.TIMED_OUT and execution.error.type == "Timeout"
    assert h.service.reads.get_job("sleepy-job").consecutive_failures == 1


def test_three_hours_of_downtime_coalesce_within_grace_and_are_missed_beyond_it(h):
    h.service.register_job("within-grace", "*/5 * * * *", "ok", misfire_grace_seconds=600)
    h.service.register_job("beyond-grace", "0 * * * *", "ok", misfire_grace_seconds=60, alert_after_failures=1)
    h.tick(utc(2026, 11, 28, 23, 2))  # last tick was at 20:00: three hours down
    [run] = h.executions("within-grace")
    assert run.status is ExecutionStatus.SUCCEEDED and run.scheduled_for == utc(2026, 11, 28, 23, 0)
    [missed] = h.executions("beyond-grace")
    assert missed.status is ExecutionStatus.MISSED and missed.scheduled_for == utc(2026, 11, 28, 23, 0)
    assert "2 older slot(s) coalesced" in missed.error.message
    job = h.service.reads.get_job("beyond-grace")
    assert job.consecutive_failures == 1 and job.alert_state is AlertState.ALERTING
    assert job.next_run_at == utc(2026, 11, 29, 0, 0)
    assert h.service.reads.get_job("within-grace").next_run_at == utc(2026, 11, 28, 23, 5)


def test_manual_trigger_runs_now_and_an_idempotency_key_returns_the_same_execution(h):
    h.service.register_job("report", "0 2 * * *", "ok", payload={"a": 1})
    seen = []
    h.registry._handlers["ok"] = h.registry.get("ok").__class__("ok", "", lambda ctx: seen.append(dict(ctx.payload)))
    first = h.service.trigger_job("report", idempotency_key="abc", payload={"b": 2})
    again = h.service.trigger_job("report", idempotency_key="abc", payload={"b": 2})
    assert first.execution_id == again.execution_id
    assert first.trigger is Trigger.MANUAL
    assert first.idempotency_key == "report@2026-11-28T20:00:00.001Z"  # the contract's formula, not the header
    assert seen == [{"a": 1, "b": 2}]
    assert h.service.reads.get_job("report").definition.payload == {"a": 1}


def test_manual_trigger_is_refused_while_a_run_is_in_flight():
    h = Harness(utc(2026, 11, 28, 20, 0), inline=False)
    h.registry.add("ok", ok)
    h.service.register_job("report", "0 2 * * *", "ok")
    h.service.trigger_job("report")
    with pytest.raises(RunInProgress):
        h.service.trigger_job("report")


def test_pause_stops_schedules_but_not_manual_runs_and_resume_replays_nothing(h):
    h.service.register_job("every-minute", "* * * * *", "ok")
    paused = h.service.jobs.pause_job("every-minute", "maintenance")
    assert paused.state is JobState.PAUSED and paused.pause_reason == "maintenance"
    h.tick(utc(2026, 11, 28, 20, 5))
    assert h.executions("every-minute") == []
    h.service.trigger_job("every-minute")
    assert len(h.executions("every-minute")) == 1
    h.clock.set(utc(2026, 11, 28, 21, 0, 30))
    resumed = h.service.jobs.resume_job("every-minute")
    assert resumed.state is JobState.ACTIVE and resumed.next_run_at == utc(2026, 11, 28, 21, 1)
    h.tick(utc(2026, 11, 28, 21, 1))
    assert len(h.executions("every-minute")) == 2


def test_pause_after_failures_pauses_the_job_with_a_reason(h):
    h.service.register_job("fragile", "* * * * *", "boom", pause_after_failures=2,
                           retry={"maxAttempts": 1, "initialDelaySeconds": 1, "maxDelaySeconds": 1})
    h.tick(utc(2026, 11, 28, 20, 1))
    h.tick(utc(2026, 11, 28, 20, 2))
    job = h.service.reads.get_job("fragile")
    assert job.state is JobState.PAUSED and "2 consecutive failures" in job.pause_reason
    h.tick(utc(2026, 11, 28, 20, 3))
    assert len(h.executions("fragile")) == 2


def test_an_alert_that_cannot_be_published_stays_in_the_outbox_until_it_is_sent(h):
    h.notifier.failing = True
    h.service.register_job("fragile", "* * * * *", "boom", alert_after_failures=1,
                           retry={"maxAttempts": 1, "initialDelaySeconds": 1, "maxDelaySeconds": 1})
    h.tick(utc(2026, 11, 28, 20, 1))
    job = h.service.reads.get_job("fragile")
    assert job.alert_state is AlertState.ALERTING and len(job.outbox) == 1 and h.notifier.sent == []
    h.service.jobs.pause_job("fragile")
    h.tick(utc(2026, 11, 28, 20, 2))  # still failing: kept, next attempt two minutes on
    (kept,) = h.service.reads.get_job("fragile").outbox
    assert kept.attempts == 2 and kept.next_attempt_at == utc(2026, 11, 28, 20, 4)
    h.notifier.failing = False
    h.tick(utc(2026, 11, 28, 20, 3))  # backed off: not tried
    assert h.notifier.sent == [] and h.notifier.attempts == 2
    h.tick(utc(2026, 11, 28, 20, 4))
    assert h.notifier.kinds() == ["alert"]
    assert h.service.reads.get_job("fragile").outbox == ()
    h.tick(utc(2026, 11, 28, 20, 5))
    assert h.notifier.kinds() == ["alert"]


def test_cancel_removes_the_job_but_keeps_its_history(h):
    h.service.register_job("every-minute", "* * * * *", "ok")
    h.tick(utc(2026, 11, 28, 20, 1))
    h.service.cancel_job("every-minute")
    with pytest.raises(JobNotFound):
        h.service.reads.get_job("every-minute")
    h.tick(utc(2026, 11, 28, 20, 2))
    assert len(h.executions("every-minute")) == 1
    with pytest.raises(JobNotFound):
        h.service.cancel_job("every-minute")


def test_list_scheduled_jobs_returns_every_job(h):
    for i in range(120):
        h.service.register_job(f"job-{i:03d}", "0 2 * * *", "ok")
    names = [j.name for j in h.service.list_scheduled_jobs()]
    assert names == sorted(names) and len(names) == 120


def test_retry_backoff_is_capped_and_jittered_down_only():
    from chalicelib.core.model import RetryPolicy
    from chalicelib.core.policies import retry_delay
    from tests.fakes import FixedRandom

    policy = RetryPolicy(max_attempts=10, initial_delay_seconds=60, max_delay_seconds=600)
    assert [retry_delay(policy, n, FixedRandom(0.0)).total_seconds() for n in range(1, 6)] == [60, 120, 240, 480, 600]
    assert retry_delay(policy, 1, FixedRandom(0.999)).total_seconds() == pytest.approx(48.01, abs=0.01)
    assert retry_delay(policy, 9, FixedRandom(0.5)) == timedelta(seconds=540)


def test_code_defined_jobs_survive_a_redeploy_and_take_a_changed_definition(h):
    from dataclasses import replace as change

    from chalicelib.core.model import JobDefinition

    definition = JobDefinition(job_name="nightly", cron_expression="0 2 * * *", handler="ok", timezone="Europe/Oslo")
    first = h.service.jobs.ensure_job(definition)
    h.tick(utc(2026, 11, 29, 1, 0))
    before = h.service.reads.get_job("nightly")
    again = h.service.jobs.ensure_job(definition)  # a redeploy with the same code
    assert again.version == before.version and again.last_execution == before.last_execution
    assert again.next_run_at == utc(2026, 11, 30, 1, 0) and first.created_at == again.created_at
    h.clock.set(utc(2026, 11, 29, 12, 0))
    retimed = h.service.jobs.ensure_job(change(definition, cron_expression="30 3 * * *"))
    assert retimed.definition.cron_expression == "30 3 * * *"
    assert retimed.next_run_at == utc(2026, 11, 30, 2, 30)
    assert retimed.last_execution.status is ExecutionStatus.SUCCEEDED  # history kept
    longer = h.service.jobs.ensure_job(change(definition, cron_expression="30 3 * * *", timeout_seconds=900))
    assert longer.next_run_at == retimed.next_run_at and longer.definition.timeout_seconds == 900


def test_a_manual_run_exactly_on_a_slot_does_not_take_the_slots_place(h):
    h.service.register_job("every-minute", "* * * * *", "ok")
    h.clock.set(utc(2026, 11, 28, 20, 1))
    manual = h.service.trigger_job("every-minute")
    assert manual.scheduled_for == utc(2026, 11, 28, 20, 1) + timedelta(milliseconds=1)
    h.tick(utc(2026, 11, 28, 20, 1))
    runs = sorted((e.trigger, e.status) for e in h.executions("every-minute"))
    assert runs == [(Trigger.MANUAL, ExecutionStatus.SUCCEEDED), (Trigger.SCHEDULE, ExecutionStatus.SUCCEEDED)]


@pytest.mark.parametrize("finish_on_the_started_job", [False, True])
def test_a_run_whose_job_is_cancelled_while_it_runs_still_records_its_outcome(finish_on_the_started_job):
    """Also when the finish first commits on the job its start stored (now stale)."""
    h = Harness(utc(2026, 11, 28, 20, 0), inline=False)
    h.registry.add("ok", ok)
    h.service.register_job("doomed", "0 21 * * *", "ok")
    h.tick(utc(2026, 11, 28, 21, 0))
    [(_, execution_id)] = h.invoker.invocations
    job, running = h.engine.worker.start("doomed", execution_id, "w1")
    h.service.cancel_job("doomed")
    final = h.engine.worker.finish("doomed", running, "w1", ExecutionStatus.SUCCEEDED, {"done": True}, None,
                                    known_job=job if finish_on_the_started_job else None)
    assert final.status is ExecutionStatus.SUCCEEDED
    assert h.store.get_execution("doomed", execution_id).status is ExecutionStatus.SUCCEEDED
    assert h.store.get_job("doomed") is None  # the stale job was not written back


def test_a_run_whose_job_is_cancelled_before_it_starts_is_closed_as_skipped():
    h = Harness(utc(2026, 11, 28, 20, 0), inline=False)
    h.registry.add("ok", ok)
    h.service.register_job("doomed", "0 21 * * *", "ok")
    h.tick(utc(2026, 11, 28, 21, 0))
    [(_, execution_id)] = h.invoker.invocations
    h.service.cancel_job("doomed")
    assert h.engine.worker.run(WorkerEvent("doomed", execution_id), worker_id="w1") is None
    closed = h.store.get_execution("doomed", execution_id)
    assert closed.status is ExecutionStatus.SKIPPED and "cancelled" in closed.result["reason"]


def test_a_cancelled_jobs_history_stays_readable_and_a_new_job_of_that_name_starts_clean(h):
    h.service.register_job("reused", "* * * * *", "ok")
    h.tick(utc(2026, 11, 28, 20, 1))
    h.service.cancel_job("reused")
    assert len(h.service.reads.list_executions("reused").items) == 1  # the retained history
    with pytest.raises(JobNotFound):
        h.service.reads.list_executions("never-existed")
    h.clock.set(utc(2026, 11, 28, 20, 5))
    h.service.register_job("reused", "* * * * *", "ok")
    page = h.service.reads.list_executions("reused")
    assert page.items == [] and page.next_cursor is None
    h.tick(utc(2026, 11, 28, 20, 6))
    assert [e.scheduled_for for e in h.service.reads.list_executions("reused").items] == [utc(2026, 11, 28, 20, 6)]


def test_the_same_idempotency_key_from_concurrent_requests_returns_one_execution():
    h = Harness(utc(2026, 11, 28, 20, 0), inline=False)
    h.registry.add("ok", ok)
    h.service.register_job("report", "0 2 * * *", "ok")
    barrier = threading.Barrier(10)
    rendezvous_commits(h.store, 10)  # all ten found no record for the key before any writes
    results: list = []

    def trigger():
        barrier.wait()
        try:
            results.append(h.service.trigger_job("report", idempotency_key="same").execution_id)
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=trigger) for _ in range(10)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(set(results)) == 1 and isinstance(results[0], str)
    assert len(h.executions("report")) == 1
    assert len(h.invoker.invocations) == 1  # one claim landed; the nine others found its record


def test_an_idempotency_key_reused_with_another_payload_is_refused(h):
    from chalicelib.core.errors import IdempotencyKeyReused

    h.service.register_job("report", "0 2 * * *", "ok")
    h.service.trigger_job("report", idempotency_key="k", payload={"a": 1})
    with pytest.raises(IdempotencyKeyReused):
        h.service.trigger_job("report", idempotency_key="k", payload={"a": 2})


def test_the_merged_payload_of_a_trigger_is_held_to_the_size_limit(h):
    h.service.register_job("report", "0 2 * * *", "ok", payload={"big": "x" * 12000})
    with pytest.raises(ValidationFailed) as err:
        h.service.trigger_job("report", payload={"more": "y" * 12000})
    assert err.value.errors[0].field == "payload"


def test_register_job_with_a_callable_adds_it_only_once_the_definition_validates(h):
    def nightly(ctx):
        return None

    with pytest.raises(ValidationFailed):
        h.service.register_job("late-report", "cron(0 2 * * ? *)", nightly)
    assert "late-report" not in h.registry
    h.service.register_job("late-report", "0 2 * * *", nightly)
    assert h.registry.get("late-report").fn is nightly


def test_an_undisturbed_run_reads_its_job_once(h):
    """The finish commits on the job as the start stored it: no second read."""
    h.service.register_job("every-minute", "* * * * *", "ok")
    reads = []
    original = h.store.get_job
    h.store.get_job = lambda name: reads.append(name) or original(name)
    h.tick(utc(2026, 11, 28, 20, 1))
    assert reads == ["every-minute"]  # the worker's start; the dispatcher reads the due page
    assert h.executions("every-minute")[0].status is ExecutionStatus.SUCCEEDED


def test_a_job_paused_while_its_run_runs_keeps_the_pause_and_the_outcome():
    h = Harness(utc(2026, 11, 28, 20, 0))

    def pauses_itself(ctx):
        h.service.jobs.pause_job("self-pausing", "paused mid-run")
        return {"ran": True}

    h.registry.add("pauses-itself", pauses_itself)
    h.service.register_job("self-pausing", "* * * * *", "pauses-itself")
    h.tick(utc(2026, 11, 28, 20, 1))
    [execution] = h.executions("self-pausing")
    assert execution.status is ExecutionStatus.SUCCEEDED and execution.result == {"ran": True}
    job = h.service.reads.get_job("self-pausing")
    assert job.state is JobState.PAUSED and job.pause_reason == "paused mid-run"
    assert job.lease is None and job.last_execution.status is ExecutionStatus.SUCCEEDED
