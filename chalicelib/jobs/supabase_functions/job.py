"""The two handlers and their registration.

A run checks its payload, writes the ``http-request`` it stands for
(:mod:`.payload`) and sends it through an :class:`HttpRequestHandler` allowed to call
only the host of ``SUPABASE_URL``, which adds the service key (``apikey`` always,
``Authorization: Bearer`` when the key is a JWT) and scrubs it from whatever comes back.
One request per attempt: a 5xx, 408, 425, 429, timeout or connection failure is retried by
the job's retry policy (each attempt in the history, with its backoff); anything else is
permanent. PostgREST's error body (``code``, ``message``, ``details``, ``hint``) becomes
the failure's message.
"""
from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import replace
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from chalicelib.core.context import RunContext
from chalicelib.core.errors import PermanentFailure, SecretUnavailable, ValidationFailed
from chalicelib.core.redaction import remember_secret
from chalicelib.jobs.http_request import (
    ExpectationFailed,
    HttpRequestFailed,
    HttpRequestHandler,
    OwnCredentials,
)
from chalicelib.jobs.job_secrets import JobSecretNamespace
from chalicelib.jobs.registry import JobRegistry
from chalicelib.jobs.supabase_functions.payload import (
    DATABASE_PAYLOAD_FIELDS,
    DEFAULT_SCHEMA,
    EDGE_PAYLOAD_FIELDS,
    database_request,
    edge_request,
    validate_database_payload,
    validate_edge_payload,
)

DATABASE_FUNCTION = "database-function"
EDGE_FUNCTION = "edge-function"
DATABASE_DESCRIPTION = (
    "Call a database function through Supabase's REST API (POST /rest/v1/rpc/<function>) with the "
    "scheduler's service key; the result is the function's JSON"
)
EDGE_DESCRIPTION = "Call a Supabase Edge Function (/functions/v1/<function>) with the scheduler's service key"

_JWT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")

SupabaseRequest = Callable[[Any, str], tuple[dict[str, Any] | None, list[Any]]]
PayloadCheck = Callable[[Mapping[str, Any]], list[Any]]


class SupabaseFunctionFailed(HttpRequestFailed):
    """A database function (or PostgREST in front of it) answered with an error."""

    def __init__(self, message: str, *, cause: HttpRequestFailed, code: str | None):
        super().__init__(message, method=cause.method, url=cause.url, status=cause.status,
                         body_excerpt=cause.body_excerpt)
        self.code = code
        self.retryable = cause.retryable


class ServiceKey:
    """The scheduler's Supabase service key, read on first use and kept for the process.

    ``SUPABASE_SERVICE_KEY`` (local use) or the secret ``SUPABASE_SERVICE_KEY_ID`` names,
    read with the scheduler's own resolver: a job's ``secretRef`` never reaches it.
    """

    def __init__(self, settings: Any, resolve_secret: Callable[[str], str]) -> None:
        self._literal = settings.supabase_service_key
        self._secret_id = settings.supabase_service_key_id
        self._resolve = resolve_secret
        self._lock = threading.Lock()
        self._key: str | None = self._literal or None

    def value(self) -> str:
        with self._lock:
            if self._key is None:
                if not self._secret_id:
                    raise SecretUnavailable("the Supabase service key is not configured: set SUPABASE_SERVICE_KEY_ID")
                try:
                    key = self._resolve(self._secret_id)
                except Exception as exc:  # noqa: BLE001 - the resolver's own errors: named, never a value
                    raise SecretUnavailable(
                        f"could not read the Supabase service key (SUPABASE_SERVICE_KEY_ID): {type(exc).__name__}",
                        retryable=getattr(exc, "retryable", False) is True) from None
                if not isinstance(key, str) or not key.strip():
                    raise SecretUnavailable("the Supabase service key (SUPABASE_SERVICE_KEY_ID) is empty")
                self._key = key.strip()
            return self._key

    def credentials(self) -> OwnCredentials:
        """``apikey`` always; ``Authorization: Bearer`` when the key is a JWT (not ``sb_secret_…``)."""
        key = self.value()
        remember_secret(key)  # the worker scrubs it from this run's result, error and log lines too
        headers = {"apikey": key}
        if _JWT.fullmatch(key):
            headers["Authorization"] = f"Bearer {key}"
        return OwnCredentials(headers, (key,))


class SupabaseFunctionJob:
    """One job type: ``job(ctx) -> {"function", "status", "durationMs", "body"}``."""

    def __init__(self, *, kind: str, base_url: str, check_payload: PayloadCheck, write_request: SupabaseRequest,
                 client: HttpRequestHandler | None, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.kind = kind
        self._base_url = base_url
        self._check_payload = check_payload
        self._write_request = write_request
        self._client = client
        self._monotonic = monotonic

    def __call__(self, ctx: RunContext) -> dict[str, Any]:
        if self._client is None:
            raise PermanentFailure(
                f"{self.kind}: SUPABASE_URL is not set (or is not a URL); the scheduler does not know the "
                "Supabase project to call")
        errors = self._check_payload(ctx.payload)
        request, more = self._write_request(ctx.payload, self._base_url)
        if errors or more or request is None:
            raise ValidationFailed(errors or more)
        name = self._name(ctx.payload)
        started = self._monotonic()
        try:
            answer = self._client(replace(ctx, payload=request))
        except ExpectationFailed:
            raise
        except HttpRequestFailed as exc:
            if self.kind == DATABASE_FUNCTION:
                raise _postgrest_failure(name, exc) from None
            raise
        duration_ms = int((self._monotonic() - started) * 1000)
        return {"function": name, **answer, "durationMs": duration_ms}

    def _name(self, payload: Mapping[str, Any]) -> str:
        if self.kind == DATABASE_FUNCTION:
            return f"{payload.get('schema', DEFAULT_SCHEMA)}.{payload['function']}"
        return str(payload["function"])


def _postgrest_failure(function: str, exc: HttpRequestFailed) -> HttpRequestFailed:
    """PostgREST's ``{"code", "message", "details", "hint"}`` as the failure's message."""
    try:
        body = json.loads(exc.body_excerpt)
    except ValueError:
        return exc
    if not isinstance(body, dict) or not isinstance(body.get("message"), str):
        return exc
    code = body.get("code")
    text = f"{function} failed: HTTP {exc.status}" + (f" {code}" if code else "") + f": {body['message']}"
    for label in ("details", "hint"):
        value = body.get(label)
        if value:
            text += f" ({label}: {value if isinstance(value, str) else json.dumps(value)})"
    return SupabaseFunctionFailed(text, cause=exc, code=str(code) if code is not None else None)


def _client_for(settings: Any, resolve_secret: Callable[[str], str], service_key: ServiceKey,
                **options: Any) -> HttpRequestHandler | None:
    """A client allowed to call only the host of ``SUPABASE_URL``; None when it is not a URL."""
    try:
        host = urlsplit(settings.supabase_url).hostname
    except ValueError:
        return None
    if not settings.supabase_url or not host:
        return None
    try:
        return HttpRequestHandler(allowed_hosts=[host], local_mode=settings.local_mode, resolve_secret=resolve_secret,
                                  own_credentials=service_key.credentials, **options)
    except ValueError:
        return None


def register_supabase_function_handlers(
    registry: JobRegistry,
    settings: Any,
    *,
    resolve_job_secret: Callable[[str], str],
    resolve_own_secret: Callable[[str], str],
    **options: Any,
) -> tuple[SupabaseFunctionJob, SupabaseFunctionJob]:
    """Add ``database-function`` and ``edge-function`` to ``registry``.

    ``resolve_job_secret`` resolves a payload header's ``secretRef`` (as ``http-request``
    does); ``resolve_own_secret`` reads ``SUPABASE_SERVICE_KEY_ID``. ``options`` go to
    :class:`HttpRequestHandler` (tests: ``transport_factory``, ``resolve_host``).
    """
    service_key = ServiceKey(settings, resolve_own_secret)
    client = _client_for(settings, resolve_job_secret, service_key, **options)
    base_url = settings.supabase_url.rstrip("/")
    namespace: JobSecretNamespace | None = getattr(resolve_job_secret, "namespace", None)

    def check_database(payload: Mapping[str, Any]) -> list[Any]:
        return validate_database_payload(payload, namespace)

    def check_edge(payload: Mapping[str, Any]) -> list[Any]:
        return validate_edge_payload(payload, namespace)

    database = SupabaseFunctionJob(kind=DATABASE_FUNCTION, base_url=base_url, check_payload=check_database,
                                   write_request=database_request, client=client)
    edge = SupabaseFunctionJob(kind=EDGE_FUNCTION, base_url=base_url, check_payload=check_edge,
                               write_request=edge_request, client=client)
    if DATABASE_FUNCTION not in registry:
        registry.add(DATABASE_FUNCTION, database, DATABASE_DESCRIPTION, check_database, DATABASE_PAYLOAD_FIELDS)
    if EDGE_FUNCTION not in registry:
        registry.add(EDGE_FUNCTION, edge, EDGE_DESCRIPTION, check_edge, EDGE_PAYLOAD_FIELDS)
    return database, edge
