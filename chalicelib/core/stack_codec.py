"""Documents of the stack-wide records: notification channels and maintenance windows.

Kept apart from :mod:`chalicelib.core.codec` (jobs, executions, replays), whose time and
actor helpers they share; both stores write these through the functions here.
"""
from __future__ import annotations

from typing import Any, Mapping

from chalicelib.core.channels import Channel, ChannelType
from chalicelib.core.codec import SCHEMA_VERSION, Document, actor_from_document, actor_to_document, encode_time
from chalicelib.core.maintenance import MaintenanceWindow
from chalicelib.core.model import parse_iso

# --- notification channels -------------------------------------------------------------


def channel_to_document(channel: Channel) -> Document:
    return {
        "schema": SCHEMA_VERSION,
        "name": channel.name,
        "type": channel.type.value,
        "topic_arn": channel.topic_arn,
        "url": channel.url,
        "secret_ref": channel.secret_ref,
        "description": channel.description,
        "created_at": encode_time(channel.created_at),
        "updated_at": encode_time(channel.updated_at),
        "updated_by": actor_to_document(channel.updated_by),
    }


def channel_from_document(doc: Mapping[str, Any]) -> Channel:
    return Channel(
        name=str(doc["name"]),
        type=ChannelType(doc["type"]),
        topic_arn=doc.get("topic_arn"),
        url=doc.get("url"),
        secret_ref=doc.get("secret_ref"),
        description=str(doc.get("description") or ""),
        created_at=parse_iso(doc["created_at"]),
        updated_at=parse_iso(doc["updated_at"]),
        updated_by=actor_from_document(doc.get("updated_by")),
    )


# --- maintenance windows ------------------------------------------------------------


def window_to_document(window: MaintenanceWindow) -> Document:
    return {
        "window_id": window.window_id,
        "starts_at": encode_time(window.starts_at),
        "ends_at": encode_time(window.ends_at),
        "reason": window.reason,
        "created_at": encode_time(window.created_at),
        "jobs": list(window.jobs),
        "owner": window.owner,
        "all": window.all_jobs,
        "run_missed": window.run_missed,
        "created_by": actor_to_document(window.created_by),
        "ended_by": actor_to_document(window.ended_by),
    }


def window_from_document(doc: Mapping[str, Any]) -> MaintenanceWindow:
    return MaintenanceWindow(
        window_id=str(doc["window_id"]), starts_at=parse_iso(doc["starts_at"]), ends_at=parse_iso(doc["ends_at"]),
        reason=str(doc["reason"]), created_at=parse_iso(doc["created_at"]),
        jobs=tuple(str(name) for name in doc.get("jobs") or ()), owner=doc.get("owner"),
        all_jobs=bool(doc.get("all", False)), run_missed=bool(doc.get("run_missed", False)),
        created_by=actor_from_document(doc.get("created_by")), ended_by=actor_from_document(doc.get("ended_by")),
    )
