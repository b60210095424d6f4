"""The stored form of replays: a :class:`ReplayRecord`, its document and its version.

Kept apart from :mod:`chalicelib.core.codec` (jobs, executions), whose time and actor
helpers it shares; both stores write replays through the functions here.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping

from chalicelib.core.codec import (
    Document,
    actor_from_document,
    actor_to_document,
    encode_optional_time,
    encode_time,
    parse_optional_time,
)
from chalicelib.core.model import ExecutionStatus, parse_iso
from chalicelib.core.replays import LeftOut, Replay, ReplaySelection, ReplaySlot, ReplayStatus, SlotState


@dataclass(frozen=True)
class ReplayRecord:
    """A replay as both stores keep it: its document and, beside it, its version (the
    compare-and-swap counter, stored once, as for a :class:`JobRecord`)."""

    doc: Document
    version: int


def replay_to_record(replay: Replay) -> ReplayRecord:
    return ReplayRecord(doc=_replay_to_document(replay), version=replay.version)


def replay_from_record(record: ReplayRecord) -> Replay:
    return replace(_replay_from_document(record.doc), version=int(record.version))


def _replay_to_document(replay: Replay) -> Document:
    return {
        "replay_id": replay.replay_id,
        "job_name": replay.job_name,
        "from": encode_time(replay.window_from),
        "to": encode_time(replay.window_to),
        "only": replay.only.value,
        "max_runs": replay.max_runs,
        "slots": [{"at": encode_time(s.scheduled_for), "state": s.state.value, "execution_id": s.execution_id,
                   "outcome": None if s.outcome is None else s.outcome.value} for s in replay.slots],
        "left_out": [{"at": encode_time(s.scheduled_for), "reason": s.reason, "detail": s.detail}
                     for s in replay.left_out],
        "status": replay.status.value,
        "created_at": encode_time(replay.created_at),
        "updated_at": encode_time(replay.updated_at),
        "job_created_at": encode_time(replay.job_created_at),
        "created_by": actor_to_document(replay.created_by),
        "idempotency_key": replay.idempotency_key,
        "expires_at": encode_optional_time(replay.expires_at),
    }


def _replay_from_document(doc: Mapping[str, Any]) -> Replay:
    return Replay(
        replay_id=str(doc["replay_id"]),
        job_name=str(doc["job_name"]),
        window_from=parse_iso(doc["from"]),
        window_to=parse_iso(doc["to"]),
        only=ReplaySelection(doc["only"]),
        max_runs=doc.get("max_runs"),
        slots=tuple(ReplaySlot(scheduled_for=parse_iso(s["at"]), state=SlotState(s["state"]),
                               execution_id=s.get("execution_id"),
                               outcome=None if s.get("outcome") is None else ExecutionStatus(s["outcome"]))
                    for s in doc.get("slots") or ()),
        left_out=tuple(LeftOut(parse_iso(s["at"]), str(s["reason"]), str(s["detail"]))
                       for s in doc.get("left_out") or ()),
        status=ReplayStatus(doc["status"]),
        created_at=parse_iso(doc["created_at"]),
        updated_at=parse_iso(doc["updated_at"]),
        job_created_at=parse_iso(doc["job_created_at"]),
        created_by=actor_from_document(doc.get("created_by")),
        idempotency_key=doc.get("idempotency_key"),
        expires_at=parse_optional_time(doc.get("expires_at")),
    )
