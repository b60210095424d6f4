"""The Supabase client against a scripted transport: headers, retries, errors, paging, chunks."""
from __future__ import annotations

import json
import logging
from types import SimpleNamespace
from typing import Callable

import httpx
import pytest

from chalicelib.supabase.client import (
    SupabaseClient,
    SupabaseError,
    _parse_content_range,
    looks_like_jwt,
)

JWT_KEY = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJlLW9mLXRoZS1rZXk"
OPAQUE_KEY = "sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz"


class Script:
    """A transport answering from a list of responses (or exceptions), recording requests."""

    def __init__(self, *answers: httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer


def error(status: int, code: str | None = None, message: str = "boom", **extra) -> httpx.Response:
    body = {"code": code, "message": message, "details": extra.get("details"), "hint": extra.get("hint")}
    return httpx.Response(status, json=body)


def ok(body=None, **headers) -> httpx.Response:
    return httpx.Response(200, json=body if body is not None else {"ok": True}, headers=headers)


def make(script: Script, key: str = JWT_KEY, sleeps: list | None = None, **kwargs) -> SupabaseClient:
    return SupabaseClient("https://project.supabase.co", key, transport=httpx.MockTransport(script),
                          sleep=(sleeps.append if sleeps is not None else (lambda s: None)), **kwargs)


# --------------------------------------------------------------------------- authentication headers


def test_a_jwt_key_is_sent_as_apikey_and_as_bearer():
    script = Script(ok())
    make(script, JWT_KEY).rpc("f")

    sent = script.requests[0].headers
    assert sent["apikey"] == JWT_KEY and sent["authorization"] == f"Bearer {JWT_KEY}"


def test_an_opaque_key_is_sent_as_apikey_only():
    script = Script(ok())
    make(script, OPAQUE_KEY).rpc("f")

    sent = script.requests[0].headers
    assert sent["apikey"] == OPAQUE_KEY and "authorization" not in sent


@pytest.mark.parametrize(("key", "is_jwt"), [
    (JWT_KEY, True), (OPAQUE_KEY, False), ("a.b", False), ("a.b.c.d", False), ("a.b!.c", False), ("..", False),
])
def test_what_looks_like_a_jwt(key, is_jwt):
    assert looks_like_jwt(key) is is_jwt


def test_requests_go_to_rest_v1_with_json():
    script = Script(ok())
    make(script).rpc("certification_expiry_check", {"p_as_of": "2026-11-29"})

    request = script.requests[0]
    assert str(request.url) == "https://project.supabase.co/rest/v1/rpc/certification_expiry_check"
    assert request.method == "POST" and json.loads(request.content) == {"p_as_of": "2026-11-29"}
    assert request.headers["content-type"] == "application/json"


def test_timeouts_are_explicit():
    client = make(Script(ok()), connect_timeout=2.5, read_timeout=12.0)
    timeout = client._http.timeout
    assert (timeout.connect, timeout.read) == (2.5, 12.0)


# --------------------------------------------------------------------------- retry classification


@pytest.mark.parametrize("answer", [
    error(500, "XX000"), error(502), error(503, "PGRST001"), error(504, "PGRST003"),
    httpx.Response(502, text="<html>Bad gateway</html>"),
    httpx.ConnectError("connection refused"), httpx.ReadTimeout("timed out"), httpx.ConnectTimeout("slow"),
    httpx.RemoteProtocolError("server disconnected"),
])
def test_transient_failures_are_retried_with_exponential_backoff(answer):
    sleeps: list[float] = []
    script = Script(answer, answer, ok({"done": 1}))

    assert make(script, sleeps=sleeps).rpc("f") == {"done": 1}
    assert len(script.requests) == 3 and sleeps == [0.5, 1.0]


@pytest.mark.parametrize("code", ["PGRST000", "PGRST001", "PGRST002", "PGRST003"])
def test_postgrest_connection_codes_are_retried_whatever_the_status(code):
    script = Script(error(400, code), ok())

    make(script).rpc("f")

    assert len(script.requests) == 2


@pytest.mark.parametrize(("status", "code"), [
    (400, "22023"), (400, "PGRST100"), (401, "PGRST301"), (403, "42501"), (404, "PGRST202"),
    (406, "PGRST116"), (409, "23505"), (416, "PGRST103"), (429, None),
])
def test_client_errors_are_not_retried(status, code):
    sleeps: list[float] = []
    script = Script(error(status, code))

    with pytest.raises(SupabaseError) as failure:
        make(script, sleeps=sleeps).rpc("f")

    assert failure.value.status == status and failure.value.code == code
    assert failure.value.retryable is False
    assert len(script.requests) == 1 and sleeps == []


def test_backoff_is_capped_and_attempts_are_bounded():
    sleeps: list[float] = []
    script = Script(error(503, "PGRST001"))

    with pytest.raises(SupabaseError) as failure:
        make(script, sleeps=sleeps, max_attempts=6, backoff_base=1.0, backoff_max=4.0).rpc("f")

    assert len(script.requests) == 6
    assert sleeps == [1.0, 2.0, 4.0, 4.0, 4.0]
    assert failure.value.attempts == 6 and "after 6 attempts" in str(failure.value)


# --------------------------------------------------------------------------- error messages


def test_a_postgrest_error_becomes_a_clear_message():
    script = Script(error(400, "22023", "p_notice_days must be a non-empty list", details="got {}",
                          hint="For example [30, 7]."))

    with pytest.raises(SupabaseError) as failure:
        make(script).rpc("certification_expiry_check")

    assert str(failure.value) == (
        "Supabase POST /rest/v1/rpc/certification_expiry_check failed: HTTP 400 22023: "
        "p_notice_days must be a non-empty list (details: got {}) (hint: For example [30, 7].)"
    )
    assert (failure.value.message, failure.value.details, failure.value.hint) == (
        "p_notice_days must be a non-empty list", "got {}", "For example [30, 7].")


def test_a_non_json_error_body_is_summarised():
    script = Script(httpx.Response(401, text="Unauthorized"))

    with pytest.raises(SupabaseError, match="HTTP 401: Unauthorized"):
        make(script).rpc("f")


@pytest.mark.parametrize("text", ['{"paused": NaN}', '[{"n": Infinity}]', '{"n": 1e999}', '{"id": "\\ud800"}'])
def test_an_answer_that_is_not_strict_json_is_a_protocol_error(text):
    script = Script(httpx.Response(200, content=text.encode(), headers={"Content-Type": "application/json"}))

    with pytest.raises(SupabaseError, match="not strict JSON"):
        make(script).rpc("certification_expiry_check")


def test_an_error_body_with_nan_is_still_summarised():
    script = Script(httpx.Response(400, content=b'{"code": "22023", "message": "bad", "details": NaN}'))

    with pytest.raises(SupabaseError) as failure:
        make(script).rpc("f")
    assert failure.value.details == '{"$unrepresentable": "NaN"}'


def test_a_connection_error_says_there_was_no_response():
    script = Script(httpx.ConnectError("Name or service not known"))

    with pytest.raises(SupabaseError) as failure:
        make(script, max_attempts=1).rpc("f")

    assert failure.value.status is None
    assert "no response: ConnectError: Name or service not known" in str(failure.value)


@pytest.mark.parametrize("key", [JWT_KEY, OPAQUE_KEY])
def test_the_key_never_appears_in_messages_or_logs(key, caplog):
    echo = error(401, "PGRST301", f"Invalid API key {key}", details=f"apikey={key}", hint=f"Bearer {key}")
    script = Script(error(503, "PGRST001", f"down for {key}"), echo)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(SupabaseError) as failure:
        make(script, key).rpc("f")

    everything = " ".join([str(failure.value), repr(failure.value), failure.value.message,
                           str(failure.value.details), str(failure.value.hint), caplog.text,
                           " ".join(str(r.__dict__) for r in caplog.records), repr(make(script, key))])
    assert key not in everything
    assert "***" in str(failure.value)


def test_the_key_is_not_in_the_url():
    script = Script(ok([]))
    make(script).select_page("peer_mentors")

    assert JWT_KEY not in str(script.requests[0].url)


# --------------------------------------------------------------------------- pagination


def paged_server(total: int, cap: int = 1000) -> Callable[[httpx.Request], httpx.Response]:
    """Answers Range requests like PostgREST with db-max-rows = cap."""

    def answer(request: httpx.Request) -> httpx.Response:
        first, _, last = request.headers["range"].partition("-")
        first, last = int(first), min(int(last), int(first) + cap - 1, total - 1)
        rows = [{"id": i} for i in range(first, last + 1)]
        counted = "count=exact" in request.headers.get("prefer", "")
        if rows:
            content_range = f"{first}-{last}/{total if counted else '*'}"
        else:
            content_range = f"*/{total if counted else '*'}"
        status = 206 if counted and len(rows) < total else 200
        return httpx.Response(status, json=rows, headers={"Content-Range": content_range})

    return answer


def test_reads_page_past_the_row_cap_counting_only_once():
    script = Script(paged_server(total=2500))

    rows = list(make(script).iter_rows("peer_mentors", columns="id", order="id"))

    assert [r["id"] for r in rows] == list(range(2500))
    assert [r.headers["range"] for r in script.requests] == ["0-999", "1000-1999", "2000-2999"]
    assert ["count=exact" in r.headers.get("prefer", "") for r in script.requests] == [True, False, False]
    assert all(r.url.params["order"] == "id" for r in script.requests)


def test_pages_follow_what_the_server_returned_when_it_caps_lower_than_asked():
    script = Script(paged_server(total=1200, cap=500))

    rows = list(make(script).iter_rows("peer_mentors", page_size=1000))

    assert len(rows) == 1200 and len({r["id"] for r in rows}) == 1200
    assert [r.headers["range"] for r in script.requests] == ["0-999", "500-1499", "1000-1999"]


def test_an_empty_table_is_one_request():
    script = Script(httpx.Response(200, json=[], headers={"Content-Range": "*/0"}))

    assert list(make(script).iter_rows("peer_mentors")) == []
    assert len(script.requests) == 1


def test_filters_are_sent_as_postgrest_query_parameters():
    script = Script(paged_server(total=3))

    list(make(script).iter_rows("peer_mentor_status_events", columns="peer_mentor_id",
                                filters=[("idempotency_key", "eq.job@2026-11-29T01:00:00Z"), ("to_status", "eq.paused")]))

    params = script.requests[0].url.params
    assert params["idempotency_key"] == "eq.job@2026-11-29T01:00:00Z" and params["to_status"] == "eq.paused"
    assert params["select"] == "peer_mentor_id"


@pytest.mark.parametrize(("value", "parsed"), [
    ("0-999/5000", (0, 999, 5000)), ("1000-1999/*", (1000, 1999, None)), ("*/0", (None, None, 0)),
    ("*/*", (None, None, None)), (None, (None, None, None)), ("garbage", (None, None, None)),
])
def test_content_range_parsing(value, parsed):
    assert _parse_content_range(value) == parsed


def test_from_settings_prefers_the_local_key_then_the_secret():
    local = SimpleNamespace(supabase_url="http://x", supabase_service_key="local-key-123", supabase_service_key_id="",
                            supabase_connect_timeout=1.0, supabase_read_timeout=2.0)
    deployed = SimpleNamespace(**{**local.__dict__, "supabase_service_key": "", "supabase_service_key_id": "ssm:/k"})
    asked: list[str] = []

    assert SupabaseClient.from_settings(local)._key == "local-key-123"
    assert SupabaseClient.from_settings(deployed, lambda i: asked.append(i) or "secret-key-456")._key == "secret-key-456"
    assert asked == ["ssm:/k"]
    with pytest.raises(ValueError, match="SUPABASE_SERVICE_KEY_ID"):
        SupabaseClient.from_settings(SimpleNamespace(**{**deployed.__dict__, "supabase_service_key_id": ""}))


@pytest.mark.parametrize("key", [JWT_KEY, OPAQUE_KEY])
def test_a_text_error_body_is_redacted_before_it_is_cut_to_its_excerpt(key):
    # The key straddles the excerpt's 300th character: cut first, half of it would show.
    script = Script(httpx.Response(401, text=" " * 5 + "x" * (300 - 5 - len(key) // 2) + key))

    with pytest.raises(SupabaseError) as failure:
        make(script, key, max_attempts=1).rpc("f")

    assert key[: len(key) // 2 - 5] not in str(failure.value)
