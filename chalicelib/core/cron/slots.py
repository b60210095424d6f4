"""Slots: the instants a cron expression names in an IANA time zone (API.md, "Time semantics").

Slots are computed in two steps:

1. Walk the *local wall-clock times* the expression names, as naive datetimes, in
   order (here). Day matching follows Debian cron: when both day fields are
   restricted a day matching either runs; when either field starts with ``*`` both
   must match.
2. Map each local time to UTC instants (:mod:`.dst`). Equal instants are yielded once.

croniter is not iterated: on aware datetimes it runs ``0 2 * * *`` twice on a
fall-back night, and walking naive local times is simple enough to do here.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from chalicelib.core.cron.dst import DAY, instants, naive_utc, offset_at
from chalicelib.core.cron.grammar import CronSpec, compile_expression, validate_cron
from chalicelib.core.cron.zones import validate_timezone, zone
from chalicelib.core.errors import FieldError, ValidationFailed
from chalicelib.core.model import UTC

MINUTE_STEP = timedelta(minutes=1)
SECOND = timedelta(seconds=1)
# The offset in force around a moment is sampled this far on the other side of it.
# No zone has changed its offset twice within three days since 1970 (checked against
# tzdata 2026f), which this and day_offsets rely on.
OFFSET_WINDOW = timedelta(days=2)
LOOKBACK = timedelta(days=5 * 366)  # previous_at_or_before looks back about five years



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
        return compile_expression(self.expression).wall_clock

    def next_after(self, moment: datetime) -> datetime:
        """The first slot strictly after ``moment`` (aware), as an aware UTC datetime."""
        for slot in self.iter_after(moment):
            return slot
        raise ValueError(f"'{self.expression}' has no slot after {moment.isoformat()}")

    def previous_at_or_before(self, moment: datetime) -> datetime | None:
        """The latest slot at or before ``moment`` (aware), or None if none in about five years."""
        base = naive_utc(moment)
        spec, tz = compile_expression(self.expression), zone(self.timezone)
        # A local time t can name an instant <= base only if t <= base + (offset then).
        latest_local = base + max(offset_at(base, tz), offset_at(base - OFFSET_WINDOW, tz))
        local_times = local_times_backward(spec, latest_local, stop=(base - LOOKBACK).date())
        for instant in instants(local_times, tz, spec.wall_clock, descending=True):
            if instant <= base:
                return instant.replace(tzinfo=UTC)
        return None

    def iter_after(self, moment: datetime) -> Iterator[datetime]:
        """Slots strictly after ``moment`` (aware), ascending and unique, as aware UTC datetimes."""
        return (slot.replace(tzinfo=UTC) for slot in self._slots_from(naive_utc(moment), inclusive=False))

    def count_between(self, start: datetime, end: datetime, cap: int = 10_000) -> int:
        """The number of slots s with ``start <= s <= end``, counting no further than ``cap``."""
        last = naive_utc(end)
        count = 0
        if cap <= 0:
            return 0
        for slot in self._slots_from(naive_utc(start), inclusive=True):
            if slot > last:
                break
            count += 1
            if count >= cap:
                break
        return count

    def _slots_from(self, base: datetime, *, inclusive: bool) -> Iterator[datetime]:
        """Naive-UTC slots after ``base`` (naive UTC), or at or after it when ``inclusive``."""
        spec, tz = compile_expression(self.expression), zone(self.timezone)
        # A local time t can name an instant >= base only if t >= base + (offset then),
        # or, in a gap ending at base, + (offset just before): start from the smallest.
        earliest_local = base + min(offset_at(base - SECOND, tz), offset_at(base + OFFSET_WINDOW, tz))
        last: datetime | None = None
        for instant in instants(local_times_forward(spec, earliest_local), tz, spec.wall_clock, descending=False):
            if instant < base or (instant == base and not inclusive) or (last is not None and instant <= last):
                continue
            last = instant
            yield instant


def local_times_forward(spec: CronSpec, start: datetime) -> Iterator[datetime]:
    """Naive local times the expression names, ascending, from ``start`` (inclusive)."""
    if start.second or start.microsecond:
        start = start.replace(second=0, microsecond=0) + MINUTE_STEP
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
                            yield datetime(day.year, day.month, day.day, hour, minute)  # noqa: DTZ001 - local wall time
                day += DAY
            first_day = False
    except (OverflowError, ValueError):  # past year 9999
        return


def local_times_backward(spec: CronSpec, end: datetime, stop: date) -> Iterator[datetime]:
    """Naive local times the expression names, descending, from ``end`` (inclusive) down to ``stop``."""
    day = end.date()
    first_day = True
    try:
        while day >= stop:
            if day.month not in spec.months:
                day = day.replace(day=1) - DAY
            else:
                if spec.matches_day(day):
                    hours = spec.hours[: bisect_right(spec.hours, end.hour)] if first_day else spec.hours
                    for hour in reversed(hours):
                        to_end = first_day and hour == end.hour
                        minutes = spec.minutes[: bisect_right(spec.minutes, end.minute)] if to_end else spec.minutes
                        for minute in reversed(minutes):
                            yield datetime(day.year, day.month, day.day, hour, minute)  # noqa: DTZ001 - local wall time
                day -= DAY
            first_day = False
    except (OverflowError, ValueError):  # before year 1
        return
