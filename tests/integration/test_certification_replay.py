"""A replay of the certification check end to end: the scheduler (memory store, pinned
clock) runs the real handler against PostgreSQL 15 behind the PostgREST protocol.

Supabase is down for the Oslo nights of 24, 25 and 26 October 2026 (the fall-back night
in the middle: 02:00 CEST is 00:00Z on the 24th and 25th, 02:00 CET is 01:00Z on the 26th).
The replay redoes each night as that night: its run date is the slot's local date, and
the audit events carry the slot's own idempotency key.
"""
from __future__ import annotations

from datetime import date

from chalicelib.core.model import ExecutionStatus, iso
from chalicelib.core.replays import ReplayStatus
from chalicelib.jobs.certification.job import build_certification_handler
from chalicelib.jobs.certification.source import PostgrestCertificationSource
from tests.fakes import Harness, utc

from .support import Db
from .test_certification_expiry import NO_GUARD

JOB = "certification-expiry-check"
NIGHTS = [utc(2026, 10, 24, 0, 0), utc(2026, 10, 25, 0, 0), utc(2026, 10, 26, 1, 0)]


def test_three_failed_nights_across_the_fall_back_are_replayed_each_as_its_own_night(db: Db, client, rest_server):
    expired_23rd = db.add_mentor(date(2026, 10, 23))  # paused on the night of the 24th
    expired_24th = db.add_mentor(date(2026, 10, 24))  # ... of the 25th
    expired_25th = db.add_mentor(date(2026, 10, 25))  # ... of the 26th
    h = Harness(utc(2026, 10, 20, 12, 0))
    h.registry.add(JOB, build_certification_handler(lambda: PostgrestCertificationSource(client), NO_GUARD))
    h.service.register_job(JOB, "0 2 * * *", JOB, timezone="Europe/Oslo", retry={"maxAttempts": 1})

    rest_server.faults.inject("unavailable", times=3 * 4)  # each night's run tries 4 times
    for night in NIGHTS:
        h.tick(night)
    assert [e.status for e in h.executions(JOB)] == [ExecutionStatus.FAILED] * 3
    assert db.events() == []

    h.clock.set(utc(2026, 10, 26, 9, 0))
    view, _ = h.service.replays.create(JOB, {"from": "2026-10-23T22:00:00Z", "to": "2026-10-26T09:00:00Z"})
    assert [iso(s.scheduled_for) for s in view.replay.slots] == [iso(n) for n in NIGHTS]
    for minute in range(1, 5):
        h.tick(utc(2026, 10, 26, 9, minute))

    replay = h.service.replays.get(JOB, view.replay.replay_id).replay
    assert replay.status is ReplayStatus.COMPLETED
    runs = [h.service.reads.get_execution(JOB, s.execution_id) for s in replay.slots]
    assert [(r.trigger.value, iso(r.scheduled_for), r.status, r.result["asOf"]) for r in runs] == [
        ("replay", "2026-10-24T00:00:00Z", ExecutionStatus.SUCCEEDED, "2026-10-24"),
        ("replay", "2026-10-25T00:00:00Z", ExecutionStatus.SUCCEEDED, "2026-10-25"),
        ("replay", "2026-10-26T01:00:00Z", ExecutionStatus.SUCCEEDED, "2026-10-26"),
    ]
    assert [r.result["paused"]["ids"] for r in runs] == [[expired_23rd], [expired_24th], [expired_25th]]
    assert sorted(db.events()) == sorted([
        (expired_23rd, "active", "paused", "certification_expired", f"{JOB}@2026-10-24T00:00:00Z"),
        (expired_24th, "active", "paused", "certification_expired", f"{JOB}@2026-10-25T00:00:00Z"),
        (expired_25th, "active", "paused", "certification_expired", f"{JOB}@2026-10-26T01:00:00Z"),
    ])
