"""IANA time zones: which names a job may use, and the refusal for the others."""
from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from chalicelib.core.cron.errors import Refused, refuse_timezone


def validate_timezone(name: str) -> str:
    """Return the IANA name (surrounding spaces removed) or raise ValidationFailed.

    The error is ``FieldError("timezone", message)``. Abbreviations ('CEST') and fixed
    offsets ('+02:00') are refused: they do not follow daylight saving.
    """
    if not isinstance(name, str) or not name.strip():
        refuse_timezone("A time zone is required: give an IANA time zone name such as 'Europe/Oslo' or 'UTC'.")
    if not name.isprintable():  # a trailing newline is refused, not trimmed
        refuse_timezone("A time zone name is one line of printable text, such as 'Europe/Oslo'; "
                        "line breaks and control characters are refused.")
    key = name.strip()
    try:
        zone(key)
    except Refused as exc:
        refuse_timezone(str(exc))
    return key



LEGACY_ABBREVIATIONS = frozenset({
    "EST", "MST", "HST", "CET", "MET", "EET", "WET", "EST5EDT", "CST6CDT", "MST7MDT", "PST8PDT",
})


@lru_cache(maxsize=256)
def zone(key: str) -> ZoneInfo:
    # Names that resolve to a file but are not IANA zones, or make no sense for a job.
    if key in ("localtime", "posixrules", "Factory") or key.startswith(("posix/", "right/")):
        raise Refused(f"'{key}' is not an IANA time zone name; use one such as 'Europe/Oslo' or 'UTC'.")
    if key in LEGACY_ABBREVIATIONS:
        # tzdata still ships these, but 'EST' is a fixed -05:00 and 'CET' reads like an
        # abbreviation: a user meaning New York or Oslo would silently get the wrong rules.
        raise Refused(
            f"'{key}' is a legacy abbreviation-style zone; use a location such as 'Europe/Oslo' "
            "or 'America/New_York' (or 'UTC'), which follows that place's daylight saving."
        )
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        pass
    same_but_case = [z for z in known_zones() if z.lower() == key.lower()]
    if same_but_case:
        raise Refused(f"'{key}' is not an IANA time zone name; did you mean '{same_but_case[0]}'?")
    raise Refused(
        f"'{key}' is not an IANA time zone name. Use a name such as 'Europe/Oslo', "
        "'America/New_York' or 'UTC'; abbreviations like 'CEST' and offsets like '+02:00' "
        "are not accepted because they do not follow daylight saving."
    )


@lru_cache(maxsize=1)
def known_zones() -> frozenset[str]:
    return frozenset(available_timezones())  # a directory walk: only on the error path, once


