"""Secrets in a request: which header names, body fields and values are credentials,
references to secrets (``{"secretRef", "format"}``, checked against the jobs' namespace)
and their resolution at run time, redaction of headers for logs, and scrubbing (the core's
:class:`~chalicelib.core.redaction.Scrubber`). Reusable by every job type that sends a
request: :func:`check_secret_ref`, :func:`check_body_secrets`, :func:`resolve_ref`,
:func:`resolve_body_secrets`."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Union

from chalicelib.core.credentials import holds_credential, looks_like_credential
from chalicelib.core.errors import FieldError, SecretUnavailable
from chalicelib.core.redaction import REDACTED, remember_secret
from chalicelib.core.redaction import Scrubber as Scrubber  # re-exported: the scrubber lives in the core
from chalicelib.jobs.job_secrets import JobSecretNamespace

MAX_SECRET_REF_LENGTH = 2048


CONTROL_CHARS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
"""Line breaks and other control characters (a tab is allowed): refused in header values."""


# Names whose values are credentials. Anything containing one of the parts counts too.
_SECRET_HEADER_NAMES = frozenset(
    {"authorization", "proxy-authorization", "apikey", "x-api-key", "cookie", "set-cookie"}
)


_SECRET_NAME_PARTS = (
    "auth", "token", "secret", "key", "password", "passwd", "credential", "cookie", "session",
    "signature",
)


SECRETS_MANAGER_NAME = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")  # use fullmatch: '$' lets a newline through


SECRET_REF_HINT = (
    'give it as a reference instead: {"secretRef": "<a name in the jobs\' namespace, e.g. edge/key, or '
    'ssm:edge/key for SSM>"}, optionally with "format": "Bearer {secret}"'
)


SecretResolver = Callable[[str], str]


"""Returns the secret a reference names; must not put secret values in its exceptions."""


def is_secret_name(name: str) -> bool:
    """True when a header or query parameter called ``name`` would carry a credential."""
    lowered = name.strip().lower()
    return lowered in _SECRET_HEADER_NAMES or any(part in lowered for part in _SECRET_NAME_PARTS)


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

    def render(self, secret: str) -> str:
        """The value to send: ``format`` with ``{secret}`` replaced."""
        return self.format.replace("{secret}", secret)


HeaderValue = Union[str, SecretRef]


def is_secret_field(name: str) -> bool:
    """True when a JSON body field called ``name`` would carry a credential: its last word is
    one (``password``, ``client_secret``, ``refreshToken``, ``credentials``) or its last two
    are (``apiKey``, ``private_key``). A bare ``key`` (an object key, a sort key) and paging
    tokens (``pageToken``, ``next_token``) are not."""
    words = [w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+", name)]
    if not words:
        return False
    if words[-1] in _SECRET_FIELD_WORDS:
        return not (words[-1] == "token" and len(words) > 1 and words[-2] in _PAGING_WORDS)
    return len(words) > 1 and (words[-2], words[-1]) in _SECRET_FIELD_PAIRS or "".join(words) in _SECRET_FIELD_NAMES


_SECRET_FIELD_WORDS = frozenset({
    "password", "passwd", "pwd", "pass", "passphrase", "secret", "token", "credential", "credentials",
    "apikey", "authorization", "cookie", "jwt", "otp", "pin",
})


_SECRET_FIELD_PAIRS = frozenset({
    ("api", "key"), ("private", "key"), ("secret", "key"), ("access", "key"), ("service", "key"),
    ("signing", "key"), ("session", "key"), ("auth", "key"), ("master", "key"), ("encryption", "key"),
    ("client", "key"), ("license", "key"), ("webhook", "key"),
})


_SECRET_FIELD_NAMES = frozenset({"apikey", "servicekey", "secretkey", "privatekey", "accesskey", "auth"})


_PAGING_WORDS = frozenset({"page", "next", "continuation", "cursor", "sync", "resume", "previous", "prev"})


def check_secret_ref(value: Mapping[str, Any], here: str, errors: list[FieldError],
                     namespace: JobSecretNamespace | None = None) -> SecretRef | None:
    """A ``{"secretRef", "format"?}`` object as a :class:`SecretRef`, or None with its problems
    in ``errors``. With ``namespace`` (registration), a reference outside it is refused."""
    extra = sorted(map(str, set(value) - {"secretRef", "format"}))
    if extra:
        errors.append(FieldError(here, f"unknown key(s) {', '.join(extra)}; expected secretRef and format"))
        return None
    ref = value.get("secretRef")
    problem = namespace.problem(ref) if namespace is not None else _ref_shape_problem(ref)
    if problem is not None:
        errors.append(FieldError(f"{here}.secretRef", problem))
        return None
    fmt = value.get("format", "{secret}")
    if not isinstance(fmt, str) or fmt.count("{secret}") != 1 or len(fmt) > 1024 or CONTROL_CHARS.search(fmt):
        errors.append(
            FieldError(f"{here}.format", 'must be a string containing "{secret}" once, e.g. "Bearer {secret}"')
        )
        return None
    return SecretRef(str(ref), fmt)


def _ref_shape_problem(ref: Any) -> str | None:
    if not isinstance(ref, str) or not 0 < len(ref) <= MAX_SECRET_REF_LENGTH or re.search(r"\s", ref):
        return "must name a secret of the jobs' namespace (slack/team, or ssm:edge/token for SSM)"
    if ref.startswith("ssm:"):
        return None if len(ref) > len("ssm:") else "must name an SSM parameter after ssm:"
    if ref.startswith("arn:") and not (ref.startswith("arn:aws") and ":secretsmanager:" in ref):
        return "must be a Secrets Manager ARN"
    return None if ref.startswith("arn:") or SECRETS_MANAGER_NAME.fullmatch(ref) else (
        "must name a secret of the jobs' namespace (slack/team, or ssm:edge/token for SSM)")


def is_reference(value: Any) -> bool:
    return isinstance(value, Mapping) and "secretRef" in value


def check_body_secrets(value: Any, where: str, errors: list[FieldError],
                       namespace: JobSecretNamespace | None = None) -> Any:
    """``value`` (a JSON body) with each ``{"secretRef"}`` object replaced by a :class:`SecretRef`.

    A field named like a secret (:func:`is_secret_field`, at any depth) must be such a
    reference, or a list or object with references (or null, true, false: no secret) for
    leaves: a literal string or number there, or anywhere inside it
    (``{"password": ["hunter2"]}``), is refused, naming the field, as a secret-named header
    is. A string anywhere that holds a credential (:func:`holds_credential`) is refused too.
    References may also stand anywhere else in the body.
    """
    if is_reference(value):
        return check_secret_ref(value, where, errors, namespace)
    if isinstance(value, str) and holds_credential(value):
        errors.append(FieldError(where, "has a value that looks like a credential (an Authorization value, a JWT "
                                        f"or a secret API key); {SECRET_REF_HINT}"))
        return value
    if isinstance(value, list):
        return [check_body_secrets(v, f"{where}.{i}", errors, namespace) for i, v in enumerate(value)]
    if not isinstance(value, Mapping):
        return value
    checked: dict[str, Any] = {}
    for name, item in value.items():
        here = f"{where}.{name}"
        if is_secret_field(str(name)) and _holds_literal(item):
            errors.append(FieldError(here, "is named like a secret and must not be stored as a literal value "
                                           f"in a job's payload; {SECRET_REF_HINT}"))
            continue
        checked[name] = check_body_secrets(item, here, errors, namespace)
    return checked


def _holds_literal(value: Any) -> bool:
    """True when ``value`` is, or holds outside any reference, a string or a number."""
    if is_reference(value):
        return False
    if isinstance(value, list):
        return any(_holds_literal(v) for v in value)
    if isinstance(value, Mapping):
        return any(_holds_literal(v) for v in value.values())
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def resolve_ref(resolve: SecretResolver, ref: SecretRef, where: str, *, single_line: bool = True) -> str:
    """The secret ``ref`` names, read through ``resolve`` (``ref.render`` applies its format).

    Errors name the reference and ``where`` it is used, never a value; ``SecretUnavailable``
    keeps the resolver's ``retryable`` (False for a refused or missing secret). The value is
    added to the run in progress so whatever leaves the run is scrubbed of it.
    """
    try:
        secret = resolve(ref.ref)
    except Exception as exc:  # the resolver's own errors: surfaced, never a value
        detail = str(exc)[:300]
        raise SecretUnavailable(
            f"could not resolve secretRef {ref.ref!r} for {where}: {type(exc).__name__}" + (f": {detail}" if detail else ""),
            retryable=getattr(exc, "retryable", False) is True,
        ) from exc
    if not isinstance(secret, str) or not secret or (single_line and CONTROL_CHARS.search(secret)):
        raise SecretUnavailable(
            f"secretRef {ref.ref!r} for {where} did not resolve to a non-empty"
            + (", single-line string" if single_line else " string")
        )
    remember_secret(secret)
    return secret


def resolve_body_secrets(value: Any, resolve: SecretResolver, where: str = "body") -> tuple[Any, list[str]]:
    """A body checked by :func:`check_body_secrets` with its references resolved, and the
    secrets used (for the request's :class:`Scrubber`)."""
    secrets: list[str] = []

    def walk(item: Any, here: str) -> Any:
        if isinstance(item, SecretRef):
            secret = resolve_ref(resolve, item, here, single_line=False)
            secrets.append(secret)
            return item.render(secret)
        if isinstance(item, list):
            return [walk(v, f"{here}.{i}") for i, v in enumerate(item)]
        if isinstance(item, dict):
            return {k: walk(v, f"{here}.{k}") for k, v in item.items()}
        return item

    return walk(value, where), secrets
