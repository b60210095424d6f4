"""The ``http-request`` job: its name, description and registration with its payload validator."""
from __future__ import annotations

from typing import Any, Iterable

from chalicelib.jobs.http_request.client import HttpRequestHandler
from chalicelib.jobs.http_request.destinations import HostAllowList
from chalicelib.jobs.http_request.payload import make_http_request_validator
from chalicelib.jobs.job_secrets import JobSecretResolver
from chalicelib.jobs.registry import JobRegistry

HANDLER_NAME = "http-request"


HANDLER_DESCRIPTION = (
    "Call an HTTPS endpoint (e.g. a Supabase Edge Function) with a JSON body; "
    "payload: url, method, headers and body (secrets as {\"secretRef\": ...}), timeoutSeconds, "
    "expect ({\"status\": [200], \"json\": {subset}})"
)




def register_http_request_handler(
    registry: JobRegistry,
    *,
    allowed_hosts: Iterable[str],
    local_mode: bool,
    resolve_secret: JobSecretResolver,
    **options: Any,
) -> HttpRequestHandler:
    """Add the handler to ``registry`` as ``http-request`` with its registration validator.

    ``allowed_hosts`` is ``Settings.http_allowed_hosts`` (malformed entries raise
    ``ValueError`` at bootstrap); ``local_mode`` is ``Settings.local_mode``;
    ``resolve_secret`` is the resolver confined to the jobs' secret namespace (registration
    refuses a ``secretRef`` outside it, and the resolver refuses it again at run time). ``options``
    go to :class:`HttpRequestHandler`: ``ssl_context`` replaces the default trust store
    (certifi); ``transport_factory`` replaces the httpx transport (tests);
    ``time_margin_seconds`` is kept free of the run's remaining time so the handler
    fails cleanly before the worker is stopped.
    """
    allow_list = HostAllowList.parse(allowed_hosts)
    handler = HttpRequestHandler(
        allowed_hosts=allow_list, local_mode=local_mode, resolve_secret=resolve_secret, **options
    )
    registry.add(
        HANDLER_NAME,
        handler,
        HANDLER_DESCRIPTION,
        validate_payload=make_http_request_validator(
            allow_list, local_mode, secret_namespace=resolve_secret.namespace
        ),
    )
    return handler
