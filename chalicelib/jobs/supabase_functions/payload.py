"""The ``database-function`` and ``edge-function`` payloads: their fields, their validation,
and the ``http-request`` payload one run sends.

Both job types are an ``http-request`` to a fixed place under ``SUPABASE_URL``: this module
checks what a caller may choose (the function, its schema, arguments, body, headers,
query, ``expect``) and writes the request, whose remaining rules (header names, secrets
only by ``secretRef``, body as JSON, timeout, ``expect``) are ``http-request``'s own,
checked by its validator.
"""
from __future__ import annotations

import re
from typing import Any, Mapping
from urllib.parse import quote, urlencode

from chalicelib.core.errors import FieldError
from chalicelib.core.ports import PayloadField
from chalicelib.jobs.http_request import validate_http_request_payload
from chalicelib.jobs.job_secrets import JobSecretNamespace

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,62}")
"""A function or schema name (used with ``fullmatch``): no dots, slashes or encodings."""

PLACEHOLDER_URL = "https://project.supabase.co"
"""Stands for ``SUPABASE_URL`` when a payload is checked: registration checks the payload,
not the deployment (the destination is checked at every run)."""

DEFAULT_SCHEMA = "public"
EDGE_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
MAX_QUERY_PARAMS = 50

DATABASE_FIELDS = ("function", "args", "schema", "expect", "timeoutSeconds")
EDGE_FIELDS = ("function", "method", "body", "headers", "query", "expect", "timeoutSeconds")

# Set from the scheduler's own Supabase service key on every call: never from a payload.
_SERVICE_KEY_HEADERS = ("apikey", "authorization")

_EXPECT_FIELD = PayloadField(
    "expect", "object",
    'Optional: {"status": [200, 204], "json": {subset the JSON body must contain}}; '
    "an answer that does not meet it is a failed run saying what differed.",
    example={"status": [200]})
_TIMEOUT_FIELD = PayloadField("timeoutSeconds", "integer", "Seconds to wait for the answer, 1-900 (default 30).")

DATABASE_PAYLOAD_FIELDS = (
    PayloadField("function", "string", "The database function (an identifier: letters, digits, _ and -).",
                 required=True, example="mentor_counts"),
    PayloadField("args", "object", "Its named arguments (default none).", example={}),
    PayloadField("schema", "string", "The schema it lives in, sent as Content-Profile (default public).",
                 example="public"),
    _EXPECT_FIELD,
    _TIMEOUT_FIELD,
)

EDGE_PAYLOAD_FIELDS = (
    PayloadField("function", "string", "The Edge Function's name (letters, digits, _ and -).",
                 required=True, example="echo"),
    PayloadField("method", "string", "GET, POST, PUT, PATCH or DELETE (default POST).", example="POST"),
    PayloadField("body", "any", "A JSON body (absent: none).", example={"hello": "world"}),
    PayloadField("headers", "object",
                 'Extra headers; secrets only as {"secretRef": "<name>", "format": "Bearer {secret}"}. '
                 "apikey and Authorization carry the service key and cannot be set."),
    PayloadField("query", "object", "Query parameters (name to string, number or boolean)."),
    _EXPECT_FIELD,
    _TIMEOUT_FIELD,
)


def _unknown(payload: Mapping[str, Any], known: tuple[str, ...], errors: list[FieldError]) -> None:
    for key in payload:
        if key not in known:
            errors.append(FieldError(f"payload.{key}", f"unknown field; expected one of {', '.join(known)}"))


def _identifier(payload: Mapping[str, Any], name: str, errors: list[FieldError], default: str | None = None) -> str | None:
    value = payload.get(name, default)
    if value is None:
        errors.append(FieldError(f"payload.{name}", "is required"))
        return None
    if not isinstance(value, str) or not IDENTIFIER.fullmatch(value):
        errors.append(FieldError(
            f"payload.{name}",
            "must be an identifier: a letter or _, then up to 62 letters, digits, _ or - (no dots, slashes or spaces)"))
        return None
    return value


def _passed_on(payload: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {name: payload[name] for name in names if name in payload}


def database_request(payload: Any, base_url: str) -> tuple[dict[str, Any] | None, list[FieldError]]:
    """The ``http-request`` payload of a ``database-function`` run, or the problems of the
    fields this job type adds (:func:`validate_database_payload` checks the rest).

    ``POST {base_url}/rest/v1/rpc/<function>`` with the arguments as the JSON body and the
    schema as ``Content-Profile`` (PostgREST's way of naming it for a POST).
    """
    if not isinstance(payload, Mapping):
        return None, [FieldError("payload", "must be a JSON object")]
    errors: list[FieldError] = []
    _unknown(payload, DATABASE_FIELDS, errors)
    function = _identifier(payload, "function", errors)
    schema = _identifier(payload, "schema", errors, DEFAULT_SCHEMA)
    args = payload.get("args", {})
    if not isinstance(args, Mapping):
        errors.append(FieldError("payload.args", "must be an object of argument name to value"))
    if errors or function is None or schema is None:
        return None, errors
    request = {
        "url": f"{base_url}/rest/v1/rpc/{function}",
        "method": "POST",
        "headers": {"Content-Profile": schema, "Accept": "application/json"},
        "body": args,
        **_passed_on(payload, ("expect", "timeoutSeconds")),
    }
    return request, []


def edge_request(payload: Any, base_url: str) -> tuple[dict[str, Any] | None, list[FieldError]]:
    """The ``http-request`` payload of an ``edge-function`` run, or the problems of the fields
    this job type adds (:func:`validate_edge_payload` checks the rest)."""
    if not isinstance(payload, Mapping):
        return None, [FieldError("payload", "must be a JSON object")]
    errors: list[FieldError] = []
    _unknown(payload, EDGE_FIELDS, errors)
    function = _identifier(payload, "function", errors)
    headers = payload.get("headers", {})
    if isinstance(headers, Mapping):
        for name in headers:
            if isinstance(name, str) and name.strip().lower() in _SERVICE_KEY_HEADERS:
                errors.append(FieldError(f"payload.headers.{name}",
                                         "is set by the scheduler from its Supabase service key; remove it"))
    query = payload.get("query", {})
    pairs: list[tuple[str, str]] = []
    if not isinstance(query, Mapping) or len(query) > MAX_QUERY_PARAMS:
        errors.append(FieldError("payload.query", f"must be an object of at most {MAX_QUERY_PARAMS} parameters"))
    else:
        for name, value in query.items():
            if isinstance(value, bool):
                pairs.append((str(name), "true" if value else "false"))
            elif isinstance(value, (str, int, float)):
                pairs.append((str(name), str(value)))
            else:
                errors.append(FieldError(f"payload.query.{name}", "must be a string, number or boolean"))
    if errors or function is None:
        return None, errors
    url = f"{base_url}/functions/v1/{quote(function)}"
    if pairs:
        url += "?" + urlencode(pairs)
    request = {"url": url, "method": payload.get("method", "POST"),
               **_passed_on(payload, ("headers", "body", "expect", "timeoutSeconds"))}
    return request, []


def _as_own_fields(request: Mapping[str, Any], renamed: tuple[str, str],
                   secret_namespace: JobSecretNamespace | None) -> list[FieldError]:
    """``http-request``'s rules on the written request, named as the caller's fields
    (``renamed``: the request's field and the caller's, e.g. ``payload.body`` is ``payload.args``)."""
    found = validate_http_request_payload(request, field_prefix="payload", secret_namespace=secret_namespace)
    theirs, ours = renamed
    return [FieldError(ours + e.field[len(theirs):] if e.field == theirs or e.field.startswith(theirs + ".")
                       else e.field, e.message) for e in found]


def validate_database_payload(
    payload: Mapping[str, Any], secret_namespace: JobSecretNamespace | None = None
) -> list[FieldError]:
    """Every problem of a ``database-function`` payload (fields named ``payload.<field>``):
    checked at registration and again at every run. With ``secret_namespace`` a ``secretRef``
    outside the jobs' namespace is refused too."""
    request, errors = database_request(payload, PLACEHOLDER_URL)
    return errors if request is None else _as_own_fields(request, ("payload.body", "payload.args"), secret_namespace)


def validate_edge_payload(
    payload: Mapping[str, Any], secret_namespace: JobSecretNamespace | None = None
) -> list[FieldError]:
    """Every problem of an ``edge-function`` payload (fields named ``payload.<field>``):
    checked at registration and again at every run. With ``secret_namespace`` a ``secretRef``
    outside the jobs' namespace is refused too."""
    request, errors = edge_request(payload, PLACEHOLDER_URL)
    return errors if request is None else _as_own_fields(request, ("payload.url", "payload.query"), secret_namespace)
