"""The ports: every interface the core needs from the outside, with its contract.

Implementations live in :mod:`chalicelib.adapters`; the in-memory and the DynamoDB
store pass one contract suite (``tests/contract``).

Vocabulary
----------
slot
    An instant named by a job's cron expression (aware UTC).
claim
    The one conditional write that makes an execution exist. Whoever's write lands
    runs it; every other writer gets :class:`~chalicelib.core.errors.ConcurrentUpdate`.
lease
    The in-flight execution recorded on the job (:class:`~chalicelib.core.model.Lease`)
    with an expiry; a dispatcher that finds it expired records the run ``timed_out``.
due
    A job is due at ``now`` when ``job.due_at <= now``.
orphaned run
    A run in flight when its job was cancelled (or replaced: deleted and registered
    again). No job holds its lease any more, so it is watched on its own
    (:class:`OrphanedRun`) until that lease expires.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Generic, Iterable, Mapping, Protocol, Sequence, TypeVar

from chalicelib.core.channels import Channel
from chalicelib.core.context import RunContext
from chalicelib.core.errors import FieldError
from chalicelib.core.maintenance import MaintenanceWindow
from chalicelib.core.model import Execution, ExecutionStatus, Job, Notice, SetAside, UnreadableJob
from chalicelib.core.replays import Replay
from chalicelib.core.worker_event import WorkerEvent

T = TypeVar("T")



@dataclass(frozen=True)
class ExecutionUpdate:
    """Replace a stored execution, on condition that it is still as the caller saw it.

    The write lands only if the stored execution has status ``expected_status`` and
    lease owner ``expected_owner`` (``None`` meaning "no owner"): a worker whose lease
    was taken over can never overwrite the newer state.
    """

    execution: Execution
    expected_status: ExecutionStatus
    expected_owner: str | None = None


@dataclass(frozen=True)
class ReplayUpdate:
    """Write a replay, on condition that the stored one is still at ``expected_version``
    (``None``: no replay with this id exists yet). It is stored at ``expected_version + 1``
    (1 when new)."""

    replay: Replay
    expected_version: int | None


@dataclass(frozen=True)
class IdempotencyRecord:
    """A caller's ``Idempotency-Key`` bound to the execution it created (for a replay
    request, ``key`` is ``"replay:" + key`` and ``execution_id`` holds the replay's id)."""

    job_name: str
    key: str
    execution_id: str
    expires_at: datetime


@dataclass(frozen=True)
class OrphanedRun:
    """A watch on a run whose job was deleted while it held the run's lease.

    A dispatcher finds a dead worker through the expired lease on its job; once the job
    is gone (or replaced) nothing points at the run. The watch does: at
    ``lease_expires_at`` a tick closes the run ``timed_out`` if it is still ``queued``
    or ``running`` under ``owner`` (the lease's owner, None while queued), charging no
    job. ``expires_at`` is the watch's own retention (DynamoDB: the table's TTL).
    """

    job_name: str
    execution_id: str
    lease_expires_at: datetime
    owner: str | None
    expires_at: datetime


@dataclass(frozen=True)
class WindowSet:
    """The stored maintenance windows and the version of the record that holds them."""

    windows: tuple[MaintenanceWindow, ...] = ()
    version: int = 0


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing; ``next_cursor`` is None on the last page."""

    items: list[T]
    next_cursor: str | None


class Store(Protocol):
    """Jobs and executions, with atomic compare-and-swap commits.

    Every write that changes a job goes through :meth:`create_job` or :meth:`commit`;
    both are conditional, so two dispatchers, a dispatcher and a worker, or the same
    event delivered twice can never both win.
    """

    def get_job(self, job_name: str) -> Job | None:
        """The job as last committed (strongly consistent), or None.

        Raises ``JobUnreadable`` when the stored record cannot be decoded.
        """

    def create_job(self, job: Job) -> None:
        """Store a new job. Raises ``JobAlreadyExists`` if the name is taken."""

    def delete_job(self, job_name: str, *, expected: Job | None = None, orphan: OrphanedRun | None = None) -> None:
        """Remove the job; its executions stay until their retention expires.

        Raises ``JobNotFound`` if there is no such job. With ``expected`` (the job as the
        caller read it), only if the stored job is still that job at that version (the
        condition of :meth:`commit`), else ``ConcurrentUpdate`` (also when it is gone) and
        nothing is deleted. ``orphan``, the watch on the run ``expected``'s lease names, is
        recorded in the same write: the job is never gone with its run unwatched.
        """

    def commit(
        self,
        job: Job,
        *,
        expected_version: int,
        new_executions: Sequence[Execution] = (),
        execution_updates: Sequence[ExecutionUpdate] = (),
        idempotency: IdempotencyRecord | None = None,
        replay: ReplayUpdate | None = None,
    ) -> Job:
        """Atomically: replace the job, insert executions, update executions, write the
        job's replay (``replay``: its condition holds, or nothing is written).

        Lands only if the stored job has ``version == expected_version`` and is the same
        job (the same ``created_at``: a job deleted and registered again is another job,
        whatever its version), no ``new_executions`` already exist (same job and
        execution id), every ``execution_updates`` condition holds, and ``idempotency`` is not already
        bound. Otherwise nothing is written and ``ConcurrentUpdate`` is raised.
        Returns the job as stored (``version = expected_version + 1``).
        """

    def update_execution(self, update: ExecutionUpdate) -> None:
        """Replace one execution of a job that no longer exists (it was cancelled, or
        replaced by a job registered again under its name).

        Same condition as in :meth:`commit`; raises ``ConcurrentUpdate`` when it does
        not hold. Every other change goes through :meth:`commit` with its job.
        """

    def orphaned_runs(self, now: datetime, *, limit: int) -> list[OrphanedRun]:
        """The watches (recorded by :meth:`delete_job`) whose lease expired at or before
        ``now``, earliest expiry first, at most ``limit``: one query of one known key
        (DynamoDB: a partition of the executions table, sorted by expiry)."""

    def forget_orphaned_run(self, run: OrphanedRun) -> None:
        """Remove the watch; nothing happens when it is already gone."""

    def list_jobs(self, *, limit: int, cursor: str | None) -> Page[Job | UnreadableJob]:
        """Every job exactly once across pages, in the store's order (DynamoDB: table
        order; memory: by name). ``cursor`` is the opaque ``next_cursor`` of the page before.
        A record that cannot be decoded is listed as an :class:`UnreadableJob`.

        Raises ``InvalidCursor`` for a cursor this store did not issue.
        """

    def due_page(self, now: datetime, *, limit: int, cursor: str | None = None) -> Page[Job | UnreadableJob]:
        """Jobs with ``due_at <= now``, earliest first, at most ``limit``; ``cursor`` is the
        opaque ``next_cursor`` of the page before (None on the last page).

        Served by an index of due work, write-sharded in DynamoDB and merged oldest first:
        the cost depends on the number of due jobs, never on the number registered. May be
        slightly stale: callers re-check with :meth:`commit`. A record that cannot be
        decoded comes as an :class:`UnreadableJob` (with the due time it is indexed at),
        so one bad record never hides the others.
        """

    def set_aside(self, job_name: str, *, seen_due_at: datetime | None, set_aside: SetAside) -> bool:
        """Hold a job back: record ``set_aside`` on it and move its due entry to
        ``set_aside.retry_at``, on condition that its entry is still at ``seen_due_at``
        (what the caller read). Works on a record that cannot be decoded. False when the
        condition failed (the job was changed, repaired or removed meanwhile).
        """

    def replace_unreadable_job(self, job: Job) -> None:
        """Overwrite an existing record that cannot be decoded with ``job`` (a repair by
        registering again). Raises ``JobNotFound`` when there is no record."""

    def get_execution(self, job_name: str, execution_id: str) -> Execution | None:
        """One execution (strongly consistent), or None."""

    def list_executions(self, job_name: str, *, limit: int, cursor: str | None) -> Page[Execution]:
        """Executions of one job, newest slot first (a query, never a scan)."""

    def find_idempotency(self, job_name: str, key: str, now: datetime) -> IdempotencyRecord | None:
        """The unexpired record for (job, key), or None."""

    def get_replay(self, job_name: str, replay_id: str) -> Replay | None:
        """One replay of the job (strongly consistent), or None. Replays are written only
        by :meth:`commit`, with their job; like executions they outlive a cancelled job
        until their retention (``Replay.expires_at``) expires."""

    def list_replays(self, job_name: str, *, limit: int, cursor: str | None) -> Page[Replay]:
        """Replays of one job, newest first (a query, never a scan); ``cursor`` is the
        opaque ``next_cursor`` of the page before. Raises ``InvalidCursor`` for a cursor
        this store did not issue for this listing."""

    def take_trigger_budget(self, caller: str, minute: datetime, *, per_minute: int, expires_at: datetime) -> bool:
        """Count one manual trigger of ``caller`` in the minute that starts at ``minute``:
        True when it was counted, False (nothing written) when ``per_minute`` were already.

        Atomic, so every API instance shares one budget per caller; the count is kept until
        ``expires_at`` (DynamoDB: the table's TTL), then forgotten.
        """

    def put_channel(self, channel: Channel) -> None:
        """Create the notification channel ``channel.name``, or replace it (last write wins:
        a channel is configuration, not state). Stored in the jobs table beside the jobs,
        never listed among them nor in the due index."""

    def get_channel(self, name: str) -> Channel | None:
        """The channel (strongly consistent), or None."""

    def list_channels(self) -> list[Channel]:
        """Every channel, by name."""

    def delete_channel(self, name: str) -> None:
        """Remove the channel. Raises ``ChannelNotFound`` if there is none. Jobs that name it
        are not changed: their notices go to the stack's topic, saying it is gone."""

    def maintenance_windows(self) -> WindowSet:
        """Every stored maintenance window, with the version of the one record that holds
        them all (0 when none was ever stored). One strongly consistent read: a tick reads
        the windows once (DynamoDB: one item of the jobs table, never listed as a job)."""

    def save_maintenance_windows(self, windows: Sequence[MaintenanceWindow], *, expected_version: int) -> WindowSet:
        """Replace the stored windows, on condition that the record is still at
        ``expected_version`` (what the caller read); stored at ``expected_version + 1``.
        Raises ``ConcurrentUpdate`` when another writer got there first."""

    def record_tick(self, now: datetime) -> None:
        """Remember that a dispatcher tick ran at ``now`` (for ``GET /status``)."""

    def last_tick(self) -> datetime | None:
        """The ``now`` of the latest recorded tick, or None."""


class Invoker(Protocol):
    """Hands a claimed execution to a worker, without waiting for it to run."""

    def invoke(self, event: WorkerEvent, *, manual: bool = False) -> None:
        """Start the worker for this event's execution. May raise; the lease then runs out.

        ``manual`` marks a caller's trigger: where runs wait for a worker, scheduled runs
        (and retries) go first, so one caller's burst cannot hold the schedule back."""


class Notifier(Protocol):
    """Publishes notices to operators: the stack's SNS topic, or a job's channels."""

    def publish(self, notice: Notice, channel: Channel | None = None) -> None:
        """Deliver one notice to ``channel`` (None: the stack's topic) or raise
        ``NotifierUnavailable``; ``ChannelUnusable`` when no retry can help (a refused
        destination, a missing secret). Called with ``channel`` only for a channel."""


class Metrics(Protocol):
    """Counts and timings for dashboards and alarms."""

    def record(self, name: str, value: float, *, unit: str = "Count", job_name: str | None = None) -> None:
        """Add one data point; ``job_name`` adds a ``JobName`` dimension."""


class Clock(Protocol):
    """The only way the core learns the time."""

    def now(self) -> datetime:
        """An aware UTC datetime."""


class RandomSource(Protocol):
    def random(self) -> float:
        """A float in [0, 1)."""


HandlerFn = Callable[[RunContext], Any]
"""A handler: called with the run's context; its return value is the result."""

PayloadValidator = Callable[[Mapping[str, Any]], list[FieldError]]
"""Checks a job's payload at registration; field names are relative to ``payload``."""


@dataclass(frozen=True)
class PayloadField:
    """One field of a job type's payload, as ``GET /handlers`` and the console show it.

    ``type`` is a JSON type name (``string``, ``object``, ``integer``, ``boolean``, ``any``);
    ``example`` is a JSON value the console offers in a payload template.
    """

    name: str
    type: str
    description: str
    required: bool = False
    example: Any = None


@dataclass(frozen=True)
class Handler:
    """A handler known by name, with what the API shows of it."""

    name: str
    description: str
    fn: HandlerFn
    validate_payload: PayloadValidator | None = None
    payload_fields: tuple[PayloadField, ...] = ()
    run_options: frozenset[str] = frozenset()
    """Payload fields that choose how one run goes (the certification check's ``force``):
    accepted on a trigger's payload, refused in a stored definition, where they would
    apply to every scheduled run."""


class HandlerCatalog(Protocol):
    """Handlers by name (``chalicelib.jobs.registry.JobRegistry``)."""

    def get(self, name: str) -> Handler | None:
        """The handler registered as ``name``, or None."""

    def __contains__(self, name: object) -> bool:
        """True when a handler is registered as ``name``."""

    def add(self, name: str, fn: HandlerFn, description: str = "", validate_payload: PayloadValidator | None = None,
            payload_fields: tuple[PayloadField, ...] = (), run_options: Iterable[str] = ()) -> None:
        """Register ``fn`` as ``name``; raises ValueError if the name holds another function.
        ``run_options`` are payload fields a trigger may give and a definition may not."""

    def all(self) -> list[Handler]:
        """Every registered handler, by name."""
