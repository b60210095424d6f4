"""The stored form of jobs and executions: JSON-compatible documents (replays':
:mod:`chalicelib.core.replay_codec`; channels' and windows': :mod:`chalicelib.core.stack_codec`).

Both stores keep exactly these documents (the memory store too, so the contract suite
proves the round trip). Field names are spelled out here rather than derived from the
dataclasses, so renaming a Python field never silently changes what is stored.

Datetimes are ISO-8601 UTC strings: :func:`~chalicelib.core.model.iso` when the value
has whole milliseconds (the usual case), otherwise microsecond precision, so that
``decode(encode(x)) == x`` always. Enums are stored by value; ``None`` as ``null``.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Mapping

from chalicelib.core.model import (
    UTC,
    Actor,
    AlertState,
    Execution,
    ExecutionError,
    ExecutionStatus,
    HeldSlot,
    Job,
    JobDefinition,
    JobState,
    Lease,
    LogLine,
    Notice,
    NoticeKind,
    PendingRetry,
    RecentRun,
    ReplayCursor,
    RetryPolicy,
    SetAside,
    Trigger,
    iso,
    parse_iso,
)

SCHEMA_VERSION = 1
"""Written as ``"schema"`` in every job document; bump with a migration on change."""

Document = dict[str, Any]


def encode_time(moment: datetime) -> str:
    """A datetime as stored: :func:`iso` unless it has sub-millisecond precision."""
    if moment.microsecond % 1000 == 0:
        return iso(moment)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def encode_optional_time(moment: datetime | None) -> str | None:
    return None if moment is None else encode_time(moment)


def parse_optional_time(text: str | None) -> datetime | None:
    return None if text is None else parse_iso(text)


# --- executions -------------------------------------------------------------------


def execution_to_document(ex: Execution) -> Document:
    return {
        "execution_id": ex.execution_id,
        "job_name": ex.job_name,
        "trigger": ex.trigger.value,
        "scheduled_for": encode_time(ex.scheduled_for),
        "attempt": ex.attempt,
        "status": ex.status.value,
        "idempotency_key": ex.idempotency_key,
        "created_at": encode_time(ex.created_at),
        "payload_override": dict(ex.payload_override),
        "started_at": encode_optional_time(ex.started_at),
        "finished_at": encode_optional_time(ex.finished_at),
        "duration_ms": ex.duration_ms,
        "result": ex.result,
        "error": None if ex.error is None else {"type": ex.error.type, "message": ex.error.message,
                                                "retryable": ex.error.retryable},
        "lease_owner": ex.lease_owner,
        "expires_at": encode_optional_time(ex.expires_at),
        "triggered_by": actor_to_document(ex.triggered_by),
        "logs": [{"at": encode_time(line.at), "level": line.level, "message": line.message} for line in ex.logs],
        "logs_dropped": ex.logs_dropped,
        "replay_id": ex.replay_id,
        "skip_reason": ex.skip_reason,
    }


def execution_from_document(doc: Mapping[str, Any]) -> Execution:
    error = doc.get("error")
    return Execution(
        execution_id=doc["execution_id"],
        job_name=doc["job_name"],
        trigger=Trigger(doc["trigger"]),
        scheduled_for=parse_iso(doc["scheduled_for"]),
        attempt=int(doc["attempt"]),
        status=ExecutionStatus(doc["status"]),
        idempotency_key=doc["idempotency_key"],
        created_at=parse_iso(doc["created_at"]),
        payload_override=dict(doc.get("payload_override") or {}),
        started_at=parse_optional_time(doc.get("started_at")),
        finished_at=parse_optional_time(doc.get("finished_at")),
        duration_ms=doc.get("duration_ms"),
        result=doc.get("result"),
        error=None if error is None else ExecutionError(type=error["type"], message=error["message"],
                                                        retryable=bool(error.get("retryable", True))),
        lease_owner=doc.get("lease_owner"),
        expires_at=parse_optional_time(doc.get("expires_at")),
        triggered_by=actor_from_document(doc.get("triggered_by")),
        logs=tuple(LogLine(at=parse_iso(line["at"]), level=str(line["level"]), message=str(line["message"]))
                   for line in doc.get("logs") or ()),
        logs_dropped=int(doc.get("logs_dropped", 0)),
        replay_id=doc.get("replay_id"),
        skip_reason=doc.get("skip_reason"),
    )


# --- jobs -------------------------------------------------------------------------


def _definition_to_document(d: JobDefinition) -> Document:
    return {
        "job_name": d.job_name,
        "cron_expression": d.cron_expression,
        "handler": d.handler,
        "timezone": d.timezone,
        "payload": dict(d.payload),
        "retry": {
            "max_attempts": d.retry.max_attempts,
            "initial_delay_seconds": d.retry.initial_delay_seconds,
            "max_delay_seconds": d.retry.max_delay_seconds,
        },
        "timeout_seconds": d.timeout_seconds,
        "alert_after_failures": d.alert_after_failures,
        "misfire_grace_seconds": d.misfire_grace_seconds,
        "pause_after_failures": d.pause_after_failures,
        "description": d.description,
        "owner": d.owner,
        "notify": list(d.notify),
    }


def _definition_from_document(doc: Mapping[str, Any]) -> JobDefinition:
    retry = doc["retry"]
    return JobDefinition(
        job_name=doc["job_name"],
        cron_expression=doc["cron_expression"],
        handler=doc["handler"],
        timezone=doc["timezone"],
        payload=dict(doc.get("payload") or {}),
        retry=RetryPolicy(
            max_attempts=int(retry["max_attempts"]),
            initial_delay_seconds=int(retry["initial_delay_seconds"]),
            max_delay_seconds=int(retry["max_delay_seconds"]),
        ),
        timeout_seconds=int(doc["timeout_seconds"]),
        alert_after_failures=int(doc["alert_after_failures"]),
        misfire_grace_seconds=int(doc["misfire_grace_seconds"]),
        pause_after_failures=doc.get("pause_after_failures"),
        description=doc.get("description", ""),
        owner=doc.get("owner"),
        notify=tuple(str(n) for n in doc.get("notify") or ()),
    )


def _lease_to_document(lease: Lease | None) -> Document | None:
    if lease is None:
        return None
    return {"execution_id": lease.execution_id, "expires_at": encode_time(lease.expires_at), "owner": lease.owner}


def _lease_from_document(doc: Mapping[str, Any] | None) -> Lease | None:
    if doc is None:
        return None
    return Lease(execution_id=doc["execution_id"], expires_at=parse_iso(doc["expires_at"]), owner=doc.get("owner"))


def _pending_retry_to_document(retry: PendingRetry | None) -> Document | None:
    if retry is None:
        return None
    return {
        "scheduled_for": encode_time(retry.scheduled_for),
        "attempt": retry.attempt,
        "due_at": encode_time(retry.due_at),
        "payload_override": dict(retry.payload_override),
        "idempotency_key": retry.idempotency_key,
        "replay_id": retry.replay_id,
    }


def _pending_retry_from_document(doc: Mapping[str, Any] | None) -> PendingRetry | None:
    if doc is None:
        return None
    return PendingRetry(
        scheduled_for=parse_iso(doc["scheduled_for"]),
        attempt=int(doc["attempt"]),
        due_at=parse_iso(doc["due_at"]),
        payload_override=dict(doc.get("payload_override") or {}),
        idempotency_key=doc.get("idempotency_key", ""),
        replay_id=doc.get("replay_id"),
    )


def _replay_cursor_to_document(cursor: ReplayCursor | None) -> Document | None:
    if cursor is None:
        return None
    return {"replay_id": cursor.replay_id, "due_at": encode_time(cursor.due_at),
            "slot": encode_optional_time(cursor.slot), "execution_id": cursor.execution_id,
            "status": None if cursor.status is None else cursor.status.value}


def _replay_cursor_from_document(doc: Mapping[str, Any] | None) -> ReplayCursor | None:
    if doc is None:
        return None
    status = doc.get("status")
    return ReplayCursor(replay_id=str(doc["replay_id"]), due_at=parse_iso(doc["due_at"]),
                        slot=parse_optional_time(doc.get("slot")), execution_id=doc.get("execution_id"),
                        status=None if status is None else ExecutionStatus(status))


def _notice_to_document(notice: Notice) -> Document:
    return {
        "notice_id": notice.notice_id,
        "kind": notice.kind.value,
        "subject": notice.subject,
        "message": dict(notice.message),
        "created_at": encode_time(notice.created_at),
        "attempts": notice.attempts,
        "next_attempt_at": encode_optional_time(notice.next_attempt_at),
        "channel": notice.channel,
    }


def _notice_from_document(doc: Mapping[str, Any]) -> Notice:
    return Notice(
        notice_id=doc["notice_id"],
        kind=NoticeKind(doc["kind"]),
        subject=doc["subject"],
        message=dict(doc["message"]),
        created_at=parse_iso(doc["created_at"]),
        attempts=int(doc.get("attempts", 0)),
        next_attempt_at=parse_optional_time(doc.get("next_attempt_at")),
        channel=doc.get("channel"),
    )


def actor_to_document(actor: Actor | None) -> Document | None:
    return None if actor is None else {"subject": actor.subject, "role": actor.role}


def actor_from_document(doc: Mapping[str, Any] | None) -> Actor | None:
    return None if not doc else Actor(subject=str(doc["subject"]), role=str(doc["role"]))


def set_aside_to_document(set_aside: SetAside) -> Document:
    """The set-aside part of a :class:`JobRecord` (written alone by ``Store.set_aside``)."""
    return {
        "reason": set_aside.reason,
        "since": encode_time(set_aside.since),
        "retry_at": encode_time(set_aside.retry_at),
        "attempts": set_aside.attempts,
        "alerted": set_aside.alerted,
        "notified": list(set_aside.notified),
    }


def readable_set_aside(doc: Any) -> SetAside | None:
    """The set-aside part of a record whose document cannot be decoded, when it can be
    read (None otherwise): such a record is shown and retried, whatever its other parts hold."""
    try:
        return set_aside_from_document(doc)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def set_aside_from_document(doc: Mapping[str, Any] | None) -> SetAside | None:
    if not doc:
        return None
    return SetAside(reason=str(doc["reason"]), since=parse_iso(doc["since"]), retry_at=parse_iso(doc["retry_at"]),
                    attempts=int(doc.get("attempts", 1)), alerted=bool(doc.get("alerted", False)),
                    notified=tuple(str(n) for n in doc.get("notified") or ()))


@dataclass(frozen=True)
class JobRecord:
    """A job as both stores keep it: three parts, each stored once.

    - ``doc``: the job's document (everything but the two parts below);
    - ``version``: the compare-and-swap counter, beside the document because every
      conditional write tests it (DynamoDB's ``version`` attribute);
    - ``set_aside``: the dispatcher's hold (:func:`set_aside_to_document`), beside the
      document because it is written on records whose document cannot be decoded, and
      written without rewriting the document.

    :func:`job_to_record` and :func:`job_from_record` are the only place the parts are
    split and joined; the stores keep the parts and never splice.
    """

    doc: Document
    version: int
    set_aside: Document | None


def job_to_record(job: Job) -> JobRecord:
    return JobRecord(doc=_job_to_document(job), version=job.version,
                     set_aside=None if job.set_aside is None else set_aside_to_document(job.set_aside))


def job_from_record(record: JobRecord) -> Job:
    """The job a record holds; any decoding failure raises (the store reads it as unreadable)."""
    return replace(_job_from_document(record.doc), version=int(record.version),
                   set_aside=set_aside_from_document(record.set_aside))


def _job_to_document(job: Job) -> Document:
    return {
        "schema": SCHEMA_VERSION,
        "definition": _definition_to_document(job.definition),
        "created_at": encode_time(job.created_at),
        "updated_at": encode_time(job.updated_at),
        "state": job.state.value,
        "pause_reason": job.pause_reason,
        "next_run_at": encode_optional_time(job.next_run_at),
        "consecutive_failures": job.consecutive_failures,
        "alert_state": job.alert_state.value,
        "last_execution": None if job.last_execution is None else execution_to_document(job.last_execution),
        "last_success_at": encode_optional_time(job.last_success_at),
        "lease": _lease_to_document(job.lease),
        "pending_retry": _pending_retry_to_document(job.pending_retry),
        "outbox": [_notice_to_document(n) for n in job.outbox],
        "created_by": actor_to_document(job.created_by),
        "updated_by": actor_to_document(job.updated_by),
        "paused_by": actor_to_document(job.paused_by),
        "replay": _replay_cursor_to_document(job.replay),
        "paused_until": encode_optional_time(job.paused_until),
        "held_slot": None if job.held_slot is None else {
            "slot": encode_time(job.held_slot.slot), "window_id": job.held_slot.window_id,
            "release_at": encode_time(job.held_slot.release_at)},
        "recent_runs": [{"execution_id": r.execution_id, "status": r.status.value,
                         "scheduled_for": encode_time(r.scheduled_for)} for r in job.recent_runs],
    }


def _job_from_document(doc: Mapping[str, Any]) -> Job:
    if doc.get("schema") != SCHEMA_VERSION:
        raise ValueError(f"unsupported job document schema {doc.get('schema')!r}")
    last = doc.get("last_execution")
    return Job(
        definition=_definition_from_document(doc["definition"]),
        created_at=parse_iso(doc["created_at"]),
        updated_at=parse_iso(doc["updated_at"]),
        state=JobState(doc["state"]),
        pause_reason=doc.get("pause_reason"),
        next_run_at=parse_optional_time(doc.get("next_run_at")),
        consecutive_failures=int(doc.get("consecutive_failures", 0)),
        alert_state=AlertState(doc.get("alert_state", AlertState.OK.value)),
        last_execution=None if last is None else execution_from_document(last),
        last_success_at=parse_optional_time(doc.get("last_success_at")),
        lease=_lease_from_document(doc.get("lease")),
        pending_retry=_pending_retry_from_document(doc.get("pending_retry")),
        outbox=tuple(_notice_from_document(n) for n in doc.get("outbox") or ()),
        created_by=actor_from_document(doc.get("created_by")),
        updated_by=actor_from_document(doc.get("updated_by")),
        paused_by=actor_from_document(doc.get("paused_by")),
        replay=_replay_cursor_from_document(doc.get("replay")),
        paused_until=parse_optional_time(doc.get("paused_until")),
        held_slot=_held_slot_from_document(doc.get("held_slot")),
        recent_runs=tuple(RecentRun(str(r["execution_id"]), ExecutionStatus(r["status"]), parse_iso(r["scheduled_for"]))
                          for r in doc.get("recent_runs") or ()),
    )


def _held_slot_from_document(doc: Mapping[str, Any] | None) -> HeldSlot | None:
    if doc is None:
        return None
    return HeldSlot(slot=parse_iso(doc["slot"]), window_id=str(doc["window_id"]), release_at=parse_iso(doc["release_at"]))
