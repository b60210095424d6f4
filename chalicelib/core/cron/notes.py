"""What a daylight-saving change does to one slot, in words, for people reading a schedule."""
from __future__ import annotations

from datetime import datetime

from chalicelib.core.cron.grammar import compile_expression
from chalicelib.core.cron.slots import CronSchedule
from chalicelib.core.cron.zones import zone


def local_time(schedule: CronSchedule, slot: datetime) -> datetime:
    """The slot on the wall clock of the schedule's zone."""
    return slot.astimezone(zone(schedule.timezone))


def dst_note(schedule: CronSchedule, slot: datetime) -> str | None:
    """Why this slot is not simply the named local time, or None when it is.

    * a local time repeated by a fall-back: a wall-clock expression runs once, at its
      first occurrence; any other runs at each occurrence;
    * a wall-clock time skipped by a spring-forward: moved to the end of the gap.
    """
    tz = zone(schedule.timezone)
    local = slot.astimezone(tz)
    naive = local.replace(tzinfo=None)
    spec = compile_expression(schedule.expression)
    if naive.replace(fold=0, tzinfo=tz).utcoffset() != naive.replace(fold=1, tzinfo=tz).utcoffset():
        if spec.wall_clock:
            return "repeated hour (daylight saving ends): runs once, at the first occurrence"
        return "repeated hour (daylight saving ends): this local time occurs twice and runs at each"
    if spec.wall_clock and (local.minute not in spec.minutes or local.hour not in spec.hours):
        return "moved: the named local time does not exist this day (daylight saving starts); runs as the gap ends"
    return None
