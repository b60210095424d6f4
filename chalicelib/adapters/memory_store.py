"""An in-process :class:`~chalicelib.core.ports.Store`: tests, simulations, the local stack.

Same semantics as the DynamoDB store, checked by the same contract suite
(``tests/contract``). Jobs and executions are kept as codec documents, so every read
goes through :mod:`chalicelib.core.codec` exactly as it does against DynamoDB and no
caller ever shares an object with the store. One lock serialises all access: a commit
checks every condition and then writes everything, or writes nothing.
"""
from __future__ import annotations

import bisect
import threading
from dataclasses import replace
from datetime import datetime
from typing import Sequence

from chalicelib.adapters.store_support import (
    check_limit,
    commit_instant,
    due_cursor,
    due_cursor_position,
    executions_cursor,
    executions_cursor_position,
    jobs_cursor,
    jobs_cursor_position,
    reject_repeated_executions,
    replays_cursor,
    replays_cursor_position,
)
from chalicelib.core.channels import Channel, ChannelNotFound
from chalicelib.core.codec import (
    Document,
    JobRecord,
    encode_time,
    execution_from_document,
    execution_to_document,
    job_from_record,
    job_to_record,
    readable_set_aside,
    set_aside_to_document,
)
from chalicelib.core.errors import ConcurrentUpdate, InvalidCursor, JobAlreadyExists, JobNotFound, JobUnreadable
from chalicelib.core.maintenance import MaintenanceWindow
from chalicelib.core.model import Execution, Job, SetAside, UnreadableJob, parse_iso
from chalicelib.core.ports import (
    Clock,
    ExecutionUpdate,
    IdempotencyRecord,
    OrphanedRun,
    Page,
    ReplayUpdate,
    WindowSet,
)
from chalicelib.core.replay_codec import ReplayRecord, replay_from_record, replay_to_record
from chalicelib.core.replays import Replay
from chalicelib.core.stack_codec import (
    channel_from_document,
    channel_to_document,
    window_from_document,
    window_to_document,
)


class MemoryStore:
    """Implements :class:`~chalicelib.core.ports.Store` in memory, thread-safe.

    ``clock`` tells :meth:`commit` when an existing idempotency record has expired and
    may be re-bound. Without one, the commit's instant is the committed job's
    ``updated_at`` (the service stamps every commit with its ``now``).
    """

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._jobs: dict[str, JobRecord] = {}  # as DynamoDB keeps them: document, version, set-aside
        # The due index: (due_at, job_name) kept sorted; _due_at says where each job sits.
        self._due: list[tuple[datetime, str]] = []
        self._due_at: dict[str, datetime] = {}
        self._executions: dict[str, dict[str, Document]] = {}
        self._idempotency: dict[tuple[str, str], IdempotencyRecord] = {}
        self._replays: dict[str, dict[str, ReplayRecord]] = {}
        self._last_tick: datetime | None = None
        self._windows: tuple[list[Document], int] = ([], 0)  # documents, version (one record, as in DynamoDB)
        # Manual triggers counted per (caller, minute), with when each count may be dropped.
        self._trigger_budget: dict[tuple[str, datetime], tuple[int, datetime]] = {}
        self._channels: dict[str, Document] = {}
        # Watches on runs of deleted jobs, by (lease expiry, job, execution): see orphaned_runs.
        self._orphans: dict[tuple[datetime, str, str], OrphanedRun] = {}

    # --- jobs ---------------------------------------------------------------------

    def get_job(self, job_name: str) -> Job | None:
        with self._lock:
            if job_name not in self._jobs:
                return None
            entry = self._decode(job_name)
        if isinstance(entry, UnreadableJob):
            raise JobUnreadable(job_name, entry.reason, entry)
        return entry

    def create_job(self, job: Job) -> None:
        record = job_to_record(job)
        with self._lock:
            if job.name in self._jobs:
                raise JobAlreadyExists(job.name)
            self._put_job(job, record)

    def set_aside(self, job_name: str, *, seen_due_at: datetime | None, set_aside: SetAside) -> bool:
        with self._lock:
            if job_name not in self._jobs or self._due_at.get(job_name) != seen_due_at:
                return False
            self._jobs[job_name] = replace(self._jobs[job_name], set_aside=set_aside_to_document(set_aside))
            self._index(job_name, set_aside.retry_at)
        return True

    def replace_unreadable_job(self, job: Job) -> None:
        record = job_to_record(job)
        with self._lock:
            if job.name not in self._jobs:
                raise JobNotFound(job.name)
            self._put_job(job, record)

    def delete_job(self, job_name: str, *, expected: Job | None = None, orphan: OrphanedRun | None = None) -> None:
        with self._lock:
            current = self._jobs.get(job_name)
            if current is None and expected is None:
                raise JobNotFound(job_name)
            # The same job (not one registered again since) at the version the caller read.
            if expected is not None and (current is None or current.version != expected.version
                                         or current.doc.get("created_at") != encode_time(expected.created_at)):
                raise ConcurrentUpdate(f"Job '{job_name}' is no longer at version {expected.version}; re-read it.")
            del self._jobs[job_name]
            if orphan is not None:
                self._orphans[(orphan.lease_expires_at, orphan.job_name, orphan.execution_id)] = orphan
            self._unindex(job_name)

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
        reject_repeated_executions(new_executions, execution_updates)
        stored_job = replace(job, version=expected_version + 1)
        job_record = job_to_record(stored_job)
        replay_record = None if replay is None else replay_to_record(
            replace(replay.replay, version=(replay.expected_version or 0) + 1))
        new_docs = [(ex.job_name, ex.execution_id, execution_to_document(ex)) for ex in new_executions]
        update_docs = [
            (u.execution.job_name, u.execution.execution_id, execution_to_document(u.execution))
            for u in execution_updates
        ]
        now = commit_instant(job, self._clock)
        with self._lock:
            # Check every condition first; write only when all hold.
            current = self._jobs.get(job.name)
            # The same job (not one registered again since) at the version the caller read.
            if (current is None or current.version != expected_version
                    or current.doc.get("created_at") != job_record.doc["created_at"]):
                raise ConcurrentUpdate(
                    f"Job '{job.name}' is no longer at version {expected_version}; re-read it and retry."
                )
            for job_name, execution_id, _ in new_docs:
                if execution_id in self._executions.get(job_name, {}):
                    raise ConcurrentUpdate(f"Execution {job_name}/{execution_id} already exists.")
            for update in execution_updates:
                self._check_update(update)
            if idempotency is not None:
                bound = self._idempotency.get((idempotency.job_name, idempotency.key))
                if bound is not None and bound.expires_at > now:
                    raise ConcurrentUpdate(f"Idempotency key {idempotency.key!r} is already bound.")
            if replay is not None:
                stored_replay = self._replays.get(job.name, {}).get(replay.replay.replay_id)
                if (None if stored_replay is None else stored_replay.version) != replay.expected_version:
                    raise ConcurrentUpdate(f"Replay {job.name}/{replay.replay.replay_id} is no longer at "
                                           f"version {replay.expected_version}.")

            self._put_job(stored_job, job_record)
            for job_name, execution_id, doc in new_docs + update_docs:
                self._executions.setdefault(job_name, {})[execution_id] = doc
            if idempotency is not None:
                self._idempotency[(idempotency.job_name, idempotency.key)] = idempotency
            if replay_record is not None:
                self._replays.setdefault(job.name, {})[replay_record.doc["replay_id"]] = replay_record
        return job_from_record(job_record)

    def update_execution(self, update: ExecutionUpdate) -> None:
        doc = execution_to_document(update.execution)
        with self._lock:
            self._check_update(update)
            self._executions.setdefault(update.execution.job_name, {})[update.execution.execution_id] = doc

    def orphaned_runs(self, now: datetime, *, limit: int) -> list[OrphanedRun]:
        check_limit(limit)
        with self._lock:
            return [self._orphans[key] for key in sorted(self._orphans) if key[0] <= now][:limit]

    def forget_orphaned_run(self, run: OrphanedRun) -> None:
        with self._lock:
            self._orphans.pop((run.lease_expires_at, run.job_name, run.execution_id), None)

    def _check_update(self, update: ExecutionUpdate) -> None:
        """Under the lock: the stored execution still has the expected status and owner."""
        stored = self._executions.get(update.execution.job_name, {}).get(update.execution.execution_id)
        if (
            stored is None
            or stored["status"] != update.expected_status.value
            or stored["lease_owner"] != update.expected_owner
        ):
            raise ConcurrentUpdate(
                f"Execution {update.execution.job_name}/{update.execution.execution_id} is no longer "
                f"{update.expected_status.value} with owner {update.expected_owner!r}."
            )

    def list_jobs(self, *, limit: int, cursor: str | None) -> Page:
        check_limit(limit)
        after = jobs_cursor_position(cursor) if cursor else None
        with self._lock:
            names = sorted(self._jobs)
            start = 0 if after is None else bisect.bisect_right(names, after)
            chosen = names[start : start + limit]
            items = [self._decode(name) for name in chosen]
            more = start + limit < len(names)
        next_cursor = jobs_cursor(chosen[-1]) if more and chosen else None
        return Page(items=items, next_cursor=next_cursor)

    def due_page(self, now: datetime, *, limit: int, cursor: str | None = None) -> Page[Job | UnreadableJob]:
        check_limit(limit)
        after = None
        if cursor:
            position = due_cursor_position(cursor)
            try:
                after = (parse_iso(position["dueAt"]), str(position["jobName"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise InvalidCursor() from exc
        with self._lock:
            start = 0 if after is None else bisect.bisect_right(self._due, after)
            taken: list[tuple[datetime, str]] = []
            for due_at, job_name in self._due[start:]:  # sorted: stops at the first job not yet due
                if due_at > now or len(taken) == limit:
                    break
                taken.append((due_at, job_name))
            items = [self._decode(name) for _, name in taken]
        more = len(taken) == limit
        last = {"dueAt": encode_time(taken[-1][0]), "jobName": taken[-1][1]} if more and taken else None
        return Page(items=items, next_cursor=due_cursor(last) if last else None)

    def _decode(self, job_name: str) -> Job | UnreadableJob:
        """Under the lock: the stored job, or an UnreadableJob saying why it is not one."""
        record = self._jobs[job_name]
        try:
            return job_from_record(record)
        except Exception as exc:  # noqa: BLE001 - any decoding failure is this record's, not the store's
            return UnreadableJob(job_name, f"{type(exc).__name__}: {exc}"[:300], self._due_at.get(job_name),
                                 readable_set_aside(record.set_aside))

    # --- executions -----------------------------------------------------------------

    def get_execution(self, job_name: str, execution_id: str) -> Execution | None:
        with self._lock:
            doc = self._executions.get(job_name, {}).get(execution_id)
        return None if doc is None else execution_from_document(doc)

    def list_executions(self, job_name: str, *, limit: int, cursor: str | None) -> Page:
        check_limit(limit)
        before = executions_cursor_position(cursor, job_name) if cursor else None
        with self._lock:
            ids = sorted(self._executions.get(job_name, {}), reverse=True)
            if before is not None:
                ids = [i for i in ids if i < before]
            chosen = ids[:limit]
            docs = [self._executions[job_name][i] for i in chosen]
            more = len(ids) > limit
        next_cursor = executions_cursor(job_name, chosen[-1]) if more else None
        return Page(items=[execution_from_document(doc) for doc in docs], next_cursor=next_cursor)

    # --- replays ----------------------------------------------------------------------

    def get_replay(self, job_name: str, replay_id: str) -> Replay | None:
        with self._lock:
            record = self._replays.get(job_name, {}).get(replay_id)
        return None if record is None else replay_from_record(record)

    def list_replays(self, job_name: str, *, limit: int, cursor: str | None) -> Page[Replay]:
        check_limit(limit)
        before = replays_cursor_position(cursor, job_name) if cursor else None
        with self._lock:
            ids = [i for i in sorted(self._replays.get(job_name, {}), reverse=True) if before is None or i < before]
            records = [self._replays[job_name][i] for i in ids[:limit]]
        next_cursor = replays_cursor(job_name, ids[limit - 1]) if len(ids) > limit else None
        return Page(items=[replay_from_record(record) for record in records], next_cursor=next_cursor)

    # --- notification channels ---------------------------------------------------------

    def put_channel(self, channel: Channel) -> None:
        doc = channel_to_document(channel)
        with self._lock:
            self._channels[channel.name] = doc

    def get_channel(self, name: str) -> Channel | None:
        with self._lock:
            doc = self._channels.get(name)
        return None if doc is None else channel_from_document(doc)

    def list_channels(self) -> list[Channel]:
        with self._lock:
            docs = [self._channels[name] for name in sorted(self._channels)]
        return [channel_from_document(doc) for doc in docs]

    def delete_channel(self, name: str) -> None:
        with self._lock:
            if self._channels.pop(name, None) is None:
                raise ChannelNotFound(name)

    def maintenance_windows(self) -> WindowSet:
        with self._lock:
            docs, version = self._windows
        return WindowSet(tuple(window_from_document(doc) for doc in docs), version)

    def save_maintenance_windows(self, windows: Sequence[MaintenanceWindow], *, expected_version: int) -> WindowSet:
        docs = [window_to_document(w) for w in windows]
        with self._lock:
            if self._windows[1] != expected_version:
                raise ConcurrentUpdate(f"Maintenance windows are no longer at version {expected_version}.")
            self._windows = (docs, expected_version + 1)
        return WindowSet(tuple(window_from_document(doc) for doc in docs), expected_version + 1)

    def record_tick(self, now: datetime) -> None:
        with self._lock:
            self._last_tick = max(now, self._last_tick) if self._last_tick else now

    def last_tick(self) -> datetime | None:
        with self._lock:
            return self._last_tick

    def take_trigger_budget(self, caller: str, minute: datetime, *, per_minute: int, expires_at: datetime) -> bool:
        with self._lock:
            # Counts of minutes whose records have expired are dropped, as DynamoDB's TTL does.
            for key in [k for k, (_, until) in self._trigger_budget.items() if until <= minute]:
                del self._trigger_budget[key]
            spent, _ = self._trigger_budget.get((caller, minute), (0, expires_at))
            if spent >= per_minute:
                return False
            self._trigger_budget[(caller, minute)] = (spent + 1, expires_at)
        return True

    def find_idempotency(self, job_name: str, key: str, now: datetime) -> IdempotencyRecord | None:
        with self._lock:
            record = self._idempotency.get((job_name, key))
        return record if record is not None and record.expires_at > now else None

    # --- the due index (callers hold the lock) --------------------------------------

    def _put_job(self, job: Job, record: JobRecord) -> None:
        self._jobs[job.name] = record
        self._index(job.name, job.due_at)

    def _index(self, job_name: str, due_at: datetime | None) -> None:
        self._unindex(job_name)
        if due_at is not None:  # sparse: a job with no work is not in the index
            bisect.insort(self._due, (due_at, job_name))
            self._due_at[job_name] = due_at

    def _unindex(self, job_name: str) -> None:
        due_at = self._due_at.pop(job_name, None)
        if due_at is not None:
            del self._due[bisect.bisect_left(self._due, (due_at, job_name))]

