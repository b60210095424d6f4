"""Values of the scheduler's domain: jobs, executions, policies, notices.

Everything here is a frozen dataclass or an enum. Every datetime is aware and in UTC;
``dataclasses.replace`` is how a state change is expressed. The JSON shapes of API.md
are produced by :mod:`chalicelib.api.views`, not here.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC as UTC  # re-exported: the core's one time zone
from datetime import datetime
from typing import Any, Mapping


class JobState(str, enum.Enum):
    ACTIVE = "active"
    PAUSED = "paused"


class AlertState(str, enum.Enum):
    OK = "ok"
    ALERTING = "alerting"


class Trigger(str, enum.Enum):
    SCHEDULE = "schedule"
    MANUAL = "manual"
    RETRY = "retry"
    REPLAY = "replay"  # a past slot run again by a replay (its retries are "retry")


class ExecutionStatus(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    SKIPPED = "skipped"
    MISSED = "missed"

    @property
    def is_final(self) -> bool:
        return self not in (ExecutionStatus.QUEUED, ExecutionStatus.RUNNING)

    @property
    def is_failure(self) -> bool:
        """Failures count towards ``consecutiveFailures`` and alerting."""
        return self in (ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT, ExecutionStatus.MISSED)


class NoticeKind(str, enum.Enum):
    ALERT = "alert"
    RECOVERY = "recovery"
    SET_ASIDE = "set-aside"  # the dispatcher cannot dispatch the job (see SetAside)
    RESTORED = "restored"  # a set-aside job dispatches again
    PAUSE_EXPIRED = "pause-expired"  # a pause with an end ended: the job resumed by itself


@dataclass(frozen=True)
class Actor:
    """Who made a change: a token's ``sub`` and role, or the scheduler itself."""

    subject: str
    role: str

    def __str__(self) -> str:
        return f"{self.subject} ({self.role})"


SYSTEM = Actor("scheduler", "system")
"""The scheduler's own changes: code-defined jobs registered at startup."""


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts of one slot: attempt n+1 waits ``initial * 2**(n-1)`` capped at ``max``."""

    max_attempts: int = 3
    initial_delay_seconds: int = 60
    max_delay_seconds: int = 3600


@dataclass(frozen=True)
class ExecutionError:
    """Why a run failed. ``retryable`` is False for a failure no retry can fix (a 4xx, a
    refused destination, an invalid payload, a missing secret, ``PermanentFailure``):
    the slot's attempts end there and the failure alerts at once."""

    type: str
    message: str
    retryable: bool = True


@dataclass(frozen=True)
class Lease:
    """The claim on a job's one in-flight execution.

    ``owner`` is ``None`` while the execution is queued (claimed by a dispatcher, not yet
    started by a worker) and the worker's id once it runs. The lease is broken when
    ``expires_at`` has passed: the dispatcher then records the run as ``timed_out``.
    """

    execution_id: str
    expires_at: datetime
    owner: str | None = None


@dataclass(frozen=True)
class PendingRetry:
    """The next attempt of a failed slot, due at ``due_at``."""

    scheduled_for: datetime
    attempt: int
    due_at: datetime
    payload_override: Mapping[str, Any] = field(default_factory=dict)
    idempotency_key: str = ""
    replay_id: str | None = None  # the replay whose slot this retries


@dataclass(frozen=True)
class Notice:
    """An alert or recovery notice waiting in the job's outbox until it is published.

    ``attempts`` publishes have failed so far; the next is due at ``next_attempt_at``
    (capped exponential backoff), so a notifier outage never keeps a job at the head of
    the due index.
    """

    notice_id: str
    kind: NoticeKind
    subject: str
    message: Mapping[str, Any]
    created_at: datetime
    attempts: int = 0
    next_attempt_at: datetime | None = None
    channel: str | None = None
    """None: not routed yet (the outbox delivers it to each of the job's channels, each
    delivery a notice of its own with this ``notice_id``; without channels, to the stack's
    topic). A channel's name, or :data:`STACK_TOPIC`: one delivery."""

    @property
    def due_at(self) -> datetime:
        return self.next_attempt_at or self.created_at


STACK_TOPIC = "#stack-topic"
"""``Notice.channel`` of a delivery to the stack's own topic (no channel is named so)."""


@dataclass(frozen=True)
class SetAside:
    """A job the dispatcher could not dispatch, held back until ``retry_at``.

    Whatever went wrong with one job during a tick (a record that cannot be decoded, a
    stored definition the current code refuses, a bug while planning) stays with that
    job: it is set aside with a capped backoff, shown as not dispatchable, and alerted
    once (``alerted``). Repairing the record or registering the job again clears it.
    """

    reason: str
    since: datetime
    retry_at: datetime
    attempts: int = 1
    alerted: bool = False
    notified: tuple[str, ...] = ()  # the destinations its alert reached so far (``Notice.channel`` values)


@dataclass(frozen=True)
class LogLine:
    """One line a run wrote: when, how severe, what (scrubbed of credentials)."""

    at: datetime
    level: str
    message: str


@dataclass(frozen=True)
class Execution:
    execution_id: str
    job_name: str
    trigger: Trigger
    scheduled_for: datetime
    attempt: int
    status: ExecutionStatus
    idempotency_key: str
    created_at: datetime
    payload_override: Mapping[str, Any] = field(default_factory=dict)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: int | None = None
    result: Any = None
    error: ExecutionError | None = None
    lease_owner: str | None = None
    expires_at: datetime | None = None  # retention (DynamoDB TTL)
    triggered_by: Actor | None = None  # manual runs: who asked
    logs: tuple[LogLine, ...] = ()  # the last lines the run wrote (bounded)
    logs_dropped: int = 0  # older lines that did not fit
    replay_id: str | None = None  # the replay that ran this slot again (its retries too)
    skip_reason: str | None = None  # a skipped slot: why (a maintenance window names itself)


@dataclass(frozen=True)
class JobDefinition:
    """What a caller chooses about a job; everything else on :class:`Job` is state."""

    job_name: str
    cron_expression: str
    handler: str
    timezone: str = "UTC"
    payload: Mapping[str, Any] = field(default_factory=dict)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout_seconds: int = 600
    alert_after_failures: int = 3
    misfire_grace_seconds: int = 21600
    pause_after_failures: int | None = None
    description: str = ""
    owner: str | None = None  # a team's label (mentor-team): the console and GET /jobs?owner= filter by it
    notify: tuple[str, ...] = ()  # channel names (chalicelib.core.channels); none: the stack's topic


@dataclass(frozen=True)
class ReplayCursor:
    """A job's active replay (:class:`chalicelib.core.replays.Replay`), as the job carries it.

    ``due_at`` is when the dispatcher may take the replay's next step (see
    :attr:`Job.replay_may_advance`). ``slot`` is the slot being replayed (None before the
    first one is claimed); ``execution_id`` and ``status`` are its latest attempt's, kept
    up to date by every claim and outcome of the job, so that the next step records the
    slot's outcome without reading its executions.
    """

    replay_id: str
    due_at: datetime
    slot: datetime | None = None
    execution_id: str | None = None
    status: ExecutionStatus | None = None


@dataclass(frozen=True)
class HeldSlot:
    """A slot a ``runMissed`` maintenance window skipped; it runs once when no window
    covers the job any more. ``release_at`` is when the dispatcher looks again (the end of
    the window that skipped it); ``window_id`` names that window."""

    slot: datetime
    window_id: str
    release_at: datetime


@dataclass(frozen=True)
class RecentRun:
    """One finished run as the job record keeps it for the overview's strip: enough to
    colour the square and link to the run, so listing jobs needs no executions query."""

    execution_id: str
    status: ExecutionStatus
    scheduled_for: datetime


RECENT_RUNS = 10
"""How many finished runs a job record keeps (newest first) in ``Job.recent_runs``."""


@dataclass(frozen=True)
class Job:
    definition: JobDefinition
    created_at: datetime
    updated_at: datetime
    state: JobState = JobState.ACTIVE
    pause_reason: str | None = None
    next_run_at: datetime | None = None
    consecutive_failures: int = 0
    alert_state: AlertState = AlertState.OK
    last_execution: Execution | None = None
    last_success_at: datetime | None = None
    lease: Lease | None = None
    pending_retry: PendingRetry | None = None
    outbox: tuple[Notice, ...] = ()
    set_aside: SetAside | None = None
    created_by: Actor | None = None
    updated_by: Actor | None = None
    paused_by: Actor | None = None
    replay: ReplayCursor | None = None
    paused_until: datetime | None = None  # a pause with an end: the job resumes by itself then
    held_slot: HeldSlot | None = None  # a slot a runMissed maintenance window skipped
    recent_runs: tuple[RecentRun, ...] = ()  # the last RECENT_RUNS finished runs, newest first
    version: int = 0

    @property
    def name(self) -> str:
        return self.definition.job_name

    @property
    def due_at(self) -> datetime | None:
        """The earliest instant at which a dispatcher has work on this job, or None.

        Work is: the next slot (active jobs only), a pending retry, a lease to break,
        or an unsent notice at its next attempt, the end of a pause with an end, a held
        slot's release. A set-aside job has no work before its ``retry_at``. Stores index jobs by this value so a tick reads only what is due.
        """
        if self.set_aside is not None:
            return self.set_aside.retry_at
        candidates: list[datetime] = []
        if self.state is JobState.ACTIVE and self.next_run_at is not None:
            candidates.append(self.next_run_at)
        if self.pending_retry is not None:
            candidates.append(self.pending_retry.due_at)
        if self.lease is not None:
            candidates.append(self.lease.expires_at)
        if self.outbox:
            candidates.append(min(n.due_at for n in self.outbox))
        if self.replay_may_advance:
            assert self.replay is not None
            candidates.append(self.replay.due_at)
        if self.state is JobState.PAUSED and self.paused_until is not None:
            candidates.append(self.paused_until)
        if self.held_slot is not None:
            candidates.append(self.held_slot.release_at)
        return min(candidates) if candidates else None


    @property
    def replay_may_advance(self) -> bool:
        """True when the job's replay may take its next step: the job is active and
        nothing of its own is in flight or waiting to retry (the overlap rule)."""
        return (self.replay is not None and self.state is JobState.ACTIVE
                and self.lease is None and self.pending_retry is None)


@dataclass(frozen=True)
class UnreadableJob:
    """A stored job whose record cannot be decoded (hand-edited, corrupted, or written by
    an incompatible version). Listings show it instead of failing as a whole."""

    name: str
    reason: str
    due_at: datetime | None = None
    set_aside: SetAside | None = None


def idempotency_key_for(job_name: str, scheduled_for: datetime) -> str:
    """The key every attempt of one slot shares: ``"{job}@{slot ISO-8601}"``."""
    return f"{job_name}@{iso(scheduled_for)}"


def execution_id_for(scheduled_for: datetime, attempt: int, replay_id: str | None = None) -> str:
    """Deterministic, sortable id: one execution per (job, slot, attempt), and per replay
    of the slot (``…Z-r<replay id>-a01``: a replay runs a slot that already has runs)."""
    replay = f"-r{replay_id}" if replay_id else ""
    return (f"{scheduled_for.astimezone(UTC).strftime('%Y%m%dT%H%M%S')}{scheduled_for.microsecond // 1000:03d}Z"
            f"{replay}-a{attempt:02d}")


def iso(moment: datetime) -> str:
    """ISO-8601 UTC with a ``Z``; milliseconds only when present."""
    moment = moment.astimezone(UTC)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    """Inverse of :func:`iso` (accepts any ISO-8601 with an offset or ``Z``)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"timestamp without offset: {text!r}")
    return value.astimezone(UTC)
