"""Bearer-token checks for the API: Supabase-style HS256 JWTs.

Accepted when the signature verifies with the project's JWT secret, ``exp`` is present
and in the future, and either ``role == "service_role"`` or ``app_metadata.role`` is one
of the configured admin roles. The algorithm is pinned to HS256: a token naming
``none`` or an asymmetric algorithm is refused.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt

ALGORITHM = "HS256"


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


def verify(token: str, *, secret: str, admin_roles: tuple[str, ...], leeway_seconds: int = 0) -> Principal:
    if not secret:
        raise InvalidToken("the API has no JWT secret configured")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"require": ["exp"], "verify_aud": False},
            leeway=leeway_seconds,
        )
    except jwt.PyJWTError as exc:
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


def issue_token(secret: str, *, subject: str, now_epoch: int, ttl_seconds: int, role: str = "service_role") -> str:
    """A token for the local stack and tests (never used by the deployed API)."""
    return jwt.encode({"sub": subject, "role": role, "iat": now_epoch, "exp": now_epoch + ttl_seconds},
                      secret, algorithm=ALGORITHM)
