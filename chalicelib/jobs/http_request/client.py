"""The pinned HTTP client: one ``http-request`` attempt, connected to the address that was checked."""
from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Iterable, Mapping, Sequence

import certifi
import httpx

from chalicelib.core import strict_json
from chalicelib.core.context import RunContext
from chalicelib.core.errors import ValidationFailed
from chalicelib.core.model import iso
from chalicelib.jobs.http_request.destinations import (
    ALLOWED_HOSTS_SETTING,
    BadUrl,
    HostAllowList,
    HostResolver,
    IPAddress,
    Target,
    address_refusal,
    as_allow_list,
    ip_literal,
    parse_url,
    policy_refusal,
)
from chalicelib.jobs.http_request.errors import (
    DestinationRefused,
    HttpConnectionFailed,
    HttpRequestError,
    HttpRequestFailed,
    HttpRequestTimeout,
    RedirectNotFollowed,
)
from chalicelib.jobs.http_request.expect import expectation_failure, status_failure
from chalicelib.jobs.http_request.payload import (
    CONTROL_CHARS,
    USER_AGENT,
    check_payload,
)
from chalicelib.jobs.http_request.secrets import (
    HeaderValue,
    Scrubber,
    SecretResolver,
    resolve_body_secrets,
    resolve_ref,
)

MAX_REDIRECTS = 3


RESULT_BODY_LIMIT = 4000  # characters of response body kept in an execution's result


ERROR_BODY_LIMIT = 500  # characters of response body quoted in an error message


_READ_LIMIT = 64 * 1024  # bytes of a response read at most; the rest is never downloaded


_CONNECT_TIMEOUT_CAP = 10.0


@dataclass(frozen=True)
class OwnCredentials:
    """Headers a job type adds from the scheduler's own secrets (the Supabase service key),
    never from a payload; ``secrets`` are scrubbed from whatever comes back, as resolved ones."""

    headers: Mapping[str, str]
    secrets: tuple[str, ...]


def scheduler_headers(ctx: RunContext) -> dict[str, str]:
    """``X-Scheduler-Job``, ``-Slot``, ``-Attempt`` and ``-Execution`` of the run."""
    return {
        "X-Scheduler-Job": ctx.job_name,
        "X-Scheduler-Slot": iso(ctx.scheduled_for),
        "X-Scheduler-Attempt": str(ctx.attempt),
        "X-Scheduler-Execution": ctx.execution_id,
    }


@dataclass(frozen=True)
class _Answer:
    status: int
    location: str | None
    content_type: str
    charset: str | None
    content: bytes
    truncated: bool


class HttpRequestHandler:
    """Runs one ``http-request`` attempt: ``handler(ctx) -> {"status", "body"}``.

    How the connection is pinned: the host is resolved once per request (and again for
    each followed redirect), *every* address is checked, and httpx is then given a URL
    whose host is the checked IP address, with the ``Host`` header set to the real host
    and the ``sni_hostname`` request extension set to it. httpcore uses that name for TLS
    SNI and for certificate verification (``ssl.SSLContext.check_hostname``), so the
    certificate must be valid for the host name while the socket goes to an address
    that cannot change in between (no DNS rebinding). httpx was chosen over urllib3
    because it is already a pinned runtime dependency; ``trust_env=False`` keeps
    ``HTTPS_PROXY`` and friends from routing the request around the check.

    Each run gets a fresh transport: pooled connections are keyed by address, and one
    made with SNI for host A must never carry a request for host B on the same address.
    When a host has several addresses they are tried in order, moving on only when the
    connection could not be established (nothing was sent).
    """

    def __init__(
        self,
        *,
        allowed_hosts: Iterable[str] | HostAllowList,
        local_mode: bool,
        resolve_secret: SecretResolver,
        resolve_host: HostResolver = socket.getaddrinfo,
        ssl_context: ssl.SSLContext | None = None,
        transport_factory: Callable[[ssl.SSLContext], httpx.BaseTransport] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        time_margin_seconds: float = 1.0,
        own_credentials: Callable[[], OwnCredentials] | None = None,
    ) -> None:
        self._allow_list = as_allow_list(allowed_hosts)
        self._local_mode = local_mode
        self._resolve_secret = resolve_secret
        self._resolve_host = resolve_host
        self._ssl_context = ssl_context
        self._ssl_lock = threading.Lock()
        self._transport_factory = transport_factory
        self._monotonic = monotonic
        self._margin = time_margin_seconds
        self._own_credentials = own_credentials

    # -- the attempt

    def __call__(self, ctx: RunContext) -> dict[str, Any]:
        spec, errors = check_payload(ctx.payload, "payload")
        if spec is None:
            raise ValidationFailed(errors)
        key = ctx.idempotency_key
        if CONTROL_CHARS.search(key) or "\t" in key:
            raise HttpRequestError("the run's idempotency key contains control characters")
        headers, secrets = self._resolve_headers(spec.headers)
        body: bytes | None = None
        if spec.body is not None:
            value, body_secrets = resolve_body_secrets(spec.body.value, self._resolve_secret, "payload.body")
            body = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
            secrets += body_secrets
        if self._own_credentials is not None:
            own = self._own_credentials()
            taken = {name.lower() for name in own.headers}
            headers = {n: v for n, v in headers.items() if n.lower() not in taken} | dict(own.headers)
            secrets = [*secrets, *own.secrets]
        scrub = Scrubber(secrets)
        headers["Idempotency-Key"] = key
        headers.update(scheduler_headers(ctx))
        headers["User-Agent"] = USER_AGENT
        headers["Accept-Encoding"] = "identity"  # no decompression bombs; bodies are small
        names = {name.lower() for name in headers}
        if "accept" not in names:
            headers["Accept"] = "application/json, text/plain;q=0.9, */*;q=0.5"
        if spec.body is not None and "content-type" not in names:
            headers["Content-Type"] = "application/json"

        timeout = self._timeout(spec.timeout_seconds, ctx.remaining_time_ms())
        deadline = self._monotonic() + timeout
        method, target = spec.method, spec.target
        log = ctx.logger
        log.info("http-request %s %s (timeout %.1f s)", method, target.display, timeout)
        log.debug("http-request headers %s", ", ".join(sorted(headers)))  # names only: values may be secrets

        with httpx.Client(
            transport=self._transport(), follow_redirects=False, trust_env=False, timeout=timeout
        ) as client:
            for hop in range(MAX_REDIRECTS + 1):
                addresses = self._checked_addresses(target)
                answer = self._send(client, method, target, addresses, headers, body, deadline, timeout, scrub)
                log.info("http-request %s %s -> HTTP %d", method, target.display, answer.status)
                if self._is_success(answer.status, spec.expect_status):
                    if spec.expect is not None:
                        media = answer.content_type.split(";", 1)[0].strip().lower()
                        missed = expectation_failure(
                            spec.expect, method=method, url=target.display, status=answer.status,
                            media_type=media, text=_text(answer), truncated=answer.truncated,
                            scrub=partial(scrub, cut_end=answer.truncated))
                        if missed is not None:
                            raise missed
                    return _result(answer, scrub)
                if 300 <= answer.status < 400 and answer.status != 304:
                    target, method, body = self._follow(answer, method, target, body, hop, headers)
                    continue
                excerpt = _excerpt(answer, ERROR_BODY_LIMIT, scrub) or "(empty body)"
                if spec.expect is not None:
                    refused = status_failure(spec.expect, method=method, url=target.display,
                                             status=answer.status, excerpt=excerpt)
                    if refused is not None:
                        raise refused
                raise HttpRequestFailed(
                    f"{method} {target.display} returned HTTP {answer.status}: {excerpt}",
                    method=method,
                    url=target.display,
                    status=answer.status,
                    body_excerpt=excerpt,
                )
        raise AssertionError("unreachable: the redirect loop returns or raises")  # pragma: no cover

    def post_once(self, url: str, headers: Mapping[str, str], body: bytes, *, timeout: float = 10.0,
                  secrets: Sequence[str] = ()) -> int:
        """POST ``body`` to ``url`` once, through the same destination policy and pinned
        connection as a run (no redirect followed); the answer's status. For senders that
        are not runs (notification channels). Raises :class:`DestinationRefused`,
        :class:`HttpConnectionFailed` or :class:`HttpRequestTimeout`, scrubbed of ``secrets``."""
        scrub = Scrubber(secrets)
        try:
            target = parse_url(url)
        except BadUrl as exc:
            raise DestinationRefused(scrub(f"refused to call the URL: it {exc}")) from None
        sent = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **headers}
        try:
            with httpx.Client(transport=self._transport(), follow_redirects=False, trust_env=False,
                              timeout=timeout) as client:
                addresses = self._checked_addresses(target)
                answer = self._send(client, "POST", target, addresses, sent, body, self._monotonic() + timeout,
                                    timeout, scrub)
        except (DestinationRefused, HttpConnectionFailed, HttpRequestTimeout) as exc:
            raise type(exc)(scrub(str(exc))) from None
        return answer.status

    @staticmethod
    def _is_success(status: int, expect: frozenset[int] | None) -> bool:
        return status in expect if expect is not None else 200 <= status < 300

    def _timeout(self, timeout_seconds: float, remaining_ms: int) -> float:
        if remaining_ms <= 0:  # unknown
            return timeout_seconds
        left = remaining_ms / 1000 - self._margin
        if left <= 0:
            raise HttpRequestTimeout(
                f"no time left in this run to make the request ({remaining_ms} ms remaining); "
                "raise the job's timeoutSeconds"
            )
        return min(timeout_seconds, left)

    # -- secrets

    def _resolve_headers(self, spec_headers: Sequence[tuple[str, HeaderValue]]) -> tuple[dict[str, str], list[str]]:
        headers: dict[str, str] = {}
        secrets: list[str] = []
        for name, value in spec_headers:
            if isinstance(value, str):
                headers[name] = value
                continue
            secret = resolve_ref(self._resolve_secret, value, f"header {name}")
            secrets.append(secret)
            headers[name] = value.render(secret)
        return headers, secrets

    # -- destinations

    def _checked_addresses(self, target: Target) -> list[IPAddress]:
        refusal = policy_refusal(target, self._allow_list, self._local_mode)
        if refusal is not None:
            raise DestinationRefused(f"refused to call {target.display}: {refusal}")
        allow_loopback = self._local_mode and target.is_local_loopback
        if target.ip is not None:
            addresses = [target.ip]
        else:
            try:
                infos = self._resolve_host(target.host, target.port)
            except (OSError, UnicodeError) as exc:
                raise HttpConnectionFailed(f"could not resolve host {target.host}: {exc}") from None
            addresses = []
            for info in infos:
                ip = ip_literal(str(info[4][0]).split("%", 1)[0])
                if ip is None:
                    raise DestinationRefused(
                        f"refused to call {target.display}: {target.host} resolved to an address "
                        f"that cannot be checked ({info[4][0]!r})"
                    )
                if ip not in addresses:
                    addresses.append(ip)
            if not addresses:
                raise HttpConnectionFailed(f"host {target.host} did not resolve to any address")
        for ip in addresses:
            reason = address_refusal(ip, allow_loopback=allow_loopback)
            if reason is not None:
                raise DestinationRefused(
                    f"refused to call {target.display}: {target.host} resolves to {ip}, {reason}. "
                    "Private, loopback, link-local, metadata and other non-public addresses are "
                    f"never called, whatever {ALLOWED_HOSTS_SETTING} says"
                )
        return addresses

    def _follow(
        self, answer: _Answer, method: str, target: Target, body: bytes | None, hop: int, headers: dict[str, str]
    ) -> tuple[Target, str, bytes | None]:
        status = answer.status
        where = f"{method} {target.display} was redirected (HTTP {status})"
        if not answer.location:
            raise HttpRequestFailed(
                f"{where} without a Location header", method=method, url=target.display, status=status, body_excerpt=""
            )
        try:
            nxt = parse_url(str(target.url.join(answer.location)))
        except (BadUrl, httpx.InvalidURL, ValueError) as exc:
            raise RedirectNotFollowed(
                f"{where} to a URL that is not followed: it {exc}",
                method=method, url=target.display, status=status, location="(invalid)",
            ) from None
        if nxt.origin != target.origin:
            raise RedirectNotFollowed(
                f"{where} to {nxt.display}, another scheme, host or port; redirects are followed "
                "only within the same origin. Point the job's url at the final address "
                f"(and allow its host in {ALLOWED_HOSTS_SETTING}).",
                method=method, url=target.display, status=status, location=nxt.display,
            )
        if hop >= MAX_REDIRECTS:
            raise RedirectNotFollowed(
                f"{where} to {nxt.display}: stopped after {MAX_REDIRECTS} redirects",
                method=method, url=target.display, status=status, location=nxt.display,
            )
        if status == 303 or (status in (301, 302) and method == "POST"):
            # What every HTTP client does; 307 and 308 keep the method and body.
            method, body = "GET", None
            for name in [n for n in headers if n.lower() == "content-type"]:
                del headers[name]
        return nxt, method, body

    # -- the wire

    def _transport(self) -> httpx.BaseTransport:
        context = self._tls_context()
        if self._transport_factory is not None:
            return self._transport_factory(context)
        return httpx.HTTPTransport(verify=context, trust_env=False, retries=0)

    def _tls_context(self) -> ssl.SSLContext:
        with self._ssl_lock:  # built once, on first use: no cost for processes that never call out
            if self._ssl_context is None:
                self._ssl_context = ssl.create_default_context(cafile=certifi.where())
            return self._ssl_context

    def _send(
        self,
        client: httpx.Client,
        method: str,
        target: Target,
        addresses: Sequence[IPAddress],
        headers: Mapping[str, str],
        body: bytes | None,
        deadline: float,
        total: float,
        scrub: Scrubber,
    ) -> _Answer:
        last_error: Exception | None = None
        for ip in addresses:
            left = deadline - self._monotonic()
            if left <= 0:
                raise self._timed_out(method, target, total)
            request = client.build_request(
                method,
                target.url.copy_with(host=str(ip)),
                headers={**headers, "Host": target.authority},
                content=body,
                timeout=httpx.Timeout(left, connect=min(left, _CONNECT_TIMEOUT_CAP)),
                extensions={"sni_hostname": target.host} if target.scheme == "https" else None,
            )
            try:
                response = client.send(request, stream=True)
            except httpx.ConnectError as exc:
                last_error = exc
                continue
            except httpx.TimeoutException:
                raise self._timed_out(method, target, total) from None
            except httpx.TransportError as exc:
                raise self._connection_failed(method, target, exc, scrub) from None
            try:
                content, truncated = self._read(response, deadline, method, target, total)
            except httpx.TimeoutException:
                raise self._timed_out(method, target, total) from None
            except httpx.TransportError as exc:
                raise self._connection_failed(method, target, exc, scrub) from None
            finally:
                response.close()
            return _Answer(
                status=response.status_code,
                location=response.headers.get("location"),
                content_type=response.headers.get("content-type", ""),
                charset=response.charset_encoding,
                content=content,
                truncated=truncated,
            )
        tried = ", ".join(str(ip) for ip in addresses)
        raise HttpConnectionFailed(
            scrub(f"{method} {target.display}: could not connect to {target.host} ({tried}): {last_error}")
        )

    def _read(
        self, response: httpx.Response, deadline: float, method: str, target: Target, total: float
    ) -> tuple[bytes, bool]:
        buffer = bytearray()
        for chunk in response.iter_bytes():
            buffer += chunk
            if len(buffer) >= _READ_LIMIT:
                return bytes(buffer[:_READ_LIMIT]), True
            if self._monotonic() > deadline:
                raise self._timed_out(method, target, total)
        return bytes(buffer), False

    @staticmethod
    def _timed_out(method: str, target: Target, total: float) -> HttpRequestTimeout:
        return HttpRequestTimeout(
            f"{method} {target.display} did not answer within {total:g} s "
            "(payload timeoutSeconds, capped by the run's remaining time)"
        )

    @staticmethod
    def _connection_failed(method: str, target: Target, exc: Exception, scrub: Scrubber) -> HttpConnectionFailed:
        return HttpConnectionFailed(
            scrub(f"{method} {target.display}: connection failed ({type(exc).__name__}: {exc})")
        )


def _text(answer: _Answer) -> str:
    try:
        text = answer.content.decode(answer.charset or "utf-8", errors="replace")
    except LookupError:
        text = answer.content.decode("utf-8", errors="replace")
    # A read cut inside a character: drop the mark, so a secret's first part ends the text.
    return text.rstrip("\ufffd") if answer.truncated else text


def _excerpt(answer: _Answer, limit: int, scrub: Scrubber) -> str:
    # Scrubbed before whitespace is collapsed or the excerpt cut; a read cut mid-secret too.
    text = " ".join(scrub(_text(answer), cut_end=answer.truncated).split())
    return text if len(text) <= limit and not answer.truncated else text[:limit] + "…"


def _result(answer: _Answer, scrub: Scrubber) -> dict[str, Any]:
    result: dict[str, Any] = {"status": answer.status, "body": None}
    if not answer.content:
        return result
    media = answer.content_type.split(";", 1)[0].strip().lower()
    if not answer.truncated and (media == "application/json" or media.endswith("+json")):
        try:  # strictly: NaN, Infinity and 1e999 are kept as {"$unrepresentable": text}, never as floats
            parsed = scrub.value(strict_json.sanitize(strict_json.loads(_text(answer))))
        except (ValueError, RecursionError):
            parsed = None
        else:
            if len(json.dumps(parsed, ensure_ascii=False)) <= RESULT_BODY_LIMIT:
                result["body"] = parsed
                return result
    text = scrub(_text(answer), cut_end=answer.truncated)
    if answer.truncated or len(text) > RESULT_BODY_LIMIT:
        result["body"] = text[:RESULT_BODY_LIMIT]
        result["bodyTruncated"] = True
    else:
        result["body"] = text
    return result
