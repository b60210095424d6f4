"""Runs left in flight by a job that was cancelled or replaced, and the tick that ends them.

A dispatcher finds a dead worker through the expired lease on its job. Once the job is
deleted (or deleted and registered again, how a definition changes) nothing points at
the run, and a worker that died would leave it ``running`` until its retention ends. So
the delete records a watch on the run in the same write (:func:`watch_for`,
``Store.delete_job``), and each tick closes the watched runs whose lease expired
(:class:`OrphanSweep`) as the lease break of a live job would, charging no job and
alerting nobody: the job it belonged to is gone.

Whichever conditional write lands first is the run's final status: the worker's outcome
(its close of a cancelled job's run) or the tick's ``timed_out``. The other is dropped,
exactly as for a live job whose lease was broken.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from chalicelib.core.errors import ConcurrentUpdate, StoreUnavailable
from chalicelib.core.model import Execution, ExecutionError, ExecutionStatus, Job, iso
from chalicelib.core.ports import ExecutionUpdate, OrphanedRun, Store
from chalicelib.core.scheduler.common import run_fields
from chalicelib.core.scheduler.transitions import Timing

ORPHANS_PER_TICK = 50
"""Watches one tick reads (one query); the rest, the later expiries, wait for the next tick."""


def watch_for(job: Job, timing: Timing) -> OrphanedRun | None:
    """The watch a delete of ``job`` records: on the run its lease names (None: no run in flight).

    It lives as long as an execution's retention past the lease, then goes with the TTL."""
    lease = job.lease
    if lease is None:
        return None
    return OrphanedRun(job_name=job.name, execution_id=lease.execution_id, lease_expires_at=lease.expires_at,
                       owner=lease.owner, expires_at=lease.expires_at + timing.retention)


def close_orphaned(execution: Execution, watch: OrphanedRun, now: datetime) -> ExecutionUpdate | None:
    """The run recorded ``timed_out`` at ``now``, on condition that it is still in flight under
    the watched lease; None when it has already ended. Not retried: its job is gone."""
    if execution.status not in (ExecutionStatus.QUEUED, ExecutionStatus.RUNNING):
        return None
    phase = "was never started by a worker" if execution.status is ExecutionStatus.QUEUED else "did not finish"
    started = execution.started_at
    timed_out = replace(
        execution,
        status=ExecutionStatus.TIMED_OUT,
        finished_at=now,
        duration_ms=int((now - started).total_seconds() * 1000) if started else None,
        error=ExecutionError("LeaseExpired", (
            f"the run {phase} before its lease expired at {iso(watch.lease_expires_at)}; its worker died or "
            "overran. Its job was cancelled or replaced meanwhile, so no job is charged and it is not retried"),
            retryable=False),
    )
    return ExecutionUpdate(timed_out, expected_status=execution.status, expected_owner=watch.owner)


class OrphanSweep:
    """The dispatcher's part that ends watched runs whose lease expired."""

    def __init__(self, store: Store, log: logging.Logger) -> None:
        self.store = store
        self.log = log

    def sweep(self, now: datetime, errors: list[str]) -> int:
        """Close every watched run whose lease expired by ``now`` (one page of watches);
        the number closed. A watch whose run cannot be handled now stays for the next tick
        (its error is appended to ``errors``); the others go on."""
        log = self.log
        try:
            watches = self.store.orphaned_runs(now, limit=ORPHANS_PER_TICK)
        except Exception as exc:  # noqa: BLE001 - the next tick reads them again
            errors.append(f"orphaned runs unreadable: {type(exc).__name__}: {exc}")
            log.error("dispatcher could not read the orphaned runs", extra={"error": f"{type(exc).__name__}: {exc}"})
            return 0
        closed = 0
        for watch in watches:
            try:
                closed += self._close(watch, now)
            except Exception as exc:  # noqa: BLE001 - one run's fault stays with it
                errors.append(f"{watch.job_name}/{watch.execution_id}: {type(exc).__name__}: {exc}")
                log.error("orphaned run not closed; retried next tick", extra={
                    "job_name": watch.job_name, "execution_id": watch.execution_id,
                    "error": f"{type(exc).__name__}: {exc}"})
        return closed

    def _close(self, watch: OrphanedRun, now: datetime) -> int:
        store, log = self.store, self.log
        try:
            execution = store.get_execution(watch.job_name, watch.execution_id)
        except StoreUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - the run's record is lost: nothing to close
            log.error("an orphaned run's execution cannot be read; its watch is dropped", extra={
                "job_name": watch.job_name, "execution_id": watch.execution_id,
                "error": f"{type(exc).__name__}: {exc}"})
            execution = None
        update = None if execution is None else close_orphaned(execution, watch, now)
        closed = 0
        if update is not None:
            try:
                store.update_execution(update)
                closed = 1
                log.warning("run of a cancelled or replaced job timed out: its worker never reported",
                            extra={**run_fields(update.execution), "lease_expired_at": iso(watch.lease_expires_at)})
            except ConcurrentUpdate:
                pass  # its worker's outcome, or another dispatcher's close, landed first
        store.forget_orphaned_run(watch)
        return closed
