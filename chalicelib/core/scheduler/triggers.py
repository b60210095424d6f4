"""Manual runs: ``triggerJob``, deduplicated by the caller's ``Idempotency-Key``."""
from __future__ import annotations

import logging
import math
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Mapping

from chalicelib.core.definitions import validate_payload_object
from chalicelib.core.errors import (
    IdempotencyKeyReused,
    JobNotFound,
    RunInProgress,
    TriggerBudgetSpent,
    ValidationFailed,
)
from chalicelib.core.model import Actor, Execution, Trigger, idempotency_key_for
from chalicelib.core.ports import Clock, HandlerCatalog, IdempotencyRecord, RandomSource, Store
from chalicelib.core.scheduler import transitions
from chalicelib.core.scheduler.common import give_up, lease_execution, retry_on_conflict, run_fields
from chalicelib.core.scheduler.effects import AfterCommit, HandOff
from chalicelib.core.scheduler.registration import run_payload_errors
from chalicelib.core.scheduler.transitions import Timing

IDEMPOTENCY_WINDOW = timedelta(hours=24)
BUDGET_KEPT = timedelta(minutes=2)
"""How long a caller's count for one minute is kept after that minute began."""


class TriggerBudget:
    """Each caller's manual runs a minute: a fixed window shared by every API instance
    through the store. A call without a caller (code, tests) has no budget."""

    def __init__(self, store: Store, per_minute: int | None) -> None:
        self.store = store
        self.per_minute = per_minute
        """Manual runs one caller may start a minute (None: unbounded)."""

    def take(self, actor: Actor | None, now: datetime) -> None:
        """Count one unit against the caller's budget for the minute: a manual run, or a
        replay created (which then runs one slot a tick, so it cannot burst).
        ``TriggerBudgetSpent`` once it is spent."""
        if actor is None or self.per_minute is None:
            return
        minute = now.replace(second=0, microsecond=0)
        if not self.store.take_trigger_budget(actor.subject, minute, per_minute=self.per_minute,
                                              expires_at=minute + BUDGET_KEPT):
            retry_after = math.ceil((minute + timedelta(minutes=1) - now).total_seconds())
            raise TriggerBudgetSpent(actor.subject, self.per_minute, max(1, retry_after))


class Triggers:
    """Queues manual runs; at most one run of a job is in flight."""

    def __init__(self, *, store: Store, handlers: HandlerCatalog, clock: Clock, rand: RandomSource, timing: Timing,
                 log: logging.Logger, budget: TriggerBudget, after_commit: AfterCommit, hand_off: HandOff) -> None:
        self.store = store
        self.handlers = handlers
        self.clock = clock
        self.rand = rand
        self.timing = timing
        self.log = log
        self.budget = budget
        self.after_commit = after_commit
        self.hand_off = hand_off

    def trigger_job(self, job_name: str, *, idempotency_key: str | None = None,
                    payload: Mapping[str, Any] | None = None, actor: Actor | None = None) -> Execution:
        """triggerJob: run the job now, outside its schedule.

        ``payload`` is merged over the job's payload for this run only. A repeated
        ``idempotency_key`` within 24 h returns the execution it created. Raises
        ``RunInProgress`` while another run of the job is queued or running. ``actor`` is
        recorded as the execution's ``triggeredBy`` and given to the job (``ctx.triggered_by``).
        Each actor may queue ``TriggerBudget.per_minute`` runs a minute; past that,
        ``TriggerBudgetSpent`` says when to try again (a repeated key or a run in progress
        costs nothing).
        """
        override = dict(validate_payload_object(payload, "payload")) if payload is not None else {}
        budget_taken = False

        def step(_attempt: int) -> Execution:
            nonlocal budget_taken
            now = self.clock.now()
            previous = self._execution_for_key(job_name, idempotency_key, now)
            if previous is not None:
                return _same_request(previous, override, idempotency_key or "")
            job = self.store.get_job(job_name)
            if job is None:
                raise JobNotFound(job_name)
            if override:
                merged = validate_payload_object({**job.definition.payload, **override}, "payload")
                errors = run_payload_errors(self.handlers, job.definition.handler, merged)
                if errors:
                    raise ValidationFailed(errors)
            expired = lease_execution(self.store, job, now, self.log)
            plan_job, updates, finals = transitions.break_expired_lease(job, expired, now, self.timing, self.rand)
            if plan_job.lease is not None:
                # A concurrent request with the same key may have just claimed this run.
                previous = self._execution_for_key(job_name, idempotency_key, now)
                if previous is not None:
                    return _same_request(previous, override, idempotency_key or "")
                raise RunInProgress(job_name, plan_job.lease.execution_id)
            if not budget_taken:  # a repeated key or a run in progress above costs nothing
                self.budget.take(actor, now)
                budget_taken = True
            slot = manual_slot(now)
            # The caller's Idempotency-Key dedupes the request; the run's own key
            # follows the contract's formula like every other run.
            execution = replace(transitions.new_execution(plan_job, Trigger.MANUAL, slot, 1, now, override,
                                                          idempotency_key_for(job_name, slot), self.timing),
                                triggered_by=actor)
            claimed = transitions.claim(plan_job, execution, now, self.timing)
            record = None
            if idempotency_key:
                record = IdempotencyRecord(job_name, idempotency_key, execution.execution_id,
                                           now + IDEMPOTENCY_WINDOW)
            stored = self.store.commit(claimed, expected_version=job.version, new_executions=[execution],
                                       execution_updates=updates, idempotency=record)
            self.after_commit(stored, finals)
            self.hand_off(execution)
            self.log.info("manual run queued", extra=run_fields(execution))
            return execution

        return retry_on_conflict(step, on_exhausted=give_up(f"job '{job_name}' kept changing; retry"))

    def _execution_for_key(self, job_name: str, key: str | None, now: datetime) -> Execution | None:
        if not key:
            return None
        record = self.store.find_idempotency(job_name, key, now)
        if record is None:
            return None
        return self.store.get_execution(job_name, record.execution_id)


def manual_slot(now: datetime) -> datetime:
    """A manual run's slot: ``now`` to the millisecond, never a whole cron minute.

    Cron slots fall on whole minutes: a manual run exactly on one would take that
    slot's execution id, so it is stamped one millisecond later.
    """
    slot = now.replace(microsecond=(now.microsecond // 1000) * 1000)
    if slot.second == 0 and slot.microsecond == 0:
        slot += timedelta(milliseconds=1)
    return slot


def _same_request(previous: Execution, override: Mapping[str, Any], key: str) -> Execution:
    """A repeated key must repeat the request: another payload is refused, not ignored."""
    if dict(previous.payload_override) != dict(override):
        raise IdempotencyKeyReused(key, previous.execution_id)
    return previous



