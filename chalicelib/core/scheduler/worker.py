"""The worker: start a claimed execution, call its job, record the outcome."""
from __future__ import annotations

import contextvars
import json
import logging
import threading
from dataclasses import replace
from datetime import timedelta
from typing import Any, Callable

from chalicelib.core import strict_json
from chalicelib.core.context import RUN_FIELDS, RunContext
from chalicelib.core.errors import ConcurrentUpdate, JobUnreadable, StoreUnavailable, ValidationFailed
from chalicelib.core.model import Execution, ExecutionError, ExecutionStatus, Job
from chalicelib.core.policies import bounded_result
from chalicelib.core.ports import Clock, ExecutionUpdate, HandlerCatalog, HandlerFn, RandomSource, Store
from chalicelib.core.redaction import RUN_SECRETS, Scrubber
from chalicelib.core.run_log import CURRENT as run_log_var
from chalicelib.core.run_log import RunLog
from chalicelib.core.scheduler import transitions
from chalicelib.core.scheduler.common import CAS_ATTEMPTS, retry_on_conflict, run_fields
from chalicelib.core.scheduler.effects import AfterCommit
from chalicelib.core.scheduler.transitions import Timing
from chalicelib.core.worker_event import WorkerEvent

FINISH_MARGIN_SECONDS = 10
"""Kept free of the Lambda's remaining time so a run past its deadline is still recorded."""
MAX_RESULT_BYTES = 16 * 1024
MAX_ERROR_MESSAGE = 1000

Outcome = tuple[ExecutionStatus, Any, ExecutionError | None]


def is_retryable(exc: BaseException) -> bool:
    """Whether another attempt of the slot may succeed.

    Permanent: an exception whose ``retryable`` is False (``PermanentFailure``, the
    http-request job's 4xx other than 408/425/429, refused destinations and missing
    secrets), and an invalid payload (``ValidationFailed``). Everything else is retried.
    """
    if isinstance(exc, ValidationFailed):
        return False
    return getattr(exc, "retryable", True) is not False


class Worker:
    """Runs one execution per call; a duplicate or late delivery does nothing."""

    def __init__(self, *, store: Store, handlers: HandlerCatalog, clock: Clock, rand: RandomSource, timing: Timing,
                 log: logging.Logger, after_commit: AfterCommit) -> None:
        self.store = store
        self.handlers = handlers
        self.clock = clock
        self.rand = rand
        self.timing = timing
        self.log = log
        self.after_commit = after_commit

    def run(self, event: WorkerEvent, worker_id: str, *,
            remaining_ms: Callable[[], int] | None = None) -> Execution | None:
        """Start the claimed execution, call its handler, record the outcome.

        A second delivery of the same event finds the execution no longer ``queued`` and
        does nothing. A worker whose lease was broken meanwhile cannot overwrite the newer
        state: its final write is conditional on its own lease. ``remaining_ms`` is the
        Lambda context's ``get_remaining_time_in_millis``.
        """
        job_name, execution_id = event.job_name, event.execution_id
        try:
            started = self.start(job_name, execution_id, worker_id)
        except JobUnreadable as exc:
            return self._fail_unreadable_job(job_name, execution_id, exc)
        except StoreUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - an execution record that cannot be decoded
            self.log.error("the execution cannot be read; not run (the dispatcher's lease sweep ends it)",
                           extra={"job_name": job_name, "execution_id": execution_id,
                                  "error": f"{type(exc).__name__}: {exc}"})
            return None
        if started is None:
            return None
        job, running = started
        fields = run_fields(running)
        token = RUN_FIELDS.set(fields)
        run_log = RunLog()
        log_token = run_log_var.set(run_log)
        secrets_token = RUN_SECRETS.set(Scrubber())  # the job's resolver adds what it reads
        try:
            registered = self.handlers.get(job.definition.handler)
            if registered is None:
                outcome: Outcome = (ExecutionStatus.FAILED, None, ExecutionError(
                    "HandlerNotFound", f"no handler named '{job.definition.handler}' is registered in this worker"))
            else:
                outcome = self._call(job, running, registered.fn, fields, remaining_ms)
            lines, dropped = run_log.lines()
            return self.finish(job_name, replace(running, logs=lines, logs_dropped=dropped), worker_id, *outcome,
                               known_job=job)
        finally:
            RUN_SECRETS.reset(secrets_token)
            run_log_var.reset(log_token)
            RUN_FIELDS.reset(token)

    def start(self, job_name: str, execution_id: str, worker_id: str) -> tuple[Job, Execution] | None:
        """Mark the queued execution running under ``worker_id``; None when it is not ours to run."""
        store, log = self.store, self.log

        def step(_attempt: int) -> tuple[Job, Execution] | None:
            execution = store.get_execution(job_name, execution_id)
            if execution is None or execution.status is not ExecutionStatus.QUEUED:
                log.info("execution not queued; duplicate or late delivery ignored",
                         extra={"job_name": job_name, "execution_id": execution_id,
                                "status": execution.status.value if execution else None})
                return None
            job = store.get_job(job_name)
            if job is None:
                self._close_orphan(replace(execution, status=ExecutionStatus.SKIPPED, finished_at=self.clock.now(),
                                           duration_ms=0, result={"reason": "the job was cancelled before the run started"}),
                                   ExecutionStatus.QUEUED, None)
                return None
            if job.lease is None or job.lease.execution_id != execution_id:
                # Still queued, yet its job holds no lease on it: the job that claimed it was
                # deleted and registered again (a broken lease would have closed it).
                log.warning("execution has no lease on its job (the job was replaced); not run",
                            extra={"job_name": job_name, "execution_id": execution_id})
                self._close_orphan(replace(execution, status=ExecutionStatus.SKIPPED, finished_at=self.clock.now(),
                                           duration_ms=0, result={"reason": "the job was replaced before the run started"}),
                                   ExecutionStatus.QUEUED, None)
                return None
            claimed, running = transitions.start(job, execution, self.clock.now(), worker_id, self.timing)
            stored = store.commit(claimed, expected_version=job.version,
                                  execution_updates=[ExecutionUpdate(running, ExecutionStatus.QUEUED, None)])
            log.info("run started", extra=run_fields(running))
            return stored, running

        return retry_on_conflict(step, on_exhausted=lambda: None)

    def _call(self, job: Job, running: Execution, fn: HandlerFn, fields: dict[str, Any],
              lambda_remaining_ms: Callable[[], int] | None) -> Outcome:
        clock = self.clock
        timeout: float = job.definition.timeout_seconds
        if lambda_remaining_ms is not None:
            # The Lambda's own clock wins: stop waiting while there is time to record the outcome.
            timeout = max(0.0, min(timeout, lambda_remaining_ms() / 1000 - FINISH_MARGIN_SECONDS))
        deadline = clock.now() + timedelta(seconds=timeout)
        ctx = RunContext(
            job_name=job.name,
            execution_id=running.execution_id,
            scheduled_for=running.scheduled_for,
            attempt=running.attempt,
            trigger=running.trigger,
            idempotency_key=running.idempotency_key,
            payload={**job.definition.payload, **running.payload_override},
            timezone=job.definition.timezone,
            logger=logging.LoggerAdapter(self.log, fields),
            remaining_time_ms=lambda: max(0, int((deadline - clock.now()).total_seconds() * 1000)),
            triggered_by=str(running.triggered_by) if running.triggered_by else None,
        )
        outcome: dict[str, Any] = {}

        def call() -> None:
            try:
                outcome["result"] = fn(ctx)
            except BaseException as exc:  # noqa: BLE001 - a handler's failure is data
                outcome["error"] = exc

        # The job runs in its own thread so a run past timeoutSeconds is recorded
        # as timed_out while the Lambda still has time to write it.
        thread = threading.Thread(target=contextvars.copy_context().run, args=(call,),
                                  name=f"run-{running.execution_id}", daemon=True)
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            return ExecutionStatus.TIMED_OUT, None, ExecutionError(
                "Timeout", f"handler did not finish within timeoutSeconds={job.definition.timeout_seconds}"
                + ("" if timeout >= job.definition.timeout_seconds else f" (the worker had {timeout:.0f} s left)"))
        scrub = RUN_SECRETS.get() or Scrubber()  # every secret the run resolved, in every common encoding
        if "error" in outcome:
            exc = outcome["error"]
            self.log.warning("handler failed", extra={**fields, "error_type": type(exc).__name__})
            message = scrub(str(exc))[:MAX_ERROR_MESSAGE] or type(exc).__name__
            return ExecutionStatus.FAILED, None, ExecutionError(type(exc).__name__, message, retryable=is_retryable(exc))
        # Strict JSON first (NaN, lone surrogates, depth past 32 made JSON), so the scrub's walk is bounded too.
        result = bounded_result(scrub.value(strict_json.sanitize(outcome.get("result"))), limit_bytes=MAX_RESULT_BYTES,
                                dumps=json.dumps)
        return ExecutionStatus.SUCCEEDED, result, None

    def finish(self, job_name: str, running: Execution, worker_id: str, status: ExecutionStatus,
               result: Any, error: ExecutionError | None, *, known_job: Job | None = None) -> Execution | None:
        """Record the outcome, on condition that this worker still holds the lease.

        ``known_job`` is the job as this worker's start stored it: the first attempt
        commits against it without reading the job again (one request fewer per run);
        if anything changed the job meanwhile, that commit loses and the next attempt
        reads it afresh.
        """
        store, log = self.store, self.log

        def step(attempt: int) -> Execution | None:
            now = self.clock.now()
            final = transitions.final_execution(running, now, status, result, error)
            job = known_job if attempt == 0 and known_job is not None else store.get_job(job_name)
            if job is None:  # cancelled while it ran: record the outcome, account it to no job
                return self._close_orphan(final, ExecutionStatus.RUNNING, worker_id)
            if job.lease is None or job.lease.execution_id != running.execution_id or job.lease.owner != worker_id:
                # The job was replaced (deleted and registered again) or its lease broken. The
                # outcome goes on the execution alone, if it is still ours: a broken lease has
                # already closed it, and the job now under this name is not charged with it.
                log.warning("lease lost before the outcome was recorded; the run is closed on its own",
                            extra={**run_fields(running), "status": status.value})
                return self._close_orphan(final, ExecutionStatus.RUNNING, worker_id)
            # The log lines stay on the execution; the job's copy of its last run goes without.
            updated = transitions.finish(job, replace(final, logs=(), logs_dropped=0), now, self.rand)
            stored = store.commit(updated, expected_version=job.version,
                                  execution_updates=[ExecutionUpdate(final, ExecutionStatus.RUNNING, worker_id)])
            log.info("run finished", extra={**run_fields(final), "status": status.value,
                                            "duration_ms": final.duration_ms})
            self.after_commit(stored, [final])
            return final

        def exhausted() -> None:
            log.error("could not record the outcome; the lease will expire and the run be retried",
                      extra=run_fields(running))

        return retry_on_conflict(step, attempts=CAS_ATTEMPTS * 2, on_exhausted=exhausted)

    def _fail_unreadable_job(self, job_name: str, execution_id: str, exc: JobUnreadable) -> Execution | None:
        """A run whose job record cannot be decoded ends as a recorded failure, not a crash loop."""
        execution = self.store.get_execution(job_name, execution_id)
        if execution is None or execution.status is not ExecutionStatus.QUEUED:
            return None
        now = self.clock.now()
        failed = replace(execution, status=ExecutionStatus.FAILED, started_at=now, finished_at=now, duration_ms=0,
                         error=ExecutionError("JobUnreadable", str(exc)[:MAX_ERROR_MESSAGE], retryable=False))
        self.log.error("the job's record cannot be read; run recorded as failed",
                       extra={**run_fields(execution), "error": exc.reason})
        return self._close_orphan(failed, ExecutionStatus.QUEUED, None)

    def _close_orphan(self, final: Execution, expected: ExecutionStatus, owner: str | None) -> Execution | None:
        """Record the outcome of a run whose job was cancelled or replaced, so it is not left
        open; no job is charged with it. Lands only while the execution is as expected."""
        try:
            self.store.update_execution(ExecutionUpdate(final, expected, owner))
        except ConcurrentUpdate:
            return None
        self.log.info("run of a cancelled or replaced job closed",
                      extra={**run_fields(final), "status": final.status.value})
        return final
