"""Registration and the job's lifecycle: register, ensure a code-defined job, cancel,
pause and resume."""
from __future__ import annotations

import functools
import logging
from dataclasses import replace
from datetime import datetime
from typing import Any, Callable, Mapping

from chalicelib.core import isolation
from chalicelib.core.cron import CronSchedule
from chalicelib.core.definitions import options_to_body, parse_definition
from chalicelib.core.errors import (
    ConcurrentUpdate,
    FieldError,
    JobAlreadyExists,
    JobConflict,
    JobNotFound,
    JobUnreadable,
    ValidationFailed,
)
from chalicelib.core.maintenance import validate_pause_until
from chalicelib.core.model import SYSTEM, Actor, Job, JobDefinition, JobState
from chalicelib.core.ports import Clock, HandlerCatalog, Store
from chalicelib.core.scheduler.channel_service import check_notify
from chalicelib.core.scheduler.common import give_up, retry_on_conflict
from chalicelib.core.scheduler.orphans import watch_for
from chalicelib.core.scheduler.transitions import Timing


class Registration:
    """Creates, replaces and removes jobs; every change is one conditional write."""

    def __init__(self, *, store: Store, handlers: HandlerCatalog, clock: Clock, timing: Timing, log: logging.Logger,
                 max_timeout_seconds: int) -> None:
        self.store = store
        self.handlers = handlers
        self.clock = clock
        self.timing = timing
        self.log = log
        self.max_timeout_seconds = max_timeout_seconds

    def parse_definition(self, body: Any) -> JobDefinition:
        """Validate a REST body against the handlers; raises ``ValidationFailed``."""
        return parse_definition(body, known_handler=self.handlers.__contains__,
                                check_payload=functools.partial(payload_errors, self.handlers),
                                max_timeout_seconds=self.max_timeout_seconds)

    def register_job(self, job_name: str, cron_expression: str, handler: Any, **options: Any) -> Job:
        """registerJob: bind ``job_name`` to a schedule and a handler.

        ``handler`` is a registered handler's name or a callable (registered under the
        job's name once the definition validates; it must be registered the same way in
        every process that runs workers, i.e. at import time). Options: ``timezone``,
        ``payload``, ``retry``, ``timeout_seconds``, ``alert_after_failures``,
        ``misfire_grace_seconds``, ``pause_after_failures``, ``description``. Idempotent
        for an identical definition; raises ``JobConflict`` for the same name with
        another one.
        """
        if callable(handler):
            fn, handler = handler, job_name
            known = self.handlers.__contains__
            # The definition is validated before the callable is added, as if it were there.
            definition = parse_definition(options_to_body(job_name, cron_expression, handler, options),
                                          known_handler=lambda name: name == job_name or known(name),
                                          check_payload=functools.partial(payload_errors, self.handlers),
                                          max_timeout_seconds=self.max_timeout_seconds)
            self.handlers.add(job_name, fn)
        else:
            definition = self.parse_definition(options_to_body(job_name, cron_expression, handler, options))
        return self.register_definition(definition)[0]

    def register(self, body: Any, actor: Actor | None = None) -> tuple[Job, bool]:
        """``POST /jobs``: validate ``body`` against the handlers (``ValidationFailed`` naming
        each bad field) and register the definition (:meth:`register_definition`).
        ``(job, created)``; ``actor`` (who asked) is recorded as ``createdBy``/``updatedBy``."""
        return self.register_definition(self.parse_definition(body), actor)

    def register_definition(self, definition: JobDefinition, actor: Actor | None = None) -> tuple[Job, bool]:
        """Create the job, or return the identical existing one. ``(job, created)``.

        Every channel the definition names in ``notify`` must exist (``ValidationFailed``).

        Registering again repairs a job the dispatcher set aside: a record that cannot be
        decoded is replaced (``created``), and a stored definition the current code refuses
        is replaced by this one; either way the job is dispatchable again.
        """
        store = self.store
        check_notify(store, definition)
        now = self.clock.now()
        try:
            existing = store.get_job(definition.job_name)
        except JobUnreadable as exc:
            job = self._new_job(definition, now, actor)
            previous = getattr(exc.entry, "set_aside", None)
            if previous is not None:  # alerted while set aside: say it dispatches again
                job = isolation.restore(replace(job, set_aside=previous), now)
            store.replace_unreadable_job(job)
            self.log.warning("unreadable job record replaced by registering it again",
                             extra={"job_name": definition.job_name})
            return job, True
        if existing is not None and (existing.set_aside is not None or not _definition_is_valid(existing.definition)):
            return self._repair(existing, definition, now, actor), False
        if existing is None:
            job = self._new_job(definition, now, actor)
            try:
                store.create_job(job)
                self.log.info("job registered", extra={"job_name": definition.job_name,
                                                       "next_run_at": job.next_run_at})
                return job, True
            except JobAlreadyExists:
                existing = store.get_job(definition.job_name)
                if existing is None:  # created and cancelled meanwhile
                    raise ConcurrentUpdate("job was created and removed concurrently; retry") from None
        if existing.definition != definition:
            raise JobConflict(definition.job_name)
        return existing, False

    @staticmethod
    def _new_job(definition: JobDefinition, now: datetime, actor: Actor | None) -> Job:
        schedule = CronSchedule.parse(definition.cron_expression, definition.timezone)
        return Job(definition=definition, created_at=now, updated_at=now, next_run_at=schedule.next_after(now),
                   created_by=actor, updated_by=actor)

    def _repair(self, existing: Job, definition: JobDefinition, now: datetime, actor: Actor | None) -> Job:
        """Replace a set-aside job's definition (history kept) and make it dispatchable."""
        schedule = CronSchedule.parse(definition.cron_expression, definition.timezone)
        repaired = replace(isolation.restore(existing, now), definition=definition,
                           next_run_at=schedule.next_after(now), updated_at=now, updated_by=actor)
        stored = self.store.commit(repaired, expected_version=existing.version)
        self.log.warning("set-aside job repaired by registering it again", extra={"job_name": existing.name})
        return stored

    def ensure_job(self, definition: JobDefinition) -> Job:
        """Register a code-defined job at startup, idempotently.

        A missing job is created; an identical one is left alone (its history and next
        run survive a redeploy); a changed definition replaces the stored one, and the
        next run is recomputed only when the schedule or time zone changed.
        """

        def step(_attempt: int) -> Job:
            try:
                existing = self.store.get_job(definition.job_name)
            except JobUnreadable:  # the code is authoritative for a code-defined job
                return self.register_definition(definition, SYSTEM)[0]
            if existing is None:
                return self.register_definition(definition, SYSTEM)[0]
            if existing.definition == definition:
                return existing
            now = self.clock.now()
            updated = replace(existing, definition=definition, updated_at=now, updated_by=SYSTEM)
            old = existing.definition
            if (old.cron_expression, old.timezone) != (definition.cron_expression, definition.timezone):
                schedule = CronSchedule.parse(definition.cron_expression, definition.timezone)
                updated = replace(updated, next_run_at=schedule.next_after(now))
            return self.store.commit(updated, expected_version=existing.version)

        return retry_on_conflict(step, on_exhausted=give_up(
            f"could not update job '{definition.job_name}' under contention"))

    def cancel_job(self, job_name: str, actor: Actor | None = None) -> None:
        """cancelJob: the job never runs again; its history stays until it expires.

        A run in flight is watched from the same write on (:mod:`.orphans`): if its worker
        never reports, a tick past its lease closes it ``timed_out``."""
        store = self.store

        def step(_attempt: int) -> None:
            try:
                job = store.get_job(job_name)
            except JobUnreadable:  # its lease cannot be read: removed without a watch
                return store.delete_job(job_name)
            if job is None:
                raise JobNotFound(job_name)
            # Conditional on the job as read, so the watch names the lease it really held.
            store.delete_job(job_name, expected=job, orphan=watch_for(job, self.timing))

        retry_on_conflict(step, on_exhausted=give_up(f"job '{job_name}' kept changing; retry"))
        self.log.info("job cancelled", extra={"job_name": job_name, "actor": str(actor) if actor else None})

    def pause_job(self, job_name: str, reason: str | None = None, actor: Actor | None = None,
                  until: datetime | None = None) -> Job:
        """Stop scheduled runs and pending retries; manual triggers still run. With ``until``
        (future, at most 90 days ahead; ``ValidationFailed`` naming ``until`` otherwise) the
        dispatcher resumes the job by itself then (:func:`transitions.expire_pause`)."""

        def pause(job: Job, now: datetime) -> Job:
            return replace(job, state=JobState.PAUSED, pause_reason=reason or "paused by operator",
                           pending_retry=None, updated_at=now, updated_by=actor, paused_by=actor,
                           paused_until=validate_pause_until(until, now))

        return self.update(job_name, pause)

    def resume_job(self, job_name: str, actor: Actor | None = None) -> Job:
        """Schedule again from now on; slots missed while paused are not replayed."""

        def resume(job: Job, now: datetime) -> Job:
            schedule = CronSchedule.parse(job.definition.cron_expression, job.definition.timezone)
            return replace(job, state=JobState.ACTIVE, pause_reason=None, next_run_at=schedule.next_after(now),
                           updated_at=now, updated_by=actor, paused_by=None, paused_until=None)

        return self.update(job_name, resume)

    def update(self, job_name: str, change: Callable[[Job, datetime], Job]) -> Job:
        """Apply ``change`` to the stored job, reading again after a lost race."""

        def step(_attempt: int) -> Job:
            job = self.store.get_job(job_name)
            if job is None:
                raise JobNotFound(job_name)
            return self.store.commit(change(job, self.clock.now()), expected_version=job.version)

        return retry_on_conflict(step, on_exhausted=give_up(f"job '{job_name}' kept changing; retry"))



def payload_errors(handlers: HandlerCatalog, handler_name: str, payload: Mapping[str, Any]) -> list[FieldError]:
    """A stored definition's payload: the handler's own check, and none of its per-run
    options (``Handler.run_options``); fields named under ``payload``."""
    registered = handlers.get(handler_name)
    if registered is None:
        return []
    per_run = [FieldError(f"payload.{name}", (
        "is a per-run option and cannot be stored in a job's definition, where it would apply to every "
        "scheduled run; give it on one run's trigger instead: POST /jobs/{jobName}/trigger with "
        f'{{"payload": {{"{name}": ...}}}}')) for name in sorted(registered.run_options & set(payload))]
    return per_run + run_payload_errors(handlers, handler_name, payload)


def run_payload_errors(handlers: HandlerCatalog, handler_name: str, payload: Mapping[str, Any]) -> list[FieldError]:
    """One run's payload (the definition's with a trigger's merged over it): the handler's
    own check, with fields named under ``payload``; per-run options allowed."""
    registered = handlers.get(handler_name)
    if registered is None or registered.validate_payload is None:
        return []
    return [FieldError(e.field if e.field.startswith("payload") else f"payload.{e.field}", e.message)
            for e in registered.validate_payload(payload)]


def _definition_is_valid(definition: JobDefinition) -> bool:
    """False for a stored definition the current code refuses (a rule tightened since)."""
    try:
        CronSchedule.parse(definition.cron_expression, definition.timezone)
    except ValidationFailed:
        return False
    return True
