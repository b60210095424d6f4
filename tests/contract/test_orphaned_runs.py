"""A run whose worker dies after its job was cancelled or replaced still reaches a final status.

The dispatcher finds a dead worker through the expired lease on its job; a job deleted
(or deleted and registered again) no longer holds that lease. The delete therefore
records a watch on the run in the same write (``Store.delete_job(..., orphan=...)``),
and a tick past the lease's expiry closes the run ``timed_out`` if nobody else closed it,
charging no job and alerting nobody. Whichever conditional write lands first (the
worker's outcome or the tick's close) is the run's final status; the other is dropped.
Run on both stores (``store`` is parametrised in conftest.py).
"""
from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.core.errors import ConcurrentUpdate, JobNotFound
from chalicelib.core.model import AlertState, ExecutionStatus, Lease
from chalicelib.core.ports import OrphanedRun
from chalicelib.core.worker_event import WorkerEvent
from tests.fakes import Harness, utc

from .builders import T0, make_job

START = utc(2026, 11, 28, 20, 0)
NAME = "orphaned"
TIMEOUT_SECONDS = 60
LEASE = timedelta(seconds=TIMEOUT_SECONDS + 60)  # timeoutSeconds + the harness's lease margin
OPTIONS: dict[str, Any] = {"timeout_seconds": TIMEOUT_SECONDS, "alert_after_failures": 1,
                           "retry": {"maxAttempts": 3, "initialDelaySeconds": 1, "maxDelaySeconds": 1}}


def harness(store: Any) -> Harness:
    h = Harness(START, inline=False, store=store)
    h.registry.add("job", lambda ctx: "done")
    h.service.register_job(NAME, "0 3 * * *", "job", **OPTIONS)
    return h


def started_then_dead(h: Harness) -> str:
    """Trigger a run and let a worker start it; the worker then dies without a word."""
    execution = h.service.trigger_job(NAME)
    assert h.engine.worker.start(NAME, execution.execution_id, "worker-that-dies") is not None
    return execution.execution_id


def assert_closed_timed_out(h: Harness, execution_id: str) -> None:
    closed = h.service.reads.get_execution(NAME, execution_id)
    assert closed.status is ExecutionStatus.TIMED_OUT and closed.finished_at == h.clock.now()
    assert closed.error is not None and closed.error.type == "LeaseExpired"
    assert "cancelled or replaced" in closed.error.message and closed.error.retryable is False


# --- through the service -----------------------------------------------------------------------


def test_a_run_whose_worker_dies_after_its_job_is_cancelled_is_closed_timed_out_once_its_lease_expires(store):
    h = harness(store)
    execution_id = started_then_dead(h)
    h.clock.advance(seconds=5)
    h.service.cancel_job(NAME)

    h.clock.advance(seconds=LEASE.total_seconds() - 10)  # the lease has not expired yet
    assert h.tick().timed_out == 0
    assert h.service.reads.get_execution(NAME, execution_id).status is ExecutionStatus.RUNNING

    h.clock.advance(seconds=10)
    report = h.tick()
    assert report.timed_out == 1 and report.errors == []
    assert_closed_timed_out(h, execution_id)
    assert h.notifier.sent == [] and h.notifier.attempts == 0
    with pytest.raises(JobNotFound):  # no job was made or charged
        h.service.reads.get_job(NAME)
    assert store.orphaned_runs(h.clock.now(), limit=10) == []
    assert h.tick().timed_out == 0  # closed once; the watch is gone


def test_a_run_whose_worker_dies_after_its_job_is_replaced_is_closed_and_the_new_job_is_untouched(store):
    h = harness(store)
    execution_id = started_then_dead(h)
    h.clock.advance(seconds=5)
    h.service.cancel_job(NAME)
    h.clock.advance(seconds=5)
    new_job = h.service.register_job(NAME, "0 3 * * *", "job", **OPTIONS)

    h.clock.advance(seconds=LEASE.total_seconds())
    assert h.tick().timed_out == 1
    assert_closed_timed_out(h, execution_id)
    assert h.service.reads.get_job(NAME) == new_job
    assert (new_job.consecutive_failures, new_job.alert_state, new_job.lease, new_job.pending_retry) == (
        0, AlertState.OK, None, None)
    assert h.notifier.sent == [] and h.notifier.attempts == 0


def test_a_run_never_started_after_its_job_is_cancelled_is_closed_timed_out_at_its_lease_expiry(store):
    """The invoke was lost: no worker ever came to close it as skipped."""
    h = harness(store)
    queued = h.service.trigger_job(NAME)
    h.service.cancel_job(NAME)

    h.clock.advance(seconds=LEASE.total_seconds())
    assert h.tick().timed_out == 1
    closed = h.service.reads.get_execution(NAME, queued.execution_id)
    assert closed.status is ExecutionStatus.TIMED_OUT and "never started" in closed.error.message


def test_a_worker_that_reports_after_the_tick_closed_its_run_loses(store):
    """First write wins: the tick's close lands, the late worker's outcome is dropped."""
    h = harness(store)
    started, release = threading.Event(), threading.Event()

    def slow(ctx: Any) -> str:
        started.set()
        assert release.wait(20)
        return "too late"

    h.registry.add("slow", slow)
    h.service.cancel_job(NAME)
    h.service.register_job(NAME, "0 3 * * *", "slow", **OPTIONS)
    execution_id = h.service.trigger_job(NAME).execution_id
    results: list[Any] = []
    worker = threading.Thread(target=lambda: results.append(
        h.engine.worker.run(WorkerEvent(NAME, execution_id), worker_id="late-worker")))
    worker.start()
    assert started.wait(20)
    h.service.cancel_job(NAME)

    h.clock.advance(seconds=LEASE.total_seconds())
    assert h.tick().timed_out == 1
    release.set()
    worker.join(20)

    assert results == [None]
    assert_closed_timed_out(h, execution_id)


def test_a_worker_that_reports_before_the_lease_expires_wins_and_the_tick_leaves_its_outcome(store):
    h = harness(store)
    execution_id = h.service.trigger_job(NAME).execution_id
    h.clock.advance(seconds=1)
    h.service.cancel_job(NAME)
    h.clock.advance(seconds=1)
    h.service.register_job(NAME, "0 3 * * *", "job", **OPTIONS)

    h.engine.worker.run(WorkerEvent(NAME, execution_id), worker_id="prompt-worker")  # closed as skipped: job replaced
    h.clock.advance(seconds=LEASE.total_seconds())
    assert h.tick().timed_out == 0
    assert h.service.reads.get_execution(NAME, execution_id).status is ExecutionStatus.SKIPPED
    assert store.orphaned_runs(h.clock.now(), limit=10) == []


def test_a_finished_run_of_a_cancelled_job_keeps_its_outcome(store):
    h = harness(store)
    started, release = threading.Event(), threading.Event()

    def gated(ctx: Any) -> str:
        started.set()
        assert release.wait(20)
        return "finished"

    h.registry.add("gated", gated)
    h.service.cancel_job(NAME)
    h.service.register_job(NAME, "0 3 * * *", "gated", **OPTIONS)
    execution_id = h.service.trigger_job(NAME).execution_id
    worker = threading.Thread(target=h.engine.worker.run, args=(WorkerEvent(NAME, execution_id),), kwargs={"worker_id": "w"})
    worker.start()
    assert started.wait(20)
    h.service.cancel_job(NAME)
    release.set()
    worker.join(20)

    h.clock.advance(seconds=LEASE.total_seconds())
    assert h.tick().timed_out == 0
    finished = h.service.reads.get_execution(NAME, execution_id)
    assert finished.status is ExecutionStatus.SUCCEEDED and finished.result == "finished"


def test_two_dispatchers_at_once_close_an_orphaned_run_once(store):
    h = harness(store)
    execution_id = started_then_dead(h)
    h.service.cancel_job(NAME)
    h.clock.advance(seconds=LEASE.total_seconds())

    # Both dispatchers read the run as running before either writes.
    barrier, seen = threading.Barrier(2, timeout=5), threading.local()
    original = store.get_execution

    def get_execution(job_name: str, execution_id: str) -> Any:
        read = original(job_name, execution_id)
        if not getattr(seen, "waited", False):
            seen.waited = True
            barrier.wait()
        return read

    store.get_execution = get_execution
    reports: list[Any] = []
    ticks = [threading.Thread(target=lambda: reports.append(h.engine.dispatcher.tick(h.clock.now()))) for _ in range(2)]
    for tick in ticks:
        tick.start()
    for tick in ticks:
        tick.join(20)
    store.get_execution = original

    assert sorted(r.timed_out for r in reports) == [0, 1]
    assert all(r.errors == [] for r in reports)
    assert_closed_timed_out(h, execution_id)
    assert store.orphaned_runs(h.clock.now(), limit=10) == []


# --- the store ---------------------------------------------------------------------------------


def watch(execution_id: str, expiry_seconds: int, job_name: str = "nightly-report") -> OrphanedRun:
    return OrphanedRun(job_name=job_name, execution_id=execution_id, owner="w",
                       lease_expires_at=T0 + timedelta(seconds=expiry_seconds),
                       expires_at=T0 + timedelta(days=90))


def test_deleting_a_job_records_its_orphaned_run_in_the_same_write(store):
    job = make_job(lease=Lease("20261128T200000000Z-a01", T0 + timedelta(minutes=2), owner="w"))
    store.create_job(job)
    orphan = watch("20261128T200000000Z-a01", 120)

    store.delete_job(job.name, expected=job, orphan=orphan)

    assert store.get_job(job.name) is None
    assert store.orphaned_runs(T0 + timedelta(seconds=119), limit=10) == []
    assert store.orphaned_runs(T0 + timedelta(seconds=120), limit=10) == [orphan]


def test_a_delete_against_a_changed_job_writes_nothing(store):
    job = make_job()
    store.create_job(job)
    stored = store.commit(replace(job, updated_at=T0 + timedelta(seconds=1)), expected_version=0)

    with pytest.raises(ConcurrentUpdate):  # read before the commit: version 0, now 1
        store.delete_job(job.name, expected=job, orphan=watch("x", 0))
    with pytest.raises(ConcurrentUpdate):  # another job under the name (registered again)
        store.delete_job(job.name, expected=replace(stored, created_at=T0 - timedelta(days=1)),
                         orphan=watch("x", 0))
    assert store.get_job(job.name) == stored
    assert store.orphaned_runs(T0 + timedelta(days=1), limit=10) == []

    store.delete_job(job.name, expected=stored)
    assert store.get_job(job.name) is None
    with pytest.raises((ConcurrentUpdate, JobNotFound)):
        store.delete_job(job.name, expected=stored)


def test_orphaned_runs_come_earliest_expiry_first_a_page_at_a_time_until_forgotten(store):
    watches = [watch("b", 30, "job-b"), watch("a", 10, "job-a"), watch("c", 20, "job-c"), watch("d", 90, "job-d")]
    for w in watches:
        job = make_job(w.job_name, lease=Lease(w.execution_id, w.lease_expires_at))
        store.create_job(job)
        store.delete_job(job.name, expected=job, orphan=w)

    now = T0 + timedelta(seconds=30)
    assert [w.execution_id for w in store.orphaned_runs(now, limit=10)] == ["a", "c", "b"]
    assert [w.execution_id for w in store.orphaned_runs(now, limit=2)] == ["a", "c"]
    store.forget_orphaned_run(watches[1])
    store.forget_orphaned_run(watches[1])  # forgetting twice is harmless
    assert [w.execution_id for w in store.orphaned_runs(now, limit=2)] == ["c", "b"]
