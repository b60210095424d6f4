"""The certification job's settings (``CERT_CHECK_*``), declared as the scheduler's are.

:class:`~chalicelib.settings.Settings` holds them as ``settings.certification``. A refused
value keeps the job from being (re)registered (its stored definition, if any, keeps running).
"""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.core.cron import validate_cron, validate_timezone
from chalicelib.core.errors import ValidationFailed
from chalicelib.declared_settings import Values, decimal, setting, whole


def _days(raw: str) -> tuple[int, ...]:
    """Comma-separated whole days from 1 to 365, largest first."""
    accepted = "comma-separated whole days from 1 to 365, e.g. 30,7"
    try:
        days = tuple(sorted({int(d) for d in (part.strip() for part in raw.split(",")) if d}, reverse=True))
    except ValueError:
        raise ValueError(accepted) from None
    if not days or not all(1 <= d <= 365 for d in days):
        raise ValueError(accepted)
    return days


def _cron_problem(expression: str, _values: Values) -> str | None:
    try:
        validate_cron(expression)
    except ValidationFailed as exc:
        return "; ".join(e.message for e in exc.errors)
    return None


def _zone_problem(name: str, _values: Values) -> str | None:
    try:
        validate_timezone(name)
    except ValidationFailed as exc:
        return "; ".join(e.message for e in exc.errors)
    return None


@dataclass(frozen=True)
class CertificationSettings:
    """When the check runs and how far it may go."""

    cron: str = setting("CERT_CHECK_CRON", "0 2 * * *", check=_cron_problem, instead="")
    timezone: str = setting("CERT_CHECK_TIMEZONE", "Europe/Oslo", check=_zone_problem, instead="")
    notice_days: tuple[int, ...] = setting("CERT_CHECK_NOTICE_DAYS", (30, 7), parse=_days, instead="")
    max_pause_share: float = setting("CERT_CHECK_MAX_PAUSE_SHARE", 0.2, parse=decimal, low=0.0, high=1.0)
    max_pause_count: int = setting("CERT_CHECK_MAX_PAUSE_COUNT", 500, parse=whole, low=0, high=1_000_000)
