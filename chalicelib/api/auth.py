"""Bearer-token checks for the API: Supabase JWTs, asymmetric (JWKS) or legacy HS256.

A token is accepted when
* its ``alg`` is ES256 or RS256 and it verifies with the project's JWKS key named by its
  ``kid`` (:mod:`chalicelib.api.jwks`), or its ``alg`` is HS256 and it verifies with the
  legacy JWT secret, while one is configured (either mode may be configured, or both);
  ``none``, any other algorithm, and an HS256 token meant for a public key are refused;
* ``exp`` is present and in the future, and where an issuer is configured (``SUPABASE_URL``
  set) ``iss`` is ``{SUPABASE_URL}/auth/v1``;
* and either ``role == "service_role"`` or ``app_metadata.role`` is an admin role.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ALGORITHM = "HS256"
ASYMMETRIC = ("ES256", "RS256")


class InvalidToken(Exception):
    """No, malformed, expired or badly signed token: 401."""


class ForbiddenRole(Exception):
    """A valid token whose role may not use the scheduler: 403."""


@dataclass(frozen=True)
class Principal:
    subject: str
    role: str


def bearer_token(header: str | None) -> str:
    if not header:
        raise InvalidToken("missing Authorization header")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("Authorization must be 'Bearer <JWT>'")
    return token.strip()


def verify(token: str, *, secret: str, admin_roles: tuple[str, ...], keys: Any = None, issuer: str | None = None,
           leeway_seconds: int = 0) -> Principal:
    """The caller named by a valid token; raises InvalidToken (401) or ForbiddenRole (403).

    ``keys`` is a :class:`~chalicelib.api.jwks.JwksKeys` (None: asymmetric tokens are
    refused); an empty ``secret`` refuses HS256 tokens.
    """
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
            issuer=issuer,
            options={"require": required, "verify_aud": False},
            leeway=leeway_seconds,
        )
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidToken(type(exc).__name__) from exc
    subject = str(claims.get("sub") or "anonymous")
    role = claims.get("role")
    if role == "service_role":
        return Principal(subject, "service_role")
    app_metadata = claims.get("app_metadata")
    app_role = app_metadata.get("role") if isinstance(app_metadata, dict) else None
    if isinstance(app_role, str) and app_role in admin_roles:
        return Principal(subject, app_role)
    raise ForbiddenRole(f"role {role!r} / app_metadata.role {app_role!r} may not use the scheduler")


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
