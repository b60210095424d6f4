"""Bench: the certification check through HTTP against the same changes by direct SQL.

    python -m bench.bench_certification            # 100,000 and 10,000 mentors
    python -m bench.bench_certification --runs 3 --sizes 100000

For each size: mentors with 1% expired and 3% near expiry (100,000 → 1,000 and 3,000),
a third of them with an older expired certification beside the current one, and a few
paused and inactive. Each run resets the changes, then measures

* check: the handler → SupabaseClient → PostgREST-protocol server → the RPC, and
* floor: the same pauses, audit events and notices made by plain SQL statements over
  one direct psycopg connection (no HTTP, no guard, no reporting).

Both make the same changes (checked). Prints the medians, their ratio (target ≤ 1.5×)
and the HTTP requests per run (independent of the mentor count).
"""
from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from datetime import UTC, date, datetime

import psycopg

from chalicelib.core.context import RunContext
from chalicelib.core.model import Trigger, idempotency_key_for
from chalicelib.jobs.certification.job import CERTIFICATION_JOB_NAME, build_certification_handler
from chalicelib.jobs.certification.rule import CheckPolicy
from chalicelib.jobs.certification.source import PostgrestCertificationSource
from chalicelib.supabase.client import SupabaseClient
from devstack.postgres import PostgresNotInstalled, start_postgres
from devstack.postgrest import PostgrestServer

SLOT = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
AS_OF = date(2026, 11, 29)
KEY = "bench-service-key-not-a-secret"
NOTICE_DAYS = [30, 7]

LOAD = """
TRUNCATE certification_expiry_notices, peer_mentor_status_events, peer_mentor_certifications, peer_mentors
    RESTART IDENTITY CASCADE;
-- (statements are sent one by one: parameters need the extended protocol)
INSERT INTO peer_mentors (display_name, status, pause_reason, paused_at)
SELECT 'mentor ' || n,
       CASE WHEN n > %(near)s AND n %% 50 = 0 THEN 'inactive'
            WHEN n > %(near)s AND n %% 50 = 1 THEN 'paused' ELSE 'active' END,
       CASE WHEN n > %(near)s AND n %% 50 = 1 THEN 'on_leave' END,
       CASE WHEN n > %(near)s AND n %% 50 = 1 THEN now() END
  FROM generate_series(1, %(mentors)s) AS n;
INSERT INTO peer_mentor_certifications (peer_mentor_id, expires_on)
SELECT id, CASE WHEN n <= %(expired)s THEN %(as_of)s::date - 1 - (n %% 300)::int
                WHEN n <= %(near)s THEN %(as_of)s::date + (n %% 31)::int
                ELSE %(as_of)s::date + 31 + (n %% 1000)::int END
  FROM (SELECT id, split_part(display_name, ' ', 2)::int AS n FROM peer_mentors) AS m;
INSERT INTO peer_mentor_certifications (peer_mentor_id, expires_on)
SELECT id, %(as_of)s::date - 400
  FROM (SELECT id, split_part(display_name, ' ', 2)::int AS n FROM peer_mentors) AS m
 WHERE n %% 3 = 0;
"""

RESET = """
UPDATE peer_mentors SET status = 'active', pause_reason = NULL, paused_at = NULL
 WHERE pause_reason = 'certification_expired';
TRUNCATE certification_expiry_notices, peer_mentor_status_events RESTART IDENTITY;
"""

# The floor: the same changes as the RPC, as plain statements in one transaction.
FLOOR = [
    """
    WITH expired AS (
        SELECT m.id
          FROM peer_mentors AS m
          JOIN (SELECT peer_mentor_id, max(expires_on) AS latest
                  FROM peer_mentor_certifications GROUP BY peer_mentor_id) AS l ON l.peer_mentor_id = m.id
         WHERE m.status = 'active' AND l.latest < %(as_of)s
    ), paused AS (
        UPDATE peer_mentors AS m
           SET status = 'paused', pause_reason = 'certification_expired', paused_at = now(), updated_at = now()
          FROM expired WHERE m.id = expired.id AND m.status = 'active'
        RETURNING m.id
    )
    INSERT INTO peer_mentor_status_events (peer_mentor_id, from_status, to_status, reason, idempotency_key)
    SELECT id, 'active', 'paused', 'certification_expired', %(key)s FROM paused
    """,
    """
    INSERT INTO certification_expiry_notices
           (certification_id, peer_mentor_id, notice_kind, threshold_days, expires_on, as_of, idempotency_key)
    SELECT certification_id, peer_mentor_id, 'expiring', threshold_days, expires_on, %(as_of)s, %(key)s
      FROM certification_notice_candidates(%(as_of)s, %(days)s)
    ON CONFLICT ON CONSTRAINT certification_expiry_notices_once DO NOTHING
    """,
]


def reset(conn: psycopg.Connection) -> None:
    conn.execute(RESET)
    conn.execute("VACUUM ANALYZE peer_mentors, peer_mentor_certifications, "
                 "certification_expiry_notices, peer_mentor_status_events")


def changes(conn: psycopg.Connection) -> tuple[int, int]:
    paused = conn.execute("SELECT count(*) FROM peer_mentor_status_events").fetchone()[0]
    notices = conn.execute("SELECT count(*) FROM certification_expiry_notices").fetchone()[0]
    return paused, notices


def run_floor(conn: psycopg.Connection) -> float:
    started = time.perf_counter()
    with conn.transaction():
        for statement in FLOOR:
            conn.execute(statement, {"as_of": AS_OF, "key": "floor", "days": NOTICE_DAYS})
    return time.perf_counter() - started


def run_check(handler, server: PostgrestServer) -> tuple[float, int, dict]:
    ctx = RunContext(job_name=CERTIFICATION_JOB_NAME, execution_id="bench", scheduled_for=SLOT, attempt=1,
                     trigger=Trigger.SCHEDULE, idempotency_key=idempotency_key_for(CERTIFICATION_JOB_NAME, SLOT),
                     payload={}, timezone="Europe/Oslo", logger=logging.getLogger("bench"))
    before = server.request_count
    started = time.perf_counter()
    summary = handler(ctx)
    elapsed = time.perf_counter() - started
    return elapsed, server.request_count - before, summary


def bench_size(conn: psycopg.Connection, server: PostgrestServer, client: SupabaseClient, mentors: int,
               runs: int) -> str:
    expired, near = mentors // 100, mentors // 100 + 3 * mentors // 100
    for statement in LOAD.split(";"):
        if statement.strip():
            conn.execute(statement, {"mentors": mentors, "expired": expired, "near": near, "as_of": AS_OF})
    policy = CheckPolicy(notice_days=tuple(NOTICE_DAYS), max_pause_share=0.2, max_pause_count=mentors)
    handler = build_certification_handler(lambda: PostgrestCertificationSource(client), policy)

    # One warm-up of each (connections, plans, caches), not measured.
    reset(conn)
    run_floor(conn)
    reset(conn)
    run_check(handler, server)

    floors, checks, requests = [], [], []
    for _ in range(runs):
        reset(conn)
        floors.append(run_floor(conn))
        floor_changes = changes(conn)
        reset(conn)
        elapsed, count, summary = run_check(handler, server)
        checks.append(elapsed)
        requests.append(count)
        check_changes = changes(conn)
        if check_changes != floor_changes or summary["paused"]["count"] != expired:
            raise SystemExit(f"check and floor differ: check {check_changes} (summary paused "
                             f"{summary['paused']['count']}), floor {floor_changes}, expected {expired} paused")
    check, floor = statistics.median(checks), statistics.median(floors)
    per_run = max(requests)
    return (f"certification-check: {mentors} mentors  check {check:.2f}s  floor {floor:.2f}s  "
            f"ratio {check / floor:.2f}x  requests/run {per_run}  "
            f"(paused {expired}, notices {floor_changes[1]}, median of {runs})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 10_000])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    try:
        cluster = start_postgres()
    except PostgresNotInstalled as exc:
        print(f"certification-check: skipped: {exc}", file=sys.stderr)
        return 1
    server = PostgrestServer(cluster.dsn, service_key=KEY).start()
    try:
        with psycopg.connect(cluster.dsn, autocommit=True) as conn, SupabaseClient(server.url, KEY) as client:
            for size in args.sizes:
                print(bench_size(conn, server, client, size, args.runs), flush=True)
    finally:
        server.stop()
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
