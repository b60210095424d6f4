"""The built-in ``http-request`` handler: call an HTTPS endpoint (a Supabase Edge Function,
a webhook, any JSON API) on a job's schedule.

Payload (field names as API.md writes them)::

    {
      "url": "https://abc.supabase.co/functions/v1/nightly",   # required
      "method": "POST",                 # GET | POST | PUT | PATCH | DELETE, default POST
      "headers": {                      # string -> string, or a secret reference
        "Authorization": {"secretRef": "prod/edge-fn-key", "format": "Bearer {secret}"},
        "X-Tenant": "acme"
      },
      "body": {"any": "JSON value"},    # sent as JSON; absent means no body
      "timeoutSeconds": 30,             # 1-900, default 30
      "expectStatus": 200               # optional: a code or list of codes counted as success
    }

Secrets. A header whose *name* looks like a credential (``Authorization``,
``Proxy-Authorization``, ``apikey``, ``X-Api-Key``, ``Cookie``, or any name containing
``auth``, ``token``, ``secret``, ``key``, ``password``, ``credential``, ``session`` or
``signature``), or whose literal *value* looks like one (``Bearer …``, ``Basic …``, a JWT,
``sb_secret_…``), must be given as a reference, never as a literal: the payload is stored
in DynamoDB and shown by the API. A reference is ``{"secretRef": "<Secrets Manager name or
ARN, or ssm:/parameter/name>"}``, optionally with ``"format": "Bearer {secret}"``. It is
resolved at run time through the injected ``resolve_secret``; resolved values never reach
logs, results or error messages (response text that echoes them is scrubbed to ``***``).
URLs carry no secrets: userinfo and query parameters named like credentials are refused.

Destinations (SSRF defence, checked when a job is registered *and* at every run, since the
allow-list may change in between):

* scheme ``https`` only;
* host in ``SCHEDULER_HTTP_ALLOWED_HOSTS`` (syntax: :class:`HostAllowList`);
* every address the host resolves to must be public: private, loopback, link-local,
  multicast, reserved, unspecified, carrier-grade NAT, unique-local, cloud metadata
  addresses, and IPv4 addresses embedded in IPv6 (mapped, 6to4, NAT64) that are any of
  those, are refused;
* the connection goes to the address that was checked (see :class:`HttpRequestHandler`).

Local stack only (``local_mode``): ``http`` or ``https`` URLs whose host is exactly
``127.0.0.1``, ``::1`` or ``localhost`` are allowed whatever the allow-list says, and
loopback addresses are then accepted. Deployed, never.

Outcome: a 2xx (or an ``expectStatus`` code) returns ``{"status", "body"}`` bounded to about
4 KiB (``"bodyTruncated": true`` when cut); anything else raises a subclass of
:class:`HttpRequestError`.
"""
from __future__ import annotations

import ipaddress
import json
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence, Union

import certifi
import httpx

from chalicelib.core.context import RunContext
from chalicelib.core.errors import FieldError, ValidationFailed
from chalicelib.jobs.registry import JobRegistry, PayloadValidator

HANDLER_NAME = "http-request"
HANDLER_DESCRIPTION = (
    "Call an HTTPS endpoint (e.g. a Supabase Edge Function) with a JSON body; "
    "payload: url, method, headers (secrets as {\"secretRef\": ...}), body, timeoutSeconds"
)

ALLOWED_HOSTS_SETTING = "SCHEDULER_HTTP_ALLOWED_HOSTS"
ALLOWED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
DEFAULT_METHOD = "POST"
DEFAULT_TIMEOUT_SECONDS = 30
MIN_TIMEOUT_SECONDS = 1
MAX_TIMEOUT_SECONDS = 900
MAX_REDIRECTS = 3
USER_AGENT = "nightly-scheduler"
RESULT_BODY_LIMIT = 4000  # characters of response body kept in an execution's result
ERROR_BODY_LIMIT = 500  # characters of response body quoted in an error message
REDACTED = "***"

LOCAL_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})

_PAYLOAD_FIELDS = ("url", "method", "headers", "body", "timeoutSeconds", "expectStatus")
_MAX_URL_LENGTH = 2048
_MAX_HEADERS = 50
_MAX_HEADER_VALUE_LENGTH = 8192
_MAX_SECRET_REF_LENGTH = 2048
_READ_LIMIT = 64 * 1024  # bytes of a response read at most; the rest is never downloaded
_CONNECT_TIMEOUT_CAP = 10.0

# Names whose values are credentials. Anything containing one of the parts counts too.
_SECRET_HEADER_NAMES = frozenset(
    {"authorization", "proxy-authorization", "apikey", "x-api-key", "cookie", "set-cookie"}
)
_SECRET_NAME_PARTS = (
    "auth", "token", "secret", "key", "password", "passwd", "credential", "cookie", "session",
    "signature",
)
# Literal values that are credentials whatever the header is called.
_CREDENTIAL_VALUE = re.compile(
    r"(?i:^\s*(?:bearer|basic|digest)\s+\S)|^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.|^sb_secret_"
)
# Set by the scheduler (or framing/hop-by-hop headers that would let a payload smuggle or
# re-target a request, e.g. Host on a shared CDN address): refused in a payload.
_RESERVED_HEADERS = {
    "host": "is set by the scheduler from the URL",
    "idempotency-key": "is set by the scheduler (the same for every attempt of one slot)",
    "user-agent": f"is set by the scheduler ({USER_AGENT})",
    "accept-encoding": "is set by the scheduler",
    "content-length": "is computed from the body",
    "transfer-encoding": "is a framing header and cannot be set",
    "connection": "is a hop-by-hop header and cannot be set",
    "keep-alive": "is a hop-by-hop header and cannot be set",
    "proxy-connection": "is a hop-by-hop header and cannot be set",
    "te": "is a hop-by-hop header and cannot be set",
    "trailer": "is a hop-by-hop header and cannot be set",
    "upgrade": "is a hop-by-hop header and cannot be set",
    "expect": "cannot be set",
}
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_HOST_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_SECRETS_MANAGER_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")
_SECRET_REF_HINT = (
    'give it as a reference instead: {"secretRef": "<Secrets Manager name or ARN, or '
    'ssm:/parameter/name>"}, optionally with "format": "Bearer {secret}"'
)

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
HostResolver = Callable[..., Sequence[tuple[Any, ...]]]
"""``socket.getaddrinfo``-compatible: called as ``resolve_host(host, port)``."""
SecretResolver = Callable[[str], str]
"""Returns the secret a reference names; must not put secret values in its exceptions."""


# --------------------------------------------------------------------------- errors


class HttpRequestError(Exception):
    """Base of every error the ``http-request`` handler raises on purpose.

    ``retryable`` says whether another attempt of the same slot may succeed; the messages
    never contain resolved secrets or query strings.
    """

    retryable = True


class DestinationRefused(HttpRequestError):
    """The URL, its host or an address it resolves to is not allowed (SSRF defence)."""

    retryable = False


class SecretUnavailable(HttpRequestError):
    """A header's ``secretRef`` could not be resolved into a usable value."""


class HttpRequestTimeout(HttpRequestError, TimeoutError):
    """No complete answer within ``timeoutSeconds`` (or the run's remaining time)."""


class HttpConnectionFailed(HttpRequestError, ConnectionError):
    """DNS, TCP, TLS (certificate included) or protocol failure before an answer arrived."""


class HttpRequestFailed(HttpRequestError):
    """The endpoint answered with a status that is not a success."""

    def __init__(self, message: str, *, method: str, url: str, status: int, body_excerpt: str):
        super().__init__(message)
        self.method = method
        self.url = url
        self.status = status
        self.body_excerpt = body_excerpt
        self.retryable = status >= 500 or status in (408, 425, 429)


class RedirectNotFollowed(HttpRequestFailed):
    """A 3xx pointing at another origin (or past the redirect limit): never followed."""

    retryable = False

    def __init__(self, message: str, *, method: str, url: str, status: int, location: str):
        super().__init__(message, method=method, url=url, status=status, body_excerpt="")
        self.location = location
        self.retryable = False


# --------------------------------------------------------------------------- secrets


def is_secret_name(name: str) -> bool:
    """True when a header or query parameter called ``name`` would carry a credential."""
    lowered = name.strip().lower()
    return lowered in _SECRET_HEADER_NAMES or any(part in lowered for part in _SECRET_NAME_PARTS)


def _looks_like_credential(value: str) -> bool:
    return bool(_CREDENTIAL_VALUE.search(value))


def redact_headers(headers: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``headers`` safe to log: secret-named or credential-looking values become ``***``.

    Works on payload headers (values may be ``{"secretRef": …}``) and on resolved ones.
    """
    redacted: dict[str, Any] = {}
    for name, value in headers.items():
        secret = is_secret_name(str(name)) or (isinstance(value, str) and _looks_like_credential(value))
        redacted[name] = REDACTED if secret else value
    return redacted


@dataclass(frozen=True)
class SecretRef:
    """A header value to be resolved at run time: ``format`` with ``{secret}`` replaced."""

    ref: str
    format: str = "{secret}"


HeaderValue = Union[str, SecretRef]


# --------------------------------------------------------------------------- destinations


@dataclass(frozen=True)
class HostAllowList:
    """The hosts the handler may call, from ``SCHEDULER_HTTP_ALLOWED_HOSTS`` (comma-separated).

    Entry syntax, case-insensitive, ASCII (write an internationalised name in its
    ``xn--`` form), no scheme, port or path; a trailing dot is ignored:

    * ``api.example.com`` allows exactly that host (an IP literal is allowed too);
    * ``*.supabase.co`` or ``.supabase.co`` allows every subdomain at any depth
      (``abc.supabase.co``, ``a.b.supabase.co``) but not ``supabase.co`` itself; add the
      apex as its own entry if it is wanted. A wildcard needs at least two labels
      (``*.co`` is refused), and a bare ``*`` is refused: there is no "allow all".

    Any port of an allowed host may be used. The allow-list never overrides the address
    checks: an allowed name that resolves to a private address is still refused.
    """

    exact: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()  # each starts with "."
    entries: tuple[str, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> "HostAllowList":
        """Raises ``ValueError`` naming the setting for a malformed entry."""
        exact: set[str] = set()
        suffixes: list[str] = []
        kept: list[str] = []
        for raw in entries:
            entry = raw.strip().lower().rstrip(".")
            if not entry:
                continue
            wildcard = entry.startswith("*.") or entry.startswith(".")
            name = entry[2:] if entry.startswith("*.") else entry.lstrip(".") if wildcard else entry
            if wildcard:
                if not _is_hostname(name) or "." not in name:
                    raise ValueError(
                        f"{ALLOWED_HOSTS_SETTING}: {raw!r} is not a valid wildcard entry; write "
                        "'*.example.com' (at least two labels after '*.')"
                    )
                suffixes.append("." + name)
            else:
                if not (_is_hostname(name) or _ip_literal(name) is not None):
                    raise ValueError(
                        f"{ALLOWED_HOSTS_SETTING}: {raw!r} is not a host name; write entries like "
                        "'api.example.com' or '*.supabase.co' (no scheme, port or path; no bare '*')"
                    )
                exact.add(str(_ip_literal(name) or name))
            kept.append(entry)
        return cls(frozenset(exact), tuple(suffixes), tuple(kept))

    def allows(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return host in self.exact or any(host.endswith(suffix) for suffix in self.suffixes)

    def describe(self) -> str:
        return f"currently: {', '.join(self.entries)}" if self.entries else "currently empty"


def _is_hostname(name: str) -> bool:
    return 0 < len(name) <= 253 and all(_HOST_LABEL.match(label) for label in name.split("."))


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


@dataclass(frozen=True)
class _Target:
    """A parsed URL: the host is the ASCII name that is checked, sent as Host and used for SNI."""

    url: httpx.URL  # no userinfo, no fragment; host as below
    scheme: str
    host: str  # lower-case ASCII, no trailing dot; IPv6 without brackets
    port: int
    ip: IPAddress | None  # when the host is an IP literal

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def display(self) -> str:
        """The URL without query string, for messages and logs."""
        return f"{self.scheme}://{self.authority}{self.url.path}"

    @property
    def is_local_loopback(self) -> bool:
        return self.host in LOCAL_LOOPBACK_HOSTS


class _BadUrl(ValueError):
    pass


def _parse_url(raw: Any) -> _Target:
    """Parse with the same library that sends, so the host checked is the host contacted."""
    if not isinstance(raw, str) or not raw.strip():
        raise _BadUrl("must be a non-empty string")
    if len(raw) > _MAX_URL_LENGTH:
        raise _BadUrl(f"must be at most {_MAX_URL_LENGTH} characters")
    if _CONTROL_CHARS.search(raw) or "\\" in raw:
        raise _BadUrl("contains control characters or backslashes")
    try:
        url = httpx.URL(raw.strip())
    except (httpx.InvalidURL, ValueError, UnicodeError) as exc:
        raise _BadUrl(f"is not a valid URL ({exc})") from None
    scheme = url.scheme
    if scheme not in ("http", "https"):
        raise _BadUrl("must be an https:// URL")
    if url.userinfo:
        raise _BadUrl(
            "must not contain a user name or password; send credentials in a header given as "
            '{"secretRef": ...}'
        )
    try:
        host = url.raw_host.decode("ascii").lower().rstrip(".")
    except UnicodeDecodeError:
        raise _BadUrl("has a host name that is not valid") from None
    ip = _ip_literal(host)
    if ip is None and not _is_hostname(host):
        raise _BadUrl("has no valid host name")
    port = url.port if url.port is not None else (443 if scheme == "https" else 80)
    if not 0 < port < 65536:
        raise _BadUrl("has a port outside 1-65535")
    for name, _ in url.params.multi_items():
        if is_secret_name(name):
            raise _BadUrl(
                f"has a query parameter named {name!r}, which looks like a credential; secrets "
                f"must never be in URLs (they end up in logs): send it in a header as {_SECRET_REF_HINT}"
            )
    for _, value in url.params.multi_items():
        if _looks_like_credential(value):
            raise _BadUrl(
                "has a query parameter whose value looks like a credential; secrets must never "
                f"be in URLs: send it in a header as {_SECRET_REF_HINT}"
            )
    clean = url.copy_with(userinfo=None, fragment=None, host=str(ip) if ip else host)
    return _Target(url=clean, scheme=scheme, host=str(ip) if ip else host, port=port, ip=ip)


_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS/GCP/Azure instance metadata
        "169.254.170.2",  # ECS task metadata
        "169.254.170.23",  # EKS pod identity
        "fd00:ec2::254",  # AWS instance metadata over IPv6
        "fd00:ec2::23",  # EKS pod identity over IPv6
        "100.100.100.200",  # Alibaba Cloud metadata
    )
)
_CARRIER_GRADE_NAT = ipaddress.ip_network("100.64.0.0/10")
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
_LINK_LOCAL_V6 = ipaddress.ip_network("fe80::/10")
_SITE_LOCAL_V6 = ipaddress.ip_network("fec0::/10")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def address_refusal(ip: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why the handler must not connect to ``ip``, or ``None`` when it is a public address.

    Checked explicitly rather than through ``ip.is_global`` alone, whose answers changed
    between Python patch releases.
    """
    if ip in _METADATA_ADDRESSES:
        return "a cloud metadata address"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.teredo is not None:
            return "a Teredo tunnel address"
        embedded: ipaddress.IPv4Address | None = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and any(ip in net for net in _NAT64):
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            inner = address_refusal(embedded, allow_loopback=allow_loopback)
            if inner is not None:
                return f"an IPv6 form of {embedded}, {inner}"
            if ip.ipv4_mapped is not None:
                return None  # the IPv4 address is what is reached
    if ip.is_loopback:
        return None if allow_loopback else "a loopback address"
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_link_local or ip in _LINK_LOCAL_V6:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip in _CARRIER_GRADE_NAT:
        return "a carrier-grade NAT (shared) address"
    if ip in _UNIQUE_LOCAL:
        return "a unique-local address"
    if ip in _SITE_LOCAL_V6:
        return "a site-local address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "not a public address"
    return None


def _policy_refusal(target: _Target, allow_list: HostAllowList | None, local_mode: bool) -> str | None:
    """Scheme, allow-list and IP-literal checks that need no DNS (registration and run)."""
    if local_mode and target.is_local_loopback:
        return None
    if target.scheme != "https":
        tail = " (plain http is accepted only for 127.0.0.1, ::1 or localhost in local mode)"
        return f"must use https{tail}"
    if target.host == "localhost" or target.host.endswith(".localhost"):
        return f"host {target.host} is a loopback name; loopback is never called outside local mode"
    if allow_list is not None and not allow_list.allows(target.host):
        return (
            f"host {target.host} is not in {ALLOWED_HOSTS_SETTING} ({allow_list.describe()}); add it "
            "to that setting (exact name, or '*.parent.domain' for all its subdomains) to allow it"
        )
    if target.ip is not None:
        reason = address_refusal(target.ip)
        if reason is not None:
            return f"{target.host} is {reason}; such addresses are never called (no setting changes this)"
    return None


# --------------------------------------------------------------------------- payload


@dataclass(frozen=True)
class HttpRequestSpec:
    """A checked payload: what one run sends."""

    method: str
    target: _Target
    headers: tuple[tuple[str, HeaderValue], ...]
    body: bytes | None
    timeout_seconds: float
    expect_status: frozenset[int] | None


def _check_payload(payload: Any, prefix: str) -> tuple[HttpRequestSpec | None, list[FieldError]]:
    """Shape and secret rules shared by registration and run; no allow-list, no DNS."""

    def field(*names: str) -> str:
        return ".".join(p for p in (prefix, *names) if p)

    if not isinstance(payload, Mapping):
        return None, [FieldError(prefix or "payload", "must be a JSON object")]
    errors: list[FieldError] = []
    for key in payload:
        if key not in _PAYLOAD_FIELDS:
            errors.append(FieldError(field(str(key)), f"unknown field; expected one of {', '.join(_PAYLOAD_FIELDS)}"))

    target: _Target | None = None
    if "url" not in payload:
        errors.append(FieldError(field("url"), "is required"))
    else:
        try:
            target = _parse_url(payload["url"])
        except _BadUrl as exc:
            errors.append(FieldError(field("url"), str(exc)))

    method = payload.get("method", DEFAULT_METHOD)
    if not isinstance(method, str) or method.upper() not in ALLOWED_METHODS:
        errors.append(FieldError(field("method"), f"must be one of {', '.join(ALLOWED_METHODS)}"))
        method = DEFAULT_METHOD
    method = method.upper()

    headers = _check_headers(payload.get("headers", {}), field("headers"), errors)

    body: bytes | None = None
    if "body" in payload:
        try:
            body = json.dumps(payload["body"], separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
        except (TypeError, ValueError):
            errors.append(FieldError(field("body"), "must be a JSON value"))

    timeout = payload.get("timeoutSeconds", DEFAULT_TIMEOUT_SECONDS)
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not MIN_TIMEOUT_SECONDS <= timeout <= MAX_TIMEOUT_SECONDS
    ):
        errors.append(
            FieldError(
                field("timeoutSeconds"),
                f"must be a number of seconds from {MIN_TIMEOUT_SECONDS} to {MAX_TIMEOUT_SECONDS}",
            )
        )
        timeout = DEFAULT_TIMEOUT_SECONDS

    expect: frozenset[int] | None = None
    if payload.get("expectStatus") is not None:
        raw = payload["expectStatus"]
        codes = raw if isinstance(raw, list) else [raw]
        if not codes or len(codes) > 20 or not all(
            isinstance(c, int) and not isinstance(c, bool) and 100 <= c <= 599 for c in codes
        ):
            errors.append(FieldError(field("expectStatus"), "must be a status code (100-599) or a list of up to 20"))
        else:
            expect = frozenset(codes)

    if errors or target is None:
        return None, errors
    return HttpRequestSpec(method, target, headers, body, float(timeout), expect), errors


def _check_headers(raw: Any, where: str, errors: list[FieldError]) -> tuple[tuple[str, HeaderValue], ...]:
    if not isinstance(raw, Mapping):
        errors.append(FieldError(where, "must be an object of header name to string"))
        return ()
    if len(raw) > _MAX_HEADERS:
        errors.append(FieldError(where, f"must have at most {_MAX_HEADERS} headers"))
        return ()
    checked: list[tuple[str, HeaderValue]] = []
    seen: set[str] = set()
    for name, value in raw.items():
        here = f"{where}.{name}"
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            errors.append(FieldError(here, "is not a valid header name"))
            continue
        lowered = name.lower()
        if lowered in seen:
            errors.append(FieldError(here, "is given twice (header names are case-insensitive)"))
            continue
        seen.add(lowered)
        if lowered in _RESERVED_HEADERS:
            errors.append(FieldError(here, f"{_RESERVED_HEADERS[lowered]}; remove it from the payload"))
            continue
        if isinstance(value, Mapping):
            ref = _check_secret_ref(value, here, errors)
            if ref is not None:
                checked.append((name, ref))
            continue
        if not isinstance(value, str):
            errors.append(FieldError(here, 'must be a string or {"secretRef": ...}'))
            continue
        if is_secret_name(name):
            errors.append(
                FieldError(
                    here,
                    "looks like a credential and must not be stored as a literal value in a job's "
                    f"payload; {_SECRET_REF_HINT}",
                )
            )
            continue
        if _looks_like_credential(value):
            errors.append(FieldError(here, f"has a value that looks like a credential; {_SECRET_REF_HINT}"))
            continue
        if len(value) > _MAX_HEADER_VALUE_LENGTH or _CONTROL_CHARS.search(value):
            errors.append(
                FieldError(here, f"must be at most {_MAX_HEADER_VALUE_LENGTH} characters with no line breaks")
            )
            continue
        checked.append((name, value))
    return tuple(checked)


def _check_secret_ref(value: Mapping[str, Any], here: str, errors: list[FieldError]) -> SecretRef | None:
    extra = sorted(set(value) - {"secretRef", "format"})
    if extra:
        errors.append(FieldError(here, f"unknown key(s) {', '.join(map(str, extra))}; expected secretRef and format"))
        return None
    ref = value.get("secretRef")
    if not _is_secret_ref(ref):
        errors.append(
            FieldError(
                f"{here}.secretRef",
                "must name a Secrets Manager secret (name or ARN) or an SSM parameter as ssm:/parameter/name",
            )
        )
        return None
    fmt = value.get("format", "{secret}")
    if not isinstance(fmt, str) or fmt.count("{secret}") != 1 or len(fmt) > 1024 or _CONTROL_CHARS.search(fmt):
        errors.append(
            FieldError(f"{here}.format", 'must be a string containing "{secret}" once, e.g. "Bearer {secret}"')
        )
        return None
    return SecretRef(ref, fmt)


def _is_secret_ref(ref: Any) -> bool:
    if not isinstance(ref, str) or not 0 < len(ref) <= _MAX_SECRET_REF_LENGTH or re.search(r"\s", ref):
        return False
    if ref.startswith("ssm:/"):
        return len(ref) > len("ssm:/")
    if ref.startswith("arn:"):
        return ref.startswith("arn:aws") and ":secretsmanager:" in ref
    return bool(_SECRETS_MANAGER_NAME.match(ref))


def validate_http_request_payload(
    payload: Mapping[str, Any],
    *,
    allowed_hosts: Iterable[str] | HostAllowList | None = None,
    local_mode: bool = False,
    field_prefix: str = "payload",
) -> list[FieldError]:
    """Every problem with an ``http-request`` payload, as ``FieldError``s named ``payload.<field>``.

    With ``allowed_hosts`` ``None`` only the shape, the secret rules and the scheme are
    checked; give the allow-list (or use :func:`make_http_request_validator`) to check the
    host as well. No DNS lookup happens here: addresses are checked at every run.
    """
    allow_list = _allow_list(allowed_hosts) if allowed_hosts is not None else None
    spec, errors = _check_payload(payload, field_prefix)
    if spec is not None:
        refusal = _policy_refusal(spec.target, allow_list, local_mode)
        if refusal is not None:
            errors.append(FieldError(".".join(p for p in (field_prefix, "url") if p), refusal))
    return errors


def make_http_request_validator(
    allowed_hosts: Iterable[str] | HostAllowList, local_mode: bool, *, field_prefix: str = "payload"
) -> PayloadValidator:
    """The registration-time validator bound to the settings (``Settings.http_allowed_hosts``,
    ``Settings.local_mode``). ``field_prefix=""`` gives names relative to the payload."""
    allow_list = _allow_list(allowed_hosts)

    def validate(payload: Mapping[str, Any]) -> list[FieldError]:
        return validate_http_request_payload(
            payload, allowed_hosts=allow_list, local_mode=local_mode, field_prefix=field_prefix
        )

    return validate


def _allow_list(allowed_hosts: Iterable[str] | HostAllowList) -> HostAllowList:
    return allowed_hosts if isinstance(allowed_hosts, HostAllowList) else HostAllowList.parse(allowed_hosts)


# --------------------------------------------------------------------------- the handler


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
    ) -> None:
        self._allow_list = _allow_list(allowed_hosts)
        self._local_mode = local_mode
        self._resolve_secret = resolve_secret
        self._resolve_host = resolve_host
        self._ssl_context = ssl_context
        self._ssl_lock = threading.Lock()
        self._transport_factory = transport_factory
        self._monotonic = monotonic
        self._margin = time_margin_seconds

    # -- the attempt

    def __call__(self, ctx: RunContext) -> dict[str, Any]:
        spec, errors = _check_payload(ctx.payload, "payload")
        if spec is None:
            raise ValidationFailed(errors)
        key = ctx.idempotency_key
        if _CONTROL_CHARS.search(key) or "\t" in key:
            raise HttpRequestError("the run's idempotency key contains control characters")
        headers, secrets = self._resolve_headers(spec.headers)
        scrub = _Scrubber(secrets)
        headers["Idempotency-Key"] = key
        headers["User-Agent"] = USER_AGENT
        headers["Accept-Encoding"] = "identity"  # no decompression bombs; bodies are small
        names = {name.lower() for name in headers}
        if "accept" not in names:
            headers["Accept"] = "application/json, text/plain;q=0.9, */*;q=0.5"
        if spec.body is not None and "content-type" not in names:
            headers["Content-Type"] = "application/json"

        timeout = self._timeout(spec.timeout_seconds, ctx.remaining_time_ms())
        deadline = self._monotonic() + timeout
        method, body, target = spec.method, spec.body, spec.target
        log = ctx.logger
        log.info("http-request %s %s (timeout %.1f s)", method, target.display, timeout)
        log.debug("http-request headers %s", redact_headers(headers))

        with httpx.Client(
            transport=self._transport(), follow_redirects=False, trust_env=False, timeout=timeout
        ) as client:
            for hop in range(MAX_REDIRECTS + 1):
                addresses = self._checked_addresses(target)
                answer = self._send(client, method, target, addresses, headers, body, deadline, timeout, scrub)
                log.info("http-request %s %s -> HTTP %d", method, target.display, answer.status)
                if self._is_success(answer.status, spec.expect_status):
                    return _result(answer, scrub)
                if 300 <= answer.status < 400 and answer.status != 304:
                    target, method, body = self._follow(answer, method, target, body, hop, headers)
                    continue
                excerpt = _excerpt(answer, ERROR_BODY_LIMIT, scrub) or "(empty body)"
                raise HttpRequestFailed(
                    f"{method} {target.display} returned HTTP {answer.status}: {excerpt}",
                    method=method,
                    url=target.display,
                    status=answer.status,
                    body_excerpt=excerpt,
                )
        raise AssertionError("unreachable: the redirect loop returns or raises")  # pragma: no cover

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
            try:
                secret = self._resolve_secret(value.ref)
            except Exception as exc:  # the resolver's own errors: surfaced, never a value
                detail = str(exc)[:300]
                raise SecretUnavailable(
                    f"could not resolve secretRef {value.ref!r} for header {name}: {type(exc).__name__}"
                    + (f": {detail}" if detail else "")
                ) from exc
            if not isinstance(secret, str) or not secret or _CONTROL_CHARS.search(secret):
                raise SecretUnavailable(
                    f"secretRef {value.ref!r} for header {name} did not resolve to a non-empty, "
                    "single-line string"
                )
            secrets.append(secret)
            headers[name] = value.format.replace("{secret}", secret)
        return headers, secrets

    # -- destinations

    def _checked_addresses(self, target: _Target) -> list[IPAddress]:
        refusal = _policy_refusal(target, self._allow_list, self._local_mode)
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
                ip = _ip_literal(str(info[4][0]).split("%", 1)[0])
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
        self, answer: _Answer, method: str, target: _Target, body: bytes | None, hop: int, headers: dict[str, str]
    ) -> tuple[_Target, str, bytes | None]:
        status = answer.status
        where = f"{method} {target.display} was redirected (HTTP {status})"
        if not answer.location:
            raise HttpRequestFailed(
                f"{where} without a Location header", method=method, url=target.display, status=status, body_excerpt=""
            )
        try:
            nxt = _parse_url(str(target.url.join(answer.location)))
        except (_BadUrl, httpx.InvalidURL, ValueError) as exc:
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
        target: _Target,
        addresses: Sequence[IPAddress],
        headers: Mapping[str, str],
        body: bytes | None,
        deadline: float,
        total: float,
        scrub: "_Scrubber",
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
        self, response: httpx.Response, deadline: float, method: str, target: _Target, total: float
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
    def _timed_out(method: str, target: _Target, total: float) -> HttpRequestTimeout:
        return HttpRequestTimeout(
            f"{method} {target.display} did not answer within {total:g} s "
            "(payload timeoutSeconds, capped by the run's remaining time)"
        )

    @staticmethod
    def _connection_failed(method: str, target: _Target, exc: Exception, scrub: "_Scrubber") -> HttpConnectionFailed:
        return HttpConnectionFailed(
            scrub(f"{method} {target.display}: connection failed ({type(exc).__name__}: {exc})")
        )


class _Scrubber:
    """Replaces every resolved secret (and its JSON-escaped form) in text with ``***``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        forms = {form for s in secrets for form in (s, json.dumps(s)[1:-1]) if form}
        self._forms = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            text = text.replace(form, REDACTED)
        return text

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self(value)
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, dict):
            return {self(str(k)): self.value(v) for k, v in value.items()}
        return value


def _text(answer: _Answer) -> str:
    try:
        return answer.content.decode(answer.charset or "utf-8", errors="replace")
    except LookupError:
        return answer.content.decode("utf-8", errors="replace")


def _excerpt(answer: _Answer, limit: int, scrub: _Scrubber) -> str:
    text = " ".join(scrub(_text(answer)).split())
    return text if len(text) <= limit and not answer.truncated else text[:limit] + "…"


def _result(answer: _Answer, scrub: _Scrubber) -> dict[str, Any]:
    result: dict[str, Any] = {"status": answer.status, "body": None}
    if not answer.content:
        return result
    media = answer.content_type.split(";", 1)[0].strip().lower()
    if not answer.truncated and (media == "application/json" or media.endswith("+json")):
        try:
            parsed = scrub.value(json.loads(_text(answer)))
        except ValueError:
            parsed = None
        else:
            if len(json.dumps(parsed, ensure_ascii=False)) <= RESULT_BODY_LIMIT:
                result["body"] = parsed
                return result
    text = scrub(_text(answer))
    if answer.truncated or len(text) > RESULT_BODY_LIMIT:
        result["body"] = text[:RESULT_BODY_LIMIT]
        result["bodyTruncated"] = True
    else:
        result["body"] = text
    return result


# --------------------------------------------------------------------------- wiring


build_http_request_handler = HttpRequestHandler
"""The ``http-request`` handler bound to the settings and the secret resolver.

``allowed_hosts`` is ``Settings.http_allowed_hosts`` (malformed entries raise
``ValueError`` at bootstrap); ``local_mode`` is ``Settings.local_mode``. ``ssl_context``
replaces the default trust store (certifi); ``transport_factory`` replaces the httpx
transport (tests); ``time_margin_seconds`` is kept free of the run's remaining time so
the handler fails cleanly before the worker is stopped.
"""


def register_http_request_handler(
    registry: JobRegistry,
    *,
    allowed_hosts: Iterable[str],
    local_mode: bool,
    resolve_secret: SecretResolver,
    **options: Any,
) -> HttpRequestHandler:
    """Add the handler to ``registry`` as ``http-request`` with its registration validator."""
    allow_list = HostAllowList.parse(allowed_hosts)
    handler = build_http_request_handler(
        allowed_hosts=allow_list, local_mode=local_mode, resolve_secret=resolve_secret, **options
    )
    registry.add(
        HANDLER_NAME,
        handler,
        HANDLER_DESCRIPTION,
        validate_payload=make_http_request_validator(allow_list, local_mode),
    )
    return handler
