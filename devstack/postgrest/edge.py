"""A few demo Edge Functions behind Supabase's gateway rules, for ``make run`` and the tests.

``{url}/functions/v1/<name>`` as Supabase serves it: the gateway wants the project's key
(``Authorization: Bearer <key>``, or ``apikey: <key>`` for a key that is not a JWT) and
answers 401 without it, 404 ``NOT_FOUND`` for a function that does not exist. The demo
functions:

* ``echo``: 200 with the method, path, query, body and the headers it got, every
  credential-looking header (and any value equal to the key) shown as ``***``;
* ``fail``: 500, always;
* ``not-ok``: 200 with ``{"ok": false}``: a success by status that reports a failure.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import parse_qsl

EDGE_PREFIX = "/functions/v1/"

# Header names whose values are credentials, whatever their value looks like.
_SECRET_NAME = re.compile(r"(?i).*(auth|token|secret|key|password|cookie|session|signature).*")
_NOT_SECRET = frozenset({"idempotency-key"})


@dataclass(frozen=True)
class EdgeRequest:
    method: str
    name: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class EdgeAnswer:
    status: int
    body: Any


def _echo(request: EdgeRequest, service_key: str) -> EdgeAnswer:
    try:
        body: Any = json.loads(request.body) if request.body else None
    except ValueError:
        body = request.body.decode("utf-8", errors="replace")
    shown = {name: "***" if (_SECRET_NAME.fullmatch(name) and name not in _NOT_SECRET) or service_key in value else value
             for name, value in sorted(request.headers.items())}
    return EdgeAnswer(200, {"function": "echo", "method": request.method, "path": EDGE_PREFIX + request.name,
                            "query": dict(parse_qsl(request.query, keep_blank_values=True)),
                            "headers": shown, "body": body})


def _fail(request: EdgeRequest, service_key: str) -> EdgeAnswer:
    return EdgeAnswer(500, {"error": "the demo function 'fail' always fails (HTTP 500)"})


def _not_ok(request: EdgeRequest, service_key: str) -> EdgeAnswer:
    return EdgeAnswer(200, {"ok": False, "reason": "the demo function 'not-ok' reports a failure with HTTP 200"})


DEMO_FUNCTIONS: dict[str, Callable[[EdgeRequest, str], EdgeAnswer]] = {
    "echo": _echo,
    "fail": _fail,
    "not-ok": _not_ok,
}


def serve_edge_function(request: EdgeRequest, service_key: str) -> EdgeAnswer:
    """The gateway's key check, then the function (or 404 as Supabase answers)."""
    authorization = request.headers.get("authorization")
    apikey = request.headers.get("apikey")
    if authorization is None and apikey is None:
        return EdgeAnswer(401, {"code": 401, "message": "Missing authorization header"})
    bearer_ok = authorization == f"Bearer {service_key}"
    if not (bearer_ok or (authorization is None and apikey == service_key)):
        return EdgeAnswer(401, {"code": 401, "message": "Invalid JWT"})
    function = DEMO_FUNCTIONS.get(request.name)
    if function is None:
        return EdgeAnswer(404, {"code": "NOT_FOUND", "message": "Requested function was not found"})
    return function(request, service_key)
