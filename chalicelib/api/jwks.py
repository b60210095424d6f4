"""The signing keys of a Supabase project: its JWKS, fetched with a timeout and cached.

New Supabase projects sign user tokens with asymmetric keys (ES256 or RS256) and publish
the public keys at ``{SUPABASE_URL}/auth/v1/.well-known/jwks.json``. A key is chosen by
``kid``. The key set is cached for ``ttl_seconds``; an unknown ``kid`` causes one refetch
(key rotation), but at most one fetch per ``refetch_interval_seconds`` whatever a flood of
unknown kids asks for. When the set cannot be fetched the failure is logged, a cached
set keeps working until it expires, and a token whose key is not cached is refused.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

import httpx
import jwt

log = logging.getLogger(__name__)

ASYMMETRIC_ALGORITHMS = ("ES256", "RS256")


class KeyNotFound(Exception):
    """No cached or fetchable key has this ``kid``."""


class JwksKeys:
    """Public keys by ``kid`` from one JWKS URL (thread-safe; one per process)."""

    def __init__(self, url: str, *, timeout_seconds: float = 5.0, ttl_seconds: float = 3600.0,
                 refetch_interval_seconds: float = 60.0, monotonic: Callable[[], float] = time.monotonic,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.url = url
        self._timeout = timeout_seconds
        self._ttl = ttl_seconds
        self._interval = refetch_interval_seconds
        self._monotonic = monotonic
        self._transport = transport
        self._lock = threading.Lock()
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None  # when the cached set was fetched
        self._tried_at: float | None = None  # the last fetch attempt, successful or not
        self.fetches = 0

    def key_for(self, kid: str | None) -> Any:
        """The key (``jwt.PyJWK``) with this ``kid``; raises :class:`KeyNotFound`."""
        if not kid:
            raise KeyNotFound("the token has no kid")
        with self._lock:
            now = self._monotonic()
            expired = self._fetched_at is None or now - self._fetched_at > self._ttl
            if (expired or kid not in self._keys) and self._may_fetch(now):
                self._fetch(now)
            if self._fetched_at is None or self._monotonic() - self._fetched_at > self._ttl:
                raise KeyNotFound("no current key set (the JWKS could not be fetched)")
            key = self._keys.get(kid)
        if key is None:
            raise KeyNotFound(f"no key with kid {kid!r}")
        return key

    def _may_fetch(self, now: float) -> bool:
        return self._tried_at is None or now - self._tried_at >= self._interval

    def _fetch(self, now: float) -> None:
        self._tried_at = now
        self.fetches += 1
        try:
            with httpx.Client(timeout=self._timeout, transport=self._transport, trust_env=False) as client:
                answer = client.get(self.url, headers={"Accept": "application/json"})
                answer.raise_for_status()
                document = answer.json()
            keys = {}
            for entry in document.get("keys", []):
                if not isinstance(entry, dict) or not entry.get("kid") or entry.get("use", "sig") != "sig":
                    continue
                try:
                    keys[str(entry["kid"])] = jwt.PyJWK.from_dict(entry)
                except jwt.PyJWTError as exc:
                    log.warning("JWKS key skipped", extra={"kid": entry.get("kid"), "error": type(exc).__name__})
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            log.error("the JWKS could not be fetched; cached keys stay in use until they expire",
                      extra={"jwks_url": self.url, "error": f"{type(exc).__name__}: {exc}"[:300]})
            return
        self._keys = keys
        self._fetched_at = now
