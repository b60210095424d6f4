"""A PostgREST-protocol server over a PostgreSQL database, for tests and the local stack.

    server = PostgrestServer(dsn, service_key="local-service-key").start()
    server.url                      # http://127.0.0.1:<port>  (what SUPABASE_URL would be)
    server.faults.inject("unavailable", times=2)
    server.stop()

It serves ``{url}/rest/v1`` the way Supabase's PostgREST does, for the subset this
project's client uses, and follows PostgREST's documented behaviour for that subset:

* ``GET /rest/v1/<table>``: ``select=`` (columns, ``alias:col``, ``col::type``, ``*``),
  filters ``eq neq lt lte gt gte in.(…) is.(null|not_null|true|false)`` with ``not.``,
  ``order=col.asc|desc[.nullsfirst|.nullslast]``, ``limit``/``offset``, the ``Range``
  header (intersected with ``limit``/``offset``), ``db-max-rows`` (1000, as on
  Supabase), ``Prefer: count=exact``; ``Content-Range: <first>-<last>/<total|*>`` (``*``
  for the range when empty); 206 when a counted result is partial, 416 + PGRST103 when
  the offset is past the total.
* Writes to tables are not served (405): the project writes only through its RPC.
* ``POST /rest/v1/rpc/<function>`` with named arguments as a JSON object, in the schema
  ``Content-Profile`` names (one of the exposed ``schemas``; another is 406 PGRST106);
  PGRST202 (404) when no function has those parameter names. A miss reloads the schema
  cache first, so a function defined after start is callable.
* ``/functions/v1/<name>``: the demo Edge Functions of :mod:`.edge` (``echo``, ``fail``,
  ``not-ok``) behind the gateway's key check.

Authentication is Supabase's: the ``apikey`` header must be the configured service key
(``Authorization: Bearer <same>`` is accepted, any other bearer is refused); anything
else is a 401 with a PostgREST-style body. Every request runs in one transaction as
``service_role`` (so grants and RLS are exercised as on Supabase).

Errors are PostgREST bodies ``{"code","message","details","hint"}`` with PostgREST's
SQLSTATE → HTTP status mapping (:func:`http_status_for`).

Tests inject faults with :attr:`PostgrestServer.faults`: the next N matching requests
answer 503 (``unavailable``), 401 (``unauthorized``) or a custom status, or hang without
answering (``hang``: the client's read timeout fires); with ``after_commit=True`` the
request is executed and committed first, and only its answer is lost.
"""
from __future__ import annotations

from devstack.postgrest.local import LocalSupabase, start_local_supabase
from devstack.postgrest.server import PostgrestServer, wait_until_serving
from devstack.postgrest.sql import http_status_for

__all__ = ["LocalSupabase", "PostgrestServer", "http_status_for", "start_local_supabase", "wait_until_serving"]
