"""A run whose job is deleted and registered again while it is queued or running.

Deleting and registering again is how a definition is changed, so it happens in normal
use. The run must still reach a final status, recorded on its execution only: the job
that now carries the name is another job and is not charged with it. Run on both
stores (``store`` is parametrised in conftest.py), with real threads and a handler that
blocks until the test releases it.
"""
from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from chalicelib.core.model import AlertState, ExecutionStatus, Job
from chalicelib.core.worker_event import WorkerEvent
from tests.fakes import Harness, utc

START = utc(2026, 11, 28, 20, 0)
NAME = "churned"
OPTIONS: dict[str, Any] = {"alert_after_failures": 1,
                           "retry": {"maxAttempts": 1, "initialDelaySeconds": 1, "maxDelaySeconds": 1}}


class Gates:
    """One started/release pair per generation (the trigger's payload says which)."""

    def __init__(self) -> None:
        self.started: dict[int, threading.Event] = {}
        self.release: dict[int, threading.Event] = {}

    def handler(self, ctx: Any) -> None:
        generation = ctx.payload["generation"]
        self.started[generation].set()
        assert self.release[generation].wait(20), "the test never released the run"
        raise RuntimeError(f"generation {generation} failed after its job was replaced")

    def open(self, generation: int) -> None:
        self.started[generation] = threading.Event()
        self.release[generation] = threading.Event()


def start_run(h: Harness, generation: int, gates: Gates, results: dict[int, Any]) -> tuple[str, threading.Thread]:
    """Trigger a run of the current job and let a worker start it; it blocks in the handler."""
    gates.open(generation)
    execution = h.service.trigger_job(NAME, payload={"generation": generation})
    worker = threading.Thread(target=lambda: results.__setitem__(generation, h.engine.worker.run(
        WorkerEvent(NAME, execution.execution_id), worker_id=f"worker-{generation}")))
    worker.start()
    assert gates.started[generation].wait(20)
    return execution.execution_id, worker


def replace_job(h: Harness) -> Job:
    """Delete the job and register it again (how a definition is changed)."""
    h.clock.advance(seconds=10)
    h.service.cancel_job(NAME)
    h.clock.advance(seconds=10)
    return h.service.register_job(NAME, "0 3 * * *", "gated", **OPTIONS)


def assert_untouched(h: Harness, before: Job) -> None:
    now = h.service.reads.get_job(NAME)
    assert (now.consecutive_failures, now.alert_state, now.lease, now.pending_retry, now.outbox) == (
        before.consecutive_failures, AlertState.OK, before.lease, None, ())
    assert now.last_execution == before.last_execution and now.version == before.version


def test_a_run_whose_job_is_replaced_while_it_runs_records_its_outcome_and_charges_no_job(store):
    h = Harness(START, inline=False, store=store)
    gates = Gates()
    h.registry.add("gated", gates.handler)
    h.service.register_job(NAME, "0 3 * * *", "gated", **OPTIONS)
    results: dict[int, Any] = {}
    execution_id, worker = start_run(h, 0, gates, results)

    new_job = replace_job(h)
    gates.release[0].set()
    worker.join(20)

    final = h.service.reads.get_execution(NAME, execution_id)  # GET /jobs/{name}/executions/{id}
    assert final.status is ExecutionStatus.FAILED and final.finished_at is not None
    assert final.error is not None and "generation 0 failed" in final.error.message
    assert results[0] == final
    assert_untouched(h, new_job)
    assert h.notifier.sent == [] and h.notifier.attempts == 0


def test_a_run_whose_job_is_replaced_before_it_starts_is_closed_as_skipped(store):
    h = Harness(START, inline=False, store=store)
    h.registry.add("gated", Gates().handler)
    h.service.register_job(NAME, "0 3 * * *", "gated", **OPTIONS)
    queued = h.service.trigger_job(NAME, payload={"generation": 0})
    new_job = replace_job(h)

    assert h.engine.worker.run(WorkerEvent(NAME, queued.execution_id), worker_id="late-worker") is None
    closed = h.service.reads.get_execution(NAME, queued.execution_id)
    assert closed.status is ExecutionStatus.SKIPPED and "replaced" in closed.result["reason"]
    assert_untouched(h, new_job)


def test_a_storm_of_replacements_leaves_every_run_final_and_charges_only_its_own_job(store):
    """Each old run ends while the next job's run is in flight, at the same version its
    own job had: a commit made against the old job must not land on the new one."""
    h = Harness(START, inline=False, store=store)
    gates = Gates()
    h.registry.add("gated", gates.handler)
    job = h.service.register_job(NAME, "0 3 * * *", "gated", **OPTIONS)
    results: dict[int, Any] = {}
    runs: list[tuple[str, threading.Thread]] = []
    generations = 4
    for generation in range(generations):
        if generation:
            job = replace_job(h)
        runs.append(start_run(h, generation, gates, results))
        in_flight = h.service.reads.get_job(NAME)
        if generation:
            gates.release[generation - 1].set()
            runs[generation - 1][1].join(20)
            assert_untouched(h, in_flight)
            assert in_flight.lease is not None and in_flight.lease.execution_id == runs[generation][0]

    last = generations - 1
    gates.release[last].set()
    runs[last][1].join(20)
    statuses = [h.service.reads.get_execution(NAME, execution_id).status for execution_id, _ in runs]
    assert statuses == [ExecutionStatus.FAILED] * generations
    live = h.service.reads.get_job(NAME)
    # Only the live job's own run counts: one failure, one alert, no lease left.
    assert live.created_at == job.created_at and live.consecutive_failures == 1 and live.lease is None
    assert live.last_execution is not None and live.last_execution.execution_id == runs[last][0]
    assert h.notifier.kinds() == ["alert"]
    assert h.clock.now() - START < timedelta(hours=1)
