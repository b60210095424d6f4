"""What looks like a credential, declared once: the shapes (an ``Authorization`` scheme and
its value, a JWT, a Supabase API key, a Slack webhook address) and the questions every
caller asks of them.

- :func:`looks_like_credential`: is this value (a header's) a credential?
- :func:`holds_credential`: does this text (a body string, a query value) hold one?
- :func:`scrub_credentials`: this text (a log line, an error message) with each one replaced
  by :data:`~chalicelib.core.redaction.REDACTED`.
- :func:`looks_like_jwt`: is this key a JWT (three dot-separated base64url parts)?

Scrubbing also takes a publishable key (``sb_publishable_…``): not a secret to refuse, but
nothing a log needs. An ``Authorization`` value is scrubbed from 8 characters on, so that
prose ("basic plan") survives. No scrubbed match holds a quote or a backslash, so
scrubbing JSON text keeps it JSON.
"""
from __future__ import annotations

import re

from chalicelib.core.redaction import REDACTED

_SCHEME = r"(?:bearer|basic|digest)"
_TOKEN = r"[A-Za-z0-9._~+/=-]"  # RFC 6750's b64token
_JWT = r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\."  # base64url JSON header and claims: a JWT, signed or not
_SECRET_KEY = r"sb_secret_"
_SLACK_WEBHOOK = r"https://hooks\.slack\.com/[^\s\"'<>\\]+"

_IS_CREDENTIAL = re.compile(rf"(?i:^\s*{_SCHEME}\s+\S)|^{_JWT}|^{_SECRET_KEY}")
_CREDENTIAL_INSIDE = re.compile(rf"{_JWT}|{_SECRET_KEY}")
_IN_TEXT = re.compile(
    rf"(?i:\b{_SCHEME}\s+{_TOKEN}{{8,}})"
    rf"|\b{_JWT}[A-Za-z0-9_-]*"
    r"|\bsb_(?:secret|publishable)_[A-Za-z0-9_-]+"
    rf"|{_SLACK_WEBHOOK}"
)
_JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")  # fullmatch: '$' lets a newline through


def looks_like_credential(value: str) -> bool:
    """True when a header value is a credential: an ``Authorization`` scheme and value, a JWT
    or a secret API key (``sb_secret_…``)."""
    return bool(_IS_CREDENTIAL.search(value))


def holds_credential(value: str) -> bool:
    """True when a body string or a query value holds a credential: it is one as a header
    value would be (:func:`looks_like_credential`), or a JWT or secret API key is inside it."""
    return looks_like_credential(value) or bool(_CREDENTIAL_INSIDE.search(value))


def scrub_credentials(text: str) -> str:
    """``text`` with every credential-looking value replaced by the redaction marker."""
    return _IN_TEXT.sub(REDACTED, text)


def looks_like_jwt(key: str) -> bool:
    """Three dot-separated base64url parts: a JWT (sent as a bearer too)."""
    return bool(_JWT_SHAPE.fullmatch(key))
