"""Opaque pagination tokens (``nextToken``): base64url JSON with a checksum.

A token is ``<payload>.<checksum>`` where ``payload`` is the base64url (unpadded)
encoding of canonical JSON and ``checksum`` the first 12 bytes of a SHA-256 over a
domain prefix and the payload. Any edit, truncation or garbage fails the checksum or
the canonical-form check and raises :class:`InvalidCursor`; so does an over-long token.

The checksum detects tampering, it does not authenticate: a store must still check
the shape of what it decodes (and does), so a forged but well-formed token can at worst
start a listing at another position of the same listing.

Every listing's token is made here, so a token means the same position whichever store
issued it:

- jobs: ``{"k": "jobs", "after": <last job name of the page>}``
- executions: ``{"k": "executions", "job": <job name>, "before": <last execution id>}``
- replays: ``{"k": "replays", "job": <job name>, "before": <last replay id>}``
- the due index: ``{"k": "due", "at": <where each store's reading stopped>}`` (the
  dispatcher's own, never a caller's: it may be longer, see :data:`DUE_TOKEN_LENGTH`)
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from chalicelib.core.errors import InvalidCursor

MAX_TOKEN_LENGTH = 1024
"""Longest token accepted; longer input is refused before any decoding."""

DUE_TOKEN_LENGTH = 64 * 1024
"""Longest due-index token: it holds a position per shard of the due index (up to 64)."""

_DOMAIN = b"nightly-scheduler/cursor/v1\x00"
_CHECKSUM_BYTES = 12


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _checksum(payload: str) -> str:
    return _b64encode(hashlib.sha256(_DOMAIN + payload.encode("ascii")).digest()[:_CHECKSUM_BYTES])


def encode_cursor(data: dict[str, Any], *, max_length: int = MAX_TOKEN_LENGTH) -> str:
    """The opaque token for ``data`` (a JSON-serialisable dict)."""
    if not isinstance(data, dict):
        raise TypeError(f"a cursor holds a dict, not {type(data).__name__}")
    payload = _b64encode(json.dumps(data, sort_keys=True, separators=(",", ":")).encode("utf-8"))
    token = f"{payload}.{_checksum(payload)}"
    if len(token) > max_length:
        raise ValueError(f"cursor of {len(token)} characters exceeds {max_length}")
    return token


def decode_cursor(token: str, *, max_length: int = MAX_TOKEN_LENGTH) -> dict[str, Any]:
    """The dict :func:`encode_cursor` was given. Raises ``InvalidCursor`` otherwise."""
    if not isinstance(token, str) or not token or len(token) > max_length or not token.isascii():
        raise InvalidCursor()
    payload, dot, checksum = token.partition(".")
    if not dot or not payload or checksum != _checksum(payload):
        raise InvalidCursor()
    try:
        raw = _b64decode(payload)
        # base64 tolerates some variants (non-zero pad bits); only the canonical one is ours
        if _b64encode(raw) != payload:
            raise InvalidCursor()
        data = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise InvalidCursor() from exc
    if not isinstance(data, dict):
        raise InvalidCursor()
    return data


def jobs_cursor(after: str) -> str:
    return encode_cursor({"k": "jobs", "after": after})


def jobs_cursor_position(cursor: str) -> str:
    """The job name a jobs page starts after. Raises ``InvalidCursor``."""
    return _field(decode_cursor(cursor), "jobs", "after")


def executions_cursor(job_name: str, before: str) -> str:
    return encode_cursor({"k": "executions", "job": job_name, "before": before})


def executions_cursor_position(cursor: str, job_name: str) -> str:
    """The execution id an executions page of ``job_name`` starts before.

    Raises ``InvalidCursor``, also for a token issued for another job's listing.
    """
    data = decode_cursor(cursor)
    if _field(data, "executions", "job") != job_name:
        raise InvalidCursor()
    return _field(data, "executions", "before")


def replays_cursor(job_name: str, before: str) -> str:
    return encode_cursor({"k": "replays", "job": job_name, "before": before})


def replays_cursor_position(cursor: str, job_name: str) -> str:
    """The replay id a replays page of ``job_name`` starts before. Raises ``InvalidCursor``."""
    data = decode_cursor(cursor)
    if _field(data, "replays", "job") != job_name:
        raise InvalidCursor()
    return _field(data, "replays", "before")


def due_cursor(position: dict[str, Any]) -> str:
    """A due-index page token: ``position`` is where the store's reading stopped."""
    return encode_cursor({"k": "due", "at": position}, max_length=DUE_TOKEN_LENGTH)


def due_cursor_position(cursor: str) -> dict[str, Any]:
    """The position a :func:`due_cursor` token holds. Raises ``InvalidCursor``."""
    data = decode_cursor(cursor, max_length=DUE_TOKEN_LENGTH)
    position = data.get("at")
    if data.get("k") != "due" or not isinstance(position, dict):
        raise InvalidCursor()
    return position


def _field(data: dict[str, Any], kind: str, name: str) -> str:
    value = data.get(name)
    if data.get("k") != kind or not isinstance(value, str) or not value:
        raise InvalidCursor()
    return value
