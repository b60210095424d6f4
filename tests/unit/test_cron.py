"""Cron slots in a time zone, by Debian cron's rules (API.md, "Time semantics").

Every instant is pinned and every sequence asserted exactly, in UTC. The DST nights:

- Europe/Oslo 2026-03-29: 02:00 CET -> 03:00 CEST at 01:00Z (02:00-02:59 skipped);
  2026-10-25: 03:00 CEST -> 02:00 CET at 01:00Z (02:00-02:59 repeated).
- America/New_York 2026-03-08: 02:00 EST -> 03:00 EDT at 07:00Z;
  2026-11-01: 02:00 EDT -> 01:00 EST at 06:00Z (01:00-01:59 repeated).
- Australia/Lord_Howe 2026-04-05: 02:00 +11 -> 01:30 +10:30 at 15:00Z on 04-04
  (01:30-01:59 repeated); 2026-10-04: 02:00 +10:30 -> 02:30 +11 at 15:30Z on 10-03
  (02:00-02:29 skipped). ``test_the_transitions_are_where_these_tests_assume`` checks
  all six against the installed tz database.
"""
from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from chalicelib.core.cron import CronSchedule, validate_cron, validate_timezone
from chalicelib.core.errors import FieldError, ValidationFailed

FIVE_FIELD_SHAPE = "minute hour day-of-month month day-of-week"


def at(text: str) -> datetime:
    """``'2026-03-29T01:00Z'`` as an aware UTC datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def iso(moment: datetime) -> str:
    assert moment.tzinfo is UTC
    return moment.strftime("%Y-%m-%dT%H:%MZ")


def slots(expression: str, zone: str, start: str, end: str) -> list[str]:
    """Every slot s with start <= s <= end, in UTC."""
    schedule = CronSchedule.parse(expression, zone)
    out = []
    for slot in schedule.iter_after(at(start) - timedelta(microseconds=1)):
        if slot > at(end):
            return out
        out.append(iso(slot))
    raise AssertionError("iter_after ended")


def every(step_minutes: int, start: str, end: str) -> list[str]:
    """Real-time grid: every ``step_minutes`` of UTC from start to end inclusive."""
    out, moment = [], at(start)
    while moment <= at(end):
        out.append(iso(moment))
        moment += timedelta(minutes=step_minutes)
    return out


@pytest.mark.parametrize(
    "zone, last_old, first_new, old_offset, new_offset",
    [
        ("Europe/Oslo", "2026-03-29T00:59Z", "2026-03-29T01:00Z", 60, 120),
        ("Europe/Oslo", "2026-10-25T00:59Z", "2026-10-25T01:00Z", 120, 60),
        ("America/New_York", "2026-03-08T06:59Z", "2026-03-08T07:00Z", -300, -240),
        ("America/New_York", "2026-11-01T05:59Z", "2026-11-01T06:00Z", -240, -300),
        ("Australia/Lord_Howe", "2026-04-04T14:59Z", "2026-04-04T15:00Z", 660, 630),
        ("Australia/Lord_Howe", "2026-10-03T15:29Z", "2026-10-03T15:30Z", 630, 660),
    ],
)
def test_the_transitions_are_where_these_tests_assume(zone, last_old, first_new, old_offset, new_offset):
    tz = ZoneInfo(zone)
    assert at(last_old).astimezone(tz).utcoffset() == timedelta(minutes=old_offset)
    assert at(first_new).astimezone(tz).utcoffset() == timedelta(minutes=new_offset)


# ---------------------------------------------------------------- spring forward


@pytest.mark.parametrize(
    "expression, zone, start, end, expected",
    [
        # Oslo: 02:00 and 02:30 do not exist on 03-29; each runs once at 03:00 CEST = 01:00Z.
        ("0 2 * * *", "Europe/Oslo", "2026-03-28T00:00Z", "2026-03-30T23:59Z",
         ["2026-03-28T01:00Z", "2026-03-29T01:00Z", "2026-03-30T00:00Z"]),
        ("30 2 * * *", "Europe/Oslo", "2026-03-28T00:00Z", "2026-03-30T23:59Z",
         ["2026-03-28T01:30Z", "2026-03-29T01:00Z", "2026-03-30T00:30Z"]),
        # Three skipped times, one run, no burst.
        ("0-30/15 2 * * *", "Europe/Oslo", "2026-03-29T00:00Z", "2026-03-29T23:59Z", ["2026-03-29T01:00Z"]),
        # 02:00 is moved to 03:00, which is named too: one run at that instant, not two.
        ("0 2,3 * * *", "Europe/Oslo", "2026-03-28T12:00Z", "2026-03-30T12:00Z",
         ["2026-03-29T01:00Z", "2026-03-30T00:00Z", "2026-03-30T01:00Z"]),
        # New York: 02:00 and 02:30 EST do not exist on 03-08; they run at 03:00 EDT = 07:00Z.
        ("0 2 * * *", "America/New_York", "2026-03-07T00:00Z", "2026-03-09T23:59Z",
         ["2026-03-07T07:00Z", "2026-03-08T07:00Z", "2026-03-09T06:00Z"]),
        ("30 2 * * *", "America/New_York", "2026-03-07T00:00Z", "2026-03-09T23:59Z",
         ["2026-03-07T07:30Z", "2026-03-08T07:00Z", "2026-03-09T06:30Z"]),
        # Lord Howe: 02:15 does not exist on 10-04 (02:00 -> 02:30); it runs at 02:30 +11 = 15:30Z.
        ("15 2 * * *", "Australia/Lord_Howe", "2026-10-02T00:00Z", "2026-10-04T23:59Z",
         ["2026-10-02T15:45Z", "2026-10-03T15:30Z", "2026-10-04T15:15Z"]),
    ],
)
def test_wall_clock_time_skipped_by_spring_forward_runs_once_when_the_gap_ends(expression, zone, start, end, expected):
    assert slots(expression, zone, start, end) == expected


@pytest.mark.parametrize(
    "expression, zone, start, end, expected",
    [
        # Every 15 real minutes across the change; no 02:xx local, nothing made up.
        ("*/15 * * * *", "Europe/Oslo", "2026-03-28T23:30Z", "2026-03-29T01:30Z",
         every(15, "2026-03-28T23:30Z", "2026-03-29T01:30Z")),
        ("0 * * * *", "Europe/Oslo", "2026-03-28T22:00Z", "2026-03-29T03:00Z",
         every(60, "2026-03-28T22:00Z", "2026-03-29T03:00Z")),
        ("*/15 * * * *", "America/New_York", "2026-03-08T06:30Z", "2026-03-08T07:30Z",
         every(15, "2026-03-08T06:30Z", "2026-03-08T07:30Z")),
        ("0 * * * *", "America/New_York", "2026-03-08T05:00Z", "2026-03-08T09:00Z",
         every(60, "2026-03-08T05:00Z", "2026-03-08T09:00Z")),
        ("*/15 * * * *", "Australia/Lord_Howe", "2026-10-03T15:00Z", "2026-10-03T16:00Z",
         every(15, "2026-10-03T15:00Z", "2026-10-03T16:00Z")),
        # Local 00:00 +10:30, 01:00 +10:30, (02:00 skipped), 03:00 +11, 04:00 +11.
        ("0 * * * *", "Australia/Lord_Howe", "2026-10-03T13:00Z", "2026-10-03T17:00Z",
         ["2026-10-03T13:30Z", "2026-10-03T14:30Z", "2026-10-03T16:00Z", "2026-10-03T17:00Z"]),
    ],
)
def test_real_time_expression_runs_at_none_of_the_skipped_times(expression, zone, start, end, expected):
    assert slots(expression, zone, start, end) == expected


def test_real_time_slots_on_a_spring_night_name_no_skipped_local_time():
    local_times = [
        at(s).astimezone(ZoneInfo("Europe/Oslo")).strftime("%H:%M")
        for s in slots("*/15 * * * *", "Europe/Oslo", "2026-03-29T00:00Z", "2026-03-29T01:15Z")
    ]
    assert local_times == ["01:00", "01:15", "01:30", "01:45", "03:00", "03:15"]


# ---------------------------------------------------------------- fall back


@pytest.mark.parametrize(
    "expression, zone, start, end, expected",
    [
        # Oslo: 02:00 and 02:30 happen twice on 10-25; each runs at its first (CEST) occurrence.
        ("0 2 * * *", "Europe/Oslo", "2026-10-24T00:00Z", "2026-10-26T23:59Z",
         ["2026-10-24T00:00Z", "2026-10-25T00:00Z", "2026-10-26T01:00Z"]),
        ("30 2 * * *", "Europe/Oslo", "2026-10-24T00:00Z", "2026-10-26T23:59Z",
         ["2026-10-24T00:30Z", "2026-10-25T00:30Z", "2026-10-26T01:30Z"]),
        ("0-30/15 2 * * *", "Europe/Oslo", "2026-10-25T00:00Z", "2026-10-25T23:59Z",
         ["2026-10-25T00:00Z", "2026-10-25T00:15Z", "2026-10-25T00:30Z"]),
        # New York repeats 01:00-01:59 on 11-01: 01:30 runs once, at 01:30 EDT = 05:30Z.
        ("30 1 * * *", "America/New_York", "2026-10-31T00:00Z", "2026-11-02T23:59Z",
         ["2026-10-31T05:30Z", "2026-11-01T05:30Z", "2026-11-02T06:30Z"]),
        # 02:00 is not repeated in New York: once, at 02:00 EST.
        ("0 2 * * *", "America/New_York", "2026-10-31T00:00Z", "2026-11-02T23:59Z",
         ["2026-10-31T06:00Z", "2026-11-01T07:00Z", "2026-11-02T07:00Z"]),
        # Lord Howe repeats 01:30-01:59 on 04-05: 01:45 runs at 01:45 +11 = 14:45Z only.
        ("45 1 * * *", "Australia/Lord_Howe", "2026-04-03T00:00Z", "2026-04-05T23:59Z",
         ["2026-04-03T14:45Z", "2026-04-04T14:45Z", "2026-04-05T15:15Z"]),
        # 02:15 is not repeated on Lord Howe (the repeat ends at 02:00): once, at 02:15 +10:30.
        ("15 2 * * *", "Australia/Lord_Howe", "2026-04-03T00:00Z", "2026-04-05T23:59Z",
         ["2026-04-03T15:15Z", "2026-04-04T15:45Z", "2026-04-05T15:45Z"]),
    ],
)
def test_wall_clock_time_repeated_by_fall_back_runs_once_at_its_first_occurrence(expression, zone, start, end, expected):
    assert slots(expression, zone, start, end) == expected


@pytest.mark.parametrize(
    "expression, zone, start, end, expected",
    [
        # Both occurrences of 02:00-02:45 run: every 15 real minutes, ten slots.
        ("*/15 * * * *", "Europe/Oslo", "2026-10-24T23:45Z", "2026-10-25T02:00Z",
         every(15, "2026-10-24T23:45Z", "2026-10-25T02:00Z")),
        # Local 00, 01, 02 CEST, 02 CET, 03, 04.
        ("0 * * * *", "Europe/Oslo", "2026-10-24T22:00Z", "2026-10-25T03:00Z",
         every(60, "2026-10-24T22:00Z", "2026-10-25T03:00Z")),
        ("*/15 * * * *", "America/New_York", "2026-11-01T04:45Z", "2026-11-01T07:00Z",
         every(15, "2026-11-01T04:45Z", "2026-11-01T07:00Z")),
        ("0 * * * *", "America/New_York", "2026-11-01T04:00Z", "2026-11-01T07:00Z",
         every(60, "2026-11-01T04:00Z", "2026-11-01T07:00Z")),
        ("*/15 * * * *", "Australia/Lord_Howe", "2026-04-04T14:00Z", "2026-04-04T16:00Z",
         every(15, "2026-04-04T14:00Z", "2026-04-04T16:00Z")),
        # Local 00:00 +11, 01:00 +11, 02:00 +10:30, 03:00 +10:30: the hour after the change is 90 minutes.
        ("0 * * * *", "Australia/Lord_Howe", "2026-04-04T13:00Z", "2026-04-04T16:30Z",
         ["2026-04-04T13:00Z", "2026-04-04T14:00Z", "2026-04-04T15:30Z", "2026-04-04T16:30Z"]),
    ],
)
def test_real_time_expression_runs_in_both_occurrences_of_a_repeated_time(expression, zone, start, end, expected):
    assert slots(expression, zone, start, end) == expected


def test_real_time_slots_in_a_repeated_hour_are_yielded_in_real_time_order():
    local = [
        at(s).astimezone(ZoneInfo("Europe/Oslo")).strftime("%H:%M%z")
        for s in slots("*/30 * * * *", "Europe/Oslo", "2026-10-25T00:00Z", "2026-10-25T02:00Z")
    ]
    assert local == ["02:00+0200", "02:30+0200", "02:00+0100", "02:30+0100", "03:00+0100"]


def test_every_minute_over_a_whole_fall_back_night_is_every_real_minute():
    got = slots("* * * * *", "Europe/Oslo", "2026-10-24T22:00Z", "2026-10-25T04:00Z")
    assert got == every(1, "2026-10-24T22:00Z", "2026-10-25T04:00Z")


# ---------------------------------------------------------------- moments near a change


def test_next_after_inside_the_repeated_hour_never_gives_the_wall_clock_job_a_second_run():
    daily = CronSchedule.parse("0 2 * * *", "Europe/Oslo")
    assert iso(daily.next_after(at("2026-10-25T00:00Z"))) == "2026-10-26T01:00Z"
    assert iso(daily.next_after(at("2026-10-25T00:59Z"))) == "2026-10-26T01:00Z"
    assert iso(daily.next_after(at("2026-10-25T01:10Z"))) == "2026-10-26T01:00Z"


def test_next_after_inside_the_repeated_hour_finds_the_second_occurrence_for_real_time():
    quarter = CronSchedule.parse("*/15 * * * *", "Europe/Oslo")
    assert iso(quarter.next_after(at("2026-10-25T00:50Z"))) == "2026-10-25T01:00Z"  # 02:00 CET
    assert iso(quarter.next_after(at("2026-10-25T01:05Z"))) == "2026-10-25T01:15Z"  # 02:15 CET


def test_next_after_just_before_the_gap_gives_the_end_of_the_gap():
    daily = CronSchedule.parse("30 2 * * *", "Europe/Oslo")
    assert iso(daily.next_after(at("2026-03-29T00:59Z"))) == "2026-03-29T01:00Z"
    assert iso(daily.next_after(at("2026-03-29T01:00Z"))) == "2026-03-30T00:30Z"


@pytest.mark.parametrize(
    "expression, zone, start, end",
    [
        ("*/15 * * * *", "Europe/Oslo", "2026-10-24T20:00Z", "2026-10-25T05:00Z"),
        ("0 2 * * *", "Europe/Oslo", "2026-10-20T00:00Z", "2026-10-30T00:00Z"),
        ("0 2,3 * * *", "Europe/Oslo", "2026-03-25T00:00Z", "2026-04-02T00:00Z"),
        ("*/10 1 * * *", "America/New_York", "2026-10-30T00:00Z", "2026-11-03T00:00Z"),
        ("*/5 * * * *", "Australia/Lord_Howe", "2026-04-04T12:00Z", "2026-04-04T18:00Z"),
        ("0-45/15 1,2 * * *", "Australia/Lord_Howe", "2026-04-02T00:00Z", "2026-04-07T00:00Z"),
        ("0-45/15 1,2 * * *", "Australia/Lord_Howe", "2026-10-01T00:00Z", "2026-10-06T00:00Z"),
    ],
)
def test_previous_at_or_before_walks_back_over_exactly_the_slots_next_after_walks_forward(expression, zone, start, end):
    schedule = CronSchedule.parse(expression, zone)
    forward = slots(expression, zone, start, end)
    backward: list[str] = []
    moment = at(end)
    while (slot := schedule.previous_at_or_before(moment)) is not None and slot >= at(start):
        backward.append(iso(slot))
        moment = slot - timedelta(microseconds=1)
    assert backward == forward[::-1]


def brute_force(expression: str, zone: str, start: datetime, end: datetime) -> list[datetime]:
    """API.md's rules applied minute by minute, for expressions whose day fields are '*'.

    Real time: every UTC minute whose local wall time the expression names. Wall clock:
    every local wall minute it names, at its first occurrence, or, if the minute never
    shows on the clock, at the first instant whose local time is later.
    """
    expanded, _ = croniter.expand(expression)
    minutes, hours = (set(range(60)) if f == ["*"] else set(f) for f in expanded[:2])
    fields = expression.split()
    wall_clock = not (fields[0].startswith("*") or fields[1].startswith("*"))
    tz = ZoneInfo(zone)
    instants = [start + timedelta(minutes=i) for i in range(int((end - start) / timedelta(minutes=1)) + 1)]
    local = [x.astimezone(tz).replace(tzinfo=None) for x in instants]
    if not wall_clock:
        return [x for x, t in zip(instants, local, strict=True) if t.minute in minutes and t.hour in hours]
    first_seen: dict[datetime, datetime] = {}
    for x, t in zip(instants, local, strict=True):
        first_seen.setdefault(t, x)
    out, t = set(), local[0]
    while t <= local[-1]:
        if t.minute in minutes and t.hour in hours:
            out.add(first_seen[t] if t in first_seen else next(x for x, lt in zip(instants, local, strict=True) if lt > t))
        t += timedelta(minutes=1)
    return sorted(out)


@pytest.mark.parametrize(
    "zone, change",
    [
        ("Europe/Oslo", "2026-03-29T01:00Z"),
        ("Europe/Oslo", "2026-10-25T01:00Z"),
        ("America/New_York", "2026-03-08T07:00Z"),
        ("America/New_York", "2026-11-01T06:00Z"),
        ("Australia/Lord_Howe", "2026-04-04T15:00Z"),  # back 30 minutes
        ("Australia/Lord_Howe", "2026-10-03T15:30Z"),  # forward 30 minutes
        ("Antarctica/Troll", "2026-03-29T01:00Z"),  # forward two hours
        ("Antarctica/Troll", "2026-10-25T01:00Z"),
        ("America/Santiago", "2026-04-05T03:00Z"),  # 24:00 -> 23:00
        ("America/Santiago", "2026-09-06T04:00Z"),  # 00:00 -> 01:00: midnight is skipped
        ("Pacific/Apia", "2011-12-30T10:00Z"),  # 29 December 2011 skipped entirely
    ],
)
@pytest.mark.parametrize(
    "expression",
    ["0 2 * * *", "30 2 * * *", "15,45 1,2 * * *", "0 2,3 * * *", "0 0 * * *", "30 23 * * *",
     "*/15 * * * *", "0 * * * *", "* 2 * * *", "*/20 0-3 * * *"],
)
def test_slots_match_the_rules_applied_minute_by_minute(zone, change, expression):
    start, end = at(change) - timedelta(hours=13), at(change) + timedelta(hours=13)
    expected = [iso(s) for s in brute_force(expression, zone, start, end)]
    assert slots(expression, zone, iso(start), iso(end)) == expected


def test_a_wall_clock_job_on_a_skipped_day_runs_once_when_the_day_is_over():
    assert slots("0 2 * * *", "Pacific/Apia", "2011-12-28T00:00Z", "2011-12-31T23:59Z") == [
        "2011-12-28T12:00Z",  # 02:00 -10:00 on the 28th
        "2011-12-29T12:00Z",  # 02:00 -10:00 on the 29th
        "2011-12-30T10:00Z",  # the 30th never happened: 00:00 +14:00 on the 31st
        "2011-12-30T12:00Z",  # 02:00 +14:00 on the 31st
        "2011-12-31T12:00Z",
    ]


def test_daily_at_midnight_when_midnight_is_skipped_runs_at_the_end_of_the_gap():
    assert slots("@daily", "America/Santiago", "2026-09-04T12:00Z", "2026-09-07T12:00Z") == [
        "2026-09-05T04:00Z", "2026-09-06T04:00Z", "2026-09-07T03:00Z",  # 6 Sept: 01:00 -03 = 04:00Z
    ]


def test_counting_from_a_slot_moved_to_the_end_of_a_gap_includes_it():
    daily = CronSchedule.parse("15 2 * * *", "Australia/Lord_Howe")
    assert daily.count_between(at("2026-10-03T15:30Z"), at("2026-10-04T15:14Z")) == 1
    assert daily.count_between(at("2026-10-03T15:30Z"), at("2026-10-04T15:15Z")) == 2
    assert iso(daily.previous_at_or_before(at("2026-10-04T15:14Z"))) == "2026-10-03T15:30Z"


# ---------------------------------------------------------------- calendar


def test_day_31_skips_months_without_one():
    assert slots("0 0 31 * *", "UTC", "2026-01-01T00:00Z", "2026-12-31T23:59Z") == [
        "2026-01-31T00:00Z", "2026-03-31T00:00Z", "2026-05-31T00:00Z", "2026-07-31T00:00Z",
        "2026-08-31T00:00Z", "2026-10-31T00:00Z", "2026-12-31T00:00Z",
    ]


def test_29_february_waits_for_a_leap_year():
    leap_day = CronSchedule.parse("0 12 29 2 *", "UTC")
    first = leap_day.next_after(at("2026-01-01T00:00Z"))
    assert iso(first) == "2028-02-29T12:00Z"
    assert iso(leap_day.next_after(first)) == "2032-02-29T12:00Z"


@pytest.mark.parametrize(
    "start, end, expected",
    [
        ("2026-01-01T00:00Z", "2026-04-30T23:59Z",
         ["2026-01-31T00:00Z", "2026-02-28T00:00Z", "2026-03-31T00:00Z", "2026-04-30T00:00Z"]),
        ("2028-01-01T00:00Z", "2028-04-30T23:59Z",
         ["2028-01-31T00:00Z", "2028-02-29T00:00Z", "2028-03-31T00:00Z", "2028-04-30T00:00Z"]),
    ],
)
def test_L_is_the_last_day_of_each_month(start, end, expected):
    assert slots("0 0 L * *", "UTC", start, end) == expected


def test_yearly_in_oslo_is_local_midnight_on_1_january():
    yearly = CronSchedule.parse("@yearly", "Europe/Oslo")
    assert yearly.follows_wall_clock
    assert iso(yearly.next_after(at("2026-06-01T00:00Z"))) == "2026-12-31T23:00Z"
    assert iso(yearly.next_after(at("2026-12-31T23:00Z"))) == "2027-12-31T23:00Z"


def test_annually_and_midnight_are_yearly_and_daily():
    assert slots("@annually", "UTC", "2026-01-01T00:00Z", "2028-01-01T00:00Z") == slots(
        "@yearly", "UTC", "2026-01-01T00:00Z", "2028-01-01T00:00Z"
    ) == ["2026-01-01T00:00Z", "2027-01-01T00:00Z", "2028-01-01T00:00Z"]
    assert slots("@midnight", "UTC", "2026-05-01T00:00Z", "2026-05-03T00:00Z") == slots(
        "@daily", "UTC", "2026-05-01T00:00Z", "2026-05-03T00:00Z"
    )


def test_hourly_follows_real_time():
    hourly = CronSchedule.parse("@hourly", "Europe/Oslo")
    assert not hourly.follows_wall_clock
    assert slots("@hourly", "UTC", "2026-05-01T10:30Z", "2026-05-01T13:00Z") == [
        "2026-05-01T11:00Z", "2026-05-01T12:00Z", "2026-05-01T13:00Z",
    ]
    assert slots("@hourly", "Europe/Oslo", "2026-10-25T00:00Z", "2026-10-25T02:00Z") == every(
        60, "2026-10-25T00:00Z", "2026-10-25T02:00Z"
    )


def test_weekly_and_monthly_run_at_local_midnight():
    assert slots("@weekly", "UTC", "2026-04-01T00:00Z", "2026-04-15T00:00Z") == [
        "2026-04-05T00:00Z", "2026-04-12T00:00Z",  # Sundays
    ]
    assert slots("@monthly", "America/New_York", "2026-04-01T00:00Z", "2026-06-01T12:00Z") == [
        "2026-04-01T04:00Z", "2026-05-01T04:00Z", "2026-06-01T04:00Z",
    ]


def test_both_day_fields_restricted_runs_on_a_day_matching_either():
    # April 2026: Fridays 3, 10, 17, 24; the 13th is a Monday. 1 May is a Friday.
    assert slots("0 0 13 * 5", "UTC", "2026-04-01T00:00Z", "2026-05-01T00:00Z") == [
        "2026-04-03T00:00Z", "2026-04-10T00:00Z", "2026-04-13T00:00Z", "2026-04-17T00:00Z",
        "2026-04-24T00:00Z", "2026-05-01T00:00Z",
    ]


def test_a_day_field_starting_with_star_step_means_both_must_match():
    # Odd days that are Mondays: 13 and 27 April, 11 and 25 May (croniter alone gives every Monday too).
    assert slots("0 0 */2 * 1", "UTC", "2026-04-01T00:00Z", "2026-05-31T23:59Z") == [
        "2026-04-13T00:00Z", "2026-04-27T00:00Z", "2026-05-11T00:00Z", "2026-05-25T00:00Z",
    ]


def test_a_restricted_day_of_week_naming_every_day_still_ors_with_day_of_month():
    # '0-7' does not start with '*': Debian ORs it with day-of-month, so every day runs.
    assert slots("0 0 13 * 0-7", "UTC", "2026-04-01T00:00Z", "2026-04-03T00:00Z") == [
        "2026-04-01T00:00Z", "2026-04-02T00:00Z", "2026-04-03T00:00Z",
    ]


def test_day_of_week_7_and_names_mean_what_debian_cron_says():
    assert slots("0 9 * * 7", "UTC", "2026-04-01T00:00Z", "2026-04-13T00:00Z") == [
        "2026-04-05T09:00Z", "2026-04-12T09:00Z",
    ]
    assert slots("0 9 * APR mon-WED", "UTC", "2026-04-01T00:00Z", "2026-04-08T00:00Z") == [
        "2026-04-01T09:00Z", "2026-04-06T09:00Z", "2026-04-07T09:00Z",
    ]


def test_a_single_value_range_is_that_value():
    # croniter reads '5-5' as the whole cycle; Debian cron reads it as minute 5.
    assert slots("5-5 10 * * *", "UTC", "2026-04-01T00:00Z", "2026-04-01T23:59Z") == ["2026-04-01T10:05Z"]


def test_feb_29_on_a_sunday_is_found_decades_ahead_and_previous_looks_back_about_five_years():
    schedule = CronSchedule.parse("0 0 29 2 */7", "UTC")  # '*/7' day-of-week is Sunday, ANDed
    assert iso(schedule.next_after(at("2026-01-01T00:00Z"))) == "2032-02-29T00:00Z"
    assert schedule.previous_at_or_before(at("2026-01-01T00:00Z")) is None  # 2004-02-29 is too far back
    assert iso(schedule.previous_at_or_before(at("2036-01-01T00:00Z"))) == "2032-02-29T00:00Z"


# ---------------------------------------------------------------- the operations' edges


def test_next_after_is_strictly_after():
    daily = CronSchedule.parse("0 2 * * *", "UTC")
    assert iso(daily.next_after(at("2026-05-01T02:00Z"))) == "2026-05-02T02:00Z"
    assert iso(daily.next_after(at("2026-05-01T01:59:59.999999+00:00"))) == "2026-05-01T02:00Z"


def test_next_after_accepts_any_aware_moment_and_answers_in_utc():
    daily = CronSchedule.parse("0 2 * * *", "Europe/Oslo")
    slot = daily.next_after(datetime(2026, 5, 1, 12, 0, tzinfo=ZoneInfo("Asia/Tokyo")))  # 03:00Z
    assert slot.tzinfo is UTC
    assert iso(slot) == "2026-05-02T00:00Z"


def test_previous_at_or_before_includes_the_moment():
    daily = CronSchedule.parse("0 2 * * *", "UTC")
    assert iso(daily.previous_at_or_before(at("2026-05-01T02:00Z"))) == "2026-05-01T02:00Z"
    assert iso(daily.previous_at_or_before(at("2026-05-01T01:59Z"))) == "2026-04-30T02:00Z"


def test_previous_at_or_before_on_the_night_of_a_change():
    assert iso(CronSchedule.parse("0 2 * * *", "Europe/Oslo").previous_at_or_before(at("2026-10-25T01:30Z"))) == (
        "2026-10-25T00:00Z"
    )
    assert iso(CronSchedule.parse("30 2 * * *", "Europe/Oslo").previous_at_or_before(at("2026-03-29T01:00Z"))) == (
        "2026-03-29T01:00Z"
    )
    assert iso(CronSchedule.parse("*/15 * * * *", "Europe/Oslo").previous_at_or_before(at("2026-10-25T01:10Z"))) == (
        "2026-10-25T01:00Z"
    )


def test_count_between_includes_both_ends_and_stops_at_cap():
    quarter = CronSchedule.parse("*/15 * * * *", "UTC")
    assert quarter.count_between(at("2026-05-01T00:00Z"), at("2026-05-01T01:00Z")) == 5
    assert quarter.count_between(at("2026-05-01T00:01Z"), at("2026-05-01T00:59Z")) == 3
    assert quarter.count_between(at("2026-05-01T00:00Z"), at("2026-05-31T00:00Z"), cap=7) == 7
    assert quarter.count_between(at("2026-05-01T01:00Z"), at("2026-05-01T00:00Z")) == 0


def test_count_between_counts_both_occurrences_of_a_repeated_hour_once_each():
    quarter = CronSchedule.parse("*/15 * * * *", "Europe/Oslo")
    assert quarter.count_between(at("2026-10-24T22:00Z"), at("2026-10-25T02:00Z")) == 17
    daily = CronSchedule.parse("0 2 * * *", "Europe/Oslo")
    assert daily.count_between(at("2026-10-24T12:00Z"), at("2026-10-25T12:00Z")) == 1


def test_iter_after_yields_ascending_unique_utc_instants():
    schedule = CronSchedule.parse("0,30 1-3 * * *", "Europe/Oslo")  # covers both nights' changes
    for start in ("2026-03-28T00:00Z", "2026-10-24T00:00Z"):
        iterator = schedule.iter_after(at(start))
        got = [next(iterator) for _ in range(12)]
        assert all(s.tzinfo is UTC for s in got)
        assert got == sorted(set(got))
        assert got[0] > at(start)


def test_naive_moments_are_refused():
    with pytest.raises(ValueError):
        CronSchedule.parse("0 2 * * *", "UTC").next_after(datetime(2026, 5, 1))


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "expression, normalised",
    [
        ("0 2 * * *", "0 2 * * *"),
        ("  0\t2  *  * *  ", "0 2 * * *"),  # a line break is refused, not trimmed (test_anchored_patterns)
        ("30 1,13 * * 1-5", "30 1,13 * * 1-5"),
        ("*/15 * * * *", "*/15 * * * *"),
        ("0 0 L * *", "0 0 L * *"),
        ("0 0 1,L * *", "0 0 1,L * *"),
        ("0 9 * JAN-MAR MON-FRI", "0 9 * JAN-MAR MON-FRI"),
        ("@Daily", "@daily"),
        ("@hourly", "@hourly"),
        ("@annually", "@annually"),
        ("@midnight", "@midnight"),
    ],
)
def test_valid_expressions_come_back_normalised(expression, normalised):
    assert validate_cron(expression) == normalised


@pytest.mark.parametrize(
    "expression, suggestion",
    [
        # croniter would read the 6th field as seconds; seconds-first (Quartz/Spring) reading
        # is suggested and croniter's own reading is offered as the alternative.
        ("0 2 * * * 5", "'2 * * * 5'"),
        ("0 2 * * * 5", "'0 2 * * *'"),
        ("0 0 2 * * *", "'0 2 * * *'"),
        ("0 2 * * * 2026", "'0 2 * * *'"),  # a year last: AWS order, drop it
        ("0 0 2 ? * MON-FRI", "'0 2 * * MON-FRI'"),  # Quartz
        ("0 0 2 ? * MON-FRI 2026", "'0 2 * * MON-FRI'"),
        ("cron(0 2 * * ? *)", "'0 2 * * *'"),
        ("cron(0 9 ? * 2-6 *)", "'0 9 * * 1-5'"),  # AWS counts days of the week from 1 = Sunday
        ("rate(5 minutes)", "'*/5 * * * *'"),
        ("0 2 * * ?", "'0 2 * * *'"),
    ],
)
def test_foreign_cron_dialects_are_refused_with_the_five_field_form(expression, suggestion):
    with pytest.raises(ValidationFailed) as caught:
        validate_cron(expression)
    [error] = caught.value.errors
    assert error.field == "cronExpression"
    assert suggestion in error.message
    assert FIVE_FIELD_SHAPE in error.message


def test_six_field_message_says_a_sixth_field_would_be_read_as_seconds():
    with pytest.raises(ValidationFailed) as caught:
        validate_cron("0 2 * * * 5")
    assert "seconds" in caught.value.errors[0].message


@pytest.mark.parametrize(
    "expression",
    [
        "", "   ", "@reboot", "@every 5m", "rate(7 minutes)", "* * * *", "* * * * * * * *",
        "61 * * * *", "60 * * * *", "0 24 * * *", "0 0 32 * *", "0 0 0 * *", "0 0 * 13 *", "0 0 * * 8",
        "*/0 * * * *", "30-10 * * * *", "5/15 * * * *", "0 0 * JUNE *", "0 0 1,,2 * *", "-1 * * * *",
        "0 0 * * 1#2", "0 0 15W * *", "0 0 * * 5L", "0 0 L-2 * *", "H * * * *",
        "0 0 30 2 *", "0 0 31 4,6,9,11 *", "cron(0 0 ? * 2#1 *)", "cron(0 2 * *)", "x", "rate(0 minutes)",
        "0 0 * * 7-1", "0 0 * * FRI-MON", "999999999999 * * * *",
    ],
)
def test_refused_expressions_name_the_field_and_say_what_five_field_cron_looks_like(expression):
    with pytest.raises(ValidationFailed) as caught:
        validate_cron(expression)
    [error] = caught.value.errors
    assert error.field == "cronExpression"
    assert FIVE_FIELD_SHAPE in error.message
    assert "'0 2 * * *'" in error.message


def test_non_string_expression_is_refused():
    with pytest.raises(ValidationFailed):
        validate_cron(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["UTC", "Europe/Oslo", "America/New_York", "Australia/Lord_Howe", "Etc/GMT+5"])
def test_iana_time_zones_are_accepted(name):
    assert validate_timezone(name) == name


@pytest.mark.parametrize("name", ["Mars/Olympus", "CEST", "", "  ", "Europe", "localtime", "+02:00", "../etc/passwd"])
def test_non_iana_time_zones_are_refused(name):
    with pytest.raises(ValidationFailed) as caught:
        validate_timezone(name)
    [error] = caught.value.errors
    assert error.field == "timezone"
    assert "IANA" in error.message


def test_a_time_zone_in_the_wrong_case_gets_the_right_spelling():
    with pytest.raises(ValidationFailed) as caught:
        validate_timezone("europe/oslo")
    assert "'Europe/Oslo'" in caught.value.errors[0].message


def test_parse_reports_both_fields_when_both_are_wrong():
    with pytest.raises(ValidationFailed) as caught:
        CronSchedule.parse("cron(0 2 * * ? *)", "CEST")
    assert [e.field for e in caught.value.errors] == ["cronExpression", "timezone"]


def test_parse_normalises_and_the_schedule_is_a_value():
    schedule = CronSchedule.parse(" 0  2 * * * ", " Europe/Oslo ")
    assert schedule == CronSchedule("0 2 * * *", "Europe/Oslo")
    assert (schedule.expression, schedule.timezone) == ("0 2 * * *", "Europe/Oslo")
    assert hash(schedule) == hash(CronSchedule("0 2 * * *", "Europe/Oslo"))


def test_constructing_directly_validates_too():
    with pytest.raises(ValidationFailed) as caught:
        CronSchedule("0 2 * * * *", "UTC")
    assert caught.value.errors == [FieldError("cronExpression", caught.value.errors[0].message)]


@pytest.mark.parametrize(
    "expression, wall_clock",
    [
        ("0 2 * * *", True), ("30 1,13 * * 1-5", True), ("0-30/15 2 * * *", True), ("@daily", True),
        ("@weekly", True), ("@monthly", True), ("@yearly", True),
        ("*/15 * * * *", False), ("0 * * * *", False), ("* * * * *", False), ("0 */2 * * *", False),
        ("* 2 * * *", False), ("@hourly", False),
    ],
)
def test_follows_wall_clock_when_minute_and_hour_are_both_fixed(expression, wall_clock):
    assert CronSchedule.parse(expression, "UTC").follows_wall_clock is wall_clock


def test_the_cron_package_imports_only_the_standard_library_croniter_and_the_core():
    import chalicelib.core.cron as cron

    modules = sorted(Path(cron.__file__).parent.glob("*.py"))
    assert len(modules) >= 7
    for module in modules:
        nodes = list(ast.walk(ast.parse(module.read_text(encoding="utf-8"))))
        absolute = {alias.name for node in nodes if isinstance(node, ast.Import) for alias in node.names}
        absolute |= {node.module or "" for node in nodes if isinstance(node, ast.ImportFrom) and node.level == 0}
        allowed = {
            "__future__", "bisect", "calendar", "collections", "dataclasses", "datetime", "functools", "re", "typing",
            "zoneinfo", "croniter",
        }
        ours = {name for name in absolute if name.startswith("chalicelib")}
        assert {name.split(".")[0] for name in absolute - ours} <= allowed, module.name
        assert all(name.startswith(("chalicelib.core.cron", "chalicelib.core.errors", "chalicelib.core.model"))
                   for name in ours), module.name
