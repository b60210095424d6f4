"""A simulated stretch of calendar: 20 jobs driven minute by minute through dispatch.

Handlers fail at random from a seeded generator. :func:`check_invariants` states what
must hold whatever the failures were:

* every slot the cron expression names was acted on, and has exactly one final
  outcome (succeeded, failed after its last attempt, skipped, missed); the slots are
  taken from :func:`oracle_slots`, a minute-by-minute walk of the local wall clock that
  shares no code with the scheduler's cron package;
* no slot has more attempts than ``maxAttempts``;
* no slot succeeds twice; no execution is left queued or running;
* alerts sent = failure streaks that reached their threshold, recovery notices =
  such streaks that ended in a success;
* maintenance windows (:data:`WINDOWS`) and pauses with an end (:data:`PAUSES`): the
  oracle is told which slots a window covers (each is recorded ``skipped`` once, naming
  the window that started first) and which slots a pause holds (none is acted on); the
  latest slot each ``runMissed`` window skipped runs once more after it; every pause's
  end sends one ``pause-expired`` notice. No two ``runMissed`` windows overlap.
"""
from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter

from chalicelib.core.model import ExecutionStatus, Trigger
from tests.fakes import Harness

FINAL_OUTCOMES = {ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT,
                  ExecutionStatus.SKIPPED, ExecutionStatus.MISSED}

# (name, cron, time zone, alert after, failure probability)
JOBS: list[tuple[str, str, str, int, float]] = [
    ("five-min-utc", "*/5 * * * *", "UTC", 2, 0.10),
    ("five-min-oslo", "*/5 * * * *", "Europe/Oslo", 3, 0.20),
    ("five-min-ny", "2-59/5 * * * *", "America/New_York", 2, 0.05),
    ("hourly-utc", "0 * * * *", "UTC", 2, 0.20),
    ("hourly-oslo", "30 * * * *", "Europe/Oslo", 2, 0.15),
    ("hourly-sydney", "15 * * * *", "Australia/Sydney", 3, 0.25),
    ("hourly-lord-howe", "45 * * * *", "Australia/Lord_Howe", 2, 0.10),
    ("nightly-oslo-0200", "0 2 * * *", "Europe/Oslo", 3, 0.30),
    ("nightly-oslo-0230", "30 2 * * *", "Europe/Oslo", 2, 0.20),
    ("nightly-ny-0130", "30 1 * * *", "America/New_York", 2, 0.20),
    ("nightly-sydney", "30 2 * * *", "Australia/Sydney", 2, 0.20),
    ("nightly-lord-howe", "15 2 * * *", "Australia/Lord_Howe", 1, 0.20),
    ("twice-daily", "0 6,18 * * *", "Europe/Oslo", 2, 0.20),
    ("weekdays", "30 7 * * 1-5", "Europe/Oslo", 2, 0.20),
    ("weekly-monday", "0 3 * * 1", "Europe/Oslo", 1, 0.30),
    ("weekly-sunday-ny", "0 2 * * 0", "America/New_York", 1, 0.30),
    ("monthly-last", "0 23 L * *", "Europe/Oslo", 1, 0.30),
    ("monthly-first", "0 0 1 * *", "UTC", 1, 0.30),
    ("quarter-hour", "*/15 * * * *", "Australia/Lord_Howe", 3, 0.15),
    ("every-ten-oslo", "*/10 * * * *", "Europe/Oslo", 2, 0.10),
]


MAX_ATTEMPTS = 3
MINUTE = timedelta(minutes=1)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@dataclass(frozen=True, eq=False)
class SimWindow:
    """A maintenance window the simulation creates before its first tick."""

    starts: datetime
    ends: datetime
    scope: dict[str, Any]
    run_missed: bool = False

    def covers(self, name: str) -> bool:
        return bool(self.scope.get("all")) or name in self.scope.get("jobs", ())


WINDOWS: list[SimWindow] = [
    # Oslo's fall-back night, every job: both 02:00 wall times and the repeated hour.
    SimWindow(_at("2026-10-24T23:30:00+00:00"), _at("2026-10-25T02:30:00+00:00"), {"all": True}),
    # a migration that runs the missed slots afterwards, and one overlapping it for two jobs
    SimWindow(_at("2026-10-10T00:30:00+00:00"), _at("2026-10-10T03:10:00+00:00"),
              {"jobs": ["hourly-utc", "nightly-oslo-0200", "five-min-utc", "quarter-hour"]}, run_missed=True),
    SimWindow(_at("2026-10-10T02:00:00+00:00"), _at("2026-10-10T04:00:00+00:00"),
              {"jobs": ["hourly-utc", "twice-daily"]}),
    # New York's fall-back morning (1 Nov, 06:00Z), with its missed slots run afterwards
    SimWindow(_at("2026-11-01T05:00:00+00:00"), _at("2026-11-01T07:05:00+00:00"),
              {"jobs": ["five-min-ny", "nightly-ny-0130", "weekly-sunday-ny"]}, run_missed=True),
]

# (job, paused at the end of this tick, until): a pause with an end, set through the service
PAUSES: list[tuple[str, datetime, datetime]] = [
    ("hourly-oslo", _at("2026-10-12T10:00:00+00:00"), _at("2026-10-13T10:00:00+00:00")),
    # ends at 02:45 CEST, inside the hour the fall-back repeats
    ("nightly-oslo-0230", _at("2026-10-24T12:00:00+00:00"), _at("2026-10-25T00:45:00+00:00")),
    ("every-ten-oslo", _at("2026-10-25T00:05:00+00:00"), _at("2026-10-25T01:33:00+00:00")),
    ("hourly-sydney", _at("2026-10-03T14:00:00+00:00"), _at("2026-10-03T17:00:00+00:00")),  # Sydney springs forward
]


def windows_in(start: datetime, end: datetime) -> list[SimWindow]:
    return [w for w in WINDOWS if w.ends > start and w.starts < end]


def pauses_in(start: datetime, end: datetime) -> list[tuple[str, datetime, datetime]]:
    return [p for p in PAUSES if start <= p[1] < end]


def window_of(name: str, slot: datetime, windows: list[SimWindow]) -> SimWindow | None:
    """The oracle's coverage: the window that started first among those holding the slot."""
    holding = [w for w in windows if w.starts <= slot < w.ends and w.covers(name)]
    return min(holding, key=lambda w: w.starts) if holding else None


def oracle_slots(cron: str, tz: str, start: datetime, end: datetime) -> list[datetime]:
    """The slots of ``cron`` in ``tz`` from ``start`` to ``end``, by brute force.

    Independent of ``chalicelib.core.cron``: croniter expands the fields, and every UTC
    minute is turned into local wall time with zoneinfo. Debian cron's rules: an
    expression with fixed minute and hour follows the wall clock (a local time repeated
    by a fall-back runs once, at its first occurrence; one skipped by a spring-forward
    runs once, at the first minute after the gap); any other follows real time (every
    UTC minute whose local time matches).
    """
    fields = cron.split()
    (minutes, hours, days, months, weekdays), _ = croniter.expand(cron)
    assert "*" in (fields[2][0], fields[4][0]), "the simulation's jobs use one day field"

    def named(local: datetime) -> bool:
        last_day = (local.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        day_ok = "*" in days or local.day in days or ("l" in days and local.day == last_day.day)
        return ((minutes == ["*"] or local.minute in minutes) and (hours == ["*"] or local.hour in hours)
                and day_ok and (months == ["*"] or local.month in months)
                and (weekdays == ["*"] or local.isoweekday() % 7 in {w % 7 for w in weekdays}))

    zone = ZoneInfo(tz)
    wall_clock = not (fields[0].startswith("*") or fields[1].startswith("*"))
    slots: list[datetime] = []
    seen_local: set[datetime] = set()
    moment = start
    previous = (moment - MINUTE).astimezone(zone).replace(tzinfo=None)
    while moment <= end:
        local = moment.astimezone(zone).replace(tzinfo=None)
        if wall_clock:
            skipped = previous + MINUTE
            in_gap = False
            while skipped < local:  # a spring-forward skipped these local times
                in_gap = in_gap or named(skipped)
                skipped += MINUTE
            if in_gap or (named(local) and local not in seen_local):
                slots.append(moment)
            seen_local.add(local)
        elif named(local):
            slots.append(moment)
        previous = local
        moment += MINUTE
    return slots


@dataclass
class SimulationResult:
    counts: Counter = field(default_factory=Counter)
    alerts: int = 0
    recoveries: int = 0
    expected_alerts: int = 0
    expected_recoveries: int = 0
    slots: int = 0
    ticks: int = 0
    window_skips: int = 0
    missed_runs: int = 0
    paused_slots: int = 0
    pauses_expired: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        return (f"{self.ticks} ticks, {self.slots} slots, executions: {statuses}; "
                f"{self.window_skips} slots skipped by maintenance windows, {self.missed_runs} run after them, "
                f"{self.paused_slots} held by {self.pauses_expired} expiring pauses; "
                f"alerts {self.alerts} (expected {self.expected_alerts}), "
                f"recoveries {self.recoveries} (expected {self.expected_recoveries})")


def run_simulation(start: datetime, days: float, *, seed: int, store: Any = None) -> tuple[Harness, SimulationResult]:
    harness = Harness(start - timedelta(minutes=1), store=store)
    failing = {name: p for name, _cron, _tz, _alert, p in JOBS}

    def handler(ctx: Any) -> dict[str, Any]:
        # Each attempt's fate is drawn from its own seed, so it does not depend on the order
        # in which the dispatcher happens to take due jobs (set order varies with PYTHONHASHSEED).
        draw = random.Random(f"{seed}|{ctx.job_name}|{ctx.scheduled_for.isoformat()}|{ctx.attempt}").random()
        if draw < failing[ctx.job_name]:
            raise RuntimeError(f"simulated failure of {ctx.job_name} attempt {ctx.attempt}")
        return {"ok": True}

    harness.registry.add("sim", handler)
    for name, cron, tz, alert_after, _p in JOBS:
        harness.service.register_job(name, cron, "sim", timezone=tz, alert_after_failures=alert_after,
                                     retry={"maxAttempts": MAX_ATTEMPTS, "initialDelaySeconds": 90, "maxDelaySeconds": 600},
                                     timeout_seconds=120)
    result = SimulationResult()
    minutes = int(days * 24 * 60)
    end = start + timedelta(minutes=minutes)
    ids: dict[SimWindow, str] = {}
    for window in windows_in(start, end):
        body = {"from": window.starts.isoformat(), "to": window.ends.isoformat(), "reason": "simulated maintenance",
                **window.scope, "runMissed": window.run_missed}
        ids[window] = harness.service.windows.create(body).window_id
    pauses = {at: (name, until) for name, at, until in pauses_in(start, end)}
    for minute in range(minutes + 15):  # a quarter of an hour more lets the last retries finish
        now = start + timedelta(minutes=minute)
        harness.tick(now)
        if now in pauses:
            harness.service.jobs.pause_job(pauses[now][0], "simulated pause", until=pauses[now][1])
        result.ticks += 1
    check_invariants(harness, start, end, result, ids)
    return harness, result


def check_invariants(harness: Harness, start: datetime, end: datetime, result: SimulationResult,
                     window_ids: dict[SimWindow, str] | None = None) -> None:
    problems = result.problems
    sent = Counter(n.kind.value for n in harness.notifier.sent)
    result.alerts, result.recoveries = sent["alert"], sent["recovery"]
    window_ids = window_ids or {}
    windows = list(window_ids)
    pauses = pauses_in(start, end)
    result.pauses_expired = sent["pause-expired"]
    if sent["pause-expired"] != len(pauses):
        problems.append(f"pause-expired notices {sent['pause-expired']} != pauses that ended {len(pauses)}")
    for name, cron, tz, alert_after, _p in JOBS:
        every = oracle_slots(cron, tz, start, end)
        held = {s for s in every for job, at, until in pauses if job == name and at < s < until}
        expected = [s for s in every if s not in held]
        result.slots += len(expected)
        result.paused_slots += len(held)
        executions = harness.executions(name)
        by_slot: dict[datetime, list[Any]] = defaultdict(list)
        skips: dict[datetime, list[Any]] = defaultdict(list)
        late_runs: dict[str, list[datetime]] = defaultdict(list)
        for execution in executions:
            result.counts[execution.status.value] += 1
            if execution.status is ExecutionStatus.SKIPPED and (execution.skip_reason or "").startswith("maintenance"):
                skips[execution.scheduled_for].append(execution)
                continue
            for window_id in window_ids.values():
                if f"-r{window_id}-a01" in execution.execution_id:
                    late_runs[window_id].append(execution.scheduled_for)
            if execution.trigger is not Trigger.MANUAL:
                by_slot[execution.scheduled_for].append(execution)
            if not execution.status.is_final:
                problems.append(f"{name}: {execution.execution_id} left {execution.status.value}")
        skipped_by: dict[SimWindow, list[datetime]] = defaultdict(list)
        for slot in expected:
            window = window_of(name, slot, windows)
            if window is None:
                if slot in skips:
                    problems.append(f"{name} {slot}: skipped by a window that does not cover it")
                continue
            skipped_by[window].append(slot)
            result.window_skips += 1
            reasons = [e.skip_reason for e in skips.get(slot, [])]
            if len(reasons) != 1 or window_ids[window] not in reasons[0]:
                problems.append(f"{name} {slot}: window {window_ids[window]} should skip it once, skips: {reasons}")
        for window, window_id in window_ids.items():
            want = [max(skipped_by[window])] if window.run_missed and skipped_by[window] else []
            if sorted(late_runs[window_id]) != want:
                problems.append(f"{name}: after {window_id} ran {late_runs[window_id]}, expected {want}")
            result.missed_runs += len(want)
        if held & set(by_slot) or held & set(skips):
            problems.append(f"{name}: slots held by a pause were acted on: {sorted(held & (set(by_slot) | set(skips)))[:3]}")
        missing = [s for s in expected if s not in by_slot and s not in skips]
        if missing:
            problems.append(f"{name}: {len(missing)} slots never acted on, first {missing[0].isoformat()}")
        extra = [s for s in set(by_slot) | set(skips) if s not in set(expected) and s <= end]
        if extra:
            problems.append(f"{name}: executions for instants that are not slots: {extra[:3]}")
        for slot, attempts in by_slot.items():
            attempts.sort(key=lambda e: e.attempt)
            if [e.attempt for e in attempts] != list(range(1, len(attempts) + 1)):
                problems.append(f"{name} {slot}: attempts {[e.attempt for e in attempts]} not 1..n")
            if len(attempts) > MAX_ATTEMPTS:
                problems.append(f"{name} {slot}: {len(attempts)} attempts, more than maxAttempts={MAX_ATTEMPTS}")
            successes = [e for e in attempts if e.status is ExecutionStatus.SUCCEEDED]
            if len(successes) > 1:
                problems.append(f"{name} {slot}: succeeded {len(successes)} times")
            if any(e.status is ExecutionStatus.SUCCEEDED for e in attempts[:-1]):
                problems.append(f"{name} {slot}: ran again after succeeding")
            if slot > end:  # the quarter hour after the stretch lets the stretch's last retries finish, not its own
                continue
            last = attempts[-1]
            if last.status not in FINAL_OUTCOMES:
                problems.append(f"{name} {slot}: no final outcome ({last.status.value})")
            if last.status in (ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT) and last.attempt < MAX_ATTEMPTS:
                # a failure short of the last attempt is final only when a retry could not be queued
                problems.append(f"{name} {slot}: attempt {last.attempt} failed and was never retried")
        # failure streaks, in the order outcomes were recorded
        outcomes = sorted((e for e in executions if e.status.is_final and e.status is not ExecutionStatus.SKIPPED),
                          key=lambda e: (e.finished_at, e.scheduled_for, e.attempt))
        streak, alerted = 0, False
        for execution in outcomes:
            if execution.status is ExecutionStatus.SUCCEEDED:
                if alerted:
                    result.expected_recoveries += 1
                streak, alerted = 0, False
            else:
                streak += 1
                if streak >= alert_after and not alerted:
                    result.expected_alerts += 1
                    alerted = True
    if result.alerts != result.expected_alerts:
        problems.append(f"alerts sent {result.alerts} != failure streaks that reached their threshold {result.expected_alerts}")
    if result.recoveries != result.expected_recoveries:
        problems.append(f"recovery notices {result.recoveries} != alerting streaks that ended {result.expected_recoveries}")
