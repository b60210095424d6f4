"""Local wall-clock times to UTC instants across daylight-saving changes.

Per local day: the offsets before and after a change and the instant of the change
(nearly every day has none). A local time then has one reading, two (repeated by a
fall-back) or none (skipped by a spring-forward). A wall-clock expression runs a
skipped time once at the end of the gap and a repeated time once at its first
occurrence; any other runs both occurrences of a repeated time and no skipped time.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from chalicelib.core.model import UTC

DAY = timedelta(days=1)


def naive_utc(moment: datetime) -> datetime:
    """``moment`` in UTC without tzinfo (the core's internal arithmetic form)."""
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"an aware datetime is required, got {moment!r}")
    return moment.astimezone(UTC).replace(tzinfo=None)


def offset_at(instant: datetime, zone: ZoneInfo) -> timedelta:
    """The UTC offset in force in ``zone`` at the naive-UTC ``instant``."""
    offset = instant.replace(tzinfo=UTC).astimezone(zone).utcoffset()
    assert offset is not None
    return offset


@lru_cache(maxsize=4096)
def day_offsets(zone: ZoneInfo, day: date) -> tuple[timedelta, timedelta, datetime | None]:
    """``(before, after, change)`` for local ``day``: the offsets in force before and after
    the one offset change near it and the naive-UTC instant of that change, or
    ``(offset, offset, None)`` on a steady day (nearly all of them).

    The bracket runs from a day before the local day to a day after it, wide enough for
    any UTC offset; no zone changes its offset twice within it.
    """
    low = datetime(day.year, day.month, day.day) - DAY  # noqa: DTZ001 - naive UTC arithmetic by design
    high = low + 3 * DAY
    before, after = offset_at(low, zone), offset_at(high, zone)
    if before == after:
        return before, after, None
    # Bisect for the first whole second with the new offset (tz changes fall on seconds).
    lo, hi = 0, int((high - low).total_seconds())
    while hi - lo > 1:
        middle = (lo + hi) // 2
        if offset_at(low + timedelta(seconds=middle), zone) == after:
            hi = middle
        else:
            lo = middle
    return before, after, low + timedelta(seconds=hi)


def instants(local_times: Iterable[datetime], zone: ZoneInfo, wall_clock: bool, *, descending: bool) -> Iterator[datetime]:
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
            before, after, change = day_offsets(zone, day)
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
