"""The operators' console: a page and its assets, served outside the JSON API (no token:
the page asks for one and sends it with each API request)."""
from __future__ import annotations

from chalice import Response

from chalicelib.api import console, http, methods
from chalicelib.api.gateway import CONSOLE, app
from chalicelib.api.problems import PROBLEM_JSON
from chalicelib.core import strict_json


def _asset(name: str) -> Response:
    return Response(body=console.asset(name), status_code=200, headers=console.headers(name))


@app.route(CONSOLE, methods=["GET"])
def console_page() -> Response:
    if str((http.request().context or {}).get("path") or "").endswith("/"):  # ".../console/"
        return Response(body="", status_code=301, headers=console.redirect_headers())
    return _asset("index.html")


@app.route(f"{CONSOLE}/assets/{{name}}", methods=["GET"])
def console_asset(name: str) -> Response:
    """The page's stylesheet and script modules, by name from an allow-list (console.ASSETS)."""
    if name not in console.ASSETS:
        return Response(body=strict_json.dumps(methods.UNKNOWN_PATH_PROBLEM), status_code=404,
                        headers={"Content-Type": PROBLEM_JSON})
    return _asset(name)
