"""The local stack's worker pool: bounded like reserved concurrency, and nothing lost."""
from __future__ import annotations

import threading
import time

from chalicelib.adapters.invoker import ThreadInvoker
from chalicelib.core.worker_event import WorkerEvent


def test_runs_past_the_concurrency_wait_their_turn_and_every_run_happens():
    lock = threading.Lock()
    running, peak, done = 0, 0, []
    release = threading.Event()

    def run(event: WorkerEvent, worker_id: str) -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        release.wait(5)
        with lock:
            running -= 1
            done.append(event.execution_id)

    invoker = ThreadInvoker(run, concurrency=4)
    for i in range(50):
        invoker.invoke(WorkerEvent("job", f"run-{i:02d}"))
    time.sleep(0.2)
    assert running == 4  # the pool is full, and no fuller
    release.set()
    assert invoker.shutdown(wait_seconds=5) == 0
    assert peak == 4
    assert sorted(done) == [f"run-{i:02d}" for i in range(50)]


def test_a_crashing_run_does_not_take_its_thread_with_it():
    seen = []

    def run(event: WorkerEvent, worker_id: str) -> None:
        seen.append(event.execution_id)
        if event.execution_id == "bad":
            raise RuntimeError("boom")

    invoker = ThreadInvoker(run, concurrency=1)
    for execution_id in ("bad", "good-1", "good-2"):
        invoker.invoke(WorkerEvent("job", execution_id))
    assert invoker.shutdown(wait_seconds=5) == 0
    assert seen == ["bad", "good-1", "good-2"]  # and first come, first served


def test_shutdown_waits_a_bounded_time_and_says_how_many_are_left():
    stuck = threading.Event()
    invoker = ThreadInvoker(lambda *args: stuck.wait(10), concurrency=2)
    for i in range(3):
        invoker.invoke(WorkerEvent("job", f"run-{i}"))
    started = time.monotonic()
    assert invoker.shutdown(wait_seconds=0.3) == 3  # two running, one queued
    assert time.monotonic() - started < 2
    stuck.set()
    assert invoker.shutdown(wait_seconds=5) == 0


def test_scheduled_runs_waiting_for_the_pool_go_before_manual_ones():
    order: list[str] = []
    busy = threading.Event()
    release = threading.Event()

    def run(event: WorkerEvent, worker_id: str) -> None:
        order.append(event.execution_id)
        if event.execution_id == "busy":
            busy.set()
            release.wait(5)

    invoker = ThreadInvoker(run, concurrency=1)
    invoker.invoke(WorkerEvent("job", "busy"), manual=True)
    assert busy.wait(5)  # the one worker is taken; everything below waits
    for execution_id, manual in [("manual-1", True), ("manual-2", True), ("scheduled-1", False),
                                 ("manual-3", True), ("scheduled-2", False)]:
        invoker.invoke(WorkerEvent("job", execution_id), manual=manual)
    release.set()
    assert invoker.shutdown(wait_seconds=5) == 0
    assert order == ["busy", "scheduled-1", "scheduled-2", "manual-1", "manual-2", "manual-3"]


def test_the_scheduler_puts_a_callers_triggers_behind_the_schedule_on_a_pool_of_one():
    """The whole path: triggers and a tick through the service, one local worker."""
    from chalicelib.adapters.memory_store import MemoryStore
    from chalicelib.bootstrap import build_scheduler
    from chalicelib.jobs.registry import JobRegistry
    from tests.fakes import FakeClock, FakeNotifier, FixedRandom, RecordingMetrics, utc

    clock = FakeClock(utc(2026, 11, 28, 20, 0, 30))
    order: list[str] = []
    busy, release = threading.Event(), threading.Event()

    def hold(ctx) -> None:
        order.append(ctx.job_name)
        if ctx.job_name == "blocker":
            busy.set()
            release.wait(5)

    registry = JobRegistry()
    registry.add("hold", hold)
    store = MemoryStore(clock=clock)
    scheduler = build_scheduler(store=store, handlers=registry, make_invoker=lambda run: ThreadInvoker(run, concurrency=1),
                                notifier=FakeNotifier(), metrics=RecordingMetrics(), clock=clock, rand=FixedRandom(0.0))
    service, invoker = scheduler.service, scheduler.invoker
    for name in ("blocker", "manual-1", "manual-2", "manual-3"):
        service.register_job(name, "0 3 * * *", "hold")
    for name in ("nightly-1", "nightly-2"):
        service.register_job(name, "* * * * *", "hold")
    service.trigger_job("blocker")
    assert busy.wait(5)
    for name in ("manual-1", "manual-2", "manual-3"):
        clock.advance(seconds=1)
        service.trigger_job(name)
    clock.set(utc(2026, 11, 28, 20, 1))
    assert len(scheduler.engine.dispatcher.tick(clock.now()).claimed) == 2
    release.set()
    assert invoker.shutdown(wait_seconds=10) == 0
    assert order[0] == "blocker" and sorted(order[1:3]) == ["nightly-1", "nightly-2"]
    assert order[3:] == ["manual-1", "manual-2", "manual-3"]
