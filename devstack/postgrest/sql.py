"""PostgREST's request language translated to SQL: the schema cache, ``select``, filters,
``order``, ranges and ``Prefer``, and PostgREST's error bodies and status mapping."""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)


DEFAULT_MAX_ROWS = 1000


RESERVED_PARAMS = {"select", "order", "limit", "offset", "on_conflict", "columns", "apikey"}


_OPERATORS = {"eq": "=", "neq": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


_IS_VALUES = {"null": "NULL", "not_null": "NOT NULL", "true": "TRUE", "false": "FALSE", "unknown": "UNKNOWN"}


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")  # these three with fullmatch: '$' lets a newline through


_CAST = re.compile(r"[A-Za-z_][A-Za-z0-9_ ]*(\[\])?")


_RANGE = re.compile(r"(\d+)-(\d*)")


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


def from_pg_error(exc: psycopg.Error) -> ApiError:
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


def load_schema(conn: psycopg.Connection, schema: str) -> tuple[dict[str, TableInfo], dict[str, list[FunctionInfo]]]:
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
            names = [n for n, m in zip(names, argmodes, strict=False) if m in ("i", "b", "v")]
        if len(names) != nargs or any(not n for n in names):
            continue  # unnamed parameters cannot be called with a JSON object
        functions.setdefault(name, []).append(
            FunctionInfo(name, tuple(zip(names, argtypes, strict=False)), nargs - ndefaults, retset, void)
        )
    return tables, functions


@dataclass
class Prefer:
    """The ``Prefer`` header, as far as reads use it: ``count=exact|planned|estimated``."""

    count: str | None = None

    @classmethod
    def parse(cls, header: str | None) -> Prefer:
        prefer = cls()
        for part in (header or "").split(","):
            key, _, value = part.strip().partition("=")
            if key == "count" and value in ("exact", "planned", "estimated"):
                prefer.count = value
        return prefer

    def applied(self) -> str:
        return f"count={self.count}" if self.count else ""


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside double quotes and parentheses."""
    parts: list[str] = []
    current: list[str] = []
    depth, quoted = 0, False
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
    if not _IDENT.fullmatch(name) or name not in table.columns:
        raise ApiError(400, "42703", f"column {table.name}.{name} does not exist")
    return sql.Identifier(qualifier, name) if qualifier else sql.Identifier(name)


def select_list(table: TableInfo, select: str | None) -> sql.Composable:
    if not select or select.strip() == "*":
        return sql.SQL("*")
    items: list[sql.Composable] = []
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
            if not _CAST.fullmatch(cast):
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


def where_clause(table: TableInfo, filters: list[tuple[str, str]], qualifier: str | None = None) -> tuple[sql.Composable, list[Any]]:
    clauses: list[sql.Composable] = []
    params: list[Any] = []
    for column, expression in filters:
        col = _column(table, column, qualifier)
        negate = expression.startswith("not.")
        body = expression[4:] if negate else expression
        op, dot, value = body.partition(".")
        clause: sql.Composable
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


def order_by(table: TableInfo, order: str | None) -> sql.Composable:
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


def int_param(params: dict[str, str], name: str) -> int | None:
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


def requested_range(range_header: str | None, limit: int | None, offset: int | None, max_rows: int | None) -> RowRange:
    lower, upper = 0, None
    if range_header:
        match = _RANGE.fullmatch(range_header.strip())
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


def content_range_for(lower: int, returned: int, total: int | None) -> tuple[int, str]:
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
