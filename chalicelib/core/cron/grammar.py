"""The cron grammar this scheduler accepts: Debian cron's five fields, compiled to sets.

Expressions are parsed here rather than expanded by croniter, because croniter's
expansion is not Debian's: it reads ``5-5`` as every minute, wraps reversed ranges,
treats ``*/2`` in a day field as a restriction for its OR rule and reads a sixth field
as seconds. croniter remains the outer gate: an expression it rejects is refused.
Foreign syntax (AWS ``cron(...)``, six fields, ``rate(...)``) is refused with the
five-field form the writer meant (:mod:`.advice`).
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from croniter import croniter  # type: ignore[import-untyped,unused-ignore]
from croniter.croniter import CroniterError  # type: ignore[import-untyped,unused-ignore]

from chalicelib.core.cron import advice
from chalicelib.core.cron.errors import Refused, refuse_cron
from chalicelib.core.cron.fields import (
    DAYS_IN_MONTH,
    DOM,
    DOW,
    FIELDS,
    HOUR,
    MAX_EXPRESSION_LENGTH,
    MINUTE,
    MONTH,
    NICKNAMES,
    Field,
)

_ITEM = re.compile(r"(?:(?P<star>\*)|(?P<low>[a-z0-9]+)(?:-(?P<high>[a-z0-9]+))?)(?:/(?P<step>[0-9]+))?")
_HASHED = re.compile(r"[hr](?:\(.*\))?(?:/\d+)?")  # both used with fullmatch: '$' lets a newline through


def validate_cron(expression: str) -> str:
    """Return the normalised expression (spaces and tabs collapsed) or raise ValidationFailed.

    Accepted: five fields (minute hour day-of-month month day-of-week) with numbers,
    names (JAN, MON), ranges, steps, lists and ``L`` (last day) in day-of-month; or
    one of @hourly, @daily, @weekly, @monthly, @yearly (@annually, @midnight). Nicknames
    are lower-cased. The error is ``FieldError("cronExpression", message)`` and the
    message says how to write the expression as five fields.
    """
    if not isinstance(expression, str):
        refuse_cron("The cron expression must be a string.")
    if any(not c.isprintable() and c != "\t" for c in expression):
        # One line: a trailing newline or a control character is refused, not trimmed.
        refuse_cron("The cron expression must be one line: separate its fields with spaces; "
                    "line breaks and control characters are refused.")
    text = " ".join(expression.split())
    if text.startswith("@"):
        text = text.lower()
    try:
        compile_expression(text)
    except Refused as exc:
        refuse_cron(str(exc))
    return text



@dataclass(frozen=True)
class CronSpec:
    """An expression compiled to the sets it names (weekday 0 is Sunday)."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    last_day: bool
    months: frozenset[int]
    weekdays: frozenset[int]
    days_or: bool
    wall_clock: bool

    def matches_day(self, day: date) -> bool:
        """Debian cron: OR when both day fields are restricted, AND when either starts with '*'."""
        dom = day.day in self.days or (self.last_day and day.day == calendar.monthrange(day.year, day.month)[1])
        dow = day.isoweekday() % 7 in self.weekdays
        return (dom or dow) if self.days_or else (dom and dow)


@lru_cache(maxsize=1024)
def compile_expression(text: str) -> CronSpec:
    """Compile a whitespace-normalised expression, or raise :class:`Refused`."""
    if not text:
        raise Refused("A cron expression is required.")
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise Refused(f"The cron expression is longer than {MAX_EXPRESSION_LENGTH} characters.")
    lowered = text.lower()
    if lowered.startswith("cron(") or lowered.startswith("cron ("):
        raise Refused(advice.aws_cron_message(text, is_valid_five))
    if lowered.startswith("rate(") or lowered.startswith("rate ("):
        raise Refused(advice.rate_message(text))
    if text.startswith("@"):
        if lowered == "@reboot":
            raise Refused("'@reboot' runs when a machine starts, which a scheduled job never does; give a schedule.")
        if lowered not in NICKNAMES:
            raise Refused(f"'{text}' is not a cron nickname this scheduler knows.")
        five = NICKNAMES[lowered]
    else:
        five = text
    fields = five.split(" ")
    if len(fields) in (6, 7):
        raise Refused(advice.extra_fields_message(fields, is_valid_five))
    if len(fields) != 5:
        raise Refused(f"'{text}' has {len(fields)} field{'s' if len(fields) != 1 else ''}; cron needs exactly five.")
    if "?" in five:
        star = five.replace("?", "*")
        suggestion = f": write it as five fields: '{star}'" if is_valid_five(star) else ""
        raise Refused(f"'?' is AWS/Quartz syntax for 'any'; five-field cron writes '*'{suggestion}.")
    values = [_expand_field(fields[i], FIELDS[i]) for i in range(5)]
    try:
        croniter.expand(text)
    except (CroniterError, ValueError) as exc:  # our grammar is the stricter one; keep croniter's word as a gate
        raise Refused(f"'{text}' is not a valid cron expression ({exc}).") from exc
    (minutes, _), (hours, _), (days, last_day), (months, _), (weekdays, _) = values
    dom_star, dow_star = fields[DOM].startswith("*"), fields[DOW].startswith("*")
    spec = CronSpec(
        minutes=tuple(sorted(minutes)),
        hours=tuple(sorted(hours)),
        days=frozenset(days),
        last_day=last_day,
        months=frozenset(months),
        weekdays=frozenset(w % 7 for w in weekdays),
        days_or=not (dom_star or dow_star),
        wall_clock=not (fields[MINUTE].startswith("*") or fields[HOUR].startswith("*")),
    )
    if not spec.days_or and not spec.last_day and not any(d <= DAYS_IN_MONTH[m] for m in spec.months for d in spec.days):
        raise Refused(f"'{text}' never runs: day-of-month '{fields[DOM]}' does not occur in month '{fields[MONTH]}'.")
    return spec


def _expand_field(text: str, field: Field) -> tuple[set[int], bool]:
    """The values one field names, and whether it names the last day of the month ('L')."""
    values: set[int] = set()
    last_day = False
    for raw in text.split(","):
        item = raw.lower()
        _refuse_extension(raw, item, field)
        if field.name == "day-of-month" and item == "l":
            last_day = True
            continue
        if not raw:
            raise Refused(f"{field.name} field '{text}' has an empty list item.")
        match = _ITEM.fullmatch(item)
        if not match:
            raise Refused(f"{field.name} field '{text}' is not valid ('{raw}').")
        step = int(match["step"]) if match["step"] is not None else 1
        if step == 0:
            raise Refused(f"{field.name} field '{text}': a step of 0 is not valid.")
        if match["star"]:
            low, high = field.low, field.high
        else:
            low = _value(match["low"], field, raw)
            high = _value(match["high"], field, raw) if match["high"] else low
            if match["step"] is not None and match["high"] is None:
                # croniter reads '5/15' as 5-59/15, other crons refuse it: say which one is meant.
                raise Refused(
                    f"{field.name} field '{raw}' has a step without a range; write '{match['low']}-{field.high}/{step}' "
                    f"for every {step} from {match['low']}, or '{match['low']}' alone."
                )
            if low > high:
                top = 6 if field.name == "day-of-week" else field.high
                upper = f"{low}-{top}," if low <= top else ""
                raise Refused(
                    f"{field.name} range '{raw}' runs backwards; write it as a list, e.g. '{upper}{field.low}-{high}'."
                )
        values.update(range(low, high + 1, step))
    return values, last_day


def _refuse_extension(raw: str, item: str, field: Field) -> None:
    """Refuse non-Debian syntax that croniter would accept with a meaning of its own."""
    if "#" in item:
        raise Refused(
            f"'{raw}': nth-weekday '#' is not supported; run on days 1-7 (e.g. '0 9 1-7 * *') "
            "and check the weekday in the handler."
        )
    if _HASHED.fullmatch(item):
        raise Refused(f"'{raw}': hashed or random values (H, R) are not supported; give fixed values.")
    if field.name == "day-of-month" and "w" in item:
        raise Refused(f"'{raw}': nearest-weekday 'W' is not supported.")
    if field.name == "day-of-month" and "l" in item and item != "l":
        raise Refused(f"'{raw}': 'L' (last day of the month) must stand alone in day-of-month, e.g. '1,L'.")
    if field.name == "day-of-week" and item.endswith("l") and item[:-1].isdigit():
        raise Refused(f"'{raw}': last-weekday 'L' is not supported in day-of-week.")


def _value(token: str, field: Field, raw: str) -> int:
    if token.isdigit():
        value = int(token)
    elif token in field.names:
        return field.names[token]
    else:
        names = f" or a name such as {next(iter(field.names)).upper()}" if field.names else ""
        raise Refused(f"{field.name} value '{token}' (in '{raw}') is not a number{names}.")
    if not field.low <= value <= field.high:
        raise Refused(f"{field.name} value {value} is out of range {field.low}-{field.high}.")
    return value


def is_valid_five(text: str) -> bool:
    try:
        compile_expression(text)
    except Refused:
        return False
    return True
