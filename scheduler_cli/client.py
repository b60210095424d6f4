"""The REST API over HTTP: one request per call, answers as JSON, refusals as problems.

An answer of 4xx is :class:`Refused` (the caller can fix the request: exit code 2); a 5xx
or no answer at all is :class:`Unavailable` (exit code 1). Both carry a :class:`Problem`
built from the RFC 9457 body when there is one, else from what the gateway sent
(API Gateway's 401/403 bodies are ``{"message": ...}``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator
from urllib.parse import quote

import httpx

USER_AGENT = "nightly-scheduler-cli"


@dataclass(frozen=True)
class Problem:
    """What the server said was wrong: RFC 9457's title, detail and field errors."""

    status: int | None
    title: str
    detail: str | None = None
    errors: tuple[tuple[str, str], ...] = ()
    type: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_response(cls, response: httpx.Response) -> Problem:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            text = response.text.strip()
            return cls(response.status_code, response.reason_phrase or f"HTTP {response.status_code}", text[:500] or None)
        if "title" not in body and ("message" in body or "Message" in body):  # API Gateway's own 401/403 bodies
            message = str(body.get("message") or body.get("Message"))
            return cls(response.status_code, message, _auth_hint(response.status_code))
        errors = tuple((str(e.get("field", "")), str(e.get("message", ""))) for e in body.get("errors") or []
                       if isinstance(e, dict))
        known = {"type", "title", "status", "detail", "errors", "instance"}
        return cls(response.status_code, str(body.get("title") or response.reason_phrase or f"HTTP {response.status_code}"),
                   body.get("detail"), errors, body.get("type"), {k: v for k, v in body.items() if k not in known})


def _auth_hint(status: int) -> str | None:
    if status == 401:
        return "The token was refused (missing, malformed, expired or from another project): check SCHEDULER_TOKEN."
    if status == 403:
        return "The token is valid but its role may not use the scheduler: use a service_role key or an admin's token."
    return None


class ApiError(Exception):
    """A request that did not succeed; ``problem`` says why."""

    exit_code = 1

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.title)
        self.problem = problem


class Refused(ApiError):
    """A 4xx answer: the request was refused and can be fixed by the caller."""

    exit_code = 2


class Unavailable(ApiError):
    """A 5xx answer, or no answer at all."""


def segment(value: str) -> str:
    """One path segment, escaped: a name with ``/`` or ``?`` cannot reach another route."""
    return quote(value, safe="")


class ApiClient:
    """The scheduler's REST API at ``base_url`` (…/api/v1/scheduler), with a bearer token."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout,
                                  headers={"Authorization": f"Bearer {token}", "Accept": "application/json",
                                           "User-Agent": USER_AGENT})

    def close(self) -> None:
        self._http.close()

    def call(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None) -> Any:
        """The answer's JSON (``None`` for an empty answer such as 204)."""
        return self.exchange(method, path, json=json, params=params, headers=headers)[1]

    def exchange(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """The answer's status and JSON, for a caller to whom 200 and 201 say different things."""
        try:
            response = self._http.request(method, path, json=json, params=_present(params), headers=headers)
        except httpx.HTTPError as exc:
            raise Unavailable(Problem(None, f"No answer from {self.base_url}",
                                      f"{type(exc).__name__}: {exc}. Is SCHEDULER_URL right and the API up?")) from exc
        if response.status_code >= 400:
            error = Refused if response.status_code < 500 else Unavailable
            raise error(Problem.from_response(response))
        if not response.content:
            return response.status_code, None
        try:
            return response.status_code, response.json()
        except ValueError as exc:
            raise Unavailable(Problem(response.status_code, "The answer is not JSON",
                                      f"{response.headers.get('content-type')}: {response.text[:200]}")) from exc

    def pages(self, path: str, key: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a paged listing, following ``nextToken`` to the end."""
        query = dict(params or {})
        while True:
            body = self.call("GET", path, params=query)
            yield from body.get(key) or []
            token = body.get("nextToken")
            if not token:
                return
            query["nextToken"] = token


def _present(params: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if params is None else {k: v for k, v in params.items() if v is not None}
