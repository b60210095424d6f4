"""Supabase's two kinds of scheduled work as job types, as Supabase Cron offers them:

* ``database-function``: ``{"function": "purge_sessions", "args": {...}, "schema": "public"}``
  calls ``POST {SUPABASE_URL}/rest/v1/rpc/<function>`` (the schema as ``Content-Profile``);
  the result holds the function's JSON.
* ``edge-function``: ``{"function": "send-reminders", "method": "POST", "body": {...},
  "headers": {...}, "query": {...}}`` calls ``{SUPABASE_URL}/functions/v1/<function>``.

Both send the scheduler's Supabase service key (``apikey``, and ``Authorization: Bearer``
when it is a JWT), ``Idempotency-Key: {job}@{slot}`` and the ``X-Scheduler-*`` headers, take
an optional ``expect`` and ``timeoutSeconds``, and store ``{"function", "status",
"durationMs", "body"}`` (bounded). They are ``http-request``s to a fixed place: the client,
its destination policy, its secret handling and its failure rules are that package's.

The package: ``payload`` (fields, validation, the request a run sends) and ``job`` (the
callables, the service key and the registration).
"""
from __future__ import annotations

from chalicelib.jobs.supabase_functions.job import (
    DATABASE_FUNCTION,
    EDGE_FUNCTION,
    ServiceKey,
    SupabaseFunctionFailed,
    SupabaseFunctionJob,
    register_supabase_function_handlers,
)
from chalicelib.jobs.supabase_functions.payload import (
    IDENTIFIER,
    database_request,
    edge_request,
    validate_database_payload,
    validate_edge_payload,
)

__all__ = [
    "DATABASE_FUNCTION",
    "EDGE_FUNCTION",
    "IDENTIFIER",
    "ServiceKey",
    "SupabaseFunctionFailed",
    "SupabaseFunctionJob",
    "database_request",
    "edge_request",
    "register_supabase_function_handlers",
    "validate_database_payload",
    "validate_edge_payload",
]
