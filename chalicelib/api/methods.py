"""Unsupported methods on known paths: a 405 problem document with ``Allow``.

Registered for every path of the app, so API Gateway and Chalice's local server answer
alike (the local server would otherwise answer 501, API Gateway 403).
"""
from __future__ import annotations

import json
from typing import Any, Callable

from chalicelib.api.problems import PROBLEM_JSON

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
METHOD_NOT_ALLOWED_PREFIX = "method_not_allowed_"


def _refusal(app: Any, allowed: list[str]) -> Callable[..., Any]:
    from chalice import Response

    def refuse(**_path_params: str) -> Any:
        method = app.current_request.method if app.current_request else "This method"
        body = {"type": "https://nightly-scheduler.dev/problems/method-not-allowed", "title": "Method not allowed.",
                "status": 405, "detail": f"{method} is not served here; use {', '.join(allowed)}."}
        return Response(body=json.dumps(body), status_code=405,
                        headers={"Content-Type": PROBLEM_JSON, "Allow": ", ".join(allowed)})

    return refuse


def refuse_other_methods(app: Any, authorizer: Any, content_types: list[str]) -> None:
    """Add, for each path, a route answering its unsupported methods (behind the same
    authorizer as the path's own routes, so a caller without a token still gets 401)."""
    for index, (path, entries) in enumerate(sorted(app.routes.items())):
        others = [m for m in HTTP_METHODS if m not in entries]
        if others:
            guarded = next(iter(entries.values())).authorizer is not None
            app.route(path, methods=others, name=f"{METHOD_NOT_ALLOWED_PREFIX}{index}", content_types=content_types,
                      **({"authorizer": authorizer} if guarded else {}))(_refusal(app, sorted(entries)))
