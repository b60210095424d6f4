"""The API on Chalice's local server, as ``make run`` and the HTTP tests serve it, and
Chalice's test client answering as the deployed API does.

Chalice's handler answers only the methods it has ``do_*`` for and 501 to the rest, and
HEAD with a body of its own; API Gateway serves neither. Here every method the API has
no route for (HEAD, TRACE, ``FOO``, a lower-case ``get``) answers a 405 problem document
with the path's ``Allow`` (no body to HEAD), like an unsupported method on a known path
(``chalicelib.api.methods``).

A path no route serves is the 404 problem the deployed gateway answers
(``chalicelib.api.methods.UNKNOWN_PATH_PROBLEM``), not Chalice's copy of API Gateway's
default 403, which echoes the caller's ``Authorization`` header.
"""
from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from chalice.config import Config
from chalice.local import ChaliceRequestHandler, LocalDevServer, LocalGateway, RouteMatcher
from chalice.test import Client, TestHTTPClient

from chalicelib.api.methods import METHOD_NOT_ALLOWED_PREFIX, UNKNOWN_PATH_PROBLEM

PROBLEM_JSON = "application/problem+json"
ROUTED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
"""The methods Chalice's handler serves (OPTIONS: its CORS preflight); every other is refused here."""


class ApiGateway(LocalGateway):
    """Chalice's local API Gateway with the deployed stack's gateway response for an unknown path."""

    def __init__(self, app_object: Any, config: Config) -> None:
        super().__init__(app_object, config)
        self._routes = RouteMatcher(list(app_object.routes))

    def handle_request(self, method: str, path: str, headers: Any, body: bytes | None) -> Any:
        try:
            self._routes.match_route(path)
        except ValueError:
            return {"statusCode": 404, "headers": {"Content-Type": PROBLEM_JSON}, "multiValueHeaders": {},
                    "body": json.dumps(UNKNOWN_PATH_PROBLEM)}
        return super().handle_request(method, path, headers, body)


class ApiTestClient(Client):
    """``chalice.test.Client`` whose HTTP requests go through :class:`ApiGateway`."""

    @property
    def http(self) -> TestHTTPClient:
        if self._http_client is None:
            self._http_client = _ApiTestHTTPClient(self._app, self._chalice_config)
        return self._http_client


class _ApiTestHTTPClient(TestHTTPClient):
    def __init__(self, app: Any, config: Config) -> None:
        super().__init__(app, config)
        self._local_gateway = ApiGateway(app, config)


class ApiRequestHandler(ChaliceRequestHandler):
    def __init__(self, request: Any, client_address: Any, server: HTTPServer, app_object: Any,
                 config: Config) -> None:
        # ChaliceRequestHandler.__init__, with ApiGateway: the base class serves the request as it is built
        self.local_gateway = ApiGateway(app_object, config)
        self.app_routes = app_object.routes
        BaseHTTPRequestHandler.__init__(self, request, client_address, server)

    def _refuse(self) -> None:
        body = json.dumps({"type": "https://nightly-scheduler.dev/problems/method-not-allowed",
                           "title": "Method not allowed.", "status": 405,
                           "detail": f"{self.command} is not served by this API."}).encode()
        try:
            length = int(self.headers.get("content-length") or 0)
        except ValueError:
            length = 0
        if length > 0:
            self.rfile.read(min(length, 1 << 20))
        self.close_connection = True
        self.send_response(405)
        self.send_header("Content-Type", PROBLEM_JSON)
        self.send_header("Allow", self._allowed())
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":  # a HEAD answer has the headers of one with a body, and no body
            self.wfile.write(body)

    def _allowed(self) -> str:
        """The methods the path's own routes serve (not the refusals of the others)."""
        routes = self.app_routes
        try:
            path = RouteMatcher(list(routes)).match_route(self.path).route
        except ValueError:
            return ", ".join(ROUTED_METHODS[:5])
        return ", ".join(sorted(m for m, entry in routes[path].items()
                                if not entry.view_name.startswith(METHOD_NOT_ALLOWED_PREFIX)))

    do_HEAD = _refuse

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_") and name[3:] not in ROUTED_METHODS:
            return self._refuse
        raise AttributeError(name)


def create_api_server(app: Any, host: str, port: int, *, stage: str = "dev") -> LocalDevServer:
    config = Config.create(chalice_stage=stage, app_name="nightly-scheduler", environment_variables={})
    return LocalDevServer(app, config, host, port, handler_cls=ApiRequestHandler)
