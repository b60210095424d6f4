"""Requests no route serves: a 405 problem with ``Allow`` for an unsupported method on a
known path, a 404 problem for a path the API does not have, a 415 problem for a body of a
media type a route does not take (:func:`media_type_problem`).

The 405 routes are registered for every path of the app, so API Gateway and Chalice's
local server answer alike (the local server would otherwise answer 501, API Gateway 403).
An unknown path never reaches the app: API Gateway answers it with its
``MISSING_AUTHENTICATION_TOKEN`` gateway response, which ``infra/template.json`` sets to
:data:`UNKNOWN_PATH_PROBLEM` (its default is a 403 that echoes the caller's
``Authorization`` header); the local stack answers the same (``devstack.api_server``).
"""
from __future__ import annotations

import json
import re
from typing import Any, Callable

from chalicelib.api.problems import PROBLEM_JSON

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
METHOD_NOT_ALLOWED_PREFIX = "method_not_allowed_"

UNKNOWN_PATH_PROBLEM = {
    "type": "https://nightly-scheduler.dev/problems/not-found", "title": "Not found.", "status": 404,
    "detail": "This API serves nothing at this path with this method; its paths are listed in openapi.yaml.",
}
"""A static document: nothing of the request (path, headers, token) is echoed in it."""


_MEDIA_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]{1,64}/[A-Za-z0-9!#$&^_.+-]{1,64}")  # fullmatch


def unsupported_media_type(content_type: str | None) -> dict[str, Any]:
    """The 415 problem for a body whose ``Content-Type`` a route does not take. The media
    type is named only when it is one (``type/subtype``): nothing else of it is echoed."""
    media = (content_type or "").split(";", 1)[0].strip()
    said = "is empty" if not media else f"is {media}" if _MEDIA_TYPE.fullmatch(media) else "is not a media type"
    return {"type": "https://nightly-scheduler.dev/problems/unsupported-media-type",
            "title": "Unsupported media type.", "status": 415,
            "detail": f"The Content-Type header {said}; send the body as application/json."}


def media_type_problem(response: Any, content_type: str | None) -> Any:
    """``response``, or for Chalice's own 415 answer (``{"Code": "UnsupportedMediaType"}``,
    given before any route runs, deployed and locally alike) :func:`unsupported_media_type`."""
    body = response.body
    if response.status_code != 415 or not isinstance(body, dict) or body.get("Code") != "UnsupportedMediaType":
        return response
    from chalice import Response

    headers = {k: v for k, v in (response.headers or {}).items() if k.lower() != "content-type"}
    return Response(body=json.dumps(unsupported_media_type(content_type)), status_code=415,
                    headers={**headers, "Content-Type": PROBLEM_JSON})


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
