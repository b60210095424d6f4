"""Secret headers: which names and values are credentials, references to secrets, redaction
and scrubbing of resolved values out of results and errors."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Union

from chalicelib.core.redaction import REDACTED

MAX_SECRET_REF_LENGTH = 2048


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


SECRETS_MANAGER_NAME = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")  # use fullmatch: '$' lets a newline through


SECRET_REF_HINT = (
    'give it as a reference instead: {"secretRef": "<Secrets Manager name or ARN, or '
    'ssm:/parameter/name>"}, optionally with "format": "Bearer {secret}"'
)


SecretResolver = Callable[[str], str]


"""Returns the secret a reference names; must not put secret values in its exceptions."""


def is_secret_name(name: str) -> bool:
    """True when a header or query parameter called ``name`` would carry a credential."""
    lowered = name.strip().lower()
    return lowered in _SECRET_HEADER_NAMES or any(part in lowered for part in _SECRET_NAME_PARTS)


def looks_like_credential(value: str) -> bool:
    return bool(_CREDENTIAL_VALUE.search(value))


def redact_headers(headers: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``headers`` safe to log: secret-named or credential-looking values become ``***``.

    Works on payload headers (values may be ``{"secretRef": …}``) and on resolved ones.
    """
    redacted: dict[str, Any] = {}
    for name, value in headers.items():
        secret = is_secret_name(str(name)) or (isinstance(value, str) and looks_like_credential(value))
        redacted[name] = REDACTED if secret else value
    return redacted


@dataclass(frozen=True)
class SecretRef:
    """A header value to be resolved at run time: ``format`` with ``{secret}`` replaced."""

    ref: str
    format: str = "{secret}"


HeaderValue = Union[str, SecretRef]


class Scrubber:
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
