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
* ``POST /rest/v1/<table>``: one object or an array of objects with the same keys
  (PGRST102 otherwise); ``Prefer: return=minimal|representation``,
  ``resolution=ignore-duplicates|merge-duplicates``, ``on_conflict=``; 201.
* ``PATCH /rest/v1/<table>`` with filters; 204, or 200 with ``return=representation``.
* ``POST /rest/v1/rpc/<function>`` with named arguments as a JSON object; PGRST202 (404)
  when no function has those parameter names.

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

import json
import logging
import queue
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator
from urllib.parse import parse_qsl, unquote, urlsplit

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus

log = logging.getLogger(__name__)

DEFAULT_MAX_ROWS = 1000
REST_PREFIX = "/rest/v1/"
_RESERVED_PARAMS = {"select", "order", "limit", "offset", "on_conflict", "columns", "apikey"}
_OPERATORS = {"eq": "=", "neq": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
_IS_VALUES = {"null": "NULL", "not_null": "NOT NULL", "true": "TRUE", "false": "FALSE", "unknown": "UNKNOWN"}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
_CAST = re.compile(r"^[A-Za-z_][A-Za-z0-9_ ]*(\[\])?$")
_RANGE = re.compile(r"^(\d+)-(\d*)$")


# --------------------------------------------------------------------------- errors


class ApiError(Exception):
    """An error answered as a PostgREST body."""

    def __init__(self, status: int, code: str, message: str, details: str | None = None,
                 hint: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.body = {"code": code, "details": details, "hint": hint, "message": message}
        self.headers = headers or {}


def http_status_for(sqlstate: str | None, *, authenticated: bool = True) -> int:
    """PostgREST's mapping of a PostgreSQL error code to an HTTP status."""
    code = sqlstate or ""
    if code.startswith("PT") and code[2:].isdigit():
        return int(code[2:])
    exact = {"23503": 409, "23505": 409, "25006": 405, "53400": 500, "P0001": 400,
             "42883": 404, "42P01": 404, "42P17": 500}
    if code in exact:
        return exact[code]
    if code == "42501":
        return 403 if authenticated else 401
    prefixes = {"08": 503, "09": 500, "0L": 403, "0P": 403, "25": 500, "28": 403, "2D": 500,
                "38": 500, "39": 500, "3B": 500, "40": 500, "53": 503, "54": 500, "55": 500,
                "57": 500, "58": 500, "F0": 500, "HV": 500, "P0": 500, "XX": 500}
    return prefixes.get(code[:2], 400)


def _from_pg_error(exc: psycopg.Error) -> ApiError:
    diag = exc.diag
    sqlstate = exc.sqlstate or "XX000"
    message = diag.message_primary or str(exc)
    if sqlstate == "PGRST":  # RAISE sqlstate 'PGRST': message and detail are JSON
        try:
            body = json.loads(message)
            extra = json.loads(diag.message_detail or "{}")
            return ApiError(int(extra.get("status", 400)), str(body.get("code", "")), body.get("message", ""),
                            body.get("details"), body.get("hint"), extra.get("headers") or {})
        except (ValueError, TypeError, AttributeError):
            return ApiError(500, "PGRST121", "Could not parse JSON in the \"RAISE SQLSTATE 'PGRST'\" error",
                            message)
    return ApiError(http_status_for(sqlstate), sqlstate, message, diag.message_detail, diag.message_hint)


# --------------------------------------------------------------------------- faults


@dataclass
class Fault:
    kind: str  # unavailable | unauthorized | hang | status
    remaining: int
    after_commit: bool = False
    path_contains: str | None = None
    status: int = 503
    body: dict[str, Any] | None = None
    hang_seconds: float = 10.0


class FaultInjector:
    """Makes the next N matching requests fail. Thread-safe; faults apply in order."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._released = threading.Event()

    def inject(self, kind: str, times: int = 1, *, after_commit: bool = False, path_contains: str | None = None,
               status: int = 503, body: dict[str, Any] | None = None, hang_seconds: float = 10.0) -> None:
        """Queue a fault.

        ``unavailable``: 503 with a PGRST001 body. ``unauthorized``: 401 (PGRST301).
        ``status``: the given ``status`` and ``body``. ``hang``: no answer for
        ``hang_seconds`` (or until :meth:`clear`), then the connection is closed.
        ``after_commit``: run the request and commit, then fail instead of answering.
        """
        if kind not in ("unavailable", "unauthorized", "hang", "status"):
            raise ValueError(f"unknown fault kind {kind!r}")
        with self._lock:
            self._released.clear()
            self._faults.append(Fault(kind, times, after_commit, path_contains, status, body, hang_seconds))

    def clear(self) -> None:
        """Drop queued faults and wake every hanging request."""
        with self._lock:
            self._faults.clear()
            self._released.set()

    def take(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.path_contains is None or fault.path_contains in path:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def hang(self, seconds: float) -> None:
        self._released.wait(seconds)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    status: int


# --------------------------------------------------------------------------- schema cache


@dataclass(frozen=True)
class TableInfo:
    name: str
    columns: tuple[str, ...]
    primary_key: tuple[str, ...]


@dataclass(frozen=True)
class FunctionInfo:
    name: str
    params: tuple[tuple[str, str], ...]  # (name, type) of the input parameters, in order
    required: int  # leading parameters without a default
    returns_set: bool
    returns_void: bool


def _load_schema(conn: psycopg.Connection, schema: str) -> tuple[dict[str, TableInfo], dict[str, list[FunctionInfo]]]:
    tables: dict[str, TableInfo] = {}
    rows = conn.execute(
        """
        SELECT c.relname,
               array_agg(a.attname ORDER BY a.attnum),
               coalesce((SELECT array_agg(k.attname ORDER BY array_position(i.indkey::int2[], k.attnum))
                           FROM pg_index i JOIN pg_attribute k ON k.attrelid = i.indrelid AND k.attnum = ANY (i.indkey)
                          WHERE i.indrelid = c.oid AND i.indisprimary), '{}')
          FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         WHERE n.nspname = %s AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
         GROUP BY c.oid, c.relname
        """,
        [schema],
    ).fetchall()
    for name, columns, pk in rows:
        tables[name] = TableInfo(name, tuple(columns), tuple(pk))
    functions: dict[str, list[FunctionInfo]] = {}
    rows = conn.execute(
        """
        SELECT p.proname, p.proargnames, p.proargmodes,
               array(SELECT format_type(t, NULL) FROM unnest(p.proargtypes::oid[]) AS t),
               p.pronargs, p.pronargdefaults, p.proretset, p.prorettype = 'void'::regtype
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = %s AND p.prokind = 'f'
        """,
        [schema],
    ).fetchall()
    for name, argnames, argmodes, argtypes, nargs, ndefaults, retset, void in rows:
        names = list(argnames or [])
        if argmodes:  # keep input parameters only (i, b, v)
            names = [n for n, m in zip(names, argmodes) if m in ("i", "b", "v")]
        if len(names) != nargs or any(not n for n in names):
            continue  # unnamed parameters cannot be called with a JSON object
        functions.setdefault(name, []).append(
            FunctionInfo(name, tuple(zip(names, argtypes)), nargs - ndefaults, retset, void)
        )
    return tables, functions


# --------------------------------------------------------------------------- request parsing


@dataclass
class Prefer:
    return_: str = "minimal"
    count: str | None = None
    resolution: str | None = None

    @classmethod
    def parse(cls, header: str | None) -> "Prefer":
        prefer = cls()
        for part in (header or "").split(","):
            key, _, value = part.strip().partition("=")
            if key == "return" and value in ("minimal", "representation", "headers-only"):
                prefer.return_ = value
            elif key == "count" and value in ("exact", "planned", "estimated"):
                prefer.count = value
            elif key == "resolution" and value in ("ignore-duplicates", "merge-duplicates"):
                prefer.resolution = value
        return prefer

    def applied(self, *, mutation: bool) -> str:
        parts = []
        if mutation and self.resolution:
            parts.append(f"resolution={self.resolution}")
        if mutation and self.return_ != "minimal":
            parts.append(f"return={self.return_}")
        if self.count:
            parts.append(f"count={self.count}")
        return ", ".join(parts)


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside double quotes and parentheses."""
    parts, depth, quoted, current = [], 0, False, []
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        if ch == "," and depth == 0 and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _column(table: TableInfo, name: str, qualifier: str | None = None) -> sql.Composable:
    if not _IDENT.match(name) or name not in table.columns:
        raise ApiError(400, "42703", f"column {table.name}.{name} does not exist")
    return sql.Identifier(qualifier, name) if qualifier else sql.Identifier(name)


def _select_list(table: TableInfo, select: str | None) -> sql.Composable:
    if not select or select.strip() == "*":
        return sql.SQL("*")
    items = []
    for raw in _split_top_level(select):
        item = raw.strip()
        if not item:
            continue
        if "(" in item or "!" in item:
            raise ApiError(400, "PGRST100", f'"failed to parse select parameter ({select})"',
                           "Resource embedding is not supported by this test server")
        if "::" in item:
            head, _, cast = item.partition("::")
            alias, _, name = head.rpartition(":")
        else:
            alias, _, name = item.rpartition(":")
            cast = ""
        if name == "*":
            items.append(sql.SQL("*"))
            continue
        expr: sql.Composable = _column(table, name)
        if cast:
            if not _CAST.match(cast):
                raise ApiError(400, "PGRST100", f'"failed to parse select parameter ({select})"')
            expr = sql.SQL("CAST({} AS {})").format(expr, sql.SQL(cast))
        items.append(sql.SQL("{} AS {}").format(expr, sql.Identifier(alias or name)))
    return sql.SQL(", ").join(items)


def _in_values(text: str) -> list[str]:
    if not (text.startswith("(") and text.endswith(")")):
        raise ValueError(text)
    inner = text[1:-1]
    if inner == "":
        return []
    values = []
    for part in _split_top_level(inner):
        part = part.strip()
        if len(part) >= 2 and part[0] == '"' and part[-1] == '"':
            part = part[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        values.append(part)
    return values


def _where(table: TableInfo, filters: list[tuple[str, str]], qualifier: str | None = None) -> tuple[sql.Composable, list[Any]]:
    clauses: list[sql.Composable] = []
    params: list[Any] = []
    for column, expression in filters:
        col = _column(table, column, qualifier)
        negate = expression.startswith("not.")
        body = expression[4:] if negate else expression
        op, dot, value = body.partition(".")
        try:
            if not dot:
                raise ValueError(expression)
            if op in _OPERATORS:
                clause = sql.SQL("{} " + _OPERATORS[op] + " %s").format(col)
                params.append(value)
            elif op == "in":
                values = _in_values(value)
                if values:
                    clause = sql.SQL("{} IN ({})").format(col, sql.SQL(", ").join(sql.SQL("%s") for _ in values))
                    params.extend(values)
                else:
                    clause = sql.SQL("FALSE")
            elif op == "is":
                if value.lower() not in _IS_VALUES:
                    raise ValueError(value)
                clause = sql.SQL("{} IS " + _IS_VALUES[value.lower()]).format(col)
            else:
                raise ValueError(op)
        except ValueError:
            raise ApiError(400, "PGRST100", f'"failed to parse filter ({expression})" (line 1, column 1)',
                           f"unexpected \"{expression}\"") from None
        clauses.append(sql.SQL("NOT ({})").format(clause) if negate else clause)
    if not clauses:
        return sql.SQL(""), params
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(clauses), params


def _order_by(table: TableInfo, order: str | None) -> sql.Composable:
    if not order:
        return sql.SQL("")
    terms = []
    for term in order.split(","):
        name, *modifiers = term.strip().split(".")
        parts: list[sql.Composable] = [_column(table, name)]
        for modifier in modifiers:
            mapped = {"asc": "ASC", "desc": "DESC", "nullsfirst": "NULLS FIRST", "nullslast": "NULLS LAST"}.get(modifier)
            if mapped is None:
                raise ApiError(400, "PGRST100", f'"failed to parse order ({order})" (line 1, column 1)',
                               f"unexpected \"{modifier}\"")
            parts.append(sql.SQL(mapped))
        terms.append(sql.SQL(" ").join(parts))
    return sql.SQL(" ORDER BY ") + sql.SQL(", ").join(terms)


def _int_param(params: dict[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise ApiError(400, "PGRST100", f'"failed to parse {name} parameter ({raw})"')
    return int(raw)


@dataclass(frozen=True)
class RowRange:
    """The top-level range of a read: ``offset`` and an inclusive ``last`` (None: open)."""

    offset: int
    last: int | None

    @property
    def limit(self) -> int | None:
        return None if self.last is None else self.last - self.offset + 1


def _requested_range(range_header: str | None, limit: int | None, offset: int | None, max_rows: int | None) -> RowRange:
    lower, upper = 0, None
    if range_header:
        match = _RANGE.match(range_header.strip())
        if match:  # PostgREST ignores a Range it cannot parse
            lower = int(match.group(1))
            upper = int(match.group(2)) if match.group(2) else None
            if upper is not None and upper < lower:
                raise ApiError(416, "PGRST103", "Requested range not satisfiable",
                               "The lower boundary must be lower than or equal to the upper boundary in the Range header.")
    # limit/offset form a second range; the request gets their intersection.
    q_lower = offset or 0
    q_upper = None if limit is None else q_lower + limit - 1
    lower = max(lower, q_lower)
    uppers = [u for u in (upper, q_upper) if u is not None]
    if max_rows is not None:
        uppers.append(lower + max_rows - 1)
    upper = min(uppers) if uppers else None
    if upper is not None and upper < lower:  # disjoint ranges or limit=0: no rows
        upper = lower - 1
    return RowRange(lower, upper)


def _content_range(lower: int, returned: int, total: int | None) -> tuple[int, str]:
    """PostgREST's rangeStatusHeader: (status, Content-Range value)."""
    upper = lower + returned - 1
    total_text = "*" if total is None else str(total)
    range_text = f"{lower}-{upper}" if total != 0 and lower <= upper else "*"
    if total is None:
        status = 200
    elif lower > total:
        status = 416
    elif (1 + upper - lower) < total:
        status = 206
    else:
        status = 200
    return status, f"{range_text}/{total_text}"


# --------------------------------------------------------------------------- connection pool


class _Pool:
    def __init__(self, dsn: str, size: int) -> None:
        self._dsn = dsn
        self._idle: queue.LifoQueue[psycopg.Connection] = queue.LifoQueue()
        self._size = size
        self._all: list[psycopg.Connection] = []
        self._lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            try:
                conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=5)
            except psycopg.OperationalError as exc:
                raise ApiError(503, "PGRST000", "Could not connect with the database", str(exc)) from exc
            with self._lock:
                self._all.append(conn)
        try:
            yield conn
        finally:
            if not conn.closed and conn.info.transaction_status == TransactionStatus.IDLE and self._idle.qsize() < self._size:
                self._idle.put(conn)
            else:
                conn.close()

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()


# --------------------------------------------------------------------------- the server


class PostgrestServer:
    """Serves ``{url}/rest/v1`` from ``dsn`` on 127.0.0.1 in a background thread."""

    def __init__(self, dsn: str, *, service_key: str, host: str = "127.0.0.1", port: int = 0,
                 schema: str = "public", role: str = "service_role", max_rows: int | None = DEFAULT_MAX_ROWS,
                 pool_size: int = 8) -> None:
        if not service_key:
            raise ValueError("service_key is required")
        self.dsn = dsn
        self.service_key = service_key
        self.schema = schema
        self.role = role
        self.max_rows = max_rows
        self.faults = FaultInjector()
        self.requests: list[RecordedRequest] = []
        self._requests_lock = threading.Lock()
        self._pool = _Pool(dsn, pool_size)
        self._tables: dict[str, TableInfo] = {}
        self._functions: dict[str, list[FunctionInfo]] = {}
        self._httpd = _Server((host, port), _Handler)
        self._httpd.app = self
        self._thread: threading.Thread | None = None

    # lifecycle ---------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL (``SUPABASE_URL``); the API is under ``/rest/v1``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "PostgrestServer":
        self.reload_schema()
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="postgrest", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.faults.clear()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._pool.close()

    def __enter__(self) -> "PostgrestServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reload_schema(self) -> None:
        """Re-read tables and functions (PostgREST's schema cache reload)."""
        with self._pool.connection() as conn:
            self._tables, self._functions = _load_schema(conn, self.schema)

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
                raise _from_pg_error(exc) from exc
            except psycopg.Error as exc:
                raise _from_pg_error(exc) from exc

    def read(self, name: str, params: list[tuple[str, str]], headers: dict[str, str]) -> "_Response":
        table = self.table(name)
        named = dict(params)
        prefer = Prefer.parse(headers.get("prefer"))
        filters = [(k, v) for k, v in params if k not in _RESERVED_PARAMS]
        where, args = _where(table, filters)
        select = _select_list(table, named.get("select"))
        order = _order_by(table, named.get("order"))
        limit = _int_param(named, "limit")
        offset = _int_param(named, "offset")
        rows_range = _requested_range(headers.get("range"), limit, offset, self.max_rows)
        page = sql.SQL("")
        if rows_range.limit is not None:
            page += sql.SQL(" LIMIT {}").format(sql.Literal(rows_range.limit))
        if rows_range.offset:
            page += sql.SQL(" OFFSET {}").format(sql.Literal(rows_range.offset))
        relation = sql.Identifier(self.schema, table.name)
        query = sql.SQL(
            "SELECT count(_r), coalesce(json_agg(_r), '[]')::text FROM (SELECT {} FROM {}{}{}{}) AS _r"
        ).format(select, relation, where, order, page)
        with self.transaction() as conn:
            returned, body = conn.execute(query, args).fetchone()
            total = None
            if prefer.count:
                total = conn.execute(sql.SQL("SELECT count(*) FROM {}{}").format(relation, where), args).fetchone()[0]
        status, content_range = _content_range(rows_range.offset, returned, total)
        response_headers = {"Content-Range": content_range, "Range-Unit": "items"}
        if prefer.count:
            response_headers["Preference-Applied"] = prefer.applied(mutation=False)
        if status == 416:
            raise ApiError(416, "PGRST103", "Requested range not satisfiable",
                           f"An offset of {rows_range.offset} was requested, but there are only {total} rows.",
                           headers=response_headers)
        return _Response(status, body.encode(), response_headers)

    def insert(self, name: str, params: list[tuple[str, str]], headers: dict[str, str], payload: Any) -> "_Response":
        table = self.table(name)
        named = dict(params)
        prefer = Prefer.parse(headers.get("prefer"))
        rows = payload if isinstance(payload, list) else [payload]
        if not all(isinstance(r, dict) for r in rows):
            raise ApiError(400, "PGRST102", "Empty or invalid json")
        keys = list(rows[0].keys()) if rows else []
        if any(set(r.keys()) != set(keys) for r in rows):
            raise ApiError(400, "PGRST102", "All object keys must match")
        for key in keys:
            if key not in table.columns:
                raise ApiError(400, "PGRST204", f"Could not find the '{key}' column of '{table.name}' in the schema cache")
        relation = sql.Identifier(self.schema, table.name)
        columns = sql.SQL(", ").join(sql.Identifier(k) for k in keys)
        conflict = sql.SQL("")
        if prefer.resolution:
            target_names = [c.strip() for c in named["on_conflict"].split(",")] if named.get("on_conflict") else list(table.primary_key)
            target = sql.SQL(", ").join(_column(table, c) for c in target_names)
            updates = [k for k in keys if k not in target_names]
            if prefer.resolution == "merge-duplicates" and updates:
                conflict = sql.SQL(" ON CONFLICT ({}) DO UPDATE SET {}").format(
                    target, sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(k)) for k in updates))
            else:
                conflict = sql.SQL(" ON CONFLICT ({}) DO NOTHING").format(target)
        if not rows:
            changed, body = 0, "[]"
        else:
            if keys:
                statement = sql.SQL(
                    "INSERT INTO {rel} ({cols}) SELECT {cols} FROM json_populate_recordset(NULL::{rel}, %s::json){conflict} RETURNING *"
                ).format(rel=relation, cols=columns, conflict=conflict)
            else:
                statement = sql.SQL("INSERT INTO {} DEFAULT VALUES RETURNING *").format(relation)
            query = sql.SQL(
                "WITH _w AS ({}) SELECT count(_r), coalesce(json_agg(_r), '[]')::text FROM (SELECT {} FROM _w) AS _r"
            ).format(statement, _select_list(table, named.get("select")))
            with self.transaction() as conn:
                changed, body = conn.execute(query, [json.dumps(rows)] if keys else []).fetchone()
        response_headers = {"Content-Range": f"*/{changed if prefer.count else '*'}"}
        if applied := prefer.applied(mutation=True):
            response_headers["Preference-Applied"] = applied
        if prefer.return_ == "representation":
            return _Response(201, body.encode(), response_headers)
        return _Response(201, b"", response_headers)

    def update(self, name: str, params: list[tuple[str, str]], headers: dict[str, str], payload: Any) -> "_Response":
        table = self.table(name)
        named = dict(params)
        prefer = Prefer.parse(headers.get("prefer"))
        if not isinstance(payload, dict):
            raise ApiError(400, "PGRST102", "Empty or invalid json")
        for key in payload:
            if key not in table.columns:
                raise ApiError(400, "PGRST204", f"Could not find the '{key}' column of '{table.name}' in the schema cache")
        if not payload:
            return _Response(204, b"", {"Content-Range": "*/*"})
        filters = [(k, v) for k, v in params if k not in _RESERVED_PARAMS]
        where, args = _where(table, filters, qualifier="_t")
        assignments = sql.SQL(", ").join(sql.SQL("{0} = _v.{0}").format(sql.Identifier(k)) for k in payload)
        statement = sql.SQL(
            "UPDATE {} AS _t SET {} FROM json_populate_record(NULL::{}, %s::json) AS _v{} RETURNING _t.*"
        ).format(sql.Identifier(self.schema, table.name), assignments, sql.Identifier(self.schema, table.name), where)
        query = sql.SQL(
            "WITH _w AS ({}) SELECT count(_r), coalesce(json_agg(_r), '[]')::text FROM (SELECT {} FROM _w) AS _r"
        ).format(statement, _select_list(table, named.get("select")))
        with self.transaction() as conn:
            changed, body = conn.execute(query, [json.dumps(payload), *args]).fetchone()
        range_text = f"0-{changed - 1}" if changed else "*"
        response_headers = {"Content-Range": f"{range_text}/{changed if prefer.count else '*'}"}
        if applied := prefer.applied(mutation=True):
            response_headers["Preference-Applied"] = applied
        if prefer.return_ == "representation":
            return _Response(200, body.encode(), response_headers)
        return _Response(204, b"", response_headers)

    def call(self, name: str, params: list[tuple[str, str]], payload: Any) -> "_Response":
        if payload is None:
            payload = {}
        if not isinstance(payload, dict):
            raise ApiError(400, "PGRST102", "Empty or invalid json")
        keys = set(payload)
        function = None
        for candidate in self._functions.get(name, []):
            names = [p for p, _ in candidate.params]
            if keys <= set(names) and set(names[: candidate.required]) <= keys:
                function = candidate
                break
        if function is None:
            listed = ", ".join(sorted(keys))
            known = self._functions.get(name)
            hint = (f"Perhaps you meant to call the function {self.schema}.{name}({', '.join(p for p, _ in known[0].params)})"
                    if known else None)
            raise ApiError(404, "PGRST202",
                           f"Could not find the function {self.schema}.{name}({listed}) in the schema cache",
                           f"Searched for the function {self.schema}.{name} with parameters {listed or 'no parameters'} "
                           "or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.",
                           hint)
        given = [(p, t) for p, t in function.params if p in keys]
        record = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(p), sql.SQL(t)) for p, t in given)
        arguments = sql.SQL(", ").join(sql.SQL("{0} := _a.{0}").format(sql.Identifier(p)) for p, _ in given)
        routine = sql.Identifier(self.schema, name)
        source = sql.SQL(" FROM json_to_record(%s::json) AS _a({})").format(record) if given else sql.SQL("")
        if function.returns_set:
            named = dict(params)
            rows_range = _requested_range(None, _int_param(named, "limit"), _int_param(named, "offset"), self.max_rows)
            page = sql.SQL("")
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
                returned, body = conn.execute(query, [json.dumps(payload)] if given else []).fetchone()
            _, content_range = _content_range(rows_range.offset, returned, None)
            return _Response(200, body.encode(), {"Content-Range": content_range})
        query = sql.SQL("SELECT to_json({}({}))::text{}").format(routine, arguments, source)
        with self.transaction() as conn:
            body = conn.execute(query, [json.dumps(payload)] if given else []).fetchone()[0]
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

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
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
        except Exception as exc:  # pragma: no cover - a bug in this server
            log.exception("postgrest test server failed")
            response = _Response(500, json.dumps({"code": "PGRSTX00", "message": str(exc), "details": None,
                                                  "hint": None}).encode(), {})
        if fault is not None:
            self._fail(app, method, parts, headers, fault)
            return
        app._record(RecordedRequest(method, parts.path, parts.query, headers, response.status))
        self._send(response)

    def _dispatch(self, app: PostgrestServer, method: str, parts: Any, headers: dict[str, str], raw: bytes) -> _Response:
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
            return app.call(resource[4:], params, payload)
        if method == "GET":
            return app.read(resource, params, headers)
        if method == "POST":
            return app.insert(resource, params, headers, payload)
        if method == "PATCH":
            return app.update(resource, params, headers, payload)
        raise ApiError(405, "PGRST117", f"Unsupported HTTP method: {method}")

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
            with socket.create_connection((parts.hostname, parts.port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# --------------------------------------------------------------------------- local stack


@dataclass
class LocalSupabase:
    """PostgreSQL + migrations + demo data behind this server: what ``make run`` uses."""

    url: str
    service_key: str
    dsn: str
    server: PostgrestServer
    cluster: Any

    def stop(self) -> None:
        self.server.stop()
        self.cluster.stop()


def start_local_supabase(*, today: date, service_key: str = "local-service-key-not-secret",
                         demo_data: bool = True) -> LocalSupabase:
    """Start a throwaway PostgreSQL with the migrations (and the demo data) behind the server.

    Raises ``devstack.postgres.PostgresNotInstalled`` (its message says which apt package
    to install) when PostgreSQL 15 is missing; the caller can then run without Supabase.
    Set ``SUPABASE_URL``/``SUPABASE_SERVICE_KEY`` to ``url``/``service_key``.
    """
    from .demo_data import load_demo_data
    from .postgres import start_postgres

    cluster = start_postgres()
    try:
        if demo_data:
            with psycopg.connect(cluster.dsn, autocommit=True) as conn:
                load_demo_data(conn, today)
        server = PostgrestServer(cluster.dsn, service_key=service_key).start()
    except BaseException:
        cluster.stop()
        raise
    return LocalSupabase(server.url, service_key, cluster.dsn, server, cluster)
