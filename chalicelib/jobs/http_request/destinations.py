"""Destination policy (SSRF defence): URL parsing, the host allow-list, and the refusal of
non-public addresses. Checked at registration and at every run."""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence, Union

import httpx

from chalicelib.core.credentials import holds_credential
from chalicelib.jobs.http_request.secrets import (
    CONTROL_CHARS,
    SECRET_REF_HINT,
    is_secret_name,
)

ALLOWED_HOSTS_SETTING = "SCHEDULER_HTTP_ALLOWED_HOSTS"


LOCAL_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


_MAX_URL_LENGTH = 2048


_HOST_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")  # fullmatch: '$' lets a newline through


IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


HostResolver = Callable[..., Sequence[tuple[Any, ...]]]


"""``socket.getaddrinfo``-compatible: called as ``resolve_host(host, port)``."""


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
    def parse(cls, entries: Iterable[str]) -> HostAllowList:
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
                if not (_is_hostname(name) or ip_literal(name) is not None):
                    raise ValueError(
                        f"{ALLOWED_HOSTS_SETTING}: {raw!r} is not a host name; write entries like "
                        "'api.example.com' or '*.supabase.co' (no scheme, port or path; no bare '*')"
                    )
                exact.add(str(ip_literal(name) or name))
            kept.append(entry)
        return cls(frozenset(exact), tuple(suffixes), tuple(kept))

    def allows(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return host in self.exact or any(host.endswith(suffix) for suffix in self.suffixes)

    def describe(self) -> str:
        return f"currently: {', '.join(self.entries)}" if self.entries else "currently empty"


def _is_hostname(name: str) -> bool:
    return 0 < len(name) <= 253 and all(_HOST_LABEL.fullmatch(label) for label in name.split("."))


def ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


@dataclass(frozen=True)
class Target:
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


class BadUrl(ValueError):
    pass


def parse_url(raw: Any) -> Target:
    """Parse with the same library that sends, so the host checked is the host contacted."""
    if not isinstance(raw, str) or not raw.strip():
        raise BadUrl("must be a non-empty string")
    if len(raw) > _MAX_URL_LENGTH:
        raise BadUrl(f"must be at most {_MAX_URL_LENGTH} characters")
    if CONTROL_CHARS.search(raw) or "\\" in raw:
        raise BadUrl("contains control characters or backslashes")
    try:
        url = httpx.URL(raw.strip())
    except (httpx.InvalidURL, ValueError, UnicodeError) as exc:
        raise BadUrl(f"is not a valid URL ({exc})") from None
    scheme = url.scheme
    if scheme not in ("http", "https"):
        raise BadUrl("must be an https:// URL")
    if url.userinfo:
        raise BadUrl(
            "must not contain a user name or password; send credentials in a header given as "
            '{"secretRef": ...}'
        )
    try:
        host = url.raw_host.decode("ascii").lower().rstrip(".")
    except UnicodeDecodeError:
        raise BadUrl("has a host name that is not valid") from None
    ip = ip_literal(host)
    if ip is None and not _is_hostname(host):
        raise BadUrl("has no valid host name")
    port = url.port if url.port is not None else (443 if scheme == "https" else 80)
    if not 0 < port < 65536:
        raise BadUrl("has a port outside 1-65535")
    for name, _ in url.params.multi_items():
        if is_secret_name(name):
            raise BadUrl(
                f"has a query parameter named {name!r}, which looks like a credential; secrets "
                f"must never be in URLs (they end up in logs): send it in a header and {SECRET_REF_HINT}"
            )
    for _, value in url.params.multi_items():
        if holds_credential(value):
            raise BadUrl(
                "has a query parameter whose value looks like a credential; secrets must never "
                f"be in URLs: send it in a header and {SECRET_REF_HINT}"
            )
    clean = url.copy_with(userinfo=None, fragment=None, host=str(ip) if ip else host)
    return Target(url=clean, scheme=scheme, host=str(ip) if ip else host, port=port, ip=ip)


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


def policy_refusal(target: Target, allow_list: HostAllowList | None, local_mode: bool) -> str | None:
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


def as_allow_list(allowed_hosts: Iterable[str] | HostAllowList) -> HostAllowList:
    return allowed_hosts if isinstance(allowed_hosts, HostAllowList) else HostAllowList.parse(allowed_hosts)
