"""Cron validation and slots in a time zone, by Debian cron's rules (API.md, "Time semantics").

A *slot* is an instant that a job's cron expression names in the job's IANA time zone.
Slots are computed in two steps:

1. Walk the *local wall-clock times* the expression names, as naive datetimes, in
   order. Day matching follows Debian cron: when both day fields are restricted a day
   matching either runs; when either field starts with ``*`` both must match.
2. Map each local time to UTC instants with :mod:`zoneinfo`: per local day, the
   offsets before and after a change and the instant of the change (nearly every day
   has none). A local time then has one reading, two (repeated by a fall-back) or none
   (skipped by a spring-forward). An expression whose minute and hour fields both
   name fixed values follows the wall clock: a skipped time runs once at the end of
   the gap, a repeated time once at its first occurrence. Any other expression
   follows real time: both occurrences of a repeated time run, skipped times do not.
   Equal instants are yielded once.

croniter is not iterated: on aware datetimes it runs ``0 2 * * *`` twice on a
fall-back night, and walking naive local times is simple enough to do here.

Expressions are parsed here rather than expanded by croniter, because croniter's
expansion is not Debian's: it reads ``5-5`` as every minute, wraps reversed ranges,
treats ``*/2`` in a day field as a restriction for its OR rule and reads a sixth field
as seconds. croniter remains the outer gate: an expression it rejects is refused.
"""
from __future__ import annotations

import calendar
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import croniter
from croniter.croniter import CroniterError

from .errors import FieldError, ValidationFailed
from .model import UTC

__all__ = ["CronSchedule", "validate_cron", "validate_timezone"]

CRON_FIELD = "cronExpression"
TIMEZONE_FIELD = "timezone"

_FIVE_FIELD_HINT = (
    "Five-field cron is: minute hour day-of-month month day-of-week, e.g. '0 2 * * *' "
    "(or one of @hourly, @daily, @weekly, @monthly, @yearly)."
)
_MAX_EXPRESSION_LENGTH = 200

NICKNAMES: dict[str, str] = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}

_MONTH_NAMES = {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
_DOW_NAMES = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int]


_FIELDS = (
    _Field("minute", 0, 59, {}),
    _Field("hour", 0, 23, {}),
    _Field("day-of-month", 1, 31, {}),
    _Field("month", 1, 12, _MONTH_NAMES),
    _Field("day-of-week", 0, 7, _DOW_NAMES),  # 7 is Sunday too, as in Debian cron
)
_MINUTE, _HOUR, _DOM, _MONTH, _DOW = range(5)
_ITEM = re.compile(r"^(?:(?P<star>\*)|(?P<low>[a-z0-9]+)(?:-(?P<high>[a-z0-9]+))?)(?:/(?P<step>[0-9]+))?$")
_HASHED = re.compile(r"^[hr](?:\(.*\))?(?:/\d+)?$")
_YEAR = re.compile(r"^(?:\d{4}(?:-\d{4})?(?:/\d+)?(?:,\d{4}(?:-\d{4})?(?:/\d+)?)*)$")
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minutes?|hours?|days?)\s*\)$", re.IGNORECASE)
_DAYS_IN_MONTH = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # February may have 29


# ---------------------------------------------------------------- validation


class _Refused(Exception):
    """Internal: one reason an expression is refused (the hint is added once, at the edge)."""


def validate_cron(expression: str) -> str:
    """Return the normalised expression (whitespace collapsed) or raise ValidationFailed.

    Accepted: five fields (minute hour day-of-month month day-of-week) with numbers,
    names (JAN, MON), ranges, steps, lists and ``L`` (last day) in day-of-month; or
    one of @hourly, @daily, @weekly, @monthly, @yearly (@annually, @midnight). Nicknames
    are lower-cased. The error is ``FieldError("cronExpression", message)`` and the
    message says how to write the expression as five fields.
    """
    if not isinstance(expression, str):
        _refuse_cron("The cron expression must be a string.")
    text = " ".join(expression.split())
    if text.startswith("@"):
        text = text.lower()
    try:
        _compile(text)
    except _Refused as exc:
        _refuse_cron(str(exc))
    return text


def validate_timezone(name: str) -> str:
    """Return the IANA name (surrounding whitespace removed) or raise ValidationFailed.

    The error is ``FieldError("timezone", message)``. Abbreviations ('CEST') and fixed
    offsets ('+02:00') are refused: they do not follow daylight saving.
    """
    if not isinstance(name, str) or not name.strip():
        _refuse_timezone("A time zone is required: give an IANA time zone name such as 'Europe/Oslo' or 'UTC'.")
    key = name.strip()
    try:
        _zone(key)
    except _Refused as exc:
        _refuse_timezone(str(exc))
    return key


def _refuse_cron(message: str) -> NoReturn:
    raise ValidationFailed([FieldError(CRON_FIELD, f"{message} {_FIVE_FIELD_HINT}")])


def _refuse_timezone(message: str) -> NoReturn:
    raise ValidationFailed([FieldError(TIMEZONE_FIELD, message)])


_LEGACY_ABBREVIATIONS = frozenset({
    "EST", "MST", "HST", "CET", "MET", "EET", "WET", "EST5EDT", "CST6CDT", "MST7MDT", "PST8PDT",
})


@lru_cache(maxsize=256)
def _zone(key: str) -> ZoneInfo:
    # Names that resolve to a file but are not IANA zones, or make no sense for a job.
    if key in ("localtime", "posixrules", "Factory") or key.startswith(("posix/", "right/")):
        raise _Refused(f"'{key}' is not an IANA time zone name; use one such as 'Europe/Oslo' or 'UTC'.")
    if key in _LEGACY_ABBREVIATIONS:
        # tzdata still ships these, but 'EST' is a fixed -05:00 and 'CET' reads like an
        # abbreviation: a user meaning New York or Oslo would silently get the wrong rules.
        raise _Refused(
            f"'{key}' is a legacy abbreviation-style zone; use a location such as 'Europe/Oslo' "
            "or 'America/New_York' (or 'UTC'), which follows that place's daylight saving."
        )
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        pass
    same_but_case = [z for z in _known_zones() if z.lower() == key.lower()]
    if same_but_case:
        raise _Refused(f"'{key}' is not an IANA time zone name; did you mean '{same_but_case[0]}'?")
    raise _Refused(
        f"'{key}' is not an IANA time zone name. Use a name such as 'Europe/Oslo', "
        "'America/New_York' or 'UTC'; abbreviations like 'CEST' and offsets like '+02:00' "
        "are not accepted because they do not follow daylight saving."
    )


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())  # a directory walk: only on the error path, once


@dataclass(frozen=True)
class _CronSpec:
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
def _compile(text: str) -> _CronSpec:
    """Compile a whitespace-normalised expression, or raise :class:`_Refused`."""
    if not text:
        raise _Refused("A cron expression is required.")
    if len(text) > _MAX_EXPRESSION_LENGTH:
        raise _Refused(f"The cron expression is longer than {_MAX_EXPRESSION_LENGTH} characters.")
    lowered = text.lower()
    if lowered.startswith("cron(") or lowered.startswith("cron ("):
        raise _Refused(_aws_cron_message(text))
    if lowered.startswith("rate(") or lowered.startswith("rate ("):
        raise _Refused(_rate_message(text))
    if text.startswith("@"):
        if lowered == "@reboot":
            raise _Refused("'@reboot' runs when a machine starts, which a scheduled job never does; give a schedule.")
        if lowered not in NICKNAMES:
            raise _Refused(f"'{text}' is not a cron nickname this scheduler knows.")
        five = NICKNAMES[lowered]
    else:
        five = text
    fields = five.split(" ")
    if len(fields) in (6, 7):
        raise _Refused(_extra_fields_message(fields))
    if len(fields) != 5:
        raise _Refused(f"'{text}' has {len(fields)} field{'s' if len(fields) != 1 else ''}; cron needs exactly five.")
    if "?" in five:
        star = five.replace("?", "*")
        suggestion = f": write it as five fields: '{star}'" if _is_valid_five(star) else ""
        raise _Refused(f"'?' is AWS/Quartz syntax for 'any'; five-field cron writes '*'{suggestion}.")
    values = [_expand_field(fields[i], _FIELDS[i]) for i in range(5)]
    try:
        croniter.expand(text)
    except (CroniterError, ValueError) as exc:  # our grammar is the stricter one; keep croniter's word as a gate
        raise _Refused(f"'{text}' is not a valid cron expression ({exc}).") from exc
    (minutes, _), (hours, _), (days, last_day), (months, _), (weekdays, _) = values
    dom_star, dow_star = fields[_DOM].startswith("*"), fields[_DOW].startswith("*")
    spec = _CronSpec(
        minutes=tuple(sorted(minutes)),
        hours=tuple(sorted(hours)),
        days=frozenset(days),
        last_day=last_day,
        months=frozenset(months),
        weekdays=frozenset(w % 7 for w in weekdays),
        days_or=not (dom_star or dow_star),
        wall_clock=not (fields[_MINUTE].startswith("*") or fields[_HOUR].startswith("*")),
    )
    if not spec.days_or and not spec.last_day and not any(d <= _DAYS_IN_MONTH[m] for m in spec.months for d in spec.days):
        raise _Refused(f"'{text}' never runs: day-of-month '{fields[_DOM]}' does not occur in month '{fields[_MONTH]}'.")
    return spec


def _expand_field(text: str, field: _Field) -> tuple[set[int], bool]:
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
            raise _Refused(f"{field.name} field '{text}' has an empty list item.")
        match = _ITEM.match(item)
        if not match:
            raise _Refused(f"{field.name} field '{text}' is not valid ('{raw}').")
        step = int(match["step"]) if match["step"] is not None else 1
        if step == 0:
            raise _Refused(f"{field.name} field '{text}': a step of 0 is not valid.")
        if match["star"]:
            low, high = field.low, field.high
        else:
            low = _value(match["low"], field, raw)
            high = _value(match["high"], field, raw) if match["high"] else low
            if match["step"] is not None and match["high"] is None:
                # croniter reads '5/15' as 5-59/15, other crons refuse it: say which one is meant.
                raise _Refused(
                    f"{field.name} field '{raw}' has a step without a range; write '{match['low']}-{field.high}/{step}' "
                    f"for every {step} from {match['low']}, or '{match['low']}' alone."
                )
            if low > high:
                top = 6 if field.name == "day-of-week" else field.high
                upper = f"{low}-{top}," if low <= top else ""
                raise _Refused(
                    f"{field.name} range '{raw}' runs backwards; write it as a list, e.g. '{upper}{field.low}-{high}'."
                )
        values.update(range(low, high + 1, step))
    return values, last_day


def _refuse_extension(raw: str, item: str, field: _Field) -> None:
    """Refuse non-Debian syntax that croniter would accept with a meaning of its own."""
    if "#" in item:
        raise _Refused(
            f"'{raw}': nth-weekday '#' is not supported; run on days 1-7 (e.g. '0 9 1-7 * *') "
            "and check the weekday in the handler."
        )
    if _HASHED.match(item):
        raise _Refused(f"'{raw}': hashed or random values (H, R) are not supported; give fixed values.")
    if field.name == "day-of-month" and "w" in item:
        raise _Refused(f"'{raw}': nearest-weekday 'W' is not supported.")
    if field.name == "day-of-month" and "l" in item and item != "l":
        raise _Refused(f"'{raw}': 'L' (last day of the month) must stand alone in day-of-month, e.g. '1,L'.")
    if field.name == "day-of-week" and item.endswith("l") and item[:-1].isdigit():
        raise _Refused(f"'{raw}': last-weekday 'L' is not supported in day-of-week.")


def _value(token: str, field: _Field, raw: str) -> int:
    if token.isdigit():
        value = int(token)
    elif token in field.names:
        return field.names[token]
    else:
        names = f" or a name such as {next(iter(field.names)).upper()}" if field.names else ""
        raise _Refused(f"{field.name} value '{token}' (in '{raw}') is not a number{names}.")
    if not field.low <= value <= field.high:
        raise _Refused(f"{field.name} value {value} is out of range {field.low}-{field.high}.")
    return value


def _is_valid_five(text: str) -> bool:
    try:
        _compile(text)
    except _Refused:
        return False
    return True


def _extra_fields_message(fields: list[str]) -> str:
    """Six or seven fields: name the five-field form the writer most likely meant.

    Rule: a sixth field that looks like a year (or a '?' in an AWS day position) means
    AWS order, minute..day-of-week then year: keep the first five. Otherwise the first
    field is taken as seconds (Quartz/Spring order, the common six- and seven-field
    form): keep the next five. When croniter's own reading (seconds last) gives a
    different valid expression, the message offers that too.
    """
    count = len(fields)
    plain = [f.replace("?", "*") for f in fields]
    aws_order = count == 6 and ("?" in fields[2] or "?" in fields[4] or _YEAR.match(fields[5]) is not None)
    first_five, seconds_first = " ".join(plain[:5]), " ".join(plain[1:6])
    lead = (
        f"'{' '.join(fields)}' has {count} fields, but this scheduler takes five-field cron "
        f"(croniter would silently read the {'sixth' if count == 6 else 'sixth and seventh'} "
        f"field{'' if count == 6 else 's'} as {'seconds' if count == 6 else 'seconds and year'})."
    )
    if aws_order and _is_valid_five(first_five):
        return f"{lead} The last field looks like a year, so drop it: write it as five fields: '{first_five}'."
    if _is_valid_five(seconds_first):
        text = f"{lead} Reading the first field as seconds (Quartz/Spring order), write it as five fields: '{seconds_first}'."
        if count == 6 and "?" not in fields and first_five != seconds_first and _is_valid_five(first_five):
            text += f" If the last field was meant as seconds, write '{first_five}'."
        return text
    if _is_valid_five(first_five):
        return f"{lead} Dropping the extra field{'s' if count == 7 else ''}, write it as five fields: '{first_five}'."
    return lead


def _aws_cron_message(text: str) -> str:
    """AWS ``cron(min hour dom month dow year)``: '?' becomes '*', the year goes, DOW 1-7 becomes 0-6."""
    lead = "AWS EventBridge 'cron(...)' expressions are not accepted here"
    inner = text[text.index("(") + 1 :]
    if not inner.endswith(")"):
        return f"{lead}."
    fields = inner[:-1].split()
    if len(fields) != 6:
        return f"{lead}; an AWS cron expression has six fields."
    dow = _aws_dow_to_cron(fields[4].replace("?", "*"))
    if dow is None:
        return f"{lead}, and '{' '.join(fields)}' has no exact five-field equivalent."
    five = " ".join([*(f.replace("?", "*") for f in fields[:4]), dow])
    if not _is_valid_five(five):
        return f"{lead}, and '{' '.join(fields)}' has no exact five-field equivalent."
    aws_dow = fields[4].replace("?", "*")
    renumbered = (
        f", and day-of-week '{aws_dow}' becomes '{dow}' because AWS counts 1-7 from Sunday where cron counts 0-6"
        if dow != aws_dow
        else ""
    )
    return f"{lead}: write it as five fields: '{five}' ('?' becomes '*', the year field is dropped{renumbered})."


def _aws_dow_to_cron(field: str) -> str | None:
    """AWS day-of-week (1 = SUN .. 7 = SAT) in cron numbering (0 = SUN), or None."""
    items = []
    for item in field.split(","):
        base, _, step = item.partition("/")
        parts = base.split("-")
        converted = []
        for part in parts:
            if part == "*" or part.lower() in _DOW_NAMES:
                converted.append(part)
            elif part.isdigit() and 1 <= int(part) <= 7:
                converted.append(str(int(part) - 1))
            else:
                return None  # L, #, W and friends have no Debian form
        items.append("-".join(converted) + (f"/{step}" if step else ""))
    return ",".join(items)


def _rate_message(text: str) -> str:
    lead = "'rate(...)' expressions are not accepted: slots here are clock-aligned cron slots"
    match = _RATE.match(text)
    if not match:
        return f"{lead}."
    amount, unit = int(match[1]), match[2].lower().rstrip("s")
    minutes = amount * {"minute": 1, "hour": 60, "day": 1440}[unit]
    if minutes == 0:
        return f"{lead}, and {match[0]} is not a schedule."
    if minutes == 1:
        five = "* * * * *"
    elif minutes < 60 and 60 % minutes == 0:
        five = f"*/{minutes} * * * *"
    elif minutes == 60:
        five = "0 * * * *"
    elif minutes < 1440 and minutes % 60 == 0 and 24 % (minutes // 60) == 0:
        five = f"0 */{minutes // 60} * * *"
    elif minutes == 1440:
        five = "0 0 * * *"
    else:
        return f"{lead}, and {match[0]} has no exact five-field equivalent."
    return f"{lead}; write it as five fields: '{five}'."


# ---------------------------------------------------------------- slots


_MINUTE_STEP = timedelta(minutes=1)
_SECOND = timedelta(seconds=1)
_DAY = timedelta(days=1)
# The offset in force around a moment is sampled this far on the other side of it.
# No zone has changed its offset twice within three days since 1970 (checked against
# tzdata 2026f), which this and _day_offsets rely on.
_OFFSET_WINDOW = timedelta(days=2)
_LOOKBACK = timedelta(days=5 * 366)  # previous_at_or_before looks back about five years


@dataclass(frozen=True)
class CronSchedule:
    """A validated cron expression in an IANA time zone; computes the slots it names.

    Every method takes and returns aware datetimes; results are in UTC. Constructing
    one directly validates and normalises both values (raising ValidationFailed);
    :meth:`parse` does the same but reports both fields when both are wrong.
    """

    expression: str
    timezone: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "expression", validate_cron(self.expression))
        object.__setattr__(self, "timezone", validate_timezone(self.timezone))

    @classmethod
    def parse(cls, expression: str, timezone: str) -> CronSchedule:
        """Validate both values and build the schedule; ValidationFailed names every bad field."""
        errors: list[FieldError] = []
        for validate, value in ((validate_cron, expression), (validate_timezone, timezone)):
            try:
                validate(value)
            except ValidationFailed as exc:
                errors.extend(exc.errors)
        if errors:
            raise ValidationFailed(errors)
        return cls(expression, timezone)

    @property
    def follows_wall_clock(self) -> bool:
        """True when minute and hour both name fixed values (neither starts with '*').

        Such an expression runs on local wall time across daylight-saving changes; any
        other follows real time. @hourly follows real time, the other nicknames the wall
        clock.
        """
        return _compile(self.expression).wall_clock

    def next_after(self, moment: datetime) -> datetime:
        """The first slot strictly after ``moment`` (aware), as an aware UTC datetime."""
        for slot in self.iter_after(moment):
            return slot
        raise ValueError(f"'{self.expression}' has no slot after {moment.isoformat()}")

    def previous_at_or_before(self, moment: datetime) -> datetime | None:
        """The latest slot at or before ``moment`` (aware), or None if none in about five years."""
        base = _naive_utc(moment)
        spec, zone = _compile(self.expression), _zone(self.timezone)
        # A local time t can name an instant <= base only if t <= base + (offset then).
        latest_local = base + max(_offset_at(base, zone), _offset_at(base - _OFFSET_WINDOW, zone))
        local_times = _local_times_backward(spec, latest_local, stop=(base - _LOOKBACK).date())
        for instant in _instants(local_times, zone, spec.wall_clock, descending=True):
            if instant <= base:
                return instant.replace(tzinfo=UTC)
        return None

    def iter_after(self, moment: datetime) -> Iterator[datetime]:
        """Slots strictly after ``moment`` (aware), ascending and unique, as aware UTC datetimes."""
        return (slot.replace(tzinfo=UTC) for slot in self._slots_from(_naive_utc(moment), inclusive=False))

    def count_between(self, start: datetime, end: datetime, cap: int = 10_000) -> int:
        """The number of slots s with ``start <= s <= end``, counting no further than ``cap``."""
        last = _naive_utc(end)
        count = 0
        if cap <= 0:
            return 0
        for slot in self._slots_from(_naive_utc(start), inclusive=True):
            if slot > last:
                break
            count += 1
            if count >= cap:
                break
        return count

    def _slots_from(self, base: datetime, *, inclusive: bool) -> Iterator[datetime]:
        """Naive-UTC slots after ``base`` (naive UTC), or at or after it when ``inclusive``."""
        spec, zone = _compile(self.expression), _zone(self.timezone)
        # A local time t can name an instant >= base only if t >= base + (offset then),
        # or, in a gap ending at base, + (offset just before): start from the smallest.
        earliest_local = base + min(_offset_at(base - _SECOND, zone), _offset_at(base + _OFFSET_WINDOW, zone))
        last: datetime | None = None
        for instant in _instants(_local_times_forward(spec, earliest_local), zone, spec.wall_clock, descending=False):
            if instant < base or (instant == base and not inclusive) or (last is not None and instant <= last):
                continue
            last = instant
            yield instant


def _naive_utc(moment: datetime) -> datetime:
    """``moment`` in UTC without tzinfo (the core's internal arithmetic form)."""
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"an aware datetime is required, got {moment!r}")
    return moment.astimezone(UTC).replace(tzinfo=None)


def _offset_at(instant: datetime, zone: ZoneInfo) -> timedelta:
    """The UTC offset in force in ``zone`` at the naive-UTC ``instant``."""
    offset = instant.replace(tzinfo=UTC).astimezone(zone).utcoffset()
    assert offset is not None
    return offset


@lru_cache(maxsize=4096)
def _day_offsets(zone: ZoneInfo, day: date) -> tuple[timedelta, timedelta, datetime | None]:
    """``(before, after, change)`` for local ``day``: the offsets in force before and after
    the one offset change near it and the naive-UTC instant of that change, or
    ``(offset, offset, None)`` on a steady day (nearly all of them).

    The bracket runs from a day before the local day to a day after it, wide enough for
    any UTC offset; no zone changes its offset twice within it.
    """
    low = datetime(day.year, day.month, day.day) - _DAY
    high = low + 3 * _DAY
    before, after = _offset_at(low, zone), _offset_at(high, zone)
    if before == after:
        return before, after, None
    # Bisect for the first whole second with the new offset (tz changes fall on seconds).
    lo, hi = 0, int((high - low).total_seconds())
    while hi - lo > 1:
        middle = (lo + hi) // 2
        if _offset_at(low + timedelta(seconds=middle), zone) == after:
            hi = middle
        else:
            lo = middle
    return before, after, low + timedelta(seconds=hi)


def _instants(local_times: Iterable[datetime], zone: ZoneInfo, wall_clock: bool, *, descending: bool) -> Iterator[datetime]:
    """Naive-UTC instants of ordered local times, in the same order (duplicates possible).

    A local time read with the offset before a change is real if that reading falls
    before the change; read with the offset after, if it falls at or after it. Both
    real: a fall-back repeats the time (the earlier reading is its first occurrence).
    Neither: a spring-forward skips it, and the change itself is the first instant after
    the gap. Readings of one repeated stretch interleave (02:00 first, 02:15 first, ...
    then 02:00 second, ...), so they are buffered and sorted before the next unrepeated
    time, which lies beyond all of them.
    """
    repeated: list[datetime] = []
    day: date | None = None
    before = after = timedelta(0)
    change: datetime | None = None
    for local in local_times:
        if local.date() != day:
            day = local.date()
            before, after, change = _day_offsets(zone, day)
        early, late = local - before, local - after  # equal on a steady day
        if change is not None and early < change <= late:  # repeated by a fall-back
            repeated.append(early)
            if not wall_clock:
                repeated.append(late)
            continue
        if repeated:
            yield from sorted(repeated, reverse=descending)
            repeated.clear()
        if change is None or early < change:
            yield early
        elif late >= change:
            yield late
        elif wall_clock:  # skipped by a spring-forward: wall-clock runs once as the gap ends
            yield change
    yield from sorted(repeated, reverse=descending)


def _local_times_forward(spec: _CronSpec, start: datetime) -> Iterator[datetime]:
    """Naive local times the expression names, ascending, from ``start`` (inclusive)."""
    if start.second or start.microsecond:
        start = start.replace(second=0, microsecond=0) + _MINUTE_STEP
    day = start.date()
    first_day = True
    try:
        while True:
            if day.month not in spec.months:
                day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
            else:
                if spec.matches_day(day):
                    hours = spec.hours[bisect_left(spec.hours, start.hour) :] if first_day else spec.hours
                    for hour in hours:
                        from_start = first_day and hour == start.hour
                        minutes = spec.minutes[bisect_left(spec.minutes, start.minute) :] if from_start else spec.minutes
                        for minute in minutes:
                            yield datetime(day.year, day.month, day.day, hour, minute)
                day += _DAY
            first_day = False
    except (OverflowError, ValueError):  # past year 9999
        return


def _local_times_backward(spec: _CronSpec, end: datetime, stop: date) -> Iterator[datetime]:
    """Naive local times the expression names, descending, from ``end`` (inclusive) down to ``stop``."""
    day = end.date()
    first_day = True
    try:
        while day >= stop:
            if day.month not in spec.months:
                day = day.replace(day=1) - _DAY
            else:
                if spec.matches_day(day):
                    hours = spec.hours[: bisect_right(spec.hours, end.hour)] if first_day else spec.hours
                    for hour in reversed(hours):
                        to_end = first_day and hour == end.hour
                        minutes = spec.minutes[: bisect_right(spec.minutes, end.minute)] if to_end else spec.minutes
                        for minute in reversed(minutes):
                            yield datetime(day.year, day.month, day.day, hour, minute)
                day -= _DAY
            first_day = False
    except (OverflowError, ValueError):  # before year 1
        return
