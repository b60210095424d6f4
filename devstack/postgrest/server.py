"""The PostgREST stand-in's HTTP server: authentication, one transaction per request as
``service_role``, reads and RPC calls, fault injection, and the local stack's start-up."""
from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator
from urllib.parse import parse_qsl, unquote, urlsplit

import psycopg
from psycopg import sql

from devstack.postgrest.edge import EDGE_PREFIX, EdgeRequest, serve_edge_function
from devstack.postgrest.faults import Fault, FaultInjector, RecordedRequest
from devstack.postgrest.pool import ConnectionPool
from devstack.postgrest.sql import (
    DEFAULT_MAX_ROWS,
    RESERVED_PARAMS,
    ApiError,
    FunctionInfo,
    Prefer,
    TableInfo,
    content_range_for,
    from_pg_error,
    int_param,
    load_schema,
    log,
    order_by,
    requested_range,
    select_list,
    where_clause,
)

REST_PREFIX = "/rest/v1/"


class PostgrestServer:
    """Serves ``{url}/rest/v1`` from ``dsn`` on 127.0.0.1 in a background thread."""

    def __init__(self, dsn: str, *, service_key: str, host: str = "127.0.0.1", port: int = 0,
                 schema: str = "public", role: str = "service_role", max_rows: int | None = DEFAULT_MAX_ROWS,
                 pool_size: int = 8, extra_schemas: tuple[str, ...] = ()) -> None:
        if not service_key:
            raise ValueError("service_key is required")
        self.dsn = dsn
        self.service_key = service_key
        self.schema = schema
        self.schemas = (schema, *extra_schemas)  # PostgREST's db-schemas: the first is the default
        self.role = role
        self.max_rows = max_rows
        self.faults = FaultInjector()
        self.requests: list[RecordedRequest] = []
        self._requests_lock = threading.Lock()
        self._pool = ConnectionPool(dsn, pool_size)
        self._tables: dict[str, TableInfo] = {}
        self._functions: dict[str, list[FunctionInfo]] = {}
        self._other_functions: dict[str, dict[str, list[FunctionInfo]]] = {}
        self._httpd = _Server((host, port), _Handler)
        self._httpd.app = self
        self._thread: threading.Thread | None = None

    # lifecycle ---------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL (``SUPABASE_URL``); the API is under ``/rest/v1``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> PostgrestServer:
        self.reload_schema()
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="postgrest", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.faults.clear()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._pool.close()

    def __enter__(self) -> PostgrestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reload_schema(self) -> None:
        """Re-read tables and functions (PostgREST's schema cache reload)."""
        with self._pool.connection() as conn:
            self._tables, self._functions = load_schema(conn, self.schema)
            self._other_functions = {name: load_schema(conn, name)[1] for name in self.schemas[1:]}

    def profile(self, headers: dict[str, str], method: str) -> str:
        """The schema a request names (``Content-Profile`` on writes, ``Accept-Profile`` on
        reads), as PostgREST checks it against the exposed schemas."""
        named = headers.get("content-profile" if method in ("POST", "PATCH", "PUT", "DELETE") else "accept-profile")
        if named is None:
            return self.schema
        if named not in self.schemas:
            raise ApiError(406, "PGRST106", f"Invalid schema: {named}", None,
                           f"Only the following schemas are exposed: {', '.join(self.schemas)}")
        return named

    def _find_function(self, schema: str, name: str, keys: set[str]) -> FunctionInfo | None:
        known = self._functions if schema == self.schema else self._other_functions.get(schema, {})
        for candidate in known.get(name, []):
            names = [p for p, _ in candidate.params]
            if keys <= set(names) and set(names[: candidate.required]) <= keys:
                return candidate
        return None

    # observation -------------------------------------------------------------

    @property
    def request_count(self) -> int:
        return len(self.requests)

    def reset_requests(self) -> None:
        with self._requests_lock:
            self.requests.clear()

    def _record(self, request: RecordedRequest) -> None:
        with self._requests_lock:
            self.requests.append(request)

    # request handling --------------------------------------------------------

    def authenticate(self, headers: dict[str, str]) -> None:
        apikey = headers.get("apikey")
        if not apikey:
            raise ApiError(401, "PGRST302", "No API key found in request", None,
                           "No `apikey` request header or url param was found.",
                           {"WWW-Authenticate": "Bearer"})
        authorization = headers.get("authorization")
        bearer_ok = authorization is None or authorization == f"Bearer {self.service_key}"
        if apikey != self.service_key or not bearer_ok:
            raise ApiError(401, "PGRST301", "Invalid API key", None,
                           "Double check your Supabase `anon` or `service_role` API key.",
                           {"WWW-Authenticate": 'Bearer error="invalid_token", error_description="Invalid API key"'})

    def table(self, name: str) -> TableInfo:
        table = self._tables.get(name)
        if table is None:
            similar = [t for t in self._tables if t.startswith(name[:4])] if len(name) >= 4 else []
            raise ApiError(404, "PGRST205", f"Could not find the table '{self.schema}.{name}' in the schema cache",
                           None, f"Perhaps you meant the table '{self.schema}.{similar[0]}'" if similar else None)
        return table

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection]:
        """One request = one transaction, as ``self.role``, like PostgREST."""
        with self._pool.connection() as conn:
            try:
                with conn.transaction():
                    conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(self.role)))
                    conn.execute("SELECT set_config('request.jwt.claims', %s, true)",
                                 [json.dumps({"role": self.role})])
                    yield conn
            except psycopg.OperationalError as exc:
                if conn.closed or conn.broken:
                    raise ApiError(503, "PGRST001", "Database client error. Retrying the connection.", str(exc)) from exc
                raise from_pg_error(exc) from exc
            except psycopg.Error as exc:
                raise from_pg_error(exc) from exc

    def read(self, name: str, params: list[tuple[str, str]], headers: dict[str, str]) -> _Response:
        table = self.table(name)
        named = dict(params)
        prefer = Prefer.parse(headers.get("prefer"))
        filters = [(k, v) for k, v in params if k not in RESERVED_PARAMS]
        where, args = where_clause(table, filters)
        select = select_list(table, named.get("select"))
        order = order_by(table, named.get("order"))
        limit = int_param(named, "limit")
        offset = int_param(named, "offset")
        rows_range = requested_range(headers.get("range"), limit, offset, self.max_rows)
        page: sql.Composable = sql.SQL("")
        if rows_range.limit is not None:
            page += sql.SQL(" LIMIT {}").format(sql.Literal(rows_range.limit))
        if rows_range.offset:
            page += sql.SQL(" OFFSET {}").format(sql.Literal(rows_range.offset))
        relation = sql.Identifier(self.schema, table.name)
        query = sql.SQL(
            "SELECT count(_r), coalesce(json_agg(_r), '[]')::text FROM (SELECT {} FROM {}{}{}{}) AS _r"
        ).format(select, relation, where, order, page)
        with self.transaction() as conn:
            returned, body = _one(conn.execute(query, args))
            total = None
            if prefer.count:
                total = _one(conn.execute(sql.SQL("SELECT count(*) FROM {}{}").format(relation, where), args))[0]
        status, content_range = content_range_for(rows_range.offset, returned, total)
        response_headers = {"Content-Range": content_range, "Range-Unit": "items"}
        if prefer.count:
            response_headers["Preference-Applied"] = prefer.applied()
        if status == 416:
            raise ApiError(416, "PGRST103", "Requested range not satisfiable",
                           f"An offset of {rows_range.offset} was requested, but there are only {total} rows.",
                           headers=response_headers)
        return _Response(status, body.encode(), response_headers)

    def call(self, name: str, params: list[tuple[str, str]], payload: Any, schema: str | None = None) -> _Response:
        schema = schema or self.schema
        if payload is None:
            payload = {}
        if not isinstance(payload, dict):
            raise ApiError(400, "PGRST102", "Empty or invalid json")
        keys = set(payload)
        function = self._find_function(schema, name, keys)
        if function is None:  # defined since the cache was read? PostgREST reloads on NOTIFY; we on a miss
            self.reload_schema()
            function = self._find_function(schema, name, keys)
        if function is None:
            listed = ", ".join(sorted(keys))
            known = (self._functions if schema == self.schema else self._other_functions.get(schema, {})).get(name)
            hint = (f"Perhaps you meant to call the function {schema}.{name}({', '.join(p for p, _ in known[0].params)})"
                    if known else None)
            raise ApiError(404, "PGRST202",
                           f"Could not find the function {schema}.{name}({listed}) in the schema cache",
                           f"Searched for the function {schema}.{name} with parameters {listed or 'no parameters'} "
                           "or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.",
                           hint)
        given = [(p, t) for p, t in function.params if p in keys]
        record = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(p), sql.SQL(t)) for p, t in given)
        arguments = sql.SQL(", ").join(sql.SQL("{0} := _a.{0}").format(sql.Identifier(p)) for p, _ in given)
        routine = sql.Identifier(schema, name)
        source = sql.SQL(" FROM json_to_record(%s::json) AS _a({})").format(record) if given else sql.SQL("")
        if function.returns_set:
            named = dict(params)
            rows_range = requested_range(None, int_param(named, "limit"), int_param(named, "offset"), self.max_rows)
            page: sql.Composable = sql.SQL("")
            if rows_range.limit is not None:
                page += sql.SQL(" LIMIT {}").format(sql.Literal(rows_range.limit))
            if rows_range.offset:
                page += sql.SQL(" OFFSET {}").format(sql.Literal(rows_range.offset))
            if given:  # a set-returning call takes its arguments from a lateral record
                query = sql.SQL(
                    "SELECT count(_r), coalesce(json_agg(_r), '[]')::text FROM "
                    "(SELECT _f.* FROM json_to_record(%s::json) AS _a({}), LATERAL {}({}) AS _f{}) AS _r"
                ).format(record, routine, arguments, page)
            else:
                query = sql.SQL(
                    "SELECT count(_r), coalesce(json_agg(_r), '[]')::text FROM (SELECT * FROM {}(){}) AS _r"
                ).format(routine, page)
            with self.transaction() as conn:
                returned, body = _one(conn.execute(query, [json.dumps(payload)] if given else []))
            _, content_range = content_range_for(rows_range.offset, returned, None)
            return _Response(200, body.encode(), {"Content-Range": content_range})
        query = sql.SQL("SELECT to_json({}({}))::text{}").format(routine, arguments, source)
        with self.transaction() as conn:
            body = _one(conn.execute(query, [json.dumps(payload)] if given else []))[0]
        if function.returns_void:
            return _Response(204, b"", {})
        return _Response(200, (body if body is not None else "null").encode(), {})


@dataclass
class _Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    app: PostgrestServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real thing
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("postgrest %s", format % args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        app = self.server.app
        parts = urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        length = int(headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        fault = app.faults.take(parts.path)
        if fault is not None and not fault.after_commit:
            self._fail(app, method, parts, headers, fault)
            return
        try:
            response = self._dispatch(app, method, parts, headers, raw)
        except ApiError as exc:
            body = json.dumps(exc.body).encode()
            response = _Response(exc.status, body, exc.headers)
        except Exception as exc:  # noqa: BLE001 - a bug in this server becomes a 500, as in PostgREST
            log.exception("postgrest test server failed")
            response = _Response(500, json.dumps({"code": "PGRSTX00", "message": str(exc), "details": None,
                                                  "hint": None}).encode(), {})
        if fault is not None:
            self._fail(app, method, parts, headers, fault)
            return
        app._record(RecordedRequest(method, parts.path, parts.query, headers, response.status))
        self._send(response)

    def _dispatch(self, app: PostgrestServer, method: str, parts: Any, headers: dict[str, str], raw: bytes) -> _Response:
        if parts.path.startswith(EDGE_PREFIX):
            answer = serve_edge_function(
                EdgeRequest(method, unquote(parts.path[len(EDGE_PREFIX):]).strip("/"), parts.query, headers, raw),
                app.service_key)
            return _Response(answer.status, json.dumps(answer.body).encode(), {})
        app.authenticate(headers)
        if not parts.path.startswith(REST_PREFIX):
            raise ApiError(404, "PGRST125", f"Invalid path specified in request URL: {parts.path}")
        resource = unquote(parts.path[len(REST_PREFIX):]).strip("/")
        params = parse_qsl(parts.query, keep_blank_values=True)
        payload = None
        if method in ("POST", "PATCH", "PUT"):
            if raw.strip():
                try:
                    payload = json.loads(raw)
                except ValueError:
                    raise ApiError(400, "PGRST102", "Empty or invalid json") from None
            elif not resource.startswith("rpc/"):
                raise ApiError(400, "PGRST102", "Empty or invalid json")
        if resource.startswith("rpc/"):
            if method != "POST":
                raise ApiError(405, "PGRST101", "Only GET, HEAD or POST verbs are allowed for this test server's RPC")
            return app.call(resource[4:], params, payload, app.profile(headers, method))
        if method == "GET":
            return app.read(resource, params, headers)
        raise ApiError(405, "PGRST117", f"Unsupported HTTP method on a table in this test server: {method}")

    def _fail(self, app: PostgrestServer, method: str, parts: Any, headers: dict[str, str], fault: Fault) -> None:
        if fault.kind == "hang":
            app._record(RecordedRequest(method, parts.path, parts.query, headers, 0))
            app.faults.hang(fault.hang_seconds)
            self.close_connection = True
            return
        if fault.kind == "unauthorized":
            response = _Response(401, json.dumps({"code": "PGRST301", "details": None,
                                                  "hint": "Double check your Supabase `anon` or `service_role` API key.",
                                                  "message": "Invalid API key"}).encode(),
                                 {"WWW-Authenticate": "Bearer"})
        elif fault.kind == "unavailable":
            response = _Response(503, json.dumps({"code": "PGRST001", "details": "injected fault", "hint": None,
                                                  "message": "Database client error. Retrying the connection."}).encode())
        else:
            response = _Response(fault.status, json.dumps(fault.body or {}).encode())
        app._record(RecordedRequest(method, parts.path, parts.query, headers, response.status))
        self._send(response)

    def _send(self, response: _Response) -> None:
        try:
            try:
                phrase = HTTPStatus(response.status).phrase
            except ValueError:
                phrase = ""
            self.send_response(response.status, phrase)
            if response.body or response.status not in (204, 304):
                self.send_header("Content-Type", "application/json; charset=utf-8")
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if response.body:
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def wait_until_serving(url: str, timeout: float = 5.0) -> None:
    """Block until something accepts TCP connections at ``url``."""
    import socket

    parts = urlsplit(url)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((parts.hostname, parts.port or 80), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _one(cursor: Any) -> tuple[Any, ...]:
    """The single row an aggregate query returns."""
    row = cursor.fetchone()
    assert row is not None, "an aggregate query returns one row"
    return tuple(row)
