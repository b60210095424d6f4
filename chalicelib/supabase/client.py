"""A small PostgREST client for Supabase's REST API (``{SUPABASE_URL}/rest/v1``).

Plain HTTP with httpx; not the ``supabase`` package. What it does for every call:

* Authentication: the key goes in the ``apikey`` header, and also as
  ``Authorization: Bearer <key>`` when it is a JWT (the legacy ``service_role`` key).
  Supabase's newer opaque secret keys (``sb_secret_…``) are sent as ``apikey`` only.
* Explicit connect and read timeouts.
* Retries with exponential backoff (``backoff_base * 2**(n-1)``, capped) on 5xx,
  connection errors, timeouts, and the PostgREST connection errors PGRST000–PGRST003;
  never on other 4xx. Every write this project makes is idempotent (RPC keyed by the
  run's idempotency key, upserts), so repeating one whose answer was lost is safe.
* Errors: :class:`SupabaseError` with the HTTP status and PostgREST's ``code``,
  ``message``, ``details`` and ``hint``. The key never appears in a message or a log
  line (it is only ever in headers, and any echo of it is redacted).
* Reads page past Supabase's 1,000-row cap with ``Range`` headers; the first page asks
  for ``count=exact`` and ``Content-Range`` says when to stop.
* Only what a job uses: ``rpc`` (the certification check's one call) and paged reads.
"""
from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence
from urllib.parse import quote

import httpx

from chalicelib.core import strict_json
from chalicelib.core.credentials import looks_like_jwt as looks_like_jwt  # the rule lives with the others
from chalicelib.core.redaction import REDACTED

log = logging.getLogger(__name__)

# Used with fullmatch: '$' would let a trailing newline through.
_CONTENT_RANGE = re.compile(r"(?:(\d+)-(\d+)|\*)/(\d+|\*)")
RETRYABLE_PGRST_CODES = frozenset({"PGRST000", "PGRST001", "PGRST002", "PGRST003"})

Filters = Mapping[str, str] | Sequence[tuple[str, str]]
"""PostgREST filters as ``column → "op.value"``, e.g. ``{"status": "eq.active"}``."""


class SupabaseError(Exception):
    """A Supabase REST call failed (after retries, when the failure was retryable).

    ``status`` is the HTTP status (None when no answer came: connection error or
    timeout); ``code``, ``message``, ``details`` and ``hint`` are PostgREST's error
    body fields when there was one.
    """

    def __init__(self, *, operation: str, status: int | None, code: str | None, message: str,
                 details: str | None = None, hint: str | None = None, retryable: bool = False,
                 attempts: int = 1):
        self.operation = operation
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.hint = hint
        self.retryable = retryable
        self.attempts = attempts
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f"Supabase {self.operation}"
        what = f"HTTP {self.status}" if self.status is not None else "no response"
        if self.code:
            what += f" {self.code}"
        text = f"{where} failed: {what}: {self.message}"
        if self.details:
            text += f" (details: {self.details})"
        if self.hint:
            text += f" (hint: {self.hint})"
        if self.attempts > 1:
            text += f" [after {self.attempts} attempts]"
        return text


@dataclass(frozen=True)
class RowPage:
    """One page of rows and the ``Content-Range`` the server answered with."""

    rows: list[dict[str, Any]]
    first: int | None
    last: int | None
    total: int | None


class SupabaseClient:
    """PostgREST over httpx. Build one per process; it holds a connection pool.

    ``sleep`` is how the client waits between attempts (injected so tests do not wait);
    ``transport`` replaces httpx's network transport (tests use ``httpx.MockTransport``).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        max_attempts: int = 4,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        page_size: int = 1000,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not base_url:
            raise ValueError("Supabase URL is not set (SUPABASE_URL)")
        if not api_key:
            raise ValueError("Supabase service key is empty")
        if max_attempts < 1 or page_size < 1:
            raise ValueError("max_attempts and page_size must be at least 1")
        self._key = api_key
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.page_size = page_size
        self._sleep = sleep
        self.request_count = 0
        headers = {"apikey": api_key, "Accept": "application/json"}
        if looks_like_jwt(api_key):
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + "/rest/v1/",
            headers=headers,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            transport=transport,
        )

    @classmethod
    def from_settings(cls, settings: Any, resolve_secret: Callable[[str], str] | None = None, **kwargs: Any) -> SupabaseClient:
        """Build from :class:`~chalicelib.settings.Settings`.

        The key is ``settings.supabase_service_key`` when set (local use), else the
        secret named by ``settings.supabase_service_key_id`` through ``resolve_secret``.
        """
        key = settings.supabase_service_key
        if not key:
            if not settings.supabase_service_key_id:
                raise ValueError("Set SUPABASE_SERVICE_KEY_ID (Secrets Manager name/ARN or ssm:/parameter) "
                                 "or, for local use, SUPABASE_SERVICE_KEY")
            if resolve_secret is None:
                raise ValueError("resolve_secret is required to read SUPABASE_SERVICE_KEY_ID")
            key = resolve_secret(settings.supabase_service_key_id)
        return cls(settings.supabase_url, key, connect_timeout=settings.supabase_connect_timeout,
                   read_timeout=settings.supabase_read_timeout, **kwargs)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SupabaseClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SupabaseClient({str(self._http.base_url)!r})"

    # operations ---------------------------------------------------------------

    def rpc(self, function: str, args: Mapping[str, Any] | None = None) -> Any:
        """``POST /rpc/<function>`` with named arguments; the decoded JSON result."""
        response = self._request("POST", f"rpc/{quote(function)}", json_body=dict(args or {}))
        return _decode(response) if response.content else None

    def select_page(self, table: str, *, columns: str = "*", filters: Filters = (), order: str | None = None,
                    offset: int = 0, limit: int | None = None, count: bool = False) -> RowPage:
        """One page of rows via the ``Range`` header; ``total`` only when ``count``."""
        size = limit or self.page_size
        headers = {"Range-Unit": "items", "Range": f"{offset}-{offset + size - 1}"}
        if count:
            headers["Prefer"] = "count=exact"
        params = [("select", columns), *_filter_pairs(filters)]
        if order:
            params.append(("order", order))
        response = self._request("GET", quote(table), params=params, headers=headers)
        rows = _decode(response)
        first, last, total = _parse_content_range(response.headers.get("Content-Range"))
        return RowPage(rows, first, last, total)

    def iter_rows(self, table: str, *, columns: str = "*", filters: Filters = (), order: str = "id",
                  page_size: int | None = None) -> Iterator[dict[str, Any]]:
        """Every matching row, page by page (past the server's 1,000-row cap).

        ``order`` must make the order total (end it with a unique column), so pages do
        not overlap. The first page counts the rows; the next ones start where the
        previous ended, whatever size the server chose to return.
        """
        size = page_size or self.page_size
        offset, total = 0, None
        while True:
            page = self.select_page(table, columns=columns, filters=filters, order=order, offset=offset,
                                    limit=size, count=total is None)
            if total is None:
                total = page.total
            yield from page.rows
            offset += len(page.rows)
            if not page.rows or (total is not None and offset >= total):
                return

    # transport ----------------------------------------------------------------

    def _request(self, method: str, path: str, *, params: Sequence[tuple[str, str]] = (),
                 json_body: Any = None, headers: Mapping[str, str] | None = None) -> httpx.Response:
        operation = f"{method} /rest/v1/{path}"
        content = None
        request_headers = dict(headers or {})
        if json_body is not None:
            content = json.dumps(json_body, default=str).encode()
            request_headers["Content-Type"] = "application/json"
        attempt = 0
        while True:
            attempt += 1
            self.request_count += 1
            try:
                response = self._http.request(method, path, params=list(params), content=content,
                                              headers=request_headers)
            except httpx.TransportError as exc:
                error = SupabaseError(operation=operation, status=None, code=None,
                                      message=self._redact(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) or "",
                                      retryable=True, attempts=attempt)
            else:
                if response.status_code < 400:
                    return response
                error = self._error_from(operation, response, attempt)
            if not error.retryable or attempt >= self.max_attempts:
                raise error
            delay = min(self.backoff_base * 2 ** (attempt - 1), self.backoff_max)
            log.warning("supabase call failed, retrying",
                        extra={"operation": operation, "status": error.status, "code": error.code,
                               "attempt": attempt, "delay_s": delay})
            self._sleep(delay)

    def _error_from(self, operation: str, response: httpx.Response, attempt: int) -> SupabaseError:
        status = response.status_code
        body: Any = None
        try:
            body = strict_json.sanitize(strict_json.loads(response.content))
        except (ValueError, RecursionError):
            pass
        if isinstance(body, dict):
            code = body.get("code")
            message = body.get("message") or body.get("msg") or body.get("error") or response.reason_phrase
            details, hint = body.get("details"), body.get("hint")
        else:
            code, details, hint = None, None, None
            # Redacted whole before it is cut: a key cut in half would no longer match.
            message = (self._redact(response.text) or response.reason_phrase or "").strip()[:300] or f"HTTP {status}"
        code = str(code) if code is not None else None
        retryable = status >= 500 or code in RETRYABLE_PGRST_CODES
        return SupabaseError(
            operation=operation, status=status, code=code, message=self._redact(str(message)) or "",
            details=self._redact(_text(details)), hint=self._redact(_text(hint)), retryable=retryable,
            attempts=attempt,
        )

    def _redact(self, text: str | None) -> str | None:
        if text is None:
            return None
        # Real keys are long; a toy key of a few characters would mangle ordinary words.
        return text.replace(self._key, REDACTED) if len(self._key) >= 8 else text


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def _decode(response: httpx.Response) -> Any:
    """The answer as strict JSON: NaN, Infinity, 1e999 or a lone surrogate is a protocol error."""
    operation = f"{response.request.method} {response.request.url.path}"
    try:
        body = strict_json.loads(response.content)
    except (ValueError, RecursionError) as exc:
        raise SupabaseError(operation=operation, status=response.status_code, code=None,
                            message="the answer is not JSON") from exc
    problems = strict_json.problems(body, "answer")
    if problems:
        raise SupabaseError(operation=operation, status=response.status_code, code=None,
                            message=f"the answer is not strict JSON: a value {problems[0].message}"[:300])
    return body


def _filter_pairs(filters: Filters) -> list[tuple[str, str]]:
    items = filters.items() if isinstance(filters, Mapping) else filters
    return [(str(k), str(v)) for k, v in items]


def _parse_content_range(value: str | None) -> tuple[int | None, int | None, int | None]:
    """``"0-999/5000"`` → (0, 999, 5000); ``"*/0"`` → (None, None, 0); ``*`` totals → None."""
    if not value:
        return None, None, None
    match = _CONTENT_RANGE.fullmatch(value.strip())
    if not match:
        return None, None, None
    first, last, total = match.groups()
    return (int(first) if first else None, int(last) if last else None,
            int(total) if total and total != "*" else None)
