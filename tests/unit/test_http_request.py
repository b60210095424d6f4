"""The ``http-request`` handler: validation, SSRF defence, secrets, redirects, outcomes.

Real requests go only to servers these tests start on 127.0.0.1 (local mode, where plain
http to loopback is allowed). Non-local behaviour is exercised through an injected DNS
resolver and an httpx ``MockTransport``, so no test reaches the internet.
"""
from __future__ import annotations

import ipaddress
import json
import logging
import socket
import ssl
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import httpx
import pytest

from chalicelib.core.context import RunContext
from chalicelib.core.errors import ValidationFailed
from chalicelib.core.model import Trigger
from chalicelib.jobs.http_request import (
    HANDLER_NAME,
    DestinationRefused,
    HostAllowList,
    HttpConnectionFailed,
    HttpRequestFailed,
    HttpRequestHandler,
    HttpRequestTimeout,
    RedirectNotFollowed,
    SecretUnavailable,
    address_refusal,
    make_http_request_validator,
    redact_headers,
    register_http_request_handler,
    validate_http_request_payload,
)
from chalicelib.jobs.job_secrets import JobSecretNamespace, JobSecretResolver
from chalicelib.jobs.registry import JobRegistry

SLOT = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
KEY = f"edge-nightly@{SLOT.isoformat()}"
PUBLIC_IP = "93.184.215.14"
SECRET = "s3cr3t-Value-9f8e7d"
LOGGER = "tests.http_request"


# --------------------------------------------------------------------------- helpers


def make_ctx(payload: dict[str, Any], *, attempt: int = 1, remaining: Callable[[], int] = lambda: 0) -> RunContext:
    return RunContext(
        job_name="edge-nightly",
        execution_id=f"exec-{attempt}",
        scheduled_for=SLOT,
        attempt=attempt,
        trigger=Trigger.SCHEDULE if attempt == 1 else Trigger.RETRY,
        idempotency_key=KEY,
        payload=payload,
        timezone="UTC",
        logger=logging.getLogger(LOGGER),
        remaining_time_ms=remaining,
    )


def resolver(*answers: list[str]) -> Callable[..., list[tuple[Any, ...]]]:
    """A ``getaddrinfo`` stand-in: the n-th call returns the n-th answer (the last repeats)."""
    calls: list[str] = []

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        answer = answers[min(len(calls), len(answers) - 1)]
        calls.append(host)
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, port, 0, 0))
            if ":" in a
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in answer
        ]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


def no_secrets(ref: str) -> str:
    raise AssertionError(f"no secret should be resolved, asked for {ref}")


class FakeEndpoint:
    """An httpx ``MockTransport`` that records what would have gone on the wire."""

    def __init__(self, respond: Callable[[httpx.Request], httpx.Response] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self._respond = respond or (lambda request: httpx.Response(200, json={"ok": True}))

    def transport(self, ssl_context: ssl.SSLContext) -> httpx.BaseTransport:
        return httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return self._respond(request)


def deployed_handler(endpoint: FakeEndpoint, resolve: Callable[..., Any], **options: Any):
    options.setdefault("resolve_secret", no_secrets)
    return HttpRequestHandler(
        allowed_hosts=("api.example.com", "*.supabase.co"),
        local_mode=False,
        resolve_host=resolve,
        transport_factory=endpoint.transport,
        **options,
    )


def local_handler(**options: Any):
    options.setdefault("resolve_secret", no_secrets)
    return HttpRequestHandler(allowed_hosts=(), local_mode=True, **options)


@dataclass
class Seen:
    method: str
    path: str
    headers: Any
    body: bytes


Route = Callable[["_Handler", bytes], tuple[int, dict[str, str], bytes]]


@dataclass
class LoopbackServer:
    """An ``http.server`` on 127.0.0.1 in a thread; ``routes`` maps a path to a responder."""

    server: ThreadingHTTPServer
    routes: dict[str, Route]
    requests: list[Seen] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    scheme: str = "http"

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    state: LoopbackServer

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.state.requests.append(Seen(self.command, self.path, self.headers, body))
        route = self.state.routes.get(self.path.split("?", 1)[0])
        status, headers, payload = route(self, body) if route else (404, {}, b"no such route")
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, *args: Any) -> None:
        pass


def start_server(routes: dict[str, Route], tls: ssl.SSLContext | None = None) -> LoopbackServer:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    state = LoopbackServer(srv, routes, scheme="https" if tls else "http")
    srv.RequestHandlerClass = type("BoundHandler", (_Handler,), {"state": state})
    if tls is not None:
        srv.socket = tls.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return state


def json_reply(status: int, value: Any) -> Route:
    return lambda req, body: (status, {"Content-Type": "application/json"}, json.dumps(value).encode())


def text_reply(status: int, text: str) -> Route:
    return lambda req, body: (status, {"Content-Type": "text/plain; charset=utf-8"}, text.encode())


def redirect(status: int, location: str) -> Route:
    return lambda req, body: (status, {"Location": location}, b"")


def echo_authorization(status: int) -> Route:
    def route(req: _Handler, body: bytes) -> tuple[int, dict[str, str], bytes]:
        seen = req.headers.get("Authorization", "")
        return status, {"Content-Type": "application/json"}, json.dumps({"youSent": seen}).encode()

    return route


@pytest.fixture
def server():
    started: list[LoopbackServer] = []

    def start(routes: dict[str, Route], tls: ssl.SSLContext | None = None) -> LoopbackServer:
        srv = start_server(routes, tls)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


def field_names(errors) -> list[str]:
    return [e.field for e in errors]


# --------------------------------------------------------------------------- allow-list


@pytest.mark.parametrize(
    "host, allowed",
    [
        ("api.example.com", True),
        ("API.Example.COM", True),
        ("api.example.com.", True),
        ("other.example.com", False),
        ("abc.supabase.co", True),
        ("a.b.supabase.co", True),
        ("supabase.co", False),  # a wildcard does not cover its apex
        ("evilsupabase.co", False),
        ("abc.supabase.co.evil.net", False),
        ("x.example.org", True),  # leading-dot form
        ("example.org", False),
    ],
)
def test_allow_list_matches_exact_names_and_wildcard_subdomains(host: str, allowed: bool) -> None:
    allow_list = HostAllowList.parse(["api.example.com", "*.supabase.co", ".example.org"])
    assert allow_list.allows(host) is allowed


@pytest.mark.parametrize("entry", ["*", "*.co", "https://api.example.com", "api.example.com/x", "api.example.com:443"])
def test_malformed_allow_list_entries_fail_at_bootstrap_naming_the_setting(entry: str) -> None:
    with pytest.raises(ValueError, match="SCHEDULER_HTTP_ALLOWED_HOSTS"):
        HostAllowList.parse([entry])


def test_a_host_outside_the_allow_list_is_refused_at_registration() -> None:
    validate = make_http_request_validator(("*.supabase.co",), False)
    errors = validate({"url": "https://api.example.com/hook"})
    assert field_names(errors) == ["payload.url"]
    assert "SCHEDULER_HTTP_ALLOWED_HOSTS" in errors[0].message
    assert "*.supabase.co" in errors[0].message


def test_an_allow_listed_https_url_is_accepted_at_registration() -> None:
    validate = make_http_request_validator(("*.supabase.co",), False)
    assert validate({"url": "https://abc.supabase.co/functions/v1/nightly", "body": {"a": 1}}) == []


def test_a_host_outside_the_allow_list_is_refused_at_run_time_too() -> None:
    endpoint = FakeEndpoint()
    handler = deployed_handler(endpoint, resolver([PUBLIC_IP]))
    with pytest.raises(DestinationRefused, match="SCHEDULER_HTTP_ALLOWED_HOSTS"):
        handler(make_ctx({"url": "https://api.elsewhere.com/hook"}))
    assert endpoint.requests == []


# --------------------------------------------------------------------------- scheme and local mode


def test_plain_http_is_refused_when_not_in_local_mode() -> None:
    errors = make_http_request_validator(("api.example.com",), False)({"url": "http://api.example.com/x"})
    assert field_names(errors) == ["payload.url"]
    assert "https" in errors[0].message
    endpoint = FakeEndpoint()
    with pytest.raises(DestinationRefused, match="https"):
        deployed_handler(endpoint, resolver([PUBLIC_IP]))(make_ctx({"url": "http://api.example.com/x"}))
    assert endpoint.requests == []


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/x", "http://localhost:8000/x", "https://[::1]:8443/x"])
def test_loopback_is_refused_when_not_in_local_mode(url: str) -> None:
    errors = make_http_request_validator(("127.0.0.1", "localhost", "::1"), False)({"url": url})
    assert field_names(errors) == ["payload.url"]


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/x", "http://localhost:8000/x", "http://[::1]:8000/x"])
def test_http_to_loopback_is_accepted_in_local_mode_whatever_the_allow_list(url: str) -> None:
    assert make_http_request_validator((), True)({"url": url}) == []


def test_http_to_other_hosts_is_refused_in_local_mode() -> None:
    errors = make_http_request_validator(("api.example.com",), True)({"url": "http://api.example.com/x"})
    assert field_names(errors) == ["payload.url"]


def test_http_to_a_loopback_server_runs_in_local_mode(server) -> None:
    srv = server({"/hook": json_reply(200, {"processed": 3})})
    result = local_handler()(make_ctx({"url": srv.url("/hook"), "body": {"since": "2026-11-28"}}))
    assert result == {"status": 200, "body": {"processed": 3}}
    [seen] = srv.requests
    assert seen.method == "POST"
    assert json.loads(seen.body) == {"since": "2026-11-28"}
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["User-Agent"] == "nightly-scheduler"
    assert seen.headers["Host"] == f"127.0.0.1:{srv.port}"


def test_an_allow_listed_host_resolving_to_loopback_is_refused_even_in_local_mode() -> None:
    endpoint = FakeEndpoint()
    handler = HttpRequestHandler(
        allowed_hosts=("api.example.com",),
        local_mode=True,
        resolve_secret=no_secrets,
        resolve_host=resolver(["127.0.0.1"]),
        transport_factory=endpoint.transport,
    )
    with pytest.raises(DestinationRefused, match="loopback"):
        handler(make_ctx({"url": "https://api.example.com/x"}))
    assert endpoint.requests == []


# --------------------------------------------------------------------------- addresses (SSRF)


@pytest.mark.parametrize(
    "address, why",
    [
        ("10.0.0.1", "private"),
        ("127.0.0.1", "loopback"),
        ("169.254.169.254", "metadata"),
        ("::1", "loopback"),
        ("fd00:ec2::254", "metadata"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("192.168.1.10", "private"),
        ("172.16.0.1", "private"),
        ("169.254.10.10", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("fc00::1", "unique-local"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("64:ff9b::a00:1", "private"),  # NAT64 form of 10.0.0.1
        ("2002:7f00:1::", "loopback"),  # 6to4 form of 127.0.0.1
    ],
)
def test_a_host_resolving_to_a_non_public_address_is_refused_before_connecting(address: str, why: str) -> None:
    endpoint = FakeEndpoint()
    resolve = resolver([address])
    with pytest.raises(DestinationRefused, match=why) as raised:
        deployed_handler(endpoint, resolve)(make_ctx({"url": "https://api.example.com/hook"}))
    assert endpoint.requests == []
    assert resolve.calls == ["api.example.com"]
    assert address.split("%")[0] in str(raised.value) or "::ffff" in address


def test_one_non_public_address_among_public_ones_is_enough_to_refuse() -> None:
    endpoint = FakeEndpoint()
    with pytest.raises(DestinationRefused, match="10.0.0.1"):
        deployed_handler(endpoint, resolver([PUBLIC_IP, "10.0.0.1"]))(make_ctx({"url": "https://api.example.com/"}))
    assert endpoint.requests == []


@pytest.mark.parametrize("address", [PUBLIC_IP, "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "::ffff:93.184.215.14"])
def test_public_addresses_are_not_refused(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("url", ["https://10.0.0.1/x", "https://169.254.169.254/latest/meta-data", "https://[fd00:ec2::254]/"])
def test_an_ip_literal_url_to_a_non_public_address_is_refused_at_registration(url: str) -> None:
    errors = make_http_request_validator(("10.0.0.1", "169.254.169.254", "fd00:ec2::254"), False)({"url": url})
    assert field_names(errors) == ["payload.url"]


def test_the_connection_goes_to_the_checked_address_with_host_header_and_sni_for_the_name() -> None:
    endpoint = FakeEndpoint()
    handler = deployed_handler(endpoint, resolver([PUBLIC_IP]))
    result = handler(make_ctx({"url": "https://abc.supabase.co/functions/v1/nightly?dryRun=1"}))
    assert result == {"status": 200, "body": {"ok": True}}
    [request] = endpoint.requests
    assert request.url.host == PUBLIC_IP
    assert request.url.raw_path == b"/functions/v1/nightly?dryRun=1"
    assert request.headers["Host"] == "abc.supabase.co"
    assert request.extensions["sni_hostname"] == "abc.supabase.co"


def test_a_rebinding_answer_on_a_followed_redirect_is_checked_again_and_refused() -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "/next"})

    endpoint = FakeEndpoint(respond)
    resolve = resolver([PUBLIC_IP], ["10.0.0.1"])
    with pytest.raises(DestinationRefused, match="10.0.0.1"):
        deployed_handler(endpoint, resolve)(make_ctx({"url": "https://api.example.com/start", "method": "GET"}))
    assert [str(r.url.path) for r in endpoint.requests] == ["/start"]
    assert resolve.calls == ["api.example.com", "api.example.com"]


def test_the_next_address_is_tried_only_when_the_connection_could_not_be_made() -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        if request.url.host == "93.184.215.15":
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(204)

    endpoint = FakeEndpoint(respond)
    result = deployed_handler(endpoint, resolver(["93.184.215.15", PUBLIC_IP]))(
        make_ctx({"url": "https://api.example.com/"})
    )
    assert result == {"status": 204, "body": None}
    assert [r.url.host for r in endpoint.requests] == ["93.184.215.15", PUBLIC_IP]


def test_proxy_environment_variables_cannot_route_around_the_pinned_address(monkeypatch) -> None:
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    endpoint = FakeEndpoint()
    assert deployed_handler(endpoint, resolver([PUBLIC_IP]))(make_ctx({"url": "https://api.example.com/"}))["status"] == 200
    assert endpoint.requests[0].url.host == PUBLIC_IP


# --------------------------------------------------------------------------- TLS


def _self_signed(name: str) -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    valid_from = datetime(2020, 1, 1, tzinfo=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_from + timedelta(days=365 * 30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.fixture
def tls_pair(tmp_path):
    """A server context for ``localhost`` that records SNI, and a client context trusting it."""
    cert_pem, key_pem = _self_signed("localhost")
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    (tmp_path / "key.pem").write_bytes(key_pem)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    sni: list[str | None] = []
    server_context.sni_callback = lambda sock, name, ctx: sni.append(name)
    client_context = ssl.create_default_context(cadata=cert_pem.decode())
    return server_context, client_context, sni


def test_tls_connects_to_the_pinned_address_and_verifies_the_certificate_for_the_host_name(server, tls_pair) -> None:
    server_context, client_context, sni = tls_pair
    srv = server({"/tls": json_reply(200, {"secure": True})}, tls=server_context)
    resolve = resolver(["127.0.0.1"])
    handler = local_handler(resolve_host=resolve, ssl_context=client_context)
    result = handler(make_ctx({"url": srv.url("/tls", host="localhost"), "method": "GET"}))
    assert result == {"status": 200, "body": {"secure": True}}
    assert sni == ["localhost"]
    assert srv.requests[0].headers["Host"] == f"localhost:{srv.port}"
    assert resolve.calls == ["localhost"]


def test_a_certificate_not_valid_for_the_host_fails_verification(server, tls_pair) -> None:
    server_context, client_context, _ = tls_pair
    srv = server({"/tls": json_reply(200, {})}, tls=server_context)
    handler = local_handler(ssl_context=client_context)
    with pytest.raises(HttpConnectionFailed, match="(?i)certificate"):
        handler(make_ctx({"url": srv.url("/tls", host="127.0.0.1"), "method": "GET"}))
    assert srv.requests == []


# --------------------------------------------------------------------------- idempotency and timeouts


def test_the_idempotency_key_is_sent_and_identical_across_attempts_of_one_slot(server) -> None:
    srv = server({"/hook": json_reply(503, {"busy": True})})
    handler = local_handler()
    for attempt in (1, 2):
        with pytest.raises(HttpRequestFailed):
            handler(make_ctx({"url": srv.url("/hook")}, attempt=attempt))
    assert [seen.headers["Idempotency-Key"] for seen in srv.requests] == [KEY, KEY]


def test_the_timeout_is_capped_by_the_runs_remaining_time() -> None:
    endpoint = FakeEndpoint()
    handler = deployed_handler(endpoint, resolver([PUBLIC_IP]), monotonic=lambda: 1000.0, time_margin_seconds=1.0)
    handler(make_ctx({"url": "https://api.example.com/", "timeoutSeconds": 30}, remaining=lambda: 5000))
    handler(make_ctx({"url": "https://api.example.com/", "timeoutSeconds": 2}, remaining=lambda: 60000))
    handler(make_ctx({"url": "https://api.example.com/", "timeoutSeconds": 7}))  # remaining unknown
    assert [r.extensions["timeout"]["read"] for r in endpoint.requests] == [4.0, 2.0, 7.0]


def test_no_request_is_made_when_the_run_has_no_time_left() -> None:
    endpoint = FakeEndpoint()
    handler = deployed_handler(endpoint, resolver([PUBLIC_IP]), time_margin_seconds=1.0)
    with pytest.raises(HttpRequestTimeout):
        handler(make_ctx({"url": "https://api.example.com/"}, remaining=lambda: 500))
    assert endpoint.requests == []


def test_a_server_slower_than_the_timeout_raises_http_request_timeout(server) -> None:
    def slow(req: _Handler, body: bytes) -> tuple[int, dict[str, str], bytes]:
        req.state.release.wait(10)
        return 200, {}, b"too late"

    srv = server({"/slow": slow})
    with pytest.raises(HttpRequestTimeout, match="did not answer"):
        local_handler()(make_ctx({"url": srv.url("/slow"), "timeoutSeconds": 1}))


def test_a_refused_connection_raises_http_connection_failed() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(HttpConnectionFailed, match="could not connect"):
        local_handler()(make_ctx({"url": f"http://127.0.0.1:{port}/"}))


# --------------------------------------------------------------------------- outcomes


def test_a_non_2xx_answer_fails_with_method_url_status_and_a_bounded_excerpt(server) -> None:
    srv = server({"/hook": text_reply(500, "database exploded " + "x" * 5000)})
    with pytest.raises(HttpRequestFailed) as raised:
        local_handler()(make_ctx({"url": srv.url("/hook?page=2"), "method": "PUT"}))
    failure = raised.value
    message = str(failure)
    assert failure.status == 500
    assert message.startswith(f"PUT http://127.0.0.1:{srv.port}/hook returned HTTP 500: database exploded")
    assert "page=2" not in message
    assert len(failure.body_excerpt) <= 501
    assert len(message) < 700


def test_a_large_2xx_body_is_kept_as_a_bounded_excerpt(server) -> None:
    srv = server({"/big": json_reply(200, {"rows": ["r" * 100] * 200})})
    result = local_handler()(make_ctx({"url": srv.url("/big"), "method": "GET"}))
    assert result["status"] == 200
    assert isinstance(result["body"], str) and len(result["body"]) <= 4000
    assert result["bodyTruncated"] is True
    assert len(json.dumps(result)) < 4200


def test_numbers_json_cannot_carry_in_an_answer_are_kept_as_markers(server) -> None:
    answer = b'{"ratio": NaN, "big": 1e999, "list": [Infinity, -Infinity], "note": "a\\ud800b", "ok": 1.5}'
    srv = server({"/odd": lambda req, body: (200, {"Content-Type": "application/json"}, answer)})
    result = local_handler()(make_ctx({"url": srv.url("/odd"), "method": "GET"}))
    assert result["body"] == {
        "ratio": {"$unrepresentable": "NaN"}, "big": {"$unrepresentable": "1e999"},
        "list": [{"$unrepresentable": "Infinity"}, {"$unrepresentable": "-Infinity"}],
        "note": "a\ufffdb", "ok": 1.5,
    }
    json.dumps(result, allow_nan=False).encode()  # JSON any parser takes, UTF-8 any encoder takes


def test_an_answer_nested_deeper_than_python_parses_is_kept_as_text(server) -> None:
    answer = b'{"a":' * 5000 + b"1" + b"}" * 5000
    srv = server({"/deep": lambda req, body: (200, {"Content-Type": "application/json"}, answer)})
    result = local_handler()(make_ctx({"url": srv.url("/deep"), "method": "GET"}))
    assert result["status"] == 200 and isinstance(result["body"], str)


def test_a_text_answer_is_returned_as_text(server) -> None:
    srv = server({"/ping": text_reply(200, "pong")})
    assert local_handler()(make_ctx({"url": srv.url("/ping"), "method": "GET"})) == {"status": 200, "body": "pong"}


def test_get_sends_no_body(server) -> None:
    srv = server({"/ping": text_reply(200, "pong")})
    local_handler()(make_ctx({"url": srv.url("/ping"), "method": "get"}))
    assert srv.requests[0].method == "GET"
    assert srv.requests[0].body == b""
    assert "Content-Type" not in srv.requests[0].headers


def test_expect_status_decides_success_when_given(server) -> None:
    srv = server({"/ok": json_reply(200, {}), "/accepted": json_reply(202, {"queued": 1})})
    handler = local_handler()
    assert handler(make_ctx({"url": srv.url("/accepted"), "expectStatus": [202]})) == {"status": 202, "body": {"queued": 1}}
    with pytest.raises(HttpRequestFailed, match="HTTP 200"):
        handler(make_ctx({"url": srv.url("/ok"), "expectStatus": 202}))


# --------------------------------------------------------------------------- redirects


def test_a_redirect_to_another_host_is_not_followed(server) -> None:
    other = server({"/landing": json_reply(200, {"reached": True})})
    srv = server({"/hook": redirect(302, other.url("/landing?sig=abc", host="localhost"))})
    with pytest.raises(RedirectNotFollowed) as raised:
        local_handler()(make_ctx({"url": srv.url("/hook")}))
    assert other.requests == []
    assert raised.value.status == 302
    assert f"localhost:{other.port}/landing" in str(raised.value)
    assert "sig=abc" not in str(raised.value)


def test_a_redirect_to_the_same_host_is_followed(server) -> None:
    srv = server({"/old": redirect(302, "/new"), "/new": json_reply(200, {"moved": True})})
    result = local_handler()(make_ctx({"url": srv.url("/old"), "method": "GET"}))
    assert result == {"status": 200, "body": {"moved": True}}
    assert [seen.path for seen in srv.requests] == ["/old", "/new"]
    assert all(seen.headers["Idempotency-Key"] == KEY for seen in srv.requests)


def test_a_post_redirected_with_303_becomes_a_get_without_body(server) -> None:
    srv = server({"/old": redirect(303, "/status"), "/status": json_reply(200, {"done": True})})
    assert local_handler()(make_ctx({"url": srv.url("/old"), "body": {"n": 1}}))["body"] == {"done": True}
    assert [(s.method, s.body) for s in srv.requests] == [("POST", b'{"n":1}'), ("GET", b"")]


def test_a_307_redirect_keeps_the_method_and_body(server) -> None:
    srv = server({"/old": redirect(307, "/new"), "/new": json_reply(201, {"created": True})})
    result = local_handler()(make_ctx({"url": srv.url("/old"), "body": {"n": 1}}))
    assert result["status"] == 201
    assert [(s.method, s.body) for s in srv.requests] == [("POST", b'{"n":1}'), ("POST", b'{"n":1}')]


def test_redirects_stop_after_three(server) -> None:
    srv = server({"/loop": redirect(302, "/loop")})
    with pytest.raises(RedirectNotFollowed, match="after 3 redirects"):
        local_handler()(make_ctx({"url": srv.url("/loop"), "method": "GET"}))
    assert len(srv.requests) == 4


def test_a_redirect_from_https_to_http_on_the_same_host_is_not_followed() -> None:
    endpoint = FakeEndpoint(lambda r: httpx.Response(301, headers={"Location": "http://api.example.com/x"}))
    with pytest.raises(RedirectNotFollowed, match="another scheme, host or port"):
        deployed_handler(endpoint, resolver([PUBLIC_IP]))(make_ctx({"url": "https://api.example.com/x"}))
    assert len(endpoint.requests) == 1


# --------------------------------------------------------------------------- secrets


@pytest.mark.parametrize(
    "name", ["Authorization", "Proxy-Authorization", "apikey", "X-Api-Key", "Cookie", "X-Supabase-Token", "Client-Secret", "X-Password"]
)
def test_a_literal_secret_header_is_refused_at_registration_naming_the_header(name: str) -> None:
    errors = validate_http_request_payload({"url": "https://api.example.com/", "headers": {name: "literal-value"}})
    assert field_names(errors) == [f"payload.headers.{name}"]
    assert "secretRef" in errors[0].message
    assert "literal-value" not in errors[0].message


def test_literal_authorization_names_payload_headers_authorization() -> None:
    validate = make_http_request_validator(("api.example.com",), False)
    errors = validate({"url": "https://api.example.com/", "headers": {"Authorization": "Bearer abc.def"}})
    assert [(e.field, "secretRef" in e.message) for e in errors] == [("payload.headers.Authorization", True)]


@pytest.mark.parametrize("value", ["Bearer abc", "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYWRtaW4ifQ.c2ln", "sb_secret_abc"])
def test_a_credential_looking_value_is_refused_whatever_the_header_name(value: str) -> None:
    errors = validate_http_request_payload({"url": "https://api.example.com/", "headers": {"X-Custom": value}})
    assert field_names(errors) == ["payload.headers.X-Custom"]


def test_secret_references_are_accepted_at_registration() -> None:
    payload = {
        "url": "https://api.example.com/",
        "headers": {
            "Authorization": {"secretRef": "prod/edge-function-key", "format": "Bearer {secret}"},
            "apikey": {"secretRef": "ssm:/nightly/supabase/anon-key"},
            "X-Api-Key": {"secretRef": "arn:aws:secretsmanager:eu-north-1:123456789012:secret:edge-AbCdEf"},
            "X-Tenant": "acme",
        },
    }
    assert make_http_request_validator(("api.example.com",), False)(payload) == []


@pytest.mark.parametrize(
    "value, field",
    [
        ({"secretRef": ""}, "payload.headers.Authorization.secretRef"),
        ({"secretRef": "has space"}, "payload.headers.Authorization.secretRef"),
        ({"secretRef": "prod/key", "format": "Bearer"}, "payload.headers.Authorization.format"),
        ({"secretRef": "prod/key", "extra": 1}, "payload.headers.Authorization"),
    ],
)
def test_malformed_secret_references_are_named(value: dict, field: str) -> None:
    errors = validate_http_request_payload({"url": "https://api.example.com/", "headers": {"Authorization": value}})
    assert field_names(errors) == [field]


def test_a_secret_reference_is_resolved_at_run_time_and_never_appears_in_results_errors_or_logs(
    server, caplog
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx and httpcore included
    srv = server({"/ok": echo_authorization(200), "/fail": echo_authorization(500)})
    asked: list[str] = []

    def resolve_secret(ref: str) -> str:
        asked.append(ref)
        return SECRET

    handler = local_handler(resolve_secret=resolve_secret)
    headers = {"Authorization": {"secretRef": "prod/edge-function-key", "format": "Bearer {secret}"}}

    result = handler(make_ctx({"url": srv.url("/ok"), "headers": headers}))
    with pytest.raises(HttpRequestFailed) as raised:
        handler(make_ctx({"url": srv.url("/fail"), "headers": headers}))

    assert [seen.headers["Authorization"] for seen in srv.requests] == [f"Bearer {SECRET}"] * 2
    assert asked == ["prod/edge-function-key"] * 2
    assert result == {"status": 200, "body": {"youSent": "Bearer ***"}}
    assert SECRET not in json.dumps(result)
    assert SECRET not in str(raised.value) and SECRET not in raised.value.body_excerpt
    assert "Bearer ***" in str(raised.value)
    assert caplog.records, "the handler logs its request"
    assert SECRET not in caplog.text


def test_a_secret_reference_that_cannot_be_resolved_names_the_reference_and_header() -> None:
    def resolve_secret(ref: str) -> str:
        raise LookupError(f"no secret named {ref}")

    endpoint = FakeEndpoint()
    handler = deployed_handler(endpoint, resolver([PUBLIC_IP]), resolve_secret=resolve_secret)
    with pytest.raises(SecretUnavailable, match="prod/missing.*Authorization"):
        handler(make_ctx({"url": "https://api.example.com/", "headers": {"Authorization": {"secretRef": "prod/missing"}}}))
    assert endpoint.requests == []


def test_a_resolved_secret_with_a_line_break_is_refused_without_quoting_it() -> None:
    endpoint = FakeEndpoint()
    handler = deployed_handler(endpoint, resolver([PUBLIC_IP]), resolve_secret=lambda ref: SECRET + "\r\nX-Evil: 1")
    with pytest.raises(SecretUnavailable) as raised:
        handler(make_ctx({"url": "https://api.example.com/", "headers": {"apikey": {"secretRef": "prod/key"}}}))
    assert SECRET not in str(raised.value)
    assert endpoint.requests == []


def test_a_literal_secret_header_in_a_run_override_is_refused_at_run_time() -> None:
    endpoint = FakeEndpoint()
    with pytest.raises(ValidationFailed) as raised:
        deployed_handler(endpoint, resolver([PUBLIC_IP]))(
            make_ctx({"url": "https://api.example.com/", "headers": {"Authorization": "Bearer " + SECRET}})
        )
    assert field_names(raised.value.errors) == ["payload.headers.Authorization"]
    assert SECRET not in str(raised.value)
    assert endpoint.requests == []


@pytest.mark.parametrize("query", ["apikey=abc", "token=abc", "key=abc", "secret=abc", "access_token=abc", "API_KEY=abc"])
def test_secret_looking_query_parameters_are_refused(query: str) -> None:
    errors = validate_http_request_payload({"url": f"https://api.example.com/hook?page=2&{query}"})
    assert field_names(errors) == ["payload.url"]
    assert "abc" not in errors[0].message


def test_userinfo_in_the_url_is_refused() -> None:
    errors = validate_http_request_payload({"url": "https://user:pw@api.example.com/"})
    assert field_names(errors) == ["payload.url"]
    assert "pw" not in errors[0].message


def test_redact_headers_hides_secret_like_values() -> None:
    redacted = redact_headers(
        {
            "Authorization": "Bearer abc",
            "apikey": {"secretRef": "prod/key"},
            "X-Session-Id": "s1",
            "X-Custom": "eyJhbGciOiJIUzI1NiJ9.eyJ4IjoxfQ.c2ln",
            "X-Tenant": "acme",
            "Content-Type": "application/json",
        }
    )
    assert redacted == {
        "Authorization": "***",
        "apikey": "***",
        "X-Session-Id": "***",
        "X-Custom": "***",
        "X-Tenant": "acme",
        "Content-Type": "application/json",
    }


# --------------------------------------------------------------------------- payload shape


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"url": 42}, "payload.url"),
        ({}, "payload.url"),
        ({"url": "ftp://api.example.com/"}, "payload.url"),
        ({"url": "https://api.example.com:70000/"}, "payload.url"),
        ({"url": "https://api.example.com/", "headers": ["Authorization"]}, "payload.headers"),
        ({"url": "https://api.example.com/", "headers": {"X-Count": 5}}, "payload.headers.X-Count"),
        ({"url": "https://api.example.com/", "headers": {"Bad Name": "x"}}, "payload.headers.Bad Name"),
        ({"url": "https://api.example.com/", "headers": {"X-A": "line\r\nX-Injected: 1"}}, "payload.headers.X-A"),
        ({"url": "https://api.example.com/", "headers": {"Host": "internal.example.com"}}, "payload.headers.Host"),
        ({"url": "https://api.example.com/", "headers": {"Idempotency-Key": "mine"}}, "payload.headers.Idempotency-Key"),
        ({"url": "https://api.example.com/", "timeoutSeconds": 0}, "payload.timeoutSeconds"),
        ({"url": "https://api.example.com/", "timeoutSeconds": 901}, "payload.timeoutSeconds"),
        ({"url": "https://api.example.com/", "timeoutSeconds": "30"}, "payload.timeoutSeconds"),
        ({"url": "https://api.example.com/", "timeoutSeconds": True}, "payload.timeoutSeconds"),
        ({"url": "https://api.example.com/", "method": "TRACE"}, "payload.method"),
        ({"url": "https://api.example.com/", "method": 1}, "payload.method"),
        ({"url": "https://api.example.com/", "expectStatus": 99}, "payload.expectStatus"),
        ({"url": "https://api.example.com/", "body": float("nan")}, "payload.body"),
        ({"url": "https://api.example.com/", "timeout": 30}, "payload.timeout"),
    ],
)
def test_each_payload_problem_is_named(payload: dict, field: str) -> None:
    assert field_names(validate_http_request_payload(payload)) == [field]


def test_every_problem_is_reported_at_once() -> None:
    errors = validate_http_request_payload({"url": 1, "headers": [], "timeoutSeconds": "30"})
    assert field_names(errors) == ["payload.url", "payload.headers", "payload.timeoutSeconds"]


def test_defaults_and_limits_are_accepted() -> None:
    for timeout in (1, 30, 900):
        assert validate_http_request_payload({"url": "https://api.example.com/", "timeoutSeconds": timeout}) == []
    assert validate_http_request_payload({"url": "https://api.example.com/", "body": None, "method": "DELETE"}) == []


def test_field_names_can_be_relative_to_the_payload() -> None:
    validate = make_http_request_validator(("api.example.com",), False, field_prefix="")
    assert field_names(validate({"url": 1})) == ["url"]


# --------------------------------------------------------------------------- wiring


def test_it_registers_as_http_request_with_its_validator() -> None:
    registry = JobRegistry()
    handler = register_http_request_handler(
        registry, allowed_hosts=("*.supabase.co",), local_mode=False,
        resolve_secret=JobSecretResolver(JobSecretNamespace(), no_secrets),
    )
    registered = registry.get(HANDLER_NAME)
    assert registered is not None and registered.fn is handler
    assert registered.description
    assert registered.validate_payload is not None
    assert field_names(registered.validate_payload({"url": "https://api.example.com/"})) == ["payload.url"]
