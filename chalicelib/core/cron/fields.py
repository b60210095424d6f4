"""The five fields of a cron expression, their ranges and names, and the nicknames."""
from __future__ import annotations

import calendar
from dataclasses import dataclass

MAX_EXPRESSION_LENGTH = 200

NICKNAMES: dict[str, str] = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}

MONTH_NAMES = {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
DOW_NAMES = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}


@dataclass(frozen=True)
class Field:
    name: str
    low: int
    high: int
    names: dict[str, int]


FIELDS = (
    Field("minute", 0, 59, {}),
    Field("hour", 0, 23, {}),
    Field("day-of-month", 1, 31, {}),
    Field("month", 1, 12, MONTH_NAMES),
    Field("day-of-week", 0, 7, DOW_NAMES),  # 7 is Sunday too, as in Debian cron
)
MINUTE, HOUR, DOM, MONTH, DOW = range(5)
DAYS_IN_MONTH = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # February may have 29
