"""The certification expiry check end to end: handler → client → PostgREST protocol → PostgreSQL 15."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.core.errors import ValidationFailed
from chalicelib.core.model import Trigger
from chalicelib.jobs.certification.job import build_certification_handler
from chalicelib.jobs.certification.rule import BlastRadiusExceeded, CheckPolicy
from chalicelib.jobs.certification.source import PostgrestCertificationSource
from chalicelib.supabase.client import SupabaseClient, SupabaseError

from .support import SERVICE_KEY, Db, run_context

UTC = UTC
SLOT = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)  # 02:00 in Oslo
AS_OF = date(2026, 11, 29)
# The rule tests use small populations; the guard has its own tests below.
NO_GUARD = CheckPolicy(notice_days=(30, 7), max_pause_share=1.0, max_pause_count=1_000_000)


def day(offset: int) -> date:
    return AS_OF + timedelta(days=offset)


def make_check(client: SupabaseClient, policy: CheckPolicy = NO_GUARD):
    return build_certification_handler(lambda: PostgrestCertificationSource(client), policy)


# --------------------------------------------------------------------------- the rule


def test_an_expired_active_mentor_is_paused_with_reason_time_and_audit_event(db: Db, client: SupabaseClient):
    expired = db.add_mentor(day(-1))

    result = make_check(client)(run_context(SLOT))

    mentor = db.mentor(expired)
    assert mentor["status"] == "paused"
    assert mentor["pause_reason"] == "certification_expired"
    assert mentor["paused_at"] is not None
    key = "certification-expiry-check@2026-11-29T01:00:00Z"
    assert db.events() == [(expired, "active", "paused", "certification_expired", key)]
    assert result == {
        "asOf": "2026-11-29",
        "paused": {"count": 1, "ids": [expired]},
        "noticesCreated": 0,
        "dryRun": False,
        "force": False,
        "forcedBy": None,
        "activeMentors": 1,
        "withoutCertification": 0,
    }


def test_a_certification_is_valid_through_its_expiry_date(db: Db, client: SupabaseClient):
    last_day = db.add_mentor(day(0))

    make_check(client)(run_context(SLOT))

    assert db.status(last_day) == "active"
    assert db.notice_thresholds(last_day) == [30, 7]


@pytest.mark.parametrize(
    ("days_left", "thresholds"),
    [(31, []), (30, [30]), (20, [30]), (8, [30]), (7, [30, 7]), (1, [30, 7])],
)
def test_near_expiry_records_one_notice_per_threshold_reached(db: Db, client: SupabaseClient, days_left, thresholds):
    mentor = db.add_mentor(day(days_left))

    result = make_check(client)(run_context(SLOT))

    assert db.status(mentor) == "active"
    assert db.notice_thresholds(mentor) == thresholds
    assert result["noticesCreated"] == len(thresholds)


def test_a_valid_certification_changes_nothing(db: Db, client: SupabaseClient):
    valid = db.add_mentor(day(200))
    before = db.snapshot()

    result = make_check(client)(run_context(SLOT))

    assert db.snapshot() == before
    assert result["paused"] == {"count": 0, "ids": []} and result["noticesCreated"] == 0
    assert db.status(valid) == "active"


def test_a_renewed_mentor_is_judged_by_the_newer_certification(db: Db, client: SupabaseClient):
    renewed = db.add_mentor(day(-400), day(-2), day(300))

    make_check(client)(run_context(SLOT))

    assert db.status(renewed) == "active"
    assert db.notices() == set() and db.events() == []


def test_with_several_certifications_the_notice_goes_to_the_latest_one(db: Db, client: SupabaseClient):
    mentor = db.add_mentor(day(-30))
    db.add_certification(mentor, day(3), cert_type="first_aid")
    latest = db.add_certification(mentor, day(25))

    make_check(client)(run_context(SLOT))

    assert db.status(mentor) == "active"
    assert db.notices() == {(mentor, latest, 30)}


@pytest.mark.parametrize("status", ["paused", "inactive"])
def test_paused_and_inactive_mentors_are_never_touched(db: Db, client: SupabaseClient, status: str):
    expired = db.add_mentor(day(-10), status=status, pause_reason="on_leave" if status == "paused" else None)
    expiring = db.add_mentor(day(5), status=status)
    before = db.snapshot()

    result = make_check(client)(run_context(SLOT))

    assert db.snapshot() == before
    assert db.mentor(expired)["status"] == status
    assert result["paused"]["count"] == 0 and result["noticesCreated"] == 0
    assert db.count("certification_expiry_notices") == 0 and db.status(expiring) == status


def test_the_check_never_reactivates_anyone(db: Db, client: SupabaseClient):
    paused_but_valid = db.add_mentor(day(365), status="paused", pause_reason="certification_expired")

    make_check(client)(run_context(SLOT))

    assert db.status(paused_but_valid) == "paused"


def test_mentors_without_certifications_are_left_alone_and_counted(db: Db, client: SupabaseClient):
    uncertified = db.add_mentor()
    db.add_mentor(day(100))

    result = make_check(client)(run_context(SLOT))

    assert db.status(uncertified) == "active"
    assert result["withoutCertification"] == 1 and result["activeMentors"] == 2


def test_the_run_date_is_the_oslo_date_of_the_slot_not_the_utc_date(db: Db, client: SupabaseClient):
    # 2026-11-28T23:30Z is 2026-11-29 00:30 in Oslo: the run date is the 29th.
    late_slot = datetime(2026, 11, 28, 23, 30, tzinfo=UTC)
    expired_on_the_28th = db.add_mentor(date(2026, 11, 28))
    valid_through_the_29th = db.add_mentor(date(2026, 11, 29))
    check = make_check(client)

    result = check(run_context(late_slot))

    assert result["asOf"] == "2026-11-29"
    assert db.status(expired_on_the_28th) == "paused"
    assert db.status(valid_through_the_29th) == "active"
    # A retry hours later (another UTC date) still uses the slot's date.
    again = check(run_context(late_slot, attempt=2))
    assert again["asOf"] == "2026-11-29"


def test_the_same_utc_instant_in_utc_is_still_the_28th(db: Db, client: SupabaseClient):
    late_slot = datetime(2026, 11, 28, 23, 30, tzinfo=UTC)
    expires_on_the_28th = db.add_mentor(date(2026, 11, 28))

    result = make_check(client)(run_context(late_slot, timezone="UTC"))

    assert result["asOf"] == "2026-11-28"
    assert db.status(expires_on_the_28th) == "active"


# --------------------------------------------------------------------------- idempotency and retries


def test_running_the_same_night_twice_changes_nothing_more(db: Db, client: SupabaseClient):
    expired = db.add_mentor(day(-1))
    expiring = db.add_mentor(day(6))
    check = make_check(client)

    first = check(run_context(SLOT))
    after_first = db.snapshot()
    second = check(run_context(SLOT, attempt=2))

    assert db.snapshot() == after_first
    assert second == first  # every attempt of the slot reports what the slot did
    assert len(db.events()) == 1 and db.notice_thresholds(expiring) == [30, 7]
    assert db.status(expired) == "paused"


def test_a_notice_is_never_repeated_on_later_nights(db: Db, client: SupabaseClient):
    mentor = db.add_mentor(day(20))
    check = make_check(client)

    check(run_context(SLOT))
    next_night = check(run_context(SLOT + timedelta(days=1)))
    # 13 days later the 7-day threshold is reached: only that notice is new.
    later = check(run_context(SLOT + timedelta(days=13)))

    assert next_night["noticesCreated"] == 0
    assert later["noticesCreated"] == 1
    assert db.notice_thresholds(mentor) == [30, 7]


def test_an_answer_lost_after_commit_is_retried_without_duplicates(db: Db, client: SupabaseClient,
                                                                   rest_server, sleeps):
    expired = [db.add_mentor(day(-3)) for _ in range(3)]
    expiring = db.add_mentor(day(2))
    # The first call runs and commits, then its answer never arrives (read timeout).
    rest_server.faults.inject("hang", after_commit=True, path_contains="/rpc/")

    result = make_check(client)(run_context(SLOT))

    assert result["paused"]["count"] == 3 and sorted(result["paused"]["ids"]) == sorted(expired)
    assert result["noticesCreated"] == 2
    assert len(db.events()) == 3 and len(db.notices()) == 2
    assert db.status(expiring) == "active"
    assert sleeps == [0.5]


def test_a_run_that_fails_half_way_leaves_nothing_behind_and_the_retry_completes(db: Db, client: SupabaseClient,
                                                                                  pg_cluster):
    expired = [db.add_mentor(day(-3)) for _ in range(3)]
    db.add_mentor(day(2))
    before = db.snapshot()
    # Fail the first attempt after the mentors are paused, while inserting notices.
    db.conn.execute("""
        CREATE TABLE IF NOT EXISTS test_crash_once (armed boolean);
        INSERT INTO test_crash_once VALUES (true);
        CREATE OR REPLACE FUNCTION test_crash_once() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF (SELECT armed FROM test_crash_once) THEN
                RAISE EXCEPTION 'simulated crash while writing notices';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER test_crash_once BEFORE INSERT ON certification_expiry_notices
            FOR EACH ROW EXECUTE FUNCTION test_crash_once();
        GRANT SELECT ON test_crash_once TO service_role;
    """)
    check = make_check(client)
    try:
        with pytest.raises(SupabaseError) as failure:
            check(run_context(SLOT, attempt=1))
        assert "simulated crash" in str(failure.value)
        assert db.snapshot() == before  # the paused mentors were rolled back with it

        db.conn.execute("UPDATE test_crash_once SET armed = false")
        result = check(run_context(SLOT, attempt=2))
    finally:
        db.conn.execute("DROP TRIGGER IF EXISTS test_crash_once ON certification_expiry_notices; "
                        "DROP TABLE IF EXISTS test_crash_once; DROP FUNCTION IF EXISTS test_crash_once()")

    assert result["paused"]["count"] == 3 and result["noticesCreated"] == 2
    assert sorted(m for m, *_ in db.events()) == sorted(expired)


def test_server_errors_are_retried_with_backoff(db: Db, client: SupabaseClient, rest_server, sleeps):
    expired = db.add_mentor(day(-1))
    rest_server.faults.inject("unavailable", times=2)

    result = make_check(client)(run_context(SLOT))

    assert result["paused"]["ids"] == [expired]
    assert [r.status for r in rest_server.requests] == [503, 503, 200]
    assert sleeps == [0.5, 1.0]


def test_a_timeout_is_retried(db: Db, client: SupabaseClient, rest_server, sleeps):
    expired = db.add_mentor(day(-1))
    rest_server.faults.inject("hang")

    result = make_check(client)(run_context(SLOT))

    assert result["paused"]["ids"] == [expired]
    assert len(rest_server.requests) == 2 and sleeps == [0.5]


def test_persistent_server_errors_fail_the_run_with_a_clear_message(db: Db, client: SupabaseClient, rest_server):
    db.add_mentor(day(-1))
    rest_server.faults.inject("unavailable", times=10)

    with pytest.raises(SupabaseError) as failure:
        make_check(client)(run_context(SLOT))

    assert failure.value.status == 503 and failure.value.code == "PGRST001"
    assert "after 4 attempts" in str(failure.value)
    assert len(rest_server.requests) == 4


def test_unauthorized_fails_at_once_without_retry(db: Db, client: SupabaseClient, rest_server, sleeps):
    db.add_mentor(day(-1))
    rest_server.faults.inject("unauthorized")

    with pytest.raises(SupabaseError) as failure:
        make_check(client)(run_context(SLOT))

    assert failure.value.status == 401 and failure.value.code == "PGRST301"
    assert len(rest_server.requests) == 1 and sleeps == []


def test_a_wrong_key_is_refused_and_never_shown(db: Db, rest_server, sleeps):
    wrong_key = "sb_secret_this-is-not-the-right-key-0123456789"
    with SupabaseClient(rest_server.url, wrong_key, sleep=sleeps.append) as wrong:
        with pytest.raises(SupabaseError) as failure:
            make_check(wrong)(run_context(SLOT))

    assert failure.value.status == 401
    assert wrong_key not in str(failure.value) and SERVICE_KEY not in str(failure.value)
    assert sleeps == []
    assert rest_server.requests[0].headers.get("authorization") is None  # opaque key: apikey only


# --------------------------------------------------------------------------- guard and dry run


def test_the_guard_refuses_a_run_that_would_pause_too_large_a_share(db: Db, client: SupabaseClient):
    for _ in range(3):
        db.add_mentor(day(-1))
    for _ in range(7):
        db.add_mentor(day(100))
    before = db.snapshot()

    with pytest.raises(BlastRadiusExceeded) as refused:
        make_check(client, CheckPolicy())(run_context(SLOT))

    assert db.snapshot() == before
    message = str(refused.value)
    assert "would pause 3 of 10 active mentors (30.0%)" in message
    assert "20% of active mentors" in message
    assert '{"force": true}' in message


def test_the_guard_refuses_a_run_that_would_pause_too_many(db: Db, client: SupabaseClient):
    for _ in range(3):
        db.add_mentor(day(-1))
    for _ in range(30):
        db.add_mentor(day(100))

    with pytest.raises(BlastRadiusExceeded) as refused:
        make_check(client, CheckPolicy(max_pause_count=2))(run_context(SLOT))

    assert "would pause 3 of 33" in str(refused.value) and "limit of 2 mentors" in str(refused.value)
    assert db.events() == []


def test_force_overrides_the_guard_for_that_run(db: Db, client: SupabaseClient):
    expired = sorted(db.add_mentor(day(-1)) for _ in range(3))
    db.add_mentor(day(100))

    result = make_check(client, CheckPolicy())(run_context(SLOT, payload={"force": True}, trigger=Trigger.MANUAL,
                                                           triggered_by="ops-anna (service_role)"))

    assert sorted(result["paused"]["ids"]) == expired and result["force"] is True
    assert result["forcedBy"] == "ops-anna (service_role)"
    assert all(db.status(m) == "paused" for m in expired)
    assert db.conn.execute("SELECT DISTINCT forced_by FROM peer_mentor_status_events").fetchall() == [
        ("ops-anna (service_role)",)]


def test_an_unforced_run_writes_no_forced_by(db: Db, client: SupabaseClient):
    db.add_mentor(day(-1))
    for _ in range(9):
        db.add_mentor(day(100))
    result = make_check(client, CheckPolicy())(run_context(SLOT, triggered_by="ops-anna (service_role)"))
    assert result["forcedBy"] is None
    assert db.conn.execute("SELECT forced_by FROM peer_mentor_status_events").fetchall() == [(None,)]


def test_the_guard_allows_a_share_at_the_limit(db: Db, client: SupabaseClient):
    expired = db.add_mentor(day(-1))
    for _ in range(4):
        db.add_mentor(day(100))

    result = make_check(client, CheckPolicy())(run_context(SLOT))  # 1 of 5 = 20%

    assert result["paused"]["ids"] == [expired]


def test_a_dry_run_reports_and_changes_nothing(db: Db, client: SupabaseClient):
    expired = sorted(db.add_mentor(day(-1)) for _ in range(2))
    db.add_mentor(day(5))
    db.add_mentor(day(100))
    before = db.snapshot()

    result = make_check(client)(run_context(SLOT, payload={"dryRun": True}))

    assert db.snapshot() == before
    assert result["dryRun"] is True
    assert result["paused"] == {"count": 2, "ids": expired}
    assert result["noticesCreated"] == 2


def test_a_dry_run_reports_what_the_guard_would_refuse_without_failing(db: Db, client: SupabaseClient):
    for _ in range(3):
        db.add_mentor(day(-1))
    db.add_mentor(day(100))

    result = make_check(client, CheckPolicy())(run_context(SLOT, payload={"dryRun": True}))

    assert result["dryRun"] is True and result["paused"]["count"] == 3
    assert db.events() == []


def test_a_bad_payload_fails_before_any_request(db: Db, client: SupabaseClient, rest_server):
    with pytest.raises(ValidationFailed) as invalid:
        make_check(client)(run_context(SLOT, payload={"dryRun": "yes"}))

    assert invalid.value.errors[0].field == "payload.dryRun"
    assert rest_server.requests == []


# --------------------------------------------------------------------------- scale


def test_five_thousand_mentors_in_one_request_and_the_full_list_by_pages(db: Db, client: SupabaseClient, rest_server):
    db.conn.execute("""
        INSERT INTO peer_mentors (id, display_name)
        SELECT ('00000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, 'mentor ' || g
          FROM generate_series(1, 5000) AS g;
        INSERT INTO peer_mentor_certifications (peer_mentor_id, expires_on)
        SELECT id, CASE WHEN n <= 1200 THEN date '2026-11-29' - 1 - (n % 90)::int
                        WHEN n <= 1500 THEN date '2026-11-29' + (n % 30)::int
                        ELSE date '2026-11-29' + 60 + (n % 700)::int END
          FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM peer_mentors) AS m;
    """)
    check = make_check(client, CheckPolicy(max_pause_share=0.25, max_pause_count=2000))

    result = check(run_context(SLOT))

    assert [r.path for r in rest_server.requests] == ["/rest/v1/rpc/certification_expiry_check"]
    assert result["paused"]["count"] == 1200 and len(result["paused"]["ids"]) == 100
    assert result["noticesCreated"] == 300 + 300 * 8 // 30  # 30-day for all, 7-day for days 0..7
    rest_server.reset_requests()

    source = PostgrestCertificationSource(client)
    paused = source.paused_mentor_ids("certification-expiry-check@2026-11-29T01:00:00Z")
    assert len(paused) == len(set(paused)) == 1200
    # Two pages: the first counted (206, partial), the second not (200, total unknown).
    assert [r.status for r in rest_server.requests] == [206, 200]

    everyone = list(client.iter_rows("peer_mentors", columns="id,status", order="id"))
    assert len(everyone) == 5000 and len({m["id"] for m in everyone}) == 5000
    assert sum(m["status"] == "paused" for m in everyone) == 1200
