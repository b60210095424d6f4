"""``expect``: success judged by the answer, not only by its status.

Shared by ``http-request``, ``edge-function`` and ``database-function``::

    "expect": {"status": [200, 204], "json": {"ok": true}}

``status`` (a code or a list of up to 20) replaces "any 2xx" as the statuses that count as
an answer; ``json`` is a subset the JSON body must contain: every key of an object is
present with a matching value (objects match recursively, so ``{"data": {"ok": true}}``
ignores the other keys of ``data``), lists and scalars must be equal (``true`` is not
``1``). An answer that does not meet it raises :class:`ExpectationFailed`, permanent,
whose message says what differed. A 5xx, 408, 425 or 429 outside ``status`` stays a
retryable :class:`~.errors.HttpRequestFailed`: the endpoint did not really answer.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from chalicelib.core.errors import FieldError
from chalicelib.jobs.http_request.errors import HttpRequestFailed

MAX_EXPECT_CODES = 20
MAX_EXPECT_JSON_CHARS = 4096
_QUOTE_LIMIT = 120  # characters of a differing value quoted in an error
_MAX_DIFFERENCES = 5


@dataclass(frozen=True)
class Expectation:
    """A checked ``expect``: the statuses that count (None: any 2xx) and the JSON subset."""

    status: frozenset[int] | None = None
    json: Any = None
    has_json: bool = False


class ExpectationFailed(HttpRequestFailed):
    """The endpoint answered, but not as ``expect`` says: a permanent failure."""

    def __init__(self, message: str, *, method: str, url: str, status: int, body_excerpt: str):
        super().__init__(message, method=method, url=url, status=status, body_excerpt=body_excerpt)
        self.retryable = False


def parse_status_codes(raw: Any) -> frozenset[int] | None:
    """A status code or a list of up to 20 (100-599); None when malformed."""
    codes = raw if isinstance(raw, list) else [raw]
    if not codes or len(codes) > MAX_EXPECT_CODES or not all(
        isinstance(c, int) and not isinstance(c, bool) and 100 <= c <= 599 for c in codes
    ):
        return None
    return frozenset(codes)


def check_expect(raw: Any, where: str, errors: list[FieldError]) -> Expectation | None:
    """Validate a payload's ``expect`` (``where`` is its field name, e.g. ``payload.expect``)."""
    if not isinstance(raw, Mapping):
        errors.append(FieldError(where, 'must be an object: {"status": [200, 204], "json": {"ok": true}}'))
        return None
    found: list[FieldError] = []
    for key in raw:
        if key not in ("status", "json"):
            found.append(FieldError(f"{where}.{key}", "unknown field; expected status and json"))
    status = None
    if "status" in raw:
        status = parse_status_codes(raw["status"])
        if status is None:
            found.append(FieldError(f"{where}.status",
                                    f"must be a status code (100-599) or a list of up to {MAX_EXPECT_CODES}"))
    if "json" in raw:
        try:
            text = json.dumps(raw["json"], allow_nan=False)
        except (TypeError, ValueError):
            found.append(FieldError(f"{where}.json", "must be a JSON value"))
        else:
            if len(text) > MAX_EXPECT_JSON_CHARS:
                found.append(FieldError(f"{where}.json", f"must be at most {MAX_EXPECT_JSON_CHARS} characters as JSON"))
    if not raw:
        found.append(FieldError(where, "must name status, json or both"))
    errors.extend(found)
    if found:
        return None
    return Expectation(status=status, json=raw.get("json"), has_json="json" in raw)


def json_differences(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """Where ``actual`` does not contain ``expected`` (subset rules above), as short phrases."""
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return [f"{path} is {_quote(actual)}, expected an object"]
        found: list[str] = []
        for key, value in expected.items():
            here = f"{path}.{key}"
            if key not in actual:
                found.append(f"{here} is missing (expected {_quote(value)})")
            else:
                found.extend(json_differences(value, actual[key], here))
        return found
    if _same(expected, actual):
        return []
    return [f"{path} is {_quote(actual)}, expected {_quote(expected)}"]


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and all(
            _same(e, a) for e, a in zip(expected, actual, strict=True))
    if isinstance(expected, Mapping):
        return not json_differences(expected, actual)
    return bool(expected == actual)


def _quote(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _QUOTE_LIMIT else text[:_QUOTE_LIMIT] + "…"


def expectation_failure(
    expectation: Expectation,
    *,
    method: str,
    url: str,
    status: int,
    media_type: str,
    text: str,
    truncated: bool,
    scrub: Callable[[str], str],
) -> ExpectationFailed | None:
    """The failure when an answer (already accepted by its status) misses ``expect.json``."""
    if not expectation.has_json:
        return None
    where = f"{method} {url} answered HTTP {status} but not as expected"
    excerpt = " ".join(scrub(text).split())[:500]  # scrubbed whole, then collapsed and cut
    is_json = media_type == "application/json" or media_type.endswith("+json")
    body: Any = None
    if is_json and not truncated:
        try:
            body = json.loads(text)
        except ValueError:
            is_json = False
    if not is_json or truncated:
        reason = "its body was cut at the read limit" if truncated else f"its body is not JSON ({media_type or 'no type'})"
        return ExpectationFailed(scrub(f"{where}: expect.json needs a JSON body, and {reason}"),
                                 method=method, url=url, status=status, body_excerpt=excerpt)
    differences = json_differences(expectation.json, body)
    if not differences:
        return None
    more = len(differences) - _MAX_DIFFERENCES
    listed = "; ".join(differences[:_MAX_DIFFERENCES]) + (f"; and {more} more" if more > 0 else "")
    return ExpectationFailed(scrub(f"{where}: {listed}"), method=method, url=url, status=status,
                             body_excerpt=excerpt)


def status_failure(
    expectation: Expectation, *, method: str, url: str, status: int, excerpt: str
) -> ExpectationFailed | None:
    """The failure for a status outside ``expect.status`` that no retry could change (None else)."""
    if expectation.status is None or status >= 500 or status in (408, 425, 429):
        return None
    codes = ", ".join(str(c) for c in sorted(expectation.status))
    return ExpectationFailed(f"{method} {url} returned HTTP {status}, expected {codes}: {excerpt}",
                             method=method, url=url, status=status, body_excerpt=excerpt)
