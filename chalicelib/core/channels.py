"""Notification channels: where a job's notices go besides (or instead of) the stack's topic.

A job names its channels in ``notify``; every notice the scheduler queues for the job
(alert, recovery, set-aside, restored, resumed … whatever its kind) is delivered once to
each of them, each delivery tracked on its own in the job's outbox
(:mod:`chalicelib.core.scheduler.outbox`). Without ``notify`` a notice goes to the stack's
topic, as it always did.

Three types, each a frozen value:

* ``sns``: ``{"type": "sns", "topicArn"}``; the deployed roles may publish only to the
  topics the operator lists in the stack parameter ``NotifyTopicArns``;
* ``slack``: ``{"type": "slack", "webhook": {"secretRef"}}``: an incoming-webhook URL is a
  credential, so it is only ever a reference (read at delivery, never stored or shown);
* ``webhook``: ``{"type": "webhook", "url", "signingSecret": {"secretRef"}}``: the notice
  as JSON, signed ``X-Scheduler-Signature: t=<unix time>,v1=<HMAC-SHA256 hex of "t.body">``.
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from chalicelib.core.errors import FieldError, NotifierUnavailable, SchedulerError, ValidationFailed
from chalicelib.core.model import Actor

CHANNEL_NAME_PATTERN = re.compile(r"[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?")
"""A channel's name, as a job's: matched with ``fullmatch``."""

OWNER_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
"""A job's ``owner`` label (``mentor-team``): matched with ``fullmatch``."""

MAX_NOTIFY = 10
"""Channels one job may name."""

TOPIC_ARN_PATTERN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?")


class ChannelType(str, enum.Enum):
    SNS = "sns"
    SLACK = "slack"
    WEBHOOK = "webhook"


@dataclass(frozen=True)
class Channel:
    """One named destination. Only the fields of its type are set: ``topic_arn`` (sns),
    ``secret_ref`` (slack: the webhook URL's; webhook: the signing secret's), ``url`` (webhook)."""

    name: str
    type: ChannelType
    created_at: datetime
    updated_at: datetime
    topic_arn: str | None = None
    url: str | None = None
    secret_ref: str | None = None
    description: str = ""
    updated_by: Actor | None = None

    def same_settings(self, other: Channel) -> bool:
        """True when ``other`` would deliver exactly as this one does."""
        return (self.type, self.topic_arn, self.url, self.secret_ref, self.description) == (
            other.type, other.topic_arn, other.url, other.secret_ref, other.description)


class ChannelNotFound(SchedulerError):
    """No channel of that name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"No notification channel named '{name}'.")
        self.name = name


class ChannelInUse(SchedulerError):
    """A channel that jobs name cannot be deleted (unless forced)."""

    def __init__(self, name: str, jobs: list[str]) -> None:
        shown = ", ".join(jobs[:50]) + (f" and {len(jobs) - 50} more" if len(jobs) > 50 else "")
        super().__init__(f"Channel '{name}' is named in the notify list of {len(jobs)} job(s): {shown}. Remove it "
                         "from those jobs first, or delete with ?force=true: their notices then go to the "
                         "stack's topic, saying the channel is gone.")
        self.name = name
        self.jobs = jobs


class ChannelUnusable(NotifierUnavailable):
    """A delivery no retry can fix: a refused destination, a secret outside the jobs'
    namespace or missing, a topic the stack may not publish to. The outbox then sends the
    notice to the stack's topic, saying why the channel could not be used."""


def validate_channel_name(name: Any, field: str = "name") -> str:
    if not isinstance(name, str) or not CHANNEL_NAME_PATTERN.fullmatch(name):
        raise ValidationFailed([FieldError(field, "must be 1-64 lowercase letters, digits or hyphens, starting and "
                                                  "ending with a letter or digit")])
    return name


def parse_owner(value: Any, errors: list[FieldError]) -> str | None:
    """A job's ``owner`` (None when absent); a bad value adds to ``errors``."""
    if value is None:
        return None
    if not isinstance(value, str) or not OWNER_PATTERN.fullmatch(value):
        errors.append(FieldError("owner", "must be 1-63 lowercase letters, digits or hyphens, starting with a letter "
                                          "or digit (pattern ^[a-z0-9][a-z0-9-]{0,62}$), e.g. mentor-team"))
        return None
    return value


def parse_notify(value: Any, errors: list[FieldError]) -> tuple[str, ...]:
    """A job's ``notify``: distinct channel names, in the order given. Whether each channel
    exists is checked at registration, against the store."""
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_NOTIFY:
        errors.append(FieldError("notify", f"must be a list of at most {MAX_NOTIFY} channel names (see GET /channels)"))
        return ()
    names: list[str] = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not CHANNEL_NAME_PATTERN.fullmatch(item):
            errors.append(FieldError(f"notify[{i}]", "must be a channel name (lowercase letters, digits, hyphens)"))
        elif item in names:
            errors.append(FieldError(f"notify[{i}]", f"names channel '{item}' twice"))
        else:
            names.append(item)
    return tuple(names)


SecretRefProblem = Callable[[Any], "str | None"]
"""Why a value may not be a channel's ``secretRef`` (the jobs' namespace decides), or None."""

UrlProblem = Callable[[Any, ChannelType], "str | None"]
"""Why a URL may not be a channel's destination (the destination policy decides), or None."""


_FIELDS = {
    ChannelType.SNS: {"type", "topicArn", "description"},
    ChannelType.SLACK: {"type", "webhook", "description"},
    ChannelType.WEBHOOK: {"type", "url", "signingSecret", "description"},
}


def parse_channel(name: str, body: Any, *, now: datetime, actor: Actor | None, secret_problem: SecretRefProblem,
                  url_problem: UrlProblem) -> Channel:
    """A ``PUT /channels/{name}`` body as a :class:`Channel`, or ``ValidationFailed`` naming
    every bad field."""
    validate_channel_name(name)
    if not isinstance(body, dict):
        raise ValidationFailed([FieldError("body", "must be a JSON object")])
    try:
        kind = ChannelType(body.get("type"))
    except ValueError:
        raise ValidationFailed([FieldError("type", "must be one of sns, slack, webhook")]) from None
    errors = [FieldError(f, f"is not a field of a {kind.value} channel; known: " + ", ".join(sorted(_FIELDS[kind])))
              for f in sorted(set(body) - _FIELDS[kind])]
    description = body.get("description", "")
    if not isinstance(description, str) or len(description) > 500:
        errors.append(FieldError("description", "must be a string of at most 500 characters"))
    topic = url = ref = None
    if kind is ChannelType.SNS:
        topic = body.get("topicArn")
        if not isinstance(topic, str) or not TOPIC_ARN_PATTERN.fullmatch(topic):
            errors.append(FieldError("topicArn", "must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>); "
                                                 "the deployed roles publish only to topics listed in the stack "
                                                 "parameter NotifyTopicArns"))
    else:
        where = "webhook" if kind is ChannelType.SLACK else "signingSecret"
        ref = _secret_ref(body.get(where), where, secret_problem, errors)
        if kind is ChannelType.WEBHOOK:
            url = body.get("url")
            problem = url_problem(url, kind)
            if problem is not None:
                errors.append(FieldError("url", problem))
    if errors:
        raise ValidationFailed(errors)
    return Channel(name=name, type=kind, created_at=now, updated_at=now, topic_arn=topic, url=url, secret_ref=ref,
                   description=description, updated_by=actor)


def _secret_ref(value: Any, where: str, secret_problem: SecretRefProblem, errors: list[FieldError]) -> str | None:
    hint = ("a Slack webhook URL is a credential: give it only as a reference" if where == "webhook"
            else "give the signing secret only as a reference")
    if not isinstance(value, dict) or set(value) != {"secretRef"}:
        errors.append(FieldError(where, f'must be {{"secretRef": "<name in the jobs\' namespace>"}}; {hint}'))
        return None
    problem = secret_problem(value["secretRef"])
    if problem is not None:
        errors.append(FieldError(f"{where}.secretRef", problem))
        return None
    return str(value["secretRef"])
