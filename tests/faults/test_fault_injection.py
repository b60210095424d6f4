"""Failure paths on moto: throttling, dying workers, failing SNS, duplicate events.

moto cannot fail on demand, so faults are injected where the real service would
produce them: a botocore ``before-send`` hook answers a share of DynamoDB requests
with ``ThrottlingException`` (botocore then retries as it would against AWS), and the
SNS hook answers ``InternalError`` until the outage ends. In each case: no execution
is lost, none runs twice, and every state transition is recorded.
"""
from __future__ import annotations

import json
import random
import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from chalicelib.adapters.sns import SnsNotifier
from chalicelib.core.model import AlertState, ExecutionStatus, Trigger
from chalicelib.core.worker_event import WorkerEvent
from tests.fakes import Harness, utc

T0 = utc(2026, 11, 28, 20, 0)


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_kwargs):
        yield self._body


class FaultInjector:
    """Makes moto answer a share of one service's requests with an AWS error.

    It wraps moto's request handler, so a failed request is never applied (as with a
    real throttle), and botocore sees the error and retries exactly as against AWS.
    (A botocore ``before-send`` hook would not do: botocore calls every handler and
    moto would still apply the request.)
    """

    def __init__(self, monkeypatch, *, service: str, share: float, code: str, status: int, seed: int = 7) -> None:
        from moto.core.botocore_stubber import BotocoreStubber

        self.share = share
        self.code = code
        self.status = status
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.injected = 0
        self.passed = 0
        original = BotocoreStubber.__call__
        host = f"//{service}."

        def call(stubber, event_name, request, **kwargs):
            if host in request.url and self._should_fail():
                return self._error(request)
            return original(stubber, event_name, request, **kwargs)

        monkeypatch.setattr(BotocoreStubber, "__call__", call)

    def _should_fail(self) -> bool:
        with self.lock:
            fail = self.rng.random() < self.share
            if fail:
                self.injected += 1
            else:
                self.passed += 1
            return fail

    def _error(self, request):
        body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{self.code}", "message": "injected fault"})
        if "//sns." in request.url:
            body = (f"<ErrorResponse><Error><Type>Receiver</Type><Code>{self.code}</Code>"
                    "<Message>injected fault</Message></Error></ErrorResponse>")
        return AWSResponse(request.url, self.status, {"x-amzn-RequestId": "injected"}, _Raw(body.encode()))


def ok(ctx):
    return {"ok": True}


def dynamo_harness(store_factory, *, inline: bool = True, notifier: Any = None) -> Harness:
    harness = Harness(T0, store=store_factory(), inline=inline, notifier=notifier)
    harness.side_effects = Counter()  # type: ignore[attr-defined]

    def counting(ctx):
        harness.side_effects[(ctx.job_name, ctx.idempotency_key, ctx.attempt)] += 1  # type: ignore[attr-defined]
        return {"ok": True}

    harness.registry.add("count", counting)
    return harness


def assert_every_slot_final_once(harness: Harness, job_name: str, slots: list) -> None:
    executions = harness.executions(job_name)
    by_slot: dict = {}
    for execution in executions:
        assert execution.status.is_final, (execution.execution_id, execution.status)
        by_slot.setdefault(execution.scheduled_for, []).append(execution)
    assert sorted(by_slot) == sorted(slots), f"{job_name}: slots acted on differ from the schedule"
    for slot, attempts in by_slot.items():
        assert sum(e.status is ExecutionStatus.SUCCEEDED for e in attempts) <= 1, slot


def test_dynamodb_throttling_on_a_fifth_of_calls_loses_nothing(store_factory, monkeypatch):
    harness = dynamo_harness(store_factory)
    injector = FaultInjector(monkeypatch, service="dynamodb", share=0.2, code="ThrottlingException", status=400)
    harness.service.register_job("every-minute", "* * * * *", "count", timeout_seconds=60)
    harness.service.register_job("every-five", "*/5 * * * *", "count", timeout_seconds=60)
    for minute in range(1, 61):
        harness.tick(T0 + timedelta(minutes=minute))
    harness.service.jobs.pause_job("every-minute")
    harness.service.jobs.pause_job("every-five")
    # let the lease of any run whose outcome could not be written run out, and its retries finish
    for minute in range(61, 75):
        harness.tick(T0 + timedelta(minutes=minute))
    assert injector.injected > 50
    assert_every_slot_final_once(harness, "every-minute", [T0 + timedelta(minutes=m) for m in range(1, 61)])
    assert_every_slot_final_once(harness, "every-five", [T0 + timedelta(minutes=m) for m in range(5, 61, 5)])
    succeeded = {e.scheduled_for for e in harness.executions("every-minute") if e.status is ExecutionStatus.SUCCEEDED}
    assert len(succeeded) >= 55  # botocore's retries absorb nearly every throttle


def test_a_worker_that_dies_between_claim_and_start_is_timed_out_and_retried(store_factory):
    harness = dynamo_harness(store_factory, inline=False)
    harness.service.register_job("nightly", "0 21 * * *", "count", timeout_seconds=60)
    harness.tick(utc(2026, 11, 28, 21, 0))
    [(_, dead)] = harness.invoker.invocations  # the worker never ran
    harness.tick(utc(2026, 11, 28, 21, 2, 1))  # lease: 60 s timeout + 60 s margin
    timed_out = harness.store.get_execution("nightly", dead)
    assert timed_out.status is ExecutionStatus.TIMED_OUT and "never started" in timed_out.error.message
    job = harness.service.reads.get_job("nightly")
    harness.tick(job.pending_retry.due_at)
    retry_id = harness.invoker.invocations[-1][1]
    final = harness.engine.worker.run(WorkerEvent("nightly", retry_id), worker_id="w2")
    assert final.status is ExecutionStatus.SUCCEEDED and final.trigger is Trigger.RETRY and final.attempt == 2
    # a late duplicate delivery of the first invoke runs nothing
    assert harness.engine.worker.run(WorkerEvent("nightly", dead), worker_id="late") is None
    assert sum(harness.side_effects.values()) == 1


def test_a_worker_that_dies_mid_run_is_timed_out_and_retried(store_factory):
    harness = dynamo_harness(store_factory, inline=False)
    harness.service.register_job("nightly", "0 21 * * *", "count", timeout_seconds=60)
    harness.tick(utc(2026, 11, 28, 21, 0))
    [(_, execution_id)] = harness.invoker.invocations
    started = harness.engine.worker.start("nightly", execution_id, "doomed")  # then the Lambda vanishes
    assert started is not None
    assert harness.store.get_execution("nightly", execution_id).status is ExecutionStatus.RUNNING
    harness.tick(utc(2026, 11, 28, 21, 1, 30))
    assert harness.store.get_execution("nightly", execution_id).status is ExecutionStatus.RUNNING  # lease still valid
    harness.tick(utc(2026, 11, 28, 21, 2, 1))
    dead = harness.store.get_execution("nightly", execution_id)
    assert dead.status is ExecutionStatus.TIMED_OUT and dead.lease_owner == "doomed"
    job = harness.service.reads.get_job("nightly")
    assert job.consecutive_failures == 1 and job.pending_retry.attempt == 2


def test_sns_failing_then_recovering_delivers_the_alert_once(store_factory, monkeypatch):
    import boto3

    sns = boto3.client("sns", region_name="eu-north-1")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    sqs = boto3.client("sqs", region_name="eu-north-1")
    queue_url = sqs.create_queue(QueueName="alert-sink")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    outage = FaultInjector(monkeypatch, service="sns", share=1.0, code="InternalError", status=500)
    harness = dynamo_harness(store_factory, notifier=SnsNotifier(sns, topic))

    def boom(ctx):
        raise RuntimeError("supabase is down")

    harness.registry.add("boom", boom)
    harness.service.register_job("fragile", "* * * * *", "boom", alert_after_failures=2,
                                 retry={"maxAttempts": 1, "initialDelaySeconds": 1, "maxDelaySeconds": 1})
    harness.tick(T0 + timedelta(minutes=1))
    harness.tick(T0 + timedelta(minutes=2))
    job = harness.service.reads.get_job("fragile")
    assert job.alert_state is AlertState.ALERTING and len(job.outbox) == 1
    harness.tick(T0 + timedelta(minutes=3))
    assert outage.injected >= 2 and len(harness.service.reads.get_job("fragile").outbox) == 1
    outage.share = 0.0  # SNS is back
    harness.tick(T0 + timedelta(minutes=4))  # the notice's next attempt is backed off to minute 5
    assert len(harness.service.reads.get_job("fragile").outbox) == 1
    harness.tick(T0 + timedelta(minutes=5))
    assert harness.service.reads.get_job("fragile").outbox == ()
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    bodies = [json.loads(json.loads(m["Body"])["Message"]) for m in messages]
    assert [b["kind"] for b in bodies] == ["alert"]
    assert bodies[0]["jobName"] == "fragile" and bodies[0]["lastError"]["message"] == "supabase is down"


def test_the_same_event_delivered_ten_times_concurrently_runs_once(store_factory):
    harness = dynamo_harness(store_factory)
    harness.service.register_job("every-minute", "* * * * *", "count")
    now = T0 + timedelta(minutes=1)
    harness.clock.set(now)
    barrier = threading.Barrier(10)
    errors: list[BaseException] = []

    def deliver():
        barrier.wait()
        try:
            harness.engine.dispatcher.tick(now)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == []
    [execution] = harness.executions("every-minute")
    assert execution.status is ExecutionStatus.SUCCEEDED
    assert sum(harness.side_effects.values()) == 1


def test_two_dispatchers_with_their_own_clients_claim_each_slot_once(store_factory):
    first = dynamo_harness(store_factory)
    second = Harness(T0, store=store_factory(), registry=first.registry)
    first.service.register_job("every-minute", "* * * * *", "count")
    first.service.register_job("every-two", "*/2 * * * *", "count")
    for minute in range(1, 21):
        now = T0 + timedelta(minutes=minute)
        first.clock.set(now)
        second.clock.set(now)
        threads = [threading.Thread(target=h.engine.dispatcher.tick, args=(now,)) for h in (first, second)]
        [t.start() for t in threads]
        [t.join() for t in threads]
    assert_every_slot_final_once(first, "every-minute", [T0 + timedelta(minutes=m) for m in range(1, 21)])
    assert_every_slot_final_once(first, "every-two", [T0 + timedelta(minutes=m) for m in range(2, 21, 2)])
    assert all(count == 1 for count in first.side_effects.values())
    assert len(first.side_effects) == 30


@pytest.mark.parametrize("phase", ["start", "finish"])
def test_a_store_outage_inside_the_worker_is_recovered_by_the_lease(store_factory, phase):
    harness = dynamo_harness(store_factory)
    harness.service.register_job("nightly", "0 21 * * *", "count", timeout_seconds=60)
    store = harness.store
    original_commit = store.commit
    calls = {"n": 0}

    def failing_commit(job, **kwargs):
        updates = kwargs.get("execution_updates") or ()
        target = ExecutionStatus.QUEUED if phase == "start" else ExecutionStatus.RUNNING
        if updates and updates[0].expected_status is target and calls["n"] == 0:
            calls["n"] += 1
            from chalicelib.core.errors import StoreUnavailable
            raise StoreUnavailable("injected outage")
        return original_commit(job, **kwargs)

    store.commit = failing_commit
    harness.tick(utc(2026, 11, 28, 21, 0))
    first = harness.executions("nightly")[0]
    assert first.status is (ExecutionStatus.QUEUED if phase == "start" else ExecutionStatus.RUNNING)
    harness.tick(utc(2026, 11, 28, 21, 2, 1))
    harness.tick(harness.service.reads.get_job("nightly").pending_retry.due_at)
    statuses = sorted((e.attempt, e.status) for e in harness.executions("nightly"))
    assert statuses == [(1, ExecutionStatus.TIMED_OUT), (2, ExecutionStatus.SUCCEEDED)]
