"""The local stack's worker pool: bounded like reserved concurrency, and nothing lost."""
from __future__ import annotations

import threading
import time

from chalicelib.adapters.invoker import ThreadInvoker


def test_runs_past_the_concurrency_wait_their_turn_and_every_run_happens():
    lock = threading.Lock()
    running, peak, done = 0, 0, []
    release = threading.Event()

    def run(job_name: str, execution_id: str, worker_id: str) -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        release.wait(5)
        with lock:
            running -= 1
            done.append(execution_id)

    invoker = ThreadInvoker(run, concurrency=4)
    for i in range(50):
        invoker.invoke("job", f"run-{i:02d}")
    time.sleep(0.2)
    assert running == 4  # the pool is full, and no fuller
    release.set()
    assert invoker.shutdown(wait_seconds=5) == 0
    assert peak == 4
    assert sorted(done) == [f"run-{i:02d}" for i in range(50)]


def test_a_crashing_run_does_not_take_its_thread_with_it():
    seen = []

    def run(job_name: str, execution_id: str, worker_id: str) -> None:
        seen.append(execution_id)
        if execution_id == "bad":
            raise RuntimeError("boom")

    invoker = ThreadInvoker(run, concurrency=1)
    for execution_id in ("bad", "good-1", "good-2"):
        invoker.invoke("job", execution_id)
    assert invoker.shutdown(wait_seconds=5) == 0
    assert seen == ["bad", "good-1", "good-2"]  # and first come, first served


def test_shutdown_waits_a_bounded_time_and_says_how_many_are_left():
    stuck = threading.Event()
    invoker = ThreadInvoker(lambda *args: stuck.wait(10), concurrency=2)
    for i in range(3):
        invoker.invoke("job", f"run-{i}")
    started = time.monotonic()
    assert invoker.shutdown(wait_seconds=0.3) == 3  # two running, one queued
    assert time.monotonic() - started < 2
    stuck.set()
    assert invoker.shutdown(wait_seconds=5) == 0
