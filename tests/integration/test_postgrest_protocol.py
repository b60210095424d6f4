"""The PostgREST-protocol test server behaves like PostgREST for what the client uses.

Raw HTTP here (no project client), so these tests pin the protocol itself: headers,
Content-Range, status codes, error bodies.
"""
from __future__ import annotations

import httpx
import pytest

from devstack.postgrest import http_status_for

from .support import SERVICE_KEY, Db

HEADERS = {"apikey": SERVICE_KEY}


@pytest.fixture
def http(rest_server, db) -> httpx.Client:
    with httpx.Client(base_url=rest_server.url + "/rest/v1/", headers=HEADERS, timeout=5) as client:
        yield client


@pytest.fixture
def mentors(db: Db) -> list[str]:
    db.conn.execute("INSERT INTO peer_mentors (display_name, status) "
                    "SELECT 'm' || lpad(g::text, 4, '0'), CASE WHEN g % 10 = 0 THEN 'inactive' ELSE 'active' END "
                    "FROM generate_series(1, 1500) AS g")
    return [r[0] for r in db.conn.execute("SELECT id::text FROM peer_mentors ORDER BY display_name").fetchall()]


def test_reads_are_capped_at_1000_rows_and_say_so_in_content_range(http, mentors):
    uncounted = http.get("peer_mentors", params={"select": "id"})
    counted = http.get("peer_mentors", params={"select": "id"}, headers={"Prefer": "count=exact"})

    assert uncounted.status_code == 200 and uncounted.headers["Content-Range"] == "0-999/*"
    assert len(uncounted.json()) == 1000
    assert counted.status_code == 206 and counted.headers["Content-Range"] == "0-999/1500"


def test_range_header_selects_a_page(http, mentors):
    page = http.get("peer_mentors", params={"select": "display_name", "order": "display_name.asc"},
                    headers={"Range-Unit": "items", "Range": "1000-1999", "Prefer": "count=exact"})

    assert page.status_code == 206
    assert page.headers["Content-Range"] == "1000-1499/1500"
    assert page.json()[0] == {"display_name": "m1001"}


def test_limit_and_offset_intersect_with_the_range_header(http, mentors):
    page = http.get("peer_mentors", params={"select": "display_name", "order": "display_name", "limit": "5",
                                            "offset": "10"}, headers={"Range": "0-12"})

    assert page.headers["Content-Range"] == "10-12/*"
    assert [r["display_name"] for r in page.json()] == ["m0011", "m0012", "m0013"]


def test_an_offset_past_the_end_is_416_pgrst103(http, mentors):
    answer = http.get("peer_mentors", headers={"Range": "2000-2999", "Prefer": "count=exact"})

    assert answer.status_code == 416
    assert answer.headers["Content-Range"] == "*/1500"
    assert answer.json()["code"] == "PGRST103"


def test_an_empty_result_has_a_star_range(http, db):
    answer = http.get("peer_mentors", headers={"Prefer": "count=exact"})

    assert answer.status_code == 200 and answer.json() == []
    assert answer.headers["Content-Range"] == "*/0"


def test_filters_and_order(http, mentors):
    inactive = http.get("peer_mentors", params={"select": "display_name", "status": "eq.inactive",
                                                "order": "display_name.desc", "limit": "2"})
    chosen = http.get("peer_mentors", params={"select": "display_name", "display_name": "in.(m0001,\"m0002\",m9999)",
                                              "order": "display_name"})
    not_active = http.get("peer_mentors", params=[("select", "id"), ("status", "not.eq.active"),
                                                  ("paused_at", "is.null"), ("display_name", "gte.m1400")],
                          headers={"Prefer": "count=exact"})
    aliased = http.get("peer_mentors", params={"select": "name:display_name", "display_name": "lt.m0002"})

    assert [r["display_name"] for r in inactive.json()] == ["m1500", "m1490"]
    assert [r["display_name"] for r in chosen.json()] == ["m0001", "m0002"]
    assert not_active.headers["Content-Range"] == "0-10/11"  # m1400, m1410 … m1500
    assert aliased.json() == [{"name": "m0001"}]


def test_bad_filters_and_unknown_names_give_postgrest_errors(http, db):
    bad_operator = http.get("peer_mentors", params={"status": "like.x"})
    unknown_table = http.get("mentors")
    unknown_column = http.get("peer_mentors", params={"select": "nope"})
    bad_uuid = http.get("peer_mentors", params={"id": "eq.not-a-uuid"})

    assert bad_operator.status_code == 400 and bad_operator.json()["code"] == "PGRST100"
    assert unknown_table.status_code == 404 and unknown_table.json()["code"] == "PGRST205"
    assert unknown_column.status_code == 400 and unknown_column.json()["code"] == "42703"
    assert bad_uuid.status_code == 400 and bad_uuid.json()["code"] == "22P02"
    assert set(bad_uuid.json()) == {"code", "message", "details", "hint"}


def test_writes_to_tables_are_not_served(http, db):
    # The project writes only through its RPC; the stand-in refuses the rest as 405.
    assert http.post("peer_mentors", json={"display_name": "a"}).status_code == 405
    assert http.patch("peer_mentors", params={"display_name": "eq.a"}, json={"status": "paused"}).status_code == 405


def test_rpc_unknown_function_or_arguments_is_404_pgrst202(http, db):
    unknown = http.post("rpc/no_such_function", json={})
    wrong_args = http.post("rpc/certification_expiry_check", json={"as_of": "2026-11-29"})

    assert unknown.status_code == 404 and unknown.json()["code"] == "PGRST202"
    assert wrong_args.status_code == 404 and "p_idempotency_key" in wrong_args.json()["hint"]


def test_rpc_raise_is_400_with_message_and_hint(http, db):
    answer = http.post("rpc/certification_expiry_check",
                       json={"p_as_of": "2026-11-29", "p_idempotency_key": " "})

    assert answer.status_code == 400
    assert answer.json()["code"] == "22023"
    assert answer.json()["message"] == "p_idempotency_key is required"
    assert answer.json()["hint"]


def test_requests_run_as_service_role_so_grants_apply(http, db, rest_server):
    # The server connects as the superuser; each request still only has service_role's rights.
    db.conn.execute("CREATE TABLE private_thing (id int PRIMARY KEY)")
    rest_server.reload_schema()
    try:
        denied = http.get("private_thing")
        granted = http.get("peer_mentors")
    finally:
        db.conn.execute("DROP TABLE private_thing")
        rest_server.reload_schema()

    assert denied.status_code == 403 and denied.json()["code"] == "42501"
    assert granted.status_code == 200


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "PGRST302"),
        ({"apikey": "wrong"}, 401, "PGRST301"),
        ({"apikey": SERVICE_KEY, "Authorization": "Bearer someone-else"}, 401, "PGRST301"),
        ({"apikey": SERVICE_KEY, "Authorization": f"Bearer {SERVICE_KEY}"}, 200, None),
    ],
)
def test_the_api_key_is_required(rest_server, db, headers, status, code):
    answer = httpx.get(rest_server.url + "/rest/v1/peer_mentors", headers=headers)

    assert answer.status_code == status
    if code:
        assert answer.json()["code"] == code and answer.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("sqlstate", "status"),
    [("23505", 409), ("23503", 409), ("42P01", 404), ("42883", 404), ("P0001", 400), ("P0002", 500),
     ("08006", 503), ("53300", 503), ("53400", 500), ("57014", 500), ("42501", 403), ("22023", 400),
     ("PT402", 402), ("25006", 405), ("40001", 500)],
)
def test_sqlstate_to_http_status_follows_postgrest(sqlstate, status):
    assert http_status_for(sqlstate) == status
