"""What people type, turned into what the API takes: JSON objects and instants."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import click

DURATION = re.compile(r"(\d+)\s*([mhdw])")
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def json_object(_ctx: click.Context | None, param: click.Parameter | None, value: str | None) -> dict[str, Any] | None:
    """A ``--payload``-style option: a JSON object, or a clear usage error."""
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"is not JSON ({exc.msg} at character {exc.pos}): {value!r}", param=param) from None
    if not isinstance(parsed, dict):
        raise click.BadParameter('must be a JSON object, like \'{"dryRun": true}\'', param=param)
    return parsed


def instant(value: str, *, now: datetime, past: bool, param: click.Parameter | None = None) -> str:
    """ISO-8601 UTC (``…Z``) for an ISO instant (without an offset: the reader's local time) or a
    duration such as ``2h``, ``3d``, ``1w`` (from now: ahead when ``past`` is false, back when true)."""
    text = value.strip()
    match = DURATION.fullmatch(text)
    if match:
        delta = timedelta(**{UNITS[match.group(2)]: int(match.group(1))})
        moment = now - delta if past else now + delta
    else:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise click.BadParameter(f"{value!r} is neither an ISO-8601 time (2026-11-29T02:00, 2026-11-29T01:00Z) "
                                     "nor a duration (30m, 2h, 3d, 1w)", param=param) from None
        moment = moment.astimezone()  # a time without an offset is the reader's local time
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
