"""What every route function uses: the service, the request, JSON answers, and the
decorators that turn errors into problems, register the code-defined jobs and audit.

A route function parses its input, makes one service call and shapes the answer.
"""
from __future__ import annotations

from functools import wraps
from typing import TYPE_CHECKING, Any, Callable

from chalice import Response
from chalice.app import Request

from chalicelib import bootstrap
from chalicelib.api import audit
from chalicelib.api.gateway import BASE, app, logger
from chalicelib.api.problems import PROBLEM_JSON, problem_for
from chalicelib.api.requests import parse_json_body
from chalicelib.core import strict_json
from chalicelib.core.definitions import validate_job_name
from chalicelib.core.scheduler import ApiService

if TYPE_CHECKING:
    from chalicelib.core.scheduler.channel_service import Channels


def service() -> ApiService:
    """The API service; getting it registers nothing (see :func:`with_code_jobs`)."""
    return bootstrap.get_runtime().service


def channels() -> Channels:
    """The notification channels' use case (PUT, GET, DELETE /channels)."""
    return bootstrap.get_runtime().channels


# ---------------------------------------------------------------------- answers


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(body=strict_json.dumps(body), status_code=status,
                    headers={"Content-Type": "application/json", **(headers or {})})


def empty(status: int) -> Response:
    return Response(body="", status_code=status, headers={})


# ---------------------------------------------------------------------- decorators


def api(fn: Callable[..., Response]) -> Callable[..., Response]:
    """Map domain errors to RFC 9457 problems; never let a stack trace out."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - every error becomes a problem; 5xx ones are logged
            result = problem_for(exc)
            if result.status >= 500:
                logger.exception("request failed")
            return Response(body=strict_json.dumps(result.body), status_code=result.status,
                            headers={"Content-Type": PROBLEM_JSON, **result.headers})

    return wrapper


def with_code_jobs(fn: Callable[..., Response]) -> Callable[..., Response]:
    """For a route that lists, reads or changes jobs: the code-defined jobs are registered
    first (once per process), so a fresh deploy lists, shows and accepts them."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        bootstrap.get_runtime().ensure_code_jobs()
        return fn(*args, **kwargs)

    return wrapper


def audited(action: str) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """One audit line per mutating request (see ``chalicelib.api.audit``)."""
    return audit.audited(action, caller)


# ---------------------------------------------------------------------- the request


def request() -> Request:
    """The request being served (Chalice sets it before a route function runs)."""
    current = app.current_request
    assert current is not None, "only route functions read the request"
    return current


def caller() -> Any:
    return audit.caller(request().context)


def job_name(value: str) -> str:
    return validate_job_name(value)


def request_path(collection: str) -> str:
    """The path as the caller sent it (API Gateway's includes the stage), for Location;
    ``{BASE}/{collection}`` when the context has none."""
    context = request().context or {}
    return str(context.get("path") or f"{BASE}/{collection}").rstrip("/")


def body(required: bool = False) -> Any:
    return parse_json_body(request().raw_body, required=required)
