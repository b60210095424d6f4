"""Notification channels over the API: put, get, list, delete (with the jobs that name them)."""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterator

from chalicelib.core.channels import (
    Channel,
    ChannelInUse,
    ChannelNotFound,
    SecretRefProblem,
    UrlProblem,
    parse_channel,
    validate_channel_name,
)
from chalicelib.core.errors import FieldError, ValidationFailed
from chalicelib.core.model import Actor, Job, JobDefinition, UnreadableJob
from chalicelib.core.ports import Clock, Store


class Channels:
    """The channel operations; the destination and secret checks are given by bootstrap
    (the ``http-request`` destination policy and the jobs' secret namespace)."""

    def __init__(self, store: Store, clock: Clock, *, secret_problem: SecretRefProblem, url_problem: UrlProblem) -> None:
        self.store = store
        self.clock = clock
        self.secret_problem = secret_problem
        self.url_problem = url_problem

    def put(self, name: str, body: Any, actor: Actor | None = None) -> tuple[Channel, bool]:
        """Create or replace the channel; ``(channel, created)``. Raises ``ValidationFailed``."""
        channel = parse_channel(name, body, now=self.clock.now(), actor=actor, secret_problem=self.secret_problem,
                                url_problem=self.url_problem)
        existing = self.store.get_channel(name)
        if existing is not None:
            if existing.same_settings(channel):
                return existing, False
            channel = replace(channel, created_at=existing.created_at)
        self.store.put_channel(channel)
        return channel, existing is None

    def get(self, name: str) -> Channel:
        channel = self.store.get_channel(validate_channel_name(name))
        if channel is None:
            raise ChannelNotFound(name)
        return channel

    def all(self) -> list[Channel]:
        """Every channel, by name."""
        return self.store.list_channels()

    def delete(self, name: str, *, force: bool = False) -> list[str]:
        """Delete the channel; returns the jobs that still name it (their notices now go to
        the stack's topic, saying so). Without ``force`` those jobs make it ``ChannelInUse``."""
        self.get(name)
        naming = sorted(job.name for job in self._jobs() if name in job.definition.notify)
        if naming and not force:
            raise ChannelInUse(name, naming)
        self.store.delete_channel(name)
        return naming

    def _jobs(self) -> Iterator[Job]:
        cursor: str | None = None
        while True:
            page = self.store.list_jobs(limit=100, cursor=cursor)
            yield from (j for j in page.items if not isinstance(j, UnreadableJob))
            if not page.next_cursor:
                return
            cursor = page.next_cursor


def check_notify(store: Store, definition: JobDefinition) -> None:
    """A job may name only channels that exist (``ValidationFailed`` naming each other one)."""
    errors = [FieldError(f"notify[{i}]", f"channel '{name}' does not exist; create it with PUT /channels/{name} "
                                          "or see GET /channels")
              for i, name in enumerate(definition.notify) if store.get_channel(name) is None]
    if errors:
        raise ValidationFailed(errors)
