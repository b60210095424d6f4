"""The pinned connection: an address checked against the destination policy is the
address the socket goes to, with TLS verified for the host name.

How the connection is pinned: the host is resolved once per request (and again for each
followed redirect), *every* address is checked, and httpx is then given a URL whose host
is the checked IP address, with the ``Host`` header set to the real host and the
``sni_hostname`` request extension set to it. httpcore uses that name for TLS SNI and for
certificate verification (``ssl.SSLContext.check_hostname``), so the certificate must be
valid for the host name while the socket goes to an address that cannot change in
between (no DNS rebinding). httpx was chosen over urllib3 because it is already a pinned
runtime dependency; ``trust_env=False`` keeps ``HTTPS_PROXY`` and friends from routing the
request around the check.

Each attempt gets a fresh transport (its redirect hops share it, within one origin):
pooled connections are keyed by address, and one made with SNI for host A must never
carry a request for host B on the same address. When
a host has several addresses they are tried in order, moving on only when the connection
could not be established (nothing was sent).
"""
from __future__ import annotations

import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

import certifi
import httpx

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
    HttpRequestFailed,
    HttpRequestTimeout,
    RedirectNotFollowed,
)
from chalicelib.jobs.http_request.payload import USER_AGENT
from chalicelib.jobs.http_request.secrets import Scrubber

MAX_REDIRECTS = 3

_READ_LIMIT = 64 * 1024  # bytes of a response read at most; the rest is never downloaded

_CONNECT_TIMEOUT_CAP = 10.0


@dataclass(frozen=True)
class Answer:
    """What came back: the status, where a redirect points, and at most 64 KiB of body."""

    status: int
    location: str | None
    content_type: str
    charset: str | None
    content: bytes
    truncated: bool


class PinnedConnection:
    """Checks destinations and sends requests to the checked addresses (see the module)."""

    def __init__(
        self,
        *,
        allowed_hosts: Iterable[str] | HostAllowList,
        local_mode: bool,
        resolve_host: HostResolver = socket.getaddrinfo,
        ssl_context: ssl.SSLContext | None = None,
        transport_factory: Callable[[ssl.SSLContext], httpx.BaseTransport] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._allow_list = as_allow_list(allowed_hosts)
        self._local_mode = local_mode
        self._resolve_host = resolve_host
        self._ssl_context = ssl_context
        self._ssl_lock = threading.Lock()
        self._transport_factory = transport_factory
        self._monotonic = monotonic

    def client(self, timeout: float) -> httpx.Client:
        """A client on a fresh transport that follows nothing and reads no proxy settings."""
        return httpx.Client(transport=self.transport(), follow_redirects=False, trust_env=False, timeout=timeout)

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
            with self.client(timeout) as client:
                addresses = self.checked_addresses(target)
                answer = self.send(client, "POST", target, addresses, sent, body, self._monotonic() + timeout,
                                   timeout, scrub)
        except (DestinationRefused, HttpConnectionFailed, HttpRequestTimeout) as exc:
            raise type(exc)(scrub(str(exc))) from None
        return answer.status

    def checked_addresses(self, target: Target) -> list[IPAddress]:
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

    def transport(self) -> httpx.BaseTransport:
        context = self._tls_context()
        if self._transport_factory is not None:
            return self._transport_factory(context)
        return httpx.HTTPTransport(verify=context, trust_env=False, retries=0)

    def _tls_context(self) -> ssl.SSLContext:
        with self._ssl_lock:  # built once, on first use: no cost for processes that never call out
            if self._ssl_context is None:
                self._ssl_context = ssl.create_default_context(cafile=certifi.where())
            return self._ssl_context

    def send(
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
    ) -> Answer:
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
            return Answer(
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


def follow_redirect(
    answer: Answer, method: str, target: Target, body: bytes | None, hop: int, headers: dict[str, str]
) -> tuple[Target, str, bytes | None]:
    """Where a 3xx answer leads: the next target, method and body, or a refusal (no
    Location, another origin, more than :data:`MAX_REDIRECTS`)."""
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
