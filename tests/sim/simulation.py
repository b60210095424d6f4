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
  such streaks that ended in a success.
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
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        return (f"{self.ticks} ticks, {self.slots} slots, executions: {statuses}; "
                f"alerts {self.alerts} (expected {self.expected_alerts}), "
                f"recoveries {self.recoveries} (expected {self.expected_recoveries})")


def run_simulation(start: datetime, days: float, *, seed: int, store: Any = None) -> tuple[Harness, SimulationResult]:
    rng = random.Random(seed)
    harness = Harness(start - timedelta(minutes=1), store=store)
    failing = {name: p for name, _cron, _tz, _alert, p in JOBS}

    def handler(ctx: Any) -> dict[str, Any]:
        if rng.random() < failing[ctx.job_name]:
            raise RuntimeError(f"simulated failure of {ctx.job_name} attempt {ctx.attempt}")
        return {"ok": True}

    harness.registry.add("sim", handler)
    for name, cron, tz, alert_after, _p in JOBS:
        harness.service.register_job(name, cron, "sim", timezone=tz, alert_after_failures=alert_after,
                                     retry={"maxAttempts": MAX_ATTEMPTS, "initialDelaySeconds": 90, "maxDelaySeconds": 600},
                                     timeout_seconds=120)
    result = SimulationResult()
    minutes = int(days * 24 * 60)
    for minute in range(minutes + 15):  # a quarter of an hour more lets the last retries finish
        harness.tick(start + timedelta(minutes=minute))
        result.ticks += 1
    end = start + timedelta(minutes=minutes)
    check_invariants(harness, start, end, result)
    return harness, result


def check_invariants(harness: Harness, start: datetime, end: datetime, result: SimulationResult) -> None:
    problems = result.problems
    sent = Counter(n.kind.value for n in harness.notifier.sent)
    result.alerts, result.recoveries = sent["alert"], sent["recovery"]
    for name, cron, tz, alert_after, _p in JOBS:
        expected = oracle_slots(cron, tz, start, end)
        result.slots += len(expected)
        executions = harness.executions(name)
        by_slot: dict[datetime, list[Any]] = defaultdict(list)
        for execution in executions:
            result.counts[execution.status.value] += 1
            if execution.trigger is not Trigger.MANUAL:
                by_slot[execution.scheduled_for].append(execution)
            if not execution.status.is_final:
                problems.append(f"{name}: {execution.execution_id} left {execution.status.value}")
        missing = [s for s in expected if s not in by_slot]
        if missing:
            problems.append(f"{name}: {len(missing)} slots never acted on, first {missing[0].isoformat()}")
        extra = [s for s in by_slot if s not in set(expected) and s <= end]
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
            last = attempts[-1]
            if last.status not in FINAL_OUTCOMES:
                problems.append(f"{name} {slot}: no final outcome ({last.status.value})")
            if any(e.status is ExecutionStatus.SUCCEEDED for e in attempts[:-1]):
                problems.append(f"{name} {slot}: ran again after succeeding")
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
