"""A small demo data set for the local stack, dated relative to "today".

20 mentors: 3 expired (paused by the next check), 4 near expiry (two on the 30-day
notice, two also on the 7-day one, one of them expiring today), a renewed mentor (an
old expired certification beside a valid one), 9 more valid ones, one already paused,
one inactive, and one active mentor without any certification. 3 of 18 active mentors
expire (17%), under the default 20% guard, so a plain trigger of the job applies.

    python -m devstack.demo_data postgresql://postgres@127.0.0.1:5432/postgres 2026-11-29
"""
from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

import psycopg

_NAMESPACE = uuid.UUID("6b1f2d0e-6a53-4c43-9d0c-3f3b1f3c2a10")
COORDINATORS = (uuid.uuid5(_NAMESPACE, "coordinator:oslo"), uuid.uuid5(_NAMESPACE, "coordinator:bergen"))


@dataclass(frozen=True)
class DemoMentor:
    name: str
    expires_in_days: tuple[int, ...]  # one certification per entry, relative to today
    status: str = "active"
    pause_reason: str | None = None
    expectation: str = ""

    @property
    def id(self) -> uuid.UUID:
        return uuid.uuid5(_NAMESPACE, f"mentor:{self.name}")


DEMO_MENTORS: tuple[DemoMentor, ...] = (
    DemoMentor("Ingrid Berg", (-10,), expectation="expired: paused"),
    DemoMentor("Lars Johansen", (-1,), expectation="expired yesterday: paused"),
    DemoMentor("Sofie Nilsen", (-400, -45), expectation="expired: paused"),
    DemoMentor("Emil Hansen", (20,), expectation="30-day notice"),
    DemoMentor("Nora Larsen", (12,), expectation="30-day notice"),
    DemoMentor("Jonas Pedersen", (5,), expectation="30- and 7-day notices"),
    DemoMentor("Maja Andersen", (0,), expectation="expires today: 30- and 7-day notices, stays active"),
    DemoMentor("Henrik Olsen", (-100, 700), expectation="renewed: untouched"),
    *(DemoMentor(name, (days,), expectation="valid: untouched") for name, days in (
        ("Sara Kristiansen", 45), ("Mathias Jensen", 120), ("Ida Karlsen", 200), ("Tobias Johnsen", 365),
        ("Emma Solberg", 500), ("Aksel Moen", 31), ("Thea Bakken", 640), ("Oliver Lie", 90),
        ("Frida Strand", 730),
    )),
    DemoMentor("Kari Eriksen", (-30,), status="paused", pause_reason="on_leave", expectation="already paused: untouched"),
    DemoMentor("Ola Haugen", (-60,), status="inactive", expectation="inactive: untouched"),
    DemoMentor("Astrid Dahl", (), expectation="no certification: untouched, counted"),
)


def load_demo_data(conn: psycopg.Connection, today: date) -> list[DemoMentor]:
    """Replace the mentor tables' contents with the demo set, dated from ``today``."""
    with conn.transaction():
        conn.execute("TRUNCATE certification_expiry_notices, peer_mentor_status_events, "
                     "peer_mentor_certifications, peer_mentors RESTART IDENTITY CASCADE")
        for index, mentor in enumerate(DEMO_MENTORS):
            conn.execute(
                "INSERT INTO peer_mentors (id, display_name, status, pause_reason, paused_at, coordinator_id) "
                "VALUES (%s, %s, %s, %s, CASE WHEN %s = 'paused' THEN now() - interval '14 days' END, %s)",
                [mentor.id, mentor.name, mentor.status, mentor.pause_reason, mentor.status,
                 COORDINATORS[index % len(COORDINATORS)]],
            )
            for days in mentor.expires_in_days:
                expires_on = today + timedelta(days=days)
                conn.execute(
                    "INSERT INTO peer_mentor_certifications (peer_mentor_id, certification_type, issued_on, expires_on) "
                    "VALUES (%s, 'peer_mentor', %s, %s)",
                    [mentor.id, expires_on - timedelta(days=730), expires_on],
                )
    return list(DEMO_MENTORS)


def main(argv: list[str]) -> int:  # pragma: no cover - manual use
    if len(argv) != 3:
        print(__doc__)
        return 2
    with psycopg.connect(argv[1], autocommit=True) as conn:
        for mentor in load_demo_data(conn, date.fromisoformat(argv[2])):
            print(f"{mentor.name:<18} {mentor.status:<9} {mentor.expectation}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv))
