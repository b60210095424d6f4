"""Who did what: one structured audit line per mutating API request.

The caller is the token's ``sub`` and role, passed on by the authorizer. Every change
made through the API records it on what it changed too (``createdBy``, ``updatedBy``,
``pausedBy``, an execution's ``triggeredBy``); this module writes the request's line.
"""
from __future__ import annotations

import json
import logging
from functools import wraps
from typing import Any, Callable, Mapping

from chalicelib.core.model import Actor

log = logging.getLogger("chalicelib.audit")


def caller(request_context: Mapping[str, Any] | None) -> Actor | None:
    """The authenticated caller of a request (None when the route has no authorizer)."""
    authorizer = (request_context or {}).get("authorizer") or {}
    subject = authorizer.get("principalId")
    if not subject:
        return None
    return Actor(subject=str(subject), role=str(authorizer.get("role") or "unknown"))


def record(action: str, *, actor: Actor | None, job_name: str | None, status: int,
           details: Mapping[str, Any] | None = None, target: str | None = None) -> dict[str, Any]:
    """Write the audit line and return it: who, what, on which job (or ``target``: the
    channel or window), and the outcome."""
    target = target or job_name
    entry = {
        "audit": True,
        "action": action,
        "job_name": job_name,
        "target": target,
        "actor": actor.subject if actor else None,
        "actor_role": actor.role if actor else None,
        "status": status,
        "outcome": "succeeded" if status < 400 else "refused" if status < 500 else "failed",
        **dict(details or {}),
    }
    log.info("audit: %s %s by %s -> %s", action, target or "-", actor or "anonymous", status, extra=entry)
    return entry


def audited(action: str, caller_of_request: Callable[[], Actor | None]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Wrap a route: after it answers, :func:`record` who did ``action`` and the outcome."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            response = fn(*args, **kwargs)
            body = _json_body(response)
            job_name = kwargs.get("jobName") or (body.get("jobName") if response.status_code in (200, 201) else None)
            details: dict[str, Any] = {}
            if action == "trigger" and response.status_code == 202:
                details = {"execution_id": body.get("executionId"),
                           "forced": bool((body.get("payloadOverride") or {}).get("force"))}
            record(action, actor=caller_of_request(), job_name=job_name, status=response.status_code, details=details,
                   target=_target(kwargs, body, response.status_code))
            return response

        return wrapper

    return decorate


def _target(path_params: Mapping[str, Any], body: Mapping[str, Any], status: int) -> str | None:
    """What a channel or window request acted on: ``channel <name>``, ``window <id>`` (a
    created window's id from the answer); None for a job's request (its ``job_name`` says)."""
    if path_params.get("name"):
        return f"channel {path_params['name']}"
    if path_params.get("windowId"):
        return f"window {path_params['windowId']}"
    if status == 201 and str(body.get("id", "")).startswith("mw-"):
        return f"window {body['id']}"
    return None


def _json_body(response: Any) -> dict[str, Any]:
    try:
        body = json.loads(response.body) if isinstance(response.body, str) and response.body else {}
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
