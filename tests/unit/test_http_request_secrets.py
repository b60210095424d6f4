"""``http-request``: resolved secrets stay out of logs and results, and secret-named body fields
are references, resolved into the body only at run time."""
from __future__ import annotations

import base64
import json
import logging

import pytest

from chalicelib.core.errors import ValidationFailed
from chalicelib.jobs.http_request import HttpRequestFailed, validate_http_request_payload
from chalicelib.jobs.http_request.secrets import is_secret_field
from tests.unit.test_http_request import SECRET, LoopbackServer, local_handler, make_ctx, start_server
from tests.unit.test_job_secrets import encodings

URL = "https://api.example.com/hook"


@pytest.fixture
def server():
    """Starts loopback servers (``server(routes)``) and stops them after the test."""
    started: list[LoopbackServer] = []
    yield lambda routes: started.append(start_server(routes)) or started[-1]
    for srv in started:
        srv.stop()


def echo(encode, status: int = 200):
    """Answers with the encoded X-Custom header value it was sent, as JSON and as text."""

    def route(req, body: bytes):
        seen = encode(req.headers.get("X-Custom", "") or json.loads(body or b"{}").get("client_secret", ""))
        return status, {"Content-Type": "application/json"}, json.dumps({"youSent": seen, "text": f"[{seen}]"}).encode()

    return route


def run(srv: LoopbackServer, path: str, payload: dict):
    handler = local_handler(resolve_secret=lambda ref: SECRET)
    return handler(make_ctx({"url": srv.url(path), **payload}))


def test_request_headers_are_logged_by_name_only(server, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    srv = server({"/ok": echo(lambda v: "fine")})
    run(srv, "/ok", {"headers": {"X-Custom": {"secretRef": "edge/key"}, "X-Tenant": "acme"}})
    assert "X-Custom" in caplog.text and "X-Tenant" in caplog.text
    assert SECRET not in caplog.text and "acme" not in caplog.text


FORMS = encodings(SECRET)


@pytest.mark.parametrize("form", sorted(FORMS))
def test_an_echoed_secret_is_scrubbed_from_the_result_in_every_common_encoding(server, form: str) -> None:
    expected = FORMS[form]
    encode = {name: (lambda v, n=name: encodings(v)[n]) for name in FORMS}[form]
    srv = server({"/echo": echo(encode), "/fail": echo(encode, 500)})
    headers = {"X-Custom": {"secretRef": "edge/key"}}
    result = run(srv, "/echo", {"headers": headers})
    assert expected.lower() not in json.dumps(result, ensure_ascii=False).lower()
    assert "***" in result["body"]["youSent"]
    with pytest.raises(HttpRequestFailed) as failed:
        run(srv, "/fail", {"headers": headers})
    assert expected.lower() not in str(failed.value).lower() and "***" in str(failed.value)


@pytest.mark.parametrize("name", [
    "client_secret", "password", "apiKey", "api_key", "token", "access_token", "refreshToken", "privateKey",
    "credentials", "passwd", "secret", "serviceKey", "X-Api-Key", "auth",
])
def test_a_literal_value_for_a_secret_named_body_field_is_refused_at_any_depth(name: str) -> None:
    for body, field in [({name: "literal-9f8e"}, f"payload.body.{name}"),
                        ({"grant": {"data": [{name: "literal-9f8e"}]}}, f"payload.body.grant.data.0.{name}"),
                        ({name: 12345}, f"payload.body.{name}")]:
        errors = validate_http_request_payload({"url": URL, "body": body})
        assert [e.field for e in errors] == [field]
        assert "secretRef" in errors[0].message and "literal-9f8e" not in errors[0].message


@pytest.mark.parametrize("name", ["primaryKey", "key", "sort_key", "monkey", "author", "pageToken", "next_token",
                                  "tokenUrl", "keyName", "passed", "secretary"])
def test_ordinary_body_fields_are_not_taken_for_secrets(name: str) -> None:
    assert not is_secret_field(name)
    assert validate_http_request_payload({"url": URL, "body": {name: "value"}}) == []


def test_a_secret_reference_in_the_body_is_resolved_at_run_time_and_scrubbed_from_the_result(server) -> None:
    srv = server({"/token": echo(lambda v: v)})
    asked: list[str] = []
    handler = local_handler(resolve_secret=lambda ref: asked.append(ref) or SECRET)
    payload = {"url": srv.url("/token"), "body": {
        "grant_type": "client_credentials", "client_secret": {"secretRef": "oauth/client"},
        "nested": [{"password": {"secretRef": "ssm:db/password", "format": "pw:{secret}"}}]}}
    assert validate_http_request_payload(payload, allowed_hosts=(), local_mode=True) == []
    result = handler(make_ctx(payload))
    sent = json.loads(srv.requests[0].body)
    assert sent == {"grant_type": "client_credentials", "client_secret": SECRET, "nested": [{"password": f"pw:{SECRET}"}]}
    assert asked == ["oauth/client", "ssm:db/password"]
    assert SECRET not in json.dumps(result) and result["body"]["youSent"] == "***"


def test_a_literal_secret_body_field_in_a_run_override_is_refused_at_run_time(server) -> None:
    srv = server({"/ok": echo(lambda v: "fine")})
    with pytest.raises(ValidationFailed) as raised:
        run(srv, "/ok", {"body": {"client_secret": SECRET}})
    assert [e.field for e in raised.value.errors] == ["payload.body.client_secret"]
    assert SECRET not in str(raised.value) and srv.requests == []


def test_basic_auth_made_of_a_secret_is_scrubbed_when_echoed(server) -> None:
    srv = server({"/echo": lambda req, body: (200, {"Content-Type": "text/plain"},
                                               req.headers.get("Authorization", "").encode())})
    result = run(srv, "/echo", {"headers": {"Authorization": {"secretRef": "edge/key", "format": "Basic {secret}"}}})
    assert result["body"] == "Basic ***"
    wrapped = base64.b64encode(f"svc:{SECRET}".encode()).decode()
    srv2 = server({"/echo": lambda req, body: (200, {"Content-Type": "text/plain"}, wrapped.encode())})
    result = run(srv2, "/echo", {"headers": {"X-Custom": {"secretRef": "edge/key"}}})
    assert wrapped not in result["body"] and result["body"].startswith(wrapped[:4]) and "***" in result["body"]


def test_a_numeric_secret_echoed_as_a_json_number_is_scrubbed_from_the_result(server) -> None:
    pin = "83917265"

    def route(req, body: bytes):
        value = req.headers.get("X-Pin", "0")
        return 200, {"Content-Type": "application/json"}, json.dumps(
            {"echo": int(value), "asFloat": float(value), "list": [int(value)], "other": 7}).encode()

    srv = server({"/pin": route})
    handler = local_handler(resolve_secret=lambda ref: pin)
    result = handler(make_ctx({"url": srv.url("/pin"), "headers": {"X-Pin": {"secretRef": "edge/pin"}}}))
    assert pin not in json.dumps(result)
    assert result["body"] == {"echo": "***", "asFloat": "***", "list": ["***"], "other": 7}


@pytest.mark.parametrize("literal", [["hunter2"], {"value": "hunter2"}, [1234], {"a": [{"b": "hunter2"}]},
                                     {"user": "bob", "password": {"secretRef": "db/password"}}])
def test_a_secret_named_body_field_takes_no_literal_inside_a_list_or_object(literal) -> None:
    for body, field in [({"password": literal}, "payload.body.password"),
                        ({"creds": [{"client_secret": literal}]}, "payload.body.creds.0.client_secret")]:
        errors = validate_http_request_payload({"url": URL, "body": body})
        assert [e.field for e in errors] == [field]
        assert "secretRef" in errors[0].message and "hunter2" not in errors[0].message


def test_a_secret_named_body_field_may_hold_references_nulls_and_flags() -> None:
    for value in [{"secretRef": "db/password"}, None, True, False, [{"secretRef": "db/password"}], {},
                  {"password": {"secretRef": "db/password"}, "rotate": False}]:
        assert validate_http_request_payload({"url": URL, "body": {"password": value}}) == []


@pytest.mark.parametrize("text", ["Bearer eyJabc.def.ghi", "sb_secret_abcdef", "basic dXNlcjpwYXNzd29yZA==",
                                  "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYSJ9.sig", "see sb_secret_abcdef here",
                                  "token eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYSJ9.sig inside"])
def test_a_body_string_that_holds_a_credential_is_refused_wherever_it_stands(text: str) -> None:
    for body, field in [({"note": text}, "payload.body.note"), ({"items": [{"x": [text]}]}, "payload.body.items.0.x.0"),
                        (text, "payload.body")]:
        errors = validate_http_request_payload({"url": URL, "body": body})
        assert [e.field for e in errors] == [field]
        assert "credential" in errors[0].message and text not in errors[0].message


@pytest.mark.parametrize("text", ["see sb_secret_abcdef here", "x eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYSJ9.sig"])
def test_a_query_value_holding_a_credential_anywhere_is_refused(text: str) -> None:
    from urllib.parse import quote
    errors = validate_http_request_payload({"url": f"{URL}?note={quote(text)}"})
    assert [e.field for e in errors] == ["payload.url"] and "credential" in errors[0].message


def test_ordinary_body_text_is_not_taken_for_a_credential() -> None:
    body = {"note": "the bearer of this message", "eyes": "eyJ is how JSON starts in base64", "plan": "sb_public"}
    assert validate_http_request_payload({"url": URL, "body": body}) == []
