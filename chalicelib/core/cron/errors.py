"""How the cron package refuses input: one internal reason, translated once at the edge."""
from __future__ import annotations

from typing import NoReturn

from chalicelib.core.errors import FieldError, ValidationFailed

CRON_FIELD = "cronExpression"
TIMEZONE_FIELD = "timezone"

FIVE_FIELD_HINT = (
    "Five-field cron is: minute hour day-of-month month day-of-week, e.g. '0 2 * * *' "
    "(or one of @hourly, @daily, @weekly, @monthly, @yearly)."
)


class Refused(Exception):
    """Internal: one reason an expression or zone is refused (the hint is added once, at the edge)."""


def refuse_cron(message: str) -> NoReturn:
    raise ValidationFailed([FieldError(CRON_FIELD, f"{message} {FIVE_FIELD_HINT}")])


def refuse_timezone(message: str) -> NoReturn:
    raise ValidationFailed([FieldError(TIMEZONE_FIELD, message)])
