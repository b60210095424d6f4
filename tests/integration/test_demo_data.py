"""The local stack's demo data shows the check working: a plain trigger pauses and notifies."""
from __future__ import annotations

from datetime import UTC, date, datetime

from chalicelib.jobs.certification.job import build_certification_handler
from chalicelib.jobs.certification.rule import CheckPolicy
from chalicelib.jobs.certification.source import PostgrestCertificationSource
from devstack.demo_data import DEMO_MENTORS, load_demo_data

from .support import Db, run_context


def test_a_triggered_check_on_the_demo_data_pauses_the_expired_and_records_notices(db: Db, client):
    load_demo_data(db.conn, date(2026, 11, 29))
    check = build_certification_handler(lambda: PostgrestCertificationSource(client), CheckPolicy())

    result = check(run_context(datetime(2026, 11, 29, 1, 0, tzinfo=UTC)))

    by_name = {m.name: str(m.id) for m in DEMO_MENTORS}
    assert sorted(result["paused"]["ids"]) == sorted(by_name[n] for n in ("Ingrid Berg", "Lars Johansen", "Sofie Nilsen"))
    assert result["noticesCreated"] == 6 and result["withoutCertification"] == 1
    assert db.notice_thresholds(by_name["Jonas Pedersen"]) == [30, 7]
    assert db.notice_thresholds(by_name["Emil Hansen"]) == [30]
    assert db.status(by_name["Maja Andersen"]) == "active"
    assert db.status(by_name["Henrik Olsen"]) == "active"
    assert db.mentor(by_name["Kari Eriksen"])["pause_reason"] == "on_leave"
    assert db.status(by_name["Ola Haugen"]) == "inactive"


def test_the_local_stack_starts_with_demo_data_behind_the_server():
    import httpx
    import pytest

    from devstack.postgres import postgres_available
    from devstack.postgrest import start_local_supabase

    ok, reason = postgres_available()
    if not ok:
        pytest.skip(reason)
    stack = start_local_supabase(today=date(2026, 11, 29))
    try:
        answer = httpx.get(f"{stack.url}/rest/v1/peer_mentors", params={"select": "id", "status": "eq.active"},
                           headers={"apikey": stack.service_key, "Prefer": "count=exact"})
        assert answer.headers["Content-Range"] == "0-17/18"
    finally:
        stack.stop()
