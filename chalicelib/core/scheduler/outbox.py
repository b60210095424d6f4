"""The outbox: notices recorded on the job, delivered after commit to each of its channels.

Each unsent delivery has its own next attempt (1 min, 2, 4 … capped at 1 h after each
failed publish), and the job's place in the due index counts that time, not the time
the notice was created: a notifier outage neither retries every notice on every tick
nor keeps the alerting jobs ahead of healthy ones.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any, Mapping

from chalicelib.core.channels import Channel, ChannelUnusable
from chalicelib.core.model import STACK_TOPIC, Job, JobDefinition, Notice
from chalicelib.core.policies import backoff
from chalicelib.core.ports import Clock, Notifier, Store
from chalicelib.core.scheduler.common import retry_on_conflict


def deferred(notice: Notice, now: datetime) -> Notice:
    """The notice after one more failed publish, with its next attempt backed off."""
    return replace(notice, attempts=notice.attempts + 1, next_attempt_at=now + backoff(notice.attempts + 1))


Delivery = tuple[str, str]
"""A delivery's key in the outbox: ``(notice_id, channel)``."""


def destinations(definition: JobDefinition | None) -> tuple[str, ...]:
    """Where a job's notices go: its channels, or the stack's topic when it names none
    (or when the job cannot be read)."""
    return (definition.notify if definition is not None else ()) or (STACK_TOPIC,)


def _with_owner(notice: Notice, definition: JobDefinition | None) -> Mapping[str, Any]:
    if definition is None or definition.owner is None:
        return notice.message
    return {**notice.message, "owner": notice.message.get("owner", definition.owner)}


def route(job: Job) -> tuple[Notice, ...]:
    """The job's outbox with every notice not yet routed (``channel`` None) replaced by one
    delivery per channel the job names (the stack's topic when it names none). Pure and
    deterministic, whatever the notice's kind: a notice queued by any part of the scheduler
    reaches every channel. Each delivery carries the job's ``owner`` in its message."""
    routed: list[Notice] = []
    seen: set[Delivery] = {(n.notice_id, n.channel) for n in job.outbox if n.channel is not None}
    for notice in job.outbox:
        if notice.channel is not None:
            routed.append(notice)
            continue
        message = _with_owner(notice, job.definition)
        for channel in destinations(job.definition):
            if (notice.notice_id, channel) not in seen:
                seen.add((notice.notice_id, channel))
                routed.append(replace(notice, channel=channel, message=message))
    return tuple(routed)


def with_note(notice: Notice, note: str) -> Notice:
    """The notice for the stack's topic, with a line saying why it is there."""
    return replace(notice, message={**notice.message, "note": note})


class Outbox:
    """Publishes a job's due notices, removes the sent ones and backs off the others.

    Each delivery (one notice to one channel) is tracked on its own: one failing channel
    neither blocks nor repeats the others. A channel that is gone (deleted with
    ``force``) or that no retry can fix (:class:`ChannelUnusable`) gets its notice sent to
    the stack's topic instead, with a ``note`` saying which channel and why.
    """

    def __init__(self, store: Store, notifier: Notifier, clock: Clock, log: logging.Logger) -> None:
        self.store = store
        self.notifier = notifier
        self.clock = clock
        self.log = log

    def flush(self, job: Job) -> int:
        """Publish the job's deliveries that are due; returns how many were sent.

        A delivery that fails stays in the outbox with its next attempt backed off; once
        a destination fails, its other deliveries wait too (the others go on). Delivery is
        at least once: each notice carries a stable ``noticeId``, the same on every channel.
        """
        now = self.clock.now()
        routed = route(job)
        sent: set[Delivery] = set()
        later: dict[Delivery, Notice] = {}
        failing: set[str | None] = set()
        channels: dict[str, Channel | None] = {}
        for notice in routed:
            key = (notice.notice_id, str(notice.channel))
            if notice.due_at > now:
                continue
            if notice.channel in failing:  # this destination is failing: do not hammer it in this flush
                later[key] = deferred(notice, now)
                continue
            try:
                self._deliver(notice, channels)
            except Exception as exc:  # noqa: BLE001 - kept, with a backoff, for a later tick
                self.log.warning("notice delivery failed; kept in outbox", extra={
                    "job_name": job.name, "notice_id": notice.notice_id, "channel": notice.channel,
                    "attempts": notice.attempts + 1, "error": f"{type(exc).__name__}: {exc}"})
                failing.add(notice.channel)
                later[key] = deferred(notice, now)
                continue
            sent.add(key)
        if not sent and not later and routed == job.outbox:
            return 0
        current = job

        def step(attempt: int) -> int:
            nonlocal current
            if attempt:
                fresh = self.store.get_job(job.name)
                if fresh is None:
                    return len(sent)
                current = fresh
            remaining = tuple(later.get((n.notice_id, str(n.channel)), n) for n in route(current)
                              if (n.notice_id, str(n.channel)) not in sent)
            self.store.commit(replace(current, outbox=remaining), expected_version=current.version)
            return len(sent)

        return retry_on_conflict(step, on_exhausted=lambda: len(sent))

    def deliver_now(self, notice: Notice, definition: JobDefinition | None, done: tuple[str, ...] = ()) -> tuple[str, ...]:
        """Deliver a notice kept in no outbox (a set-aside job's, recorded beside a record
        that may not decode) to each destination of ``definition`` not in ``done``; returns
        ``done`` and those delivered now. A failure is logged; the caller tries again later."""
        delivered = list(done)
        channels: dict[str, Channel | None] = {}
        for destination in destinations(definition):
            if destination in done:
                continue
            try:
                self._deliver(replace(notice, channel=destination, message=_with_owner(notice, definition)), channels)
            except Exception as exc:  # noqa: BLE001 - the caller retries at its next attempt
                self.log.warning("notice delivery failed; retried at the next attempt", extra={
                    "notice_id": notice.notice_id, "channel": destination, "error": f"{type(exc).__name__}: {exc}"})
                continue
            delivered.append(destination)
        return tuple(delivered)

    def _deliver(self, notice: Notice, channels: dict[str, Channel | None]) -> None:
        name = notice.channel
        if name is None or name == STACK_TOPIC:
            self.notifier.publish(notice)
            return
        if name not in channels:
            channels[name] = self.store.get_channel(name)
        channel = channels[name]
        if channel is None:
            self.notifier.publish(with_note(notice, (
                f"This notice was meant for channel '{name}', which no longer exists (it was deleted while the "
                "job named it); it went to the stack's topic instead. Name another channel in the job's notify.")))
            return
        try:
            self.notifier.publish(notice, channel)
        except ChannelUnusable as exc:
            self.log.error("channel cannot be used; notice sent to the stack's topic", extra={
                "notice_id": notice.notice_id, "channel": name, "error": str(exc)})
            self.notifier.publish(with_note(notice, (
                f"This notice was meant for channel '{name}', which cannot be used: {exc}. It went to the "
                "stack's topic instead; fix the channel (PUT /channels/" + name + ").")))
