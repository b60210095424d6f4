"""Opaque pagination tokens (``nextToken``): base64url JSON with a checksum.

A token is ``<payload>.<checksum>`` where ``payload`` is the base64url (unpadded)
encoding of canonical JSON and ``checksum`` the first 12 bytes of a SHA-256 over a
domain prefix and the payload. Any edit, truncation or garbage fails the checksum or
the canonical-form check and raises :class:`InvalidCursor`; so does an over-long token.

The checksum detects tampering, it does not authenticate: a store must still check
the shape of what it decodes (and does), so a forged but well-formed token can at worst
start a listing at another position of the same listing.
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

_DOMAIN = b"nightly-scheduler/cursor/v1\x00"
_CHECKSUM_BYTES = 12


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _checksum(payload: str) -> str:
    return _b64encode(hashlib.sha256(_DOMAIN + payload.encode("ascii")).digest()[:_CHECKSUM_BYTES])


def encode_cursor(data: dict[str, Any]) -> str:
    """The opaque token for ``data`` (a JSON-serialisable dict)."""
    if not isinstance(data, dict):
        raise TypeError(f"a cursor holds a dict, not {type(data).__name__}")
    payload = _b64encode(json.dumps(data, sort_keys=True, separators=(",", ":")).encode("utf-8"))
    token = f"{payload}.{_checksum(payload)}"
    if len(token) > MAX_TOKEN_LENGTH:
        raise ValueError(f"cursor of {len(token)} characters exceeds {MAX_TOKEN_LENGTH}")
    return token


def decode_cursor(token: str) -> dict[str, Any]:
    """The dict :func:`encode_cursor` was given. Raises ``InvalidCursor`` otherwise."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
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
