"""The built-in ``http-request`` handler: call an HTTPS endpoint (a Supabase Edge Function,
a webhook, any JSON API) on a job's schedule.

Payload (field names as API.md writes them)::

    {
      "url": "https://abc.supabase.co/functions/v1/nightly",   # required
      "method": "POST",                 # GET | POST | PUT | PATCH | DELETE, default POST
      "headers": {                      # string -> string, or a secret reference
        "Authorization": {"secretRef": "edge-fn-key", "format": "Bearer {secret}"},
        "X-Tenant": "acme"
      },
      "body": {"any": "JSON value",     # sent as JSON; absent means no body
               "client_secret": {"secretRef": "oauth/client"}},  # resolved at run time
      "timeoutSeconds": 30,             # 1-900, default 30
      "expect": {"status": [200, 204], "json": {"ok": true}}   # optional, see .expect
    }

Secrets. A header whose *name* looks like a credential (``Authorization``,
``Proxy-Authorization``, ``apikey``, ``X-Api-Key``, ``Cookie``, or any name containing
``auth``, ``token``, ``secret``, ``key``, ``password``, ``credential``, ``session`` or
``signature``), or whose literal *value* looks like one (``Bearer …``, ``Basic …``, a JWT,
``sb_secret_…``), must be given as a reference, never as a literal: the payload is stored
in DynamoDB and shown by the API. So must a ``body`` field named like one, at any depth
(``client_secret``, ``password``, ``apiKey``: :func:`.secrets.is_secret_field`; a list or
object there may hold only references), and a body string or query value holding a
credential is refused wherever it stands (:func:`chalicelib.core.credentials.holds_credential`). A reference
is ``{"secretRef": "<name in the jobs' namespace>"}`` (``edge/key``, ``ssm:edge/key``: see
:mod:`chalicelib.jobs.job_secrets`), optionally with ``"format": "Bearer {secret}"``. It is
resolved at run time through the injected resolver, confined to that namespace; headers
are logged by name only, and resolved values are scrubbed (``***``) from results, error
messages and log lines in their common encodings (:class:`chalicelib.core.redaction.Scrubber`).
URLs carry no secrets: userinfo and query parameters named like credentials are refused.

Destinations (SSRF defence, checked when a job is registered *and* at every run, since the
allow-list may change in between):

* scheme ``https`` only;
* host in ``SCHEDULER_HTTP_ALLOWED_HOSTS`` (syntax: :class:`.destinations.HostAllowList`);
* every address the host resolves to must be public: private, loopback, link-local,
  multicast, reserved, unspecified, carrier-grade NAT, unique-local, cloud metadata
  addresses, and IPv4 addresses embedded in IPv6 (mapped, 6to4, NAT64) that are any of
  those, are refused;
* the connection goes to the address that was checked (see :mod:`.wire`, :class:`.wire.PinnedConnection`).

Local stack only (``local_mode``): ``http`` or ``https`` URLs whose host is exactly
``127.0.0.1``, ``::1`` or ``localhost`` are allowed whatever the allow-list says, and
loopback addresses are then accepted. Deployed, never.

Every request carries ``Idempotency-Key`` (the same for every attempt of one slot) and
``X-Scheduler-Job``, ``-Slot``, ``-Attempt``, ``-Execution``.

Outcome: a 2xx (or an ``expect.status`` code, ``expectStatus`` in older payloads) that meets
``expect.json`` when given returns ``{"status", "body"}`` bounded to about
4 KiB (``"bodyTruncated": true`` when cut); anything else raises a subclass of
:class:`HttpRequestError`.

The package: ``destinations`` (URL parsing, allow-list, address refusal), ``payload``
(validation), ``secrets`` (secret headers, redaction, scrubbing), ``wire`` (the pinned
connection and the redirect rule), ``client`` (one attempt: secrets, headers, the result),
``expect`` (checks of the answer), ``errors``, and ``job`` (the name and the registration).
"""
from __future__ import annotations

from chalicelib.core.errors import SecretUnavailable
from chalicelib.jobs.http_request.client import HttpRequestHandler, OwnCredentials, scheduler_headers
from chalicelib.jobs.http_request.destinations import HostAllowList, address_refusal
from chalicelib.jobs.http_request.errors import (
    DestinationRefused,
    HttpConnectionFailed,
    HttpRequestError,
    HttpRequestFailed,
    HttpRequestTimeout,
    RedirectNotFollowed,
)
from chalicelib.jobs.http_request.expect import Expectation, ExpectationFailed, check_expect
from chalicelib.jobs.http_request.job import HANDLER_NAME, register_http_request_handler
from chalicelib.jobs.http_request.payload import (
    make_http_request_validator,
    validate_http_request_payload,
)
from chalicelib.jobs.http_request.secrets import redact_headers

__all__ = [
    "HANDLER_NAME",
    "DestinationRefused",
    "Expectation",
    "ExpectationFailed",
    "HostAllowList",
    "HttpConnectionFailed",
    "HttpRequestError",
    "HttpRequestFailed",
    "HttpRequestHandler",
    "HttpRequestTimeout",
    "OwnCredentials",
    "RedirectNotFollowed",
    "SecretUnavailable",
    "address_refusal",
    "check_expect",
    "make_http_request_validator",
    "redact_headers",
    "register_http_request_handler",
    "scheduler_headers",
    "validate_http_request_payload",
]
