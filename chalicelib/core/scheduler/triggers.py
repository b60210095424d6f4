"""Manual runs: ``triggerJob``, deduplicated by the caller's ``Idempotency-Key``."""
from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping

from chalicelib.core.definitions import validate_payload_object
from chalicelib.core.errors import (
    FieldError,
    IdempotencyKeyReused,
    JobNotFound,
    RunInProgress,
    TriggerBudgetSpent,
    ValidationFailed,
)
from chalicelib.core.model import Actor, Execution, Job, Trigger, idempotency_key_for
from chalicelib.core.ports import IdempotencyRecord
from chalicelib.core.scheduler import transitions
from chalicelib.core.scheduler.effects import Effects
from chalicelib.core.scheduler.parts import (
    Parts,
    give_up,
    retry_on_conflict,
    run_fields,
)

IDEMPOTENCY_WINDOW = timedelta(hours=24)
BUDGET_KEPT = timedelta(minutes=2)
"""How long a caller's count for one minute is kept after that minute began."""

PayloadCheck = Callable[[str, Mapping[str, Any]], list[FieldError]]


class Triggers:
    """Queues manual runs; at most one run of a job is in flight."""

    def __init__(self, parts: Parts, effects: Effects, check_payload: PayloadCheck) -> None:
        self.parts = parts
        self.effects = effects
        self.check_payload = check_payload

    def trigger_job(self, job_name: str, *, idempotency_key: str | None = None,
                    payload: Mapping[str, Any] | None = None, actor: Actor | None = None) -> Execution:
        """triggerJob; see :meth:`SchedulerService.trigger_job`."""
        override = dict(validate_payload_object(payload, "payload")) if payload is not None else {}
        budget_taken = False

        def step(_attempt: int) -> Execution:
            nonlocal budget_taken
            now = self.parts.clock.now()
            previous = self._execution_for_key(job_name, idempotency_key, now)
            if previous is not None:
                return _same_request(previous, override, idempotency_key or "")
            job = self.parts.store.get_job(job_name)
            if job is None:
                raise JobNotFound(job_name)
            if override:
                merged = validate_payload_object({**job.definition.payload, **override}, "payload")
                errors = self.check_payload(job.definition.handler, merged)
                if errors:
                    raise ValidationFailed(errors)
            lease_execution = self._lease_execution(job, now)
            plan_job, updates, finals = transitions.break_expired_lease(
                job, lease_execution, now, self.parts.timing, self.parts.rand)
            if plan_job.lease is not None:
                # A concurrent request with the same key may have just claimed this run.
                previous = self._execution_for_key(job_name, idempotency_key, now)
                if previous is not None:
                    return _same_request(previous, override, idempotency_key or "")
                raise RunInProgress(job_name, plan_job.lease.execution_id)
            if not budget_taken:  # a repeated key or a run in progress above costs nothing
                take_trigger_budget(self.parts, actor, now)
                budget_taken = True
            slot = manual_slot(now)
            # The caller's Idempotency-Key dedupes the request; the run's own key
            # follows the contract's formula like every other run.
            execution = replace(transitions.new_execution(plan_job, Trigger.MANUAL, slot, 1, now, override,
                                                          idempotency_key_for(job_name, slot), self.parts.timing),
                                triggered_by=actor)
            claimed = transitions.claim(plan_job, execution, now, self.parts.timing)
            record = None
            if idempotency_key:
                record = IdempotencyRecord(job_name, idempotency_key, execution.execution_id,
                                           now + IDEMPOTENCY_WINDOW)
            stored = self.parts.store.commit(claimed, expected_version=job.version, new_executions=[execution],
                                             execution_updates=updates, idempotency=record)
            self.effects.after_commit(stored, finals)
            self.effects.hand_to_worker(execution)
            self.parts.log.info("manual run queued", extra=run_fields(execution))
            return execution

        return retry_on_conflict(step, on_exhausted=give_up(f"job '{job_name}' kept changing; retry"))

    def _lease_execution(self, job: Job, now: datetime) -> Execution | None:
        if not transitions.lease_has_expired(job, now):
            return None
        assert job.lease is not None
        return self.parts.store.get_execution(job.name, job.lease.execution_id)

    def _execution_for_key(self, job_name: str, key: str | None, now: datetime) -> Execution | None:
        if not key:
            return None
        record = self.parts.store.find_idempotency(job_name, key, now)
        if record is None:
            return None
        return self.parts.store.get_execution(job_name, record.execution_id)


def take_trigger_budget(parts: Parts, actor: Actor | None, now: datetime) -> None:
    """Count one unit against the caller's budget for the minute (a fixed window shared by
    every API instance through the store): a manual run, or a replay created (which then
    runs one slot a tick, so it cannot burst). ``TriggerBudgetSpent`` once it is spent. A
    call without a caller (code, tests) has no budget."""
    per_minute = parts.trigger_budget_per_minute
    if actor is None or per_minute is None:
        return
    minute = now.replace(second=0, microsecond=0)
    if not parts.store.take_trigger_budget(actor.subject, minute, per_minute=per_minute,
                                           expires_at=minute + BUDGET_KEPT):
        retry_after = math.ceil((minute + timedelta(minutes=1) - now).total_seconds())
        raise TriggerBudgetSpent(actor.subject, per_minute, max(1, retry_after))


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



