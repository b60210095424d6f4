"""``database-function`` and ``edge-function`` runs end to end: the scheduler (memory store,
fake clock, inline worker) → the ``http-request`` client → the PostgREST stand-in and its
demo Edge Functions → a real PostgreSQL 15 with the migrations.

Every attempt here is one of the scheduler's own: a retryable failure leaves a pending
retry at its backoff, and the next tick makes one more request.
"""
from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest

from chalicelib.core.model import ExecutionStatus, Trigger
from chalicelib.jobs.registry import JobRegistry
from chalicelib.jobs.supabase_functions import register_supabase_function_handlers
from chalicelib.settings import Settings
from devstack.postgrest import PostgrestServer
from tests.fakes import Harness

from .support import SERVICE_KEY, Db

SLOT = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
RETRY = {"maxAttempts": 3, "initialDelaySeconds": 60, "maxDelaySeconds": 600}
PARTNER_TOKEN = "partner-token-value-4711"


def harness(server: PostgrestServer, *, key: str = SERVICE_KEY) -> Harness:
    registry = JobRegistry()
    settings = Settings.from_env({"SUPABASE_URL": server.url, "SUPABASE_SERVICE_KEY": key,
                                  "SCHEDULER_LOCAL_MODE": "true"})
    register_supabase_function_handlers(
        registry, settings,
        resolve_job_secret={"partner/token": PARTNER_TOKEN}.__getitem__,
        resolve_own_secret=lambda ref: pytest.fail(f"the service key is given literally, not read ({ref})"),
    )
    return Harness(datetime(2026, 11, 28, 20, 0, tzinfo=UTC), registry=registry)


def run_once(h: Harness, name: str, handler: str, payload: dict[str, Any], **options: Any):
    """Register ``name`` the evening before :data:`SLOT` and run its first slot."""
    h.clock.set(datetime(2026, 11, 28, 20, 0, tzinfo=UTC))
    h.service.register_job(name, "0 2 * * *", handler, payload=payload, retry=RETRY, alert_after_failures=3, **options)
    h.tick(SLOT)
    return only(h.executions(name))


def only(executions: list[Any]) -> Any:
    assert len(executions) == 1, executions
    return executions[0]


def requests_to(server: PostgrestServer, path: str) -> list[Any]:
    return [r for r in server.requests if r.path == path]


def no_key_anywhere(h: Harness, name: str) -> None:
    """The service key is in no stored result, error or log line, and in no notice."""
    encoded = base64.b64encode(SERVICE_KEY.encode()).decode()
    for execution in h.executions(name):
        stored = json.dumps([execution.result, execution.error and execution.error.message,
                             [line.message for line in execution.logs]])
        assert SERVICE_KEY not in stored and encoded not in stored
    assert SERVICE_KEY not in json.dumps([repr(n) for n in h.notifier.sent])


# --------------------------------------------------------------------------- database-function


def test_a_database_function_run_stores_the_functions_json_result(db: Db, rest_server: PostgrestServer):
    db.add_mentor("2027-01-01")
    db.add_mentor("2027-01-01")
    db.add_mentor("2025-01-01", status="paused", pause_reason="certification_expired")
    h = harness(rest_server)

    run = run_once(h, "mentor-counts", "database-function", {"function": "mentor_counts"})

    assert run.status is ExecutionStatus.SUCCEEDED, run.error
    assert {k: run.result[k] for k in ("function", "status", "body")} == {
        "function": "public.mentor_counts", "status": 200,
        "body": {"active": 2, "paused": 1, "inactive": 0, "total": 3}}
    assert isinstance(run.result["durationMs"], int)
    sent = only(requests_to(rest_server, "/rest/v1/rpc/mentor_counts"))
    assert sent.headers["content-profile"] == "public"
    assert sent.headers["apikey"] == SERVICE_KEY and sent.headers["authorization"] == f"Bearer {SERVICE_KEY}"
    assert sent.headers["idempotency-key"] == "mentor-counts@2026-11-29T02:00:00Z"
    assert [sent.headers[f"x-scheduler-{n}"] for n in ("job", "slot", "attempt", "execution")] == [
        "mentor-counts", "2026-11-29T02:00:00Z", "1", run.execution_id]


def test_a_function_defined_after_start_is_callable_with_its_args(db: Db, rest_server: PostgrestServer):
    db.conn.execute("CREATE OR REPLACE FUNCTION public.add_numbers(a integer, b integer) RETURNS integer "
                    "LANGUAGE sql AS $$ SELECT a + b $$")
    try:
        run = run_once(harness(rest_server), "add", "database-function",
                       {"function": "add_numbers", "args": {"a": 2, "b": 40}})
    finally:
        db.conn.execute("DROP FUNCTION public.add_numbers(integer, integer)")
    assert run.status is ExecutionStatus.SUCCEEDED, run.error
    assert run.result["body"] == 42


@pytest.fixture(scope="module")
def ops_server(pg_cluster: Any) -> Iterator[PostgrestServer]:
    """A stand-in exposing a second schema, ``ops`` (PostgREST's ``db-schemas``)."""
    with psycopg.connect(pg_cluster.dsn, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS ops")
        conn.execute("GRANT USAGE ON SCHEMA ops TO service_role")
        conn.execute("CREATE OR REPLACE FUNCTION ops.where_am_i() RETURNS text LANGUAGE sql "
                     "AS $$ SELECT 'ops' $$")
    server = PostgrestServer(pg_cluster.dsn, service_key=SERVICE_KEY, extra_schemas=("ops",)).start()
    yield server
    server.stop()


def test_the_schema_goes_as_content_profile_and_an_unexposed_one_is_refused_permanently(ops_server: PostgrestServer):
    h = harness(ops_server)
    run = run_once(h, "in-ops", "database-function", {"function": "where_am_i", "schema": "ops"})
    assert run.status is ExecutionStatus.SUCCEEDED, run.error
    assert (run.result["function"], run.result["body"]) == ("ops.where_am_i", "ops")

    refused = run_once(h, "in-audit", "database-function", {"function": "where_am_i", "schema": "audit"})
    assert refused.status is ExecutionStatus.FAILED and refused.error.retryable is False
    assert refused.error.message == ("audit.where_am_i failed: HTTP 406 PGRST106: Invalid schema: audit "
                                     "(hint: Only the following schemas are exposed: public, ops)")


def test_a_missing_function_is_permanent_pgrst202_with_postgrests_fields_and_alerts_at_once(
        db: Db, rest_server: PostgrestServer):
    h = harness(rest_server)

    run = run_once(h, "purge", "database-function", {"function": "purge_sessions", "args": {"days": 30}})

    assert run.status is ExecutionStatus.FAILED
    assert run.error.retryable is False
    assert run.error.message.startswith(
        "public.purge_sessions failed: HTTP 404 PGRST202: Could not find the function public.purge_sessions(days) "
        "in the schema cache (details: Searched for the function public.purge_sessions with parameters days")
    job = h.service.reads.get_job("purge")
    assert job.pending_retry is None
    assert h.notifier.kinds() == ["alert"]  # permanent: alerted at once, not after 3 failures
    assert len(requests_to(rest_server, "/rest/v1/rpc/purge_sessions")) == 1


def test_a_function_that_raises_fails_permanently_with_code_message_details_and_hint(
        db: Db, rest_server: PostgrestServer):
    db.conn.execute(
        "CREATE OR REPLACE FUNCTION public.refuse_today() RETURNS void LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'not today' USING DETAIL = 'the partner is closed', HINT = 'try on Monday'; END $$")
    try:
        run = run_once(harness(rest_server), "refuse", "database-function", {"function": "refuse_today"})
    finally:
        db.conn.execute("DROP FUNCTION public.refuse_today()")
    assert run.status is ExecutionStatus.FAILED and run.error.retryable is False
    assert run.error.message == ("public.refuse_today failed: HTTP 400 P0001: not today "
                                 "(details: the partner is closed) (hint: try on Monday)")


def test_an_unavailable_database_is_retried_as_the_schedulers_own_attempts_one_request_each(
        db: Db, rest_server: PostgrestServer):
    h = harness(rest_server)
    rest_server.faults.inject("unavailable", times=1, path_contains="/rpc/mentor_counts")

    first = run_once(h, "counts", "database-function", {"function": "mentor_counts"})

    assert first.status is ExecutionStatus.FAILED and first.error.retryable is True
    assert "HTTP 503 PGRST001: Database client error" in first.error.message
    assert h.service.reads.get_job("counts").pending_retry.due_at == datetime(2026, 11, 29, 2, 1, tzinfo=UTC)
    h.tick(datetime(2026, 11, 29, 2, 1, tzinfo=UTC))
    runs = sorted(h.executions("counts"), key=lambda e: e.attempt)
    assert [(e.attempt, e.trigger, e.status) for e in runs] == [
        (1, Trigger.SCHEDULE, ExecutionStatus.FAILED), (2, Trigger.RETRY, ExecutionStatus.SUCCEEDED)]
    sent = requests_to(rest_server, "/rest/v1/rpc/mentor_counts")
    assert [(r.headers["idempotency-key"], r.headers["x-scheduler-attempt"]) for r in sent] == [
        ("counts@2026-11-29T02:00:00Z", "1"), ("counts@2026-11-29T02:00:00Z", "2")]


def test_the_service_key_echoed_by_the_database_is_scrubbed(db: Db, rest_server: PostgrestServer):
    h = harness(rest_server)
    rest_server.faults.inject("status", times=1, status=200, path_contains="/rpc/mentor_counts",
                              body={"echo": SERVICE_KEY, "note": f"key={SERVICE_KEY}"})
    rest_server.faults.inject("status", times=1, status=500, path_contains="/rpc/other_fn",
                              body={"code": "XX000", "message": f"bad apikey {SERVICE_KEY}", "details": None, "hint": None})

    echoed = run_once(h, "echoed", "database-function", {"function": "mentor_counts"})
    failed = run_once(h, "failing", "database-function", {"function": "other_fn"})

    assert echoed.result["body"] == {"echo": "***", "note": "key=***"}
    assert failed.error.message == "public.other_fn failed: HTTP 500 XX000: bad apikey ***"
    no_key_anywhere(h, "echoed")
    no_key_anywhere(h, "failing")


# --------------------------------------------------------------------------- edge-function


def test_an_edge_function_run_stores_status_duration_and_json_body(db: Db, rest_server: PostgrestServer):
    h = harness(rest_server)
    payload = {"function": "echo", "method": "POST", "body": {"days": 7}, "query": {"dry": True},
               "headers": {"X-Tenant": "oslo", "X-Partner-Token": {"secretRef": "partner/token"}}}

    run = run_once(h, "echo-nightly", "edge-function", payload)

    assert run.status is ExecutionStatus.SUCCEEDED, run.error
    assert (run.result["function"], run.result["status"]) == ("echo", 200)
    assert isinstance(run.result["durationMs"], int)
    body = run.result["body"]
    assert (body["method"], body["path"], body["query"], body["body"]) == (
        "POST", "/functions/v1/echo", {"dry": "true"}, {"days": 7})
    headers = body["headers"]
    assert headers["apikey"] == "***" and headers["authorization"] == "***" and headers["x-partner-token"] == "***"
    assert headers["x-tenant"] == "oslo"
    assert headers["idempotency-key"] == "echo-nightly@2026-11-29T02:00:00Z"
    assert (headers["x-scheduler-job"], headers["x-scheduler-slot"], headers["x-scheduler-attempt"],
            headers["x-scheduler-execution"]) == ("echo-nightly", "2026-11-29T02:00:00Z", "1", run.execution_id)
    sent = only(requests_to(rest_server, "/functions/v1/echo"))
    assert sent.headers["x-partner-token"] == PARTNER_TOKEN  # resolved for the request, shown nowhere
    assert PARTNER_TOKEN not in json.dumps(run.result)


def test_an_edge_function_500_is_retried_as_the_schedulers_own_attempts_then_alerts(
        db: Db, rest_server: PostgrestServer):
    h = harness(rest_server)

    first = run_once(h, "always-fails", "edge-function", {"function": "fail"})

    assert first.status is ExecutionStatus.FAILED and first.error.retryable is True
    assert "returned HTTP 500" in first.error.message and "always fails" in first.error.message
    h.tick(datetime(2026, 11, 29, 2, 1, tzinfo=UTC))
    assert h.service.reads.get_job("always-fails").pending_retry.due_at == datetime(2026, 11, 29, 2, 3, tzinfo=UTC)
    h.tick(datetime(2026, 11, 29, 2, 3, tzinfo=UTC))
    runs = sorted(h.executions("always-fails"), key=lambda e: e.attempt)
    assert [(e.attempt, e.status, e.error.retryable) for e in runs] == [
        (1, ExecutionStatus.FAILED, True), (2, ExecutionStatus.FAILED, True), (3, ExecutionStatus.FAILED, True)]
    assert [r.headers["x-scheduler-attempt"] for r in requests_to(rest_server, "/functions/v1/fail")] == ["1", "2", "3"]
    assert h.notifier.kinds() == ["alert"]


def test_a_missing_edge_function_is_a_permanent_404(db: Db, rest_server: PostgrestServer):
    h = harness(rest_server)
    run = run_once(h, "nowhere", "edge-function", {"function": "send-reminders"})
    assert run.status is ExecutionStatus.FAILED and run.error.retryable is False
    assert "returned HTTP 404" in run.error.message and "Requested function was not found" in run.error.message
    assert h.service.reads.get_job("nowhere").pending_retry is None


def test_a_200_that_reports_failure_fails_expect_saying_what_differed(db: Db, rest_server: PostgrestServer):
    h = harness(rest_server)
    run = run_once(h, "not-ok", "edge-function", {"function": "not-ok", "expect": {"status": [200], "json": {"ok": True}}})
    assert run.status is ExecutionStatus.FAILED and run.error.retryable is False
    assert run.error.type == "ExpectationFailed"
    assert run.error.message.endswith("/functions/v1/not-ok answered HTTP 200 but not as expected: "
                                      "$.ok is false, expected true")
    assert h.service.reads.get_job("not-ok").pending_retry is None


def test_expect_holds_for_database_functions_too(db: Db, rest_server: PostgrestServer):
    db.add_mentor("2027-01-01")
    h = harness(rest_server)
    met = run_once(h, "met", "database-function", {"function": "mentor_counts", "expect": {"json": {"active": 1}}})
    missed = run_once(h, "missed", "database-function",
                      {"function": "mentor_counts", "expect": {"status": [204], "json": {"paused": 0}}})
    assert met.status is ExecutionStatus.SUCCEEDED, met.error
    assert missed.status is ExecutionStatus.FAILED and missed.error.retryable is False
    assert "returned HTTP 200, expected 204" in missed.error.message


def test_the_service_key_echoed_by_an_edge_function_is_scrubbed(db: Db, rest_server: PostgrestServer):
    h = harness(rest_server)
    rest_server.faults.inject("status", times=1, status=200, path_contains="/functions/v1/echo",
                              body={"youSent": {"apikey": SERVICE_KEY}, "ok": False})
    run = run_once(h, "leaky", "edge-function", {"function": "echo", "expect": {"json": {"ok": True}}})
    assert run.status is ExecutionStatus.FAILED
    assert SERVICE_KEY not in run.error.message
    rest_server.faults.inject("status", times=1, status=200, path_contains="/functions/v1/echo",
                              body={"youSent": {"apikey": SERVICE_KEY}})
    again = run_once(h, "leaky-2", "edge-function", {"function": "echo"})
    assert again.result["body"] == {"youSent": {"apikey": "***"}}
    no_key_anywhere(h, "leaky")
    no_key_anywhere(h, "leaky-2")


def test_the_gateway_wants_the_service_key(db: Db, rest_server: PostgrestServer):
    url = f"{rest_server.url}/functions/v1/echo"
    assert httpx.post(url).status_code == 401
    assert httpx.post(url, headers={"Authorization": "Bearer someone-elses-key"}).json() == {
        "code": 401, "message": "Invalid JWT"}
    assert httpx.post(url, headers={"Authorization": f"Bearer {SERVICE_KEY}"}).status_code == 200
    run = run_once(harness(rest_server, key="not-the-projects-key-123"), "wrong-key", "edge-function",
                   {"function": "echo"})
    assert run.status is ExecutionStatus.FAILED and run.error.retryable is False
    assert "returned HTTP 401" in run.error.message and "not-the-projects-key-123" not in run.error.message
