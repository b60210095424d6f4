"""The ``http-request`` payload: its fields, its validation, and the spec a run follows."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from chalicelib.core.credentials import looks_like_credential
from chalicelib.core.errors import FieldError
from chalicelib.jobs.http_request.destinations import (
    CONTROL_CHARS,
    BadUrl,
    HostAllowList,
    Target,
    as_allow_list,
    parse_url,
    policy_refusal,
)
from chalicelib.jobs.http_request.expect import Expectation, check_expect
from chalicelib.jobs.http_request.secrets import (
    SECRET_REF_HINT,
    HeaderValue,
    check_body_secrets,
    check_secret_ref,
    is_secret_name,
)
from chalicelib.jobs.job_secrets import JobSecretNamespace
from chalicelib.jobs.registry import PayloadValidator

ALLOWED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


DEFAULT_METHOD = "POST"


DEFAULT_TIMEOUT_SECONDS = 30


MIN_TIMEOUT_SECONDS = 1


MAX_TIMEOUT_SECONDS = 900


USER_AGENT = "nightly-scheduler"


SCHEDULER_HEADERS = ("x-scheduler-job", "x-scheduler-slot", "x-scheduler-attempt", "x-scheduler-execution")
"""Sent with every run's request (with ``Idempotency-Key``) so the endpoint can de-duplicate."""


_PAYLOAD_FIELDS = ("url", "method", "headers", "body", "timeoutSeconds", "expectStatus", "expect")


_MAX_HEADERS = 50


_MAX_HEADER_VALUE_LENGTH = 8192


# Set by the scheduler (or framing/hop-by-hop headers that would let a payload smuggle or
# re-target a request, e.g. Host on a shared CDN address): refused in a payload.
_RESERVED_HEADERS = {
    "host": "is set by the scheduler from the URL",
    "idempotency-key": "is set by the scheduler (the same for every attempt of one slot)",
    **dict.fromkeys(SCHEDULER_HEADERS, "is set by the scheduler for every run"),
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
    # Read by proxies, gateways and frameworks to re-route a request or change its method:
    # a payload could aim its request somewhere its URL does not say.
    **dict.fromkeys((
        "forwarded", "x-forwarded-host", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-port",
        "x-forwarded-prefix", "x-real-ip", "x-original-url", "x-rewrite-url", "x-original-host",
        "x-http-method-override", "x-http-method", "x-method-override",
    ), "is a routing override read by proxies and gateways and cannot be set"),
}


_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}")  # fullmatch: '$' lets "Host\n" through




@dataclass(frozen=True)
class RequestBody:
    """The JSON body to send; ``value`` holds a ``SecretRef`` wherever a secret is put in at run
    time (``secrets.resolve_body_secrets``)."""

    value: Any


@dataclass(frozen=True)
class HttpRequestSpec:
    """A checked payload: what one run sends."""

    method: str
    target: Target
    headers: tuple[tuple[str, HeaderValue], ...]
    body: RequestBody | None
    timeout_seconds: float
    expect_status: frozenset[int] | None
    expect: Expectation | None = None


def check_payload(
    payload: Any, prefix: str, secret_namespace: JobSecretNamespace | None = None
) -> tuple[HttpRequestSpec | None, list[FieldError]]:
    """Shape and secret rules shared by registration and run; no allow-list, no DNS.

    With ``secret_namespace`` a ``secretRef`` outside the jobs' namespace is refused; without
    it only its shape is checked (the run's resolver refuses it again, confined to the namespace).
    """

    def field(*names: str) -> str:
        return ".".join(p for p in (prefix, *names) if p)

    if not isinstance(payload, Mapping):
        return None, [FieldError(prefix or "payload", "must be a JSON object")]
    errors: list[FieldError] = []
    for key in payload:
        if key not in _PAYLOAD_FIELDS:
            errors.append(FieldError(field(str(key)), f"unknown field; expected one of {', '.join(_PAYLOAD_FIELDS)}"))

    target: Target | None = None
    if "url" not in payload:
        errors.append(FieldError(field("url"), "is required"))
    else:
        try:
            target = parse_url(payload["url"])
        except BadUrl as exc:
            errors.append(FieldError(field("url"), str(exc)))

    method = payload.get("method", DEFAULT_METHOD)
    if not isinstance(method, str) or method.upper() not in ALLOWED_METHODS:
        errors.append(FieldError(field("method"), f"must be one of {', '.join(ALLOWED_METHODS)}"))
        method = DEFAULT_METHOD
    method = method.upper()

    headers = _check_headers(payload.get("headers", {}), field("headers"), errors, secret_namespace)

    body: RequestBody | None = None
    if "body" in payload:
        try:
            json.dumps(payload["body"], allow_nan=False)
        except (TypeError, ValueError):
            errors.append(FieldError(field("body"), "must be a JSON value"))
        else:
            body = RequestBody(check_body_secrets(payload["body"], field("body"), errors, secret_namespace))

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
    expectation: Expectation | None = None
    if "expect" in payload:
        if "expectStatus" in payload:
            errors.append(FieldError(field("expectStatus"), "give expect.status instead, not both"))
        expectation = check_expect(payload["expect"], field("expect"), errors)
        if expectation is not None and expectation.status is not None:
            expect = expectation.status

    if errors or target is None:
        return None, errors
    return HttpRequestSpec(method, target, headers, body, float(timeout), expect, expectation), errors


def _check_headers(
    raw: Any, where: str, errors: list[FieldError], secret_namespace: JobSecretNamespace | None
) -> tuple[tuple[str, HeaderValue], ...]:
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
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
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
            ref = check_secret_ref(value, here, errors, secret_namespace)
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
                    f"payload; {SECRET_REF_HINT}",
                )
            )
            continue
        if looks_like_credential(value):
            errors.append(FieldError(here, f"has a value that looks like a credential; {SECRET_REF_HINT}"))
            continue
        if len(value) > _MAX_HEADER_VALUE_LENGTH or CONTROL_CHARS.search(value):
            errors.append(
                FieldError(here, f"must be at most {_MAX_HEADER_VALUE_LENGTH} characters with no line breaks")
            )
            continue
        checked.append((name, value))
    return tuple(checked)


def validate_http_request_payload(
    payload: Mapping[str, Any],
    *,
    allowed_hosts: Iterable[str] | HostAllowList | None = None,
    local_mode: bool = False,
    field_prefix: str = "payload",
    secret_namespace: JobSecretNamespace | None = None,
) -> list[FieldError]:
    """Every problem with an ``http-request`` payload, as ``FieldError``s named ``payload.<field>``.

    With ``allowed_hosts`` ``None`` only the shape, the secret rules and the scheme are
    checked; give the allow-list (or use :func:`make_http_request_validator`) to check the
    host as well, and ``secret_namespace`` to refuse a ``secretRef`` outside the jobs'
    namespace. No DNS lookup happens here: addresses are checked at every run.
    """
    allow_list = as_allow_list(allowed_hosts) if allowed_hosts is not None else None
    spec, errors = check_payload(payload, field_prefix, secret_namespace)
    if spec is not None:
        refusal = policy_refusal(spec.target, allow_list, local_mode)
        if refusal is not None:
            errors.append(FieldError(".".join(p for p in (field_prefix, "url") if p), refusal))
    return errors


def make_http_request_validator(
    allowed_hosts: Iterable[str] | HostAllowList,
    local_mode: bool,
    *,
    field_prefix: str = "payload",
    secret_namespace: JobSecretNamespace | None = None,
) -> PayloadValidator:
    """The registration-time validator bound to the settings (``Settings.http_allowed_hosts``,
    ``Settings.local_mode``, the jobs' secret namespace from ``Settings.job_secrets_prefix``).
    ``field_prefix=""`` gives names relative to the payload."""
    allow_list = as_allow_list(allowed_hosts)

    def validate(payload: Mapping[str, Any]) -> list[FieldError]:
        return validate_http_request_payload(
            payload, allowed_hosts=allow_list, local_mode=local_mode, field_prefix=field_prefix,
            secret_namespace=secret_namespace,
        )

    return validate
