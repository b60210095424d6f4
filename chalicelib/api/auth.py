"""Bearer credentials for the API: what a Supabase project really issues, and nothing else.

Three kinds (the README's "Tokens" section says where each is found in the dashboard):

* **Legacy API keys** (the dashboard's ``service_role`` key, ``SUPABASE_SERVICE_ROLE_KEY``
  in Edge Functions): HS256 JWTs signed with the project's JWT secret, claims
  ``{"iss": "supabase", "ref": <project ref>, "role": "service_role" | "anon", "iat", "exp"}``.
  Accepted when ``role`` is ``service_role`` (``anon`` is 403) and, where the project's ref
  is known, ``ref`` is that ref (another project's key is 401). The local Supabase CLI's
  keys say ``"iss": "supabase-demo"``: accepted in local mode only.
* **Supabase Auth access tokens**: ``iss`` ``{SUPABASE_URL}/auth/v1``, ES256/RS256 verified
  with the project's JWKS key named by ``kid`` (:mod:`chalicelib.api.jwks`) or HS256 with
  the legacy secret; admitted by ``role == "service_role"`` or an admin ``app_metadata.role``.
* **Secret API keys** (``sb_secret_…``, not JWTs): accepted when equal, in constant time,
  to one of the keys the scheduler holds; a publishable key (``sb_publishable_…``) is 403.
  The principal names the key by a short fingerprint, never the key.

Every JWT needs ``exp``; ``alg`` is only ES256/RS256 (by JWKS) or HS256 (by the secret):
``none``, any other algorithm and an HS256 token meant for a public key are refused.
``exp``, ``nbf`` and ``iat`` must be NumericDates (JSON numbers, not strings or booleans)
at most :data:`MAX_NUMERIC_DATE_AHEAD` seconds from now. ``exp`` is strict (a token is
expired from its ``exp`` second on); ``nbf`` and ``iat`` may be up to
:data:`CLOCK_SKEW_SECONDS` ahead of this clock, as a token minted on a server whose clock
runs a little fast is.
Where ``SUPABASE_URL`` is set an ``iss`` is required and must be one of the above.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

ALGORITHM = "HS256"
ASYMMETRIC = ("ES256", "RS256")
LEGACY_KEY_ISSUER = "supabase"  # the hosted project's anon and service_role keys
LOCAL_CLI_ISSUER = "supabase-demo"  # the local Supabase CLI's keys: local mode only
SECRET_KEY_PREFIX = "sb_secret_"
PUBLISHABLE_KEY_PREFIX = "sb_publishable_"
CLOCK_SKEW_SECONDS = 30
"""How far ``nbf`` and ``iat`` may be ahead of this clock (``exp`` gets no leeway)."""
MAX_NUMERIC_DATE_AHEAD = 20 * 365 * 24 * 3600
"""The furthest a time claim may lie ahead: Supabase's legacy API keys run ten years."""


class InvalidToken(Exception):
    """No, malformed, expired or badly signed token: 401."""


class ForbiddenRole(Exception):
    """A valid token whose role may not use the scheduler: 403."""


@dataclass(frozen=True)
class Principal:
    """Who called: ``credential`` is ``legacy-api-key``, ``auth-token`` or ``secret-key``."""

    subject: str
    role: str
    credential: str = "auth-token"
    key_fingerprint: str | None = None


def fingerprint(key: str) -> str:
    """A short, stable name for a key that does not reveal it (12 hex digits of SHA-256)."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def verify_secret_key(token: str, accepted: Callable[[], Iterable[str]]) -> Principal:
    """An ``sb_secret_…`` key equal (constant time) to one of ``accepted()``; a publishable
    key is 403; anything else 401. ``accepted`` is called only for secret keys."""
    if token.startswith(PUBLISHABLE_KEY_PREFIX):
        raise ForbiddenRole("a publishable key may not use the scheduler")
    if not token.startswith(SECRET_KEY_PREFIX):
        raise InvalidToken("not a JWT and not a Supabase secret key")
    found = False
    for key in accepted():
        # Compare every key in full, whatever matched: the time taken says nothing about which.
        found |= bool(key) and hmac.compare_digest(token.encode(), key.encode())
    if not found:
        raise InvalidToken("unknown secret key")
    short = fingerprint(token)
    return Principal(f"secret-key:{short}", "service_role", credential="secret-key", key_fingerprint=short)


def bearer_token(header: str | None) -> str:
    if not header:
        raise InvalidToken("missing Authorization header")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("Authorization must be 'Bearer <JWT>'")
    return token.strip()


def verify(token: str, *, secret: str, admin_roles: tuple[str, ...], keys: Any = None, issuer: str | None = None,
           project_ref: str | None = None, local_mode: bool = False,
           secret_keys: Callable[[], Iterable[str]] = tuple, leeway_seconds: int = CLOCK_SKEW_SECONDS,
           now: float | None = None) -> Principal:
    """The caller named by a valid credential; raises InvalidToken (401) or ForbiddenRole (403).

    ``keys`` is a :class:`~chalicelib.api.jwks.JwksKeys` (None: asymmetric tokens are
    refused); an empty ``secret`` refuses HS256 tokens; ``issuer`` is Supabase Auth's
    (``{SUPABASE_URL}/auth/v1``); ``project_ref`` (when known) is the only ``ref`` a legacy
    API key may carry; ``secret_keys`` gives the accepted ``sb_secret_…`` keys;
    ``leeway_seconds`` is how far ``nbf``/``iat`` may be ahead of ``now`` (epoch seconds,
    the system clock when not given).
    """
    if token.startswith("sb_"):  # an opaque API key, never a JWT (a JWT starts "eyJ")
        return verify_secret_key(token, secret_keys)
    import jwt  # the authorizer's own import: no other function pays for the JWT crypto

    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidToken(type(exc).__name__) from exc
    algorithm = header.get("alg")
    if algorithm == ALGORITHM:
        if not secret:
            raise InvalidToken("HS256 tokens are not accepted: no legacy JWT secret is configured")
        key: Any = secret
    elif algorithm in ASYMMETRIC:
        if keys is None:
            raise InvalidToken(f"{algorithm} tokens are not accepted: no JWKS is configured")
        from chalicelib.api.jwks import KeyNotFound

        try:
            key = keys.key_for(header.get("kid")).key
        except KeyNotFound as exc:
            raise InvalidToken(str(exc)) from exc
    else:
        raise InvalidToken(f"alg {algorithm!r} is not accepted")
    required = ["exp", "iss"] if issuer else ["exp"]
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[algorithm],  # the one the key was chosen for: never HS256 with a public key
            # iss and the time claims: below (PyJWT would take "exp": "9999999999" as a date)
            options={"require": required, "verify_aud": False, "verify_iss": False,
                     "verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidToken(type(exc).__name__) from exc
    _check_times(claims, time.time() if now is None else now, leeway_seconds)
    iss = claims.get("iss")
    legacy_issuers = (LEGACY_KEY_ISSUER, LOCAL_CLI_ISSUER) if local_mode else (LEGACY_KEY_ISSUER,)
    role = claims.get("role")
    if algorithm == ALGORITHM and iss in legacy_issuers:
        return _legacy_api_key(claims, project_ref)
    if iss is not None and iss != issuer:
        raise InvalidToken("InvalidIssuerError")
    subject = str(claims.get("sub") or "anonymous")
    if role == "service_role":
        return Principal(subject, "service_role")
    app_metadata = claims.get("app_metadata")
    app_role = app_metadata.get("role") if isinstance(app_metadata, dict) else None
    if isinstance(app_role, str) and app_role in admin_roles:
        return Principal(subject, app_role)
    raise ForbiddenRole(f"role {role!r} / app_metadata.role {app_role!r} may not use the scheduler")


def _check_times(claims: dict[str, Any], now: float, leeway: float) -> None:
    """``exp`` (and ``nbf``, ``iat`` when present) are NumericDates within reach; the token is
    not expired (strictly) and not yet to come (with ``leeway`` for a fast clock)."""
    for name in ("exp", "nbf", "iat"):
        if name not in claims:
            continue
        value = claims[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InvalidToken(f"the {name} claim is not a NumericDate (a JSON number of seconds)")
        if not 0 <= value <= now + MAX_NUMERIC_DATE_AHEAD:
            raise InvalidToken(f"the {name} claim is out of range")
    if claims["exp"] <= now:
        raise InvalidToken("ExpiredSignatureError")
    for name in ("nbf", "iat"):
        if name in claims and claims[name] > now + leeway:
            raise InvalidToken(f"ImmatureSignatureError ({name})")


def _legacy_api_key(claims: dict[str, Any], project_ref: str | None) -> Principal:
    """A project's anon or service_role API key (already verified with the JWT secret)."""
    ref = claims.get("ref")
    if claims.get("iss") == LEGACY_KEY_ISSUER and project_ref and ref != project_ref:
        raise InvalidToken(f"a key of project {str(ref)[:40]!r}, not of this project")
    role = claims.get("role")
    if role != "service_role":
        raise ForbiddenRole(f"an API key of role {role!r} may not use the scheduler")
    return Principal(f"service-role-key:{ref or claims.get('iss')}", "service_role", credential="legacy-api-key")


def issue_token(secret: str, *, subject: str, now_epoch: int, ttl_seconds: int, role: str = "service_role",
                issuer: str | None = None) -> str:
    """An HS256 token for the local stack and tests (never used by the deployed API)."""
    import jwt

    claims: dict[str, Any] = {"sub": subject, "role": role, "iat": now_epoch, "exp": now_epoch + ttl_seconds}
    if issuer:
        claims["iss"] = issuer
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def issuer_for(supabase_url: str) -> str | None:
    """The ``iss`` Supabase Auth writes: ``{SUPABASE_URL}/auth/v1`` (None without a URL)."""
    return f"{supabase_url.rstrip('/')}/auth/v1" if supabase_url else None
