"""``database-function`` and ``edge-function``: payload validation, the request a run sends,
and how an answer is classified (retried as the scheduler's own attempt, or permanent).

The wire is an httpx ``MockTransport`` behind the real ``http-request`` client (local
mode, ``SUPABASE_URL`` on 127.0.0.1); the stand-in over a real PostgreSQL is exercised in
tests/integration/test_supabase_functions.py.
"""
from __future__ import annotations

import json
import logging
import ssl
from datetime import UTC, datetime
from typing import Any, Callable

import httpx
import pytest

from chalicelib.core.context import RunContext
from chalicelib.core.errors import SecretUnavailable, ValidationFailed
from chalicelib.core.model import Trigger
from chalicelib.core.scheduler.worker import is_retryable
from chalicelib.jobs.http_request import (
    ExpectationFailed,
    HttpConnectionFailed,
    HttpRequestFailed,
    HttpRequestTimeout,
    validate_http_request_payload,
)
from chalicelib.jobs.http_request.expect import json_differences
from chalicelib.jobs.registry import JobRegistry
from chalicelib.jobs.supabase_functions import (
    DATABASE_FUNCTION,
    EDGE_FUNCTION,
    register_supabase_function_handlers,
    validate_database_payload,
    validate_edge_payload,
)
from chalicelib.settings import Settings

SLOT = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
JWT_KEY = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJlLW9mLXRoZS10ZXN0"
SECRET_KEY = "sb_secret_0123456789abcdefghijklmnop"
BASE = "http://127.0.0.1:54321"


def fields(errors: list[Any]) -> list[str]:
    return [e.field for e in errors]


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("name", ["purge_sessions", "_private", "send-reminders", "A" * 63])
def test_function_names_that_are_identifiers_are_accepted(name):
    assert validate_database_payload({"function": name}) == []
    assert validate_edge_payload({"function": name}) == []


@pytest.mark.parametrize("name", [
    "", "../secrets", "rpc/other", "a.b", "fn?x=1", "fn#", "fn%2Fx", "9lives", "fn name", "fn\n", "fn\r\n",
    "A" * 64, 42, None, ["fn"],
])
def test_function_names_with_path_tricks_or_a_trailing_newline_are_refused_naming_the_field(name):
    assert fields(validate_database_payload({"function": name})) == ["payload.function"]
    assert fields(validate_edge_payload({"function": name})) == ["payload.function"]


@pytest.mark.parametrize("schema", ["public\n", "a.b", "../x", "", 1])
def test_a_schema_that_is_not_an_identifier_is_refused(schema):
    assert fields(validate_database_payload({"function": "f", "schema": schema})) == ["payload.schema"]


def test_a_database_payload_needs_a_function_and_object_args_and_no_unknown_fields():
    assert fields(validate_database_payload({})) == ["payload.function"]
    assert fields(validate_database_payload({"function": "f", "args": [1, 2]})) == ["payload.args"]
    assert fields(validate_database_payload({"function": "f", "url": "https://evil.example"})) == ["payload.url"]
    assert fields(validate_database_payload({"function": "f", "args": {"x": float("nan")}})) == ["payload.args"]


def test_the_service_key_headers_cannot_be_set_by_a_payload():
    errors = validate_edge_payload({"function": "f", "headers": {"apikey": {"secretRef": "edge/key"},
                                                                "authorization": {"secretRef": "edge/key"}}})
    assert fields(errors) == ["payload.headers.apikey", "payload.headers.authorization"]
    assert all("service key" in e.message for e in errors)


def test_edge_headers_follow_http_requests_secret_rules():
    literal = validate_edge_payload({"function": "f", "headers": {"X-Partner-Token": "abc123"}})
    assert fields(literal) == ["payload.headers.X-Partner-Token"]
    assert "secretRef" in literal[0].message
    assert validate_edge_payload({"function": "f", "headers": {"X-Partner-Token": {"secretRef": "partner/token"}}}) == []
    reserved = validate_edge_payload({"function": "f", "headers": {"X-Scheduler-Attempt": "9", "Idempotency-Key": "k"}})
    assert fields(reserved) == ["payload.headers.X-Scheduler-Attempt", "payload.headers.Idempotency-Key"]


def test_edge_query_is_an_object_of_scalars_without_credentials():
    assert validate_edge_payload({"function": "f", "query": {"limit": 10, "dry": True, "tag": "a b"}}) == []
    assert fields(validate_edge_payload({"function": "f", "query": ["a"]})) == ["payload.query"]
    assert fields(validate_edge_payload({"function": "f", "query": {"x": {"y": 1}}})) == ["payload.query.x"]
    assert fields(validate_edge_payload({"function": "f", "query": {"access_token": "abc"}})) == ["payload.query"]


def test_edge_method_must_be_a_known_one():
    assert fields(validate_edge_payload({"function": "f", "method": "TRACE"})) == ["payload.method"]
    assert validate_edge_payload({"function": "f", "method": "GET"}) == []


@pytest.mark.parametrize(("expect", "field"), [
    ({"status": [200, 204], "json": {"ok": True}}, None),
    ({"status": 204}, None),
    ({"json": {"data": {"count": 3}}}, None),
    ("200", "payload.expect"),
    ({}, "payload.expect"),
    ({"status": []}, "payload.expect.status"),
    ({"status": [99]}, "payload.expect.status"),
    ({"status": [True]}, "payload.expect.status"),
    ({"status": list(range(200, 221))}, "payload.expect.status"),
    ({"body": {"ok": True}}, "payload.expect.body"),
    ({"json": {"x": float("inf")}}, "payload.expect.json"),
])
def test_expect_is_validated_at_registration_for_all_three_types(expect, field):
    for errors in (
        validate_database_payload({"function": "f", "expect": expect}),
        validate_edge_payload({"function": "f", "expect": expect}),
        validate_http_request_payload({"url": "https://api.example.com/x", "expect": expect}),
    ):
        assert fields(errors) == ([] if field is None else [field])


def test_json_subset_differences_say_where_and_what():
    assert json_differences({"ok": True}, {"ok": True, "extra": 1}) == []
    assert json_differences({"ok": True}, {"ok": False}) == ["$.ok is false, expected true"]
    assert json_differences({"ok": True}, {"ok": 1}) == ["$.ok is 1, expected true"]
    assert json_differences({"data": {"n": 3}}, {"data": {}}) == ["$.data.n is missing (expected 3)"]
    assert json_differences({"a": [1, 2]}, {"a": [1, 2, 3]}) == ["$.a is [1, 2, 3], expected [1, 2]"]
    assert json_differences({"a": 1}, [1]) == ["$ is [1], expected an object"]


# --------------------------------------------------------------------------- runs


def ctx(payload: dict[str, Any], attempt: int = 1) -> RunContext:
    return RunContext(
        job_name="nightly-purge", execution_id=f"exec-{attempt}", scheduled_for=SLOT, attempt=attempt,
        trigger=Trigger.SCHEDULE, idempotency_key="nightly-purge@2026-11-29T01:00:00Z", payload=payload,
        timezone="UTC", logger=logging.getLogger("tests.supabase_functions"),
    )


class Wire:
    """What the client sent, and the answer (or exception) each request gets."""

    def __init__(self, respond: Callable[[httpx.Request], httpx.Response]) -> None:
        self.requests: list[httpx.Request] = []
        self._respond = respond

    def transport(self, _context: ssl.SSLContext) -> httpx.BaseTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            request.read()
            self.requests.append(request)
            return self._respond(request)

        return httpx.MockTransport(handle)


def jobs(wire: Wire, *, key: str = JWT_KEY, key_id: str = "", url: str = BASE,
         own_secrets: dict[str, str] | None = None, job_secrets: dict[str, str] | None = None):
    env = {"SUPABASE_URL": url, "SCHEDULER_LOCAL_MODE": "true"}
    if key:
        env["SUPABASE_SERVICE_KEY"] = key
    if key_id:
        env["SUPABASE_SERVICE_KEY_ID"] = key_id
    registry = JobRegistry()
    database, edge = register_supabase_function_handlers(
        registry, Settings.from_env(env),
        resolve_job_secret=lambda ref: (job_secrets or {})[ref],
        resolve_own_secret=lambda ref: (own_secrets or {})[ref],
        transport_factory=wire.transport,
    )
    assert registry.get(DATABASE_FUNCTION).fn is database and registry.get(EDGE_FUNCTION).fn is edge
    return database, edge


def test_a_database_function_posts_its_args_to_rpc_with_the_schema_key_and_run_headers():
    wire = Wire(lambda r: httpx.Response(200, json={"purged": 12}))
    database, _ = jobs(wire)

    result = database(ctx({"function": "purge_sessions", "args": {"older_than_days": 30}, "schema": "ops"}))

    sent = wire.requests[0]
    assert (sent.method, str(sent.url)) == ("POST", "http://127.0.0.1:54321/rest/v1/rpc/purge_sessions")
    assert json.loads(sent.content) == {"older_than_days": 30}
    assert sent.headers["Content-Profile"] == "ops"
    assert sent.headers["apikey"] == JWT_KEY
    assert sent.headers["Authorization"] == f"Bearer {JWT_KEY}"
    assert sent.headers["Idempotency-Key"] == "nightly-purge@2026-11-29T01:00:00Z"
    assert [sent.headers[f"X-Scheduler-{n}"] for n in ("Job", "Slot", "Attempt", "Execution")] == [
        "nightly-purge", "2026-11-29T01:00:00Z", "1", "exec-1"]
    assert result["function"] == "ops.purge_sessions"
    assert result["status"] == 200 and result["body"] == {"purged": 12}
    assert isinstance(result["durationMs"], int)


def test_a_secret_api_key_is_sent_as_apikey_only_never_as_a_bearer():
    wire = Wire(lambda r: httpx.Response(200, json=None))
    database, edge = jobs(wire, key=SECRET_KEY)
    database(ctx({"function": "f"}))
    edge(ctx({"function": "f"}))
    for sent in wire.requests:
        assert sent.headers["apikey"] == SECRET_KEY
        assert "Authorization" not in sent.headers


def test_the_service_key_is_read_with_the_schedulers_own_resolver_not_a_jobs():
    wire = Wire(lambda r: httpx.Response(200, json={}))
    _, edge = jobs(wire, key="", key_id="nightly-scheduler/prod/supabase-service-key",
                   own_secrets={"nightly-scheduler/prod/supabase-service-key": SECRET_KEY},
                   job_secrets={"partner/token": "partner-value-123"})
    edge(ctx({"function": "send-reminders", "headers": {"X-Partner-Token": {"secretRef": "partner/token"}}}))
    assert wire.requests[0].headers["apikey"] == SECRET_KEY
    assert wire.requests[0].headers["X-Partner-Token"] == "partner-value-123"


def test_no_service_key_is_a_permanent_failure_that_names_the_setting():
    wire = Wire(lambda r: httpx.Response(200))
    database, _ = jobs(wire, key="")
    with pytest.raises(SecretUnavailable, match="SUPABASE_SERVICE_KEY_ID") as caught:
        database(ctx({"function": "f"}))
    assert not is_retryable(caught.value) and wire.requests == []


def test_no_supabase_url_is_a_permanent_failure_that_names_it():
    database, _ = jobs(Wire(lambda r: httpx.Response(200)), url="")
    with pytest.raises(Exception, match="SUPABASE_URL") as caught:
        database(ctx({"function": "f"}))
    assert not is_retryable(caught.value)


def test_an_edge_function_sends_method_query_body_and_headers():
    wire = Wire(lambda r: httpx.Response(202, json={"queued": 3}))
    _, edge = jobs(wire)
    result = edge(ctx({"function": "send-reminders", "method": "PUT", "body": {"days": 7},
                       "headers": {"X-Tenant": "oslo"}, "query": {"dry": False, "limit": 5}}))
    sent = wire.requests[0]
    assert (sent.method, str(sent.url)) == ("PUT", "http://127.0.0.1:54321/functions/v1/send-reminders?dry=false&limit=5")
    assert json.loads(sent.content) == {"days": 7} and sent.headers["X-Tenant"] == "oslo"
    assert "Content-Profile" not in sent.headers
    assert {k: result[k] for k in ("function", "status", "body")} == {
        "function": "send-reminders", "status": 202, "body": {"queued": 3}}


def test_an_invalid_stored_payload_fails_permanently_without_a_request():
    wire = Wire(lambda r: httpx.Response(200))
    database, edge = jobs(wire)
    for job, payload in ((database, {"function": "a/b"}), (edge, {"function": "x", "headers": {"apikey": "k"}})):
        with pytest.raises(ValidationFailed) as caught:
            job(ctx(payload))
        assert not is_retryable(caught.value)
    assert wire.requests == []


@pytest.mark.parametrize(("status", "retryable"), [
    (500, True), (502, True), (503, True), (504, True), (408, True), (425, True), (429, True),
    (400, False), (401, False), (403, False), (404, False), (406, False), (409, False), (422, False),
])
def test_failures_follow_http_requests_rules(status, retryable):
    wire = Wire(lambda r: httpx.Response(status, json={"message": "no"}))
    database, edge = jobs(wire)
    for job in (database, edge):
        with pytest.raises(HttpRequestFailed) as caught:
            job(ctx({"function": "f"}))
        assert is_retryable(caught.value) is retryable
    assert len(wire.requests) == 2  # one request per attempt: retries are the scheduler's


@pytest.mark.parametrize(("raised", "kind"), [
    (httpx.ReadTimeout("slow"), HttpRequestTimeout),
    (httpx.ConnectError("refused"), HttpConnectionFailed),
    (httpx.RemoteProtocolError("dropped"), HttpConnectionFailed),
])
def test_timeouts_and_connection_errors_are_retryable(raised, kind):
    def respond(request: httpx.Request) -> httpx.Response:
        raise raised

    database, edge = jobs(Wire(respond))
    for job in (database, edge):
        with pytest.raises(kind) as caught:
            job(ctx({"function": "f"}))
        assert is_retryable(caught.value)


def test_postgrests_error_fields_become_the_message_and_pgrst202_is_permanent():
    body = {"code": "PGRST202", "message": "Could not find the function public.purge(x) in the schema cache",
            "details": "Searched for the function public.purge with parameter x", "hint": "Perhaps you meant purge_sessions"}
    database, _ = jobs(Wire(lambda r: httpx.Response(404, json=body)))
    with pytest.raises(HttpRequestFailed) as caught:
        database(ctx({"function": "purge", "args": {"x": 1}}))
    assert str(caught.value) == (
        "public.purge failed: HTTP 404 PGRST202: Could not find the function public.purge(x) in the schema cache "
        "(details: Searched for the function public.purge with parameter x) (hint: Perhaps you meant purge_sessions)")
    assert not is_retryable(caught.value)


def test_a_postgrest_connection_error_is_retryable_with_its_fields():
    body = {"code": "PGRST001", "message": "Database client error. Retrying the connection.", "details": None, "hint": None}
    database, _ = jobs(Wire(lambda r: httpx.Response(503, json=body)))
    with pytest.raises(HttpRequestFailed, match=r"HTTP 503 PGRST001: Database client error") as caught:
        database(ctx({"function": "f"}))
    assert is_retryable(caught.value)


def test_expect_json_turns_a_200_that_reports_failure_into_a_permanent_failure_saying_what_differed():
    wire = Wire(lambda r: httpx.Response(200, json={"ok": False, "sent": 0}))
    database, edge = jobs(wire)
    for job in (database, edge):
        with pytest.raises(ExpectationFailed, match=r"\$\.ok is false, expected true") as caught:
            job(ctx({"function": "f", "expect": {"json": {"ok": True}}}))
        assert not is_retryable(caught.value)


def test_expect_status_refuses_another_success_but_a_5xx_stays_retryable():
    database, _ = jobs(Wire(lambda r: httpx.Response(200, json={})))
    with pytest.raises(ExpectationFailed, match="returned HTTP 200, expected 204") as caught:
        database(ctx({"function": "f", "expect": {"status": [204]}}))
    assert not is_retryable(caught.value)
    database, _ = jobs(Wire(lambda r: httpx.Response(503, json={})))
    with pytest.raises(HttpRequestFailed) as caught:
        database(ctx({"function": "f", "expect": {"status": [204]}}))
    assert is_retryable(caught.value)


def test_expect_json_on_a_body_that_is_not_json_says_so():
    _, edge = jobs(Wire(lambda r: httpx.Response(200, text="<html>ok</html>", headers={"Content-Type": "text/html"})))
    with pytest.raises(ExpectationFailed, match=r"needs a JSON body.*not JSON \(text/html\)"):
        edge(ctx({"function": "f", "expect": {"json": {"ok": True}}}))


def test_the_service_key_echoed_back_is_scrubbed_from_result_error_and_expect_message(caplog):
    caplog.set_level(logging.DEBUG)
    echo = {"apikey": JWT_KEY, "note": f"you sent {JWT_KEY}", "ok": JWT_KEY}
    database, edge = jobs(Wire(lambda r: httpx.Response(200, json=echo)))
    result = edge(ctx({"function": "echo"}))
    assert JWT_KEY not in json.dumps(result) and result["body"]["apikey"] == "***"
    with pytest.raises(ExpectationFailed) as caught:
        database(ctx({"function": "f", "expect": {"json": {"ok": True}}}))
    assert JWT_KEY not in str(caught.value) and "***" in str(caught.value)
    database, _ = jobs(Wire(lambda r: httpx.Response(500, json={"message": f"bad key {JWT_KEY}", "code": "X"})))
    with pytest.raises(HttpRequestFailed) as caught:
        database(ctx({"function": "f"}))
    assert JWT_KEY not in str(caught.value)
    assert JWT_KEY not in caplog.text


def test_the_service_key_joins_the_runs_secrets_so_the_worker_scrubs_it_wherever_it_shows():
    from chalicelib.core.redaction import RUN_SECRETS, Scrubber, scrub_run_secrets
    from chalicelib.jobs.supabase_functions import ServiceKey

    token = RUN_SECRETS.set(Scrubber())  # as the worker does for each run
    try:
        ServiceKey(Settings.from_env({"SUPABASE_SERVICE_KEY": SECRET_KEY}), lambda ref: "").credentials()
        assert scrub_run_secrets(f"a log line quoting {SECRET_KEY}") == "a log line quoting ***"
    finally:
        RUN_SECRETS.reset(token)


@pytest.mark.parametrize("key", [SECRET_KEY, JWT_KEY])
@pytest.mark.parametrize("padding", [b" ", b"\n"])
def test_a_service_key_cut_in_half_by_the_read_limit_is_scrubbed_from_the_error(key, padding):
    # All but the key's last character fits in the 64 KiB read: the rest is never downloaded.
    answer = padding * (65536 - len(key) + 1) + key.encode()
    _, edge = jobs(Wire(lambda r: httpx.Response(500, content=answer, headers={"Content-Type": "text/plain"})),
                   key=key)
    with pytest.raises(HttpRequestFailed) as caught:
        edge(ctx({"function": "echo"}))
    message = str(caught.value)
    assert key[:6] not in message and key[-7:-1] not in message and "***" in message


def test_a_key_echoed_past_the_read_limit_leaves_no_fragment_in_the_stored_result():
    answer = (JWT_KEY.encode() + b" ") * 1000  # the 64 KiB read ends inside one copy of the key
    assert 6 < 65536 % (len(JWT_KEY) + 1) < len(JWT_KEY) - 6
    _, edge = jobs(Wire(lambda r: httpx.Response(200, content=answer, headers={"Content-Type": "text/plain"})))
    result = edge(ctx({"function": "echo"}))
    assert result["bodyTruncated"] is True
    body = result["body"]
    assert JWT_KEY[:6] not in body and set(body.split()) == {"***"}


@pytest.mark.parametrize("header", ["X-Forwarded-Host", "Forwarded", "X-Forwarded-For", "X-Original-URL",
                                    "X-Rewrite-URL", "X-HTTP-Method-Override", "x-forwarded-host"])
def test_routing_override_headers_are_refused_naming_the_header(header):
    edge = validate_edge_payload({"function": "echo", "headers": {header: "evil.supabase.co"}})
    assert fields(edge) == [f"payload.headers.{header}"] and "routing override" in edge[0].message
    plain = validate_http_request_payload({"url": "https://api.example.com/x", "headers": {header: "x"}})
    assert fields(plain) == [f"payload.headers.{header}"]


def test_an_edge_query_value_holding_a_credential_is_refused_as_the_query():
    errors = validate_edge_payload({"function": "f", "query": {"note": "see sb_secret_abcdef"}})
    assert fields(errors) == ["payload.query"] and "credential" in errors[0].message
