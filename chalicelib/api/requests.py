"""Request parsing for the REST entry point: bodies, query numbers, headers.

Pure functions returning plain data. Nothing a caller sends can make these raise
anything but ``ValidationFailed``, which names the field.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Mapping

from chalicelib.core import strict_json
from chalicelib.core.errors import FieldError, InvalidCursor, ValidationFailed
from chalicelib.core.maintenance import parse_instant

MAX_BODY_BYTES = 64 * 1024
MAX_IDEMPOTENCY_KEY = 255


def parse_json_body(raw: bytes | str | None, *, required: bool) -> Any:
    """The request body as JSON, ``None`` when absent and optional.

    Strict: ``NaN``, ``Infinity``, a number out of a double's range or a lone UTF-16
    surrogate anywhere in the body is refused, naming the field it is in.
    """
    if raw is None or not raw.strip():
        if required:
            raise ValidationFailed([FieldError("body", "a JSON object is required")])
        return None
    if len(raw) > MAX_BODY_BYTES:
        raise ValidationFailed([FieldError("body", f"is larger than {MAX_BODY_BYTES} bytes")])
    try:
        body = strict_json.loads(raw)
    except strict_json.DuplicateMember as exc:  # Python would keep the last silently; the caller may mean the first
        raise ValidationFailed([FieldError(exc.field, "is given more than once; name each member of an object "
                                                      "once")]) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationFailed([FieldError("body", f"is not valid JSON: {exc}")]) from None
    except RecursionError:
        raise ValidationFailed([FieldError("body", "is nested too deeply")]) from None
    errors = strict_json.problems(body)
    if errors:
        raise ValidationFailed(errors)
    return body


def parse_limit(params: Mapping[str, str] | None, *, default: int, maximum: int = 100, name: str = "limit") -> int:
    raw = (params or {}).get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= maximum:  # "²".isdigit() is True
        raise ValidationFailed([FieldError(name, f"must be a whole number from 1 to {maximum}")])
    return int(raw)


def parse_next_token(params: Mapping[str, str] | None) -> str | None:
    token = (params or {}).get("nextToken")
    if token is None:
        return None
    if not token or len(token) > 2048:
        raise InvalidCursor()
    return token


def parse_trigger_body(body: Any) -> dict[str, Any] | None:
    """``{"payload": {...}}`` or nothing; returns the payload override."""
    if body is None:
        return None
    if not isinstance(body, dict):
        raise ValidationFailed([FieldError("body", "must be a JSON object like {\"payload\": {...}}")])
    unknown = sorted(set(body) - {"payload"})
    if unknown:
        raise ValidationFailed([FieldError(name, "is not accepted here; only 'payload' is") for name in unknown])
    if "payload" in body and not isinstance(body["payload"], dict):
        raise ValidationFailed([FieldError("payload", "must be a JSON object")])
    return body.get("payload")


def parse_pause_body(body: Any) -> tuple[str | None, datetime | None]:
    """``{"reason", "until"}``, both optional: ``(reason, until)``. Whether ``until`` is in
    the future and at most 90 days ahead is the service's check (it knows the time)."""
    if body is None:
        return None, None
    if not isinstance(body, dict):
        raise ValidationFailed([FieldError("body", "must be a JSON object like {\"reason\": \"...\", \"until\": \"...\"}")])
    unknown = sorted(set(body) - {"reason", "until"})
    if unknown:
        raise ValidationFailed([FieldError(name, "is not accepted here; only 'reason' and 'until' are")
                                for name in unknown])
    reason = body.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 500):
        raise ValidationFailed([FieldError("reason", "must be a string of at most 500 characters")])
    until = None if body.get("until") is None else parse_instant(body["until"], "until")
    return reason, until


def parse_empty_body(body: Any) -> None:
    """For endpoints that take no fields: nothing, or an empty JSON object."""
    if body is None or body == {}:
        return None
    if not isinstance(body, dict):
        raise ValidationFailed([FieldError("body", "must be empty or an empty JSON object")])
    raise ValidationFailed([FieldError(name, "is not accepted here; this endpoint takes no fields") for name in sorted(body)])


def parse_idempotency_key(headers: Mapping[str, str]) -> str | None:
    key = headers.get("idempotency-key")
    if key is None:
        return None
    key = key.strip(" \t")  # HTTP's optional whitespace only: a trailing newline is refused, not trimmed
    # printable ASCII, as openapi.yaml says: str.isprintable() alone lets "é" and "ключ" through
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not (key.isascii() and key.isprintable()):
        raise ValidationFailed([FieldError("Idempotency-Key",
                                           f"must be 1-{MAX_IDEMPOTENCY_KEY} printable ASCII characters")])
    return key


PREVIEW_FIELDS = ("cronExpression", "timezone", "count")


def parse_preview_body(body: Any) -> tuple[str, str, int]:
    """``{"cronExpression", "timezone", "count"}``: the expression is checked by the caller
    exactly as registration checks it; ``timezone`` defaults to UTC, ``count`` to 10 (1-50)."""
    if not isinstance(body, dict):
        raise ValidationFailed([FieldError("body", "must be a JSON object")])
    errors = [FieldError(k, "is not a field of a preview; known: " + ", ".join(PREVIEW_FIELDS))
              for k in sorted(set(body) - set(PREVIEW_FIELDS))]
    cron = body.get("cronExpression")
    if not isinstance(cron, str) or not cron.strip():
        errors.append(FieldError("cronExpression", "is required"))
    zone = body.get("timezone", "UTC")
    if not isinstance(zone, str):
        errors.append(FieldError("timezone", "must be an IANA time zone name such as 'Europe/Oslo'"))
    count = body.get("count", 10)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 50:
        errors.append(FieldError("count", "must be a whole number from 1 to 50"))
    if errors:
        raise ValidationFailed(errors)
    return str(cron), str(zone), int(count)


def validate_execution_id(value: str) -> str:
    """An execution id as the API issues them (``20261129T010000000Z-a01``); 400 otherwise."""
    if not (0 < len(value) <= 64 and value.isascii() and all(c.isalnum() or c in "-_" for c in value)):
        raise ValidationFailed([FieldError("executionId", "is not an execution id this API issued")])
    return value
