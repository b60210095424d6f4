"""The API on Chalice's local server, as ``make run`` and the HTTP tests serve it, and
Chalice's test client answering as the deployed API does.

Chalice's handler answers only the methods it has ``do_*`` for and 501 to the rest;
API Gateway knows no other methods either. Here those answer a 405 problem document
with ``Allow``, like every unsupported method on a known path (see ``app.py``).

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

from chalicelib.api.methods import UNKNOWN_PATH_PROBLEM

PROBLEM_JSON = "application/problem+json"
UNROUTED_METHODS = ("TRACE", "CONNECT", "PROPFIND", "COPY", "MOVE", "LOCK", "UNLOCK", "MKCOL", "PURGE", "QUERY")


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
        BaseHTTPRequestHandler.__init__(self, request, client_address, server)

    def _refuse(self) -> None:
        body = json.dumps({"type": "https://nightly-scheduler.dev/problems/method-not-allowed",
                           "title": "Method not allowed.", "status": 405,
                           "detail": f"{self.command} is not served by this API."}).encode()
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(405)
        self.send_header("Content-Type", PROBLEM_JSON)
        self.send_header("Allow", "GET, POST, PUT, PATCH, DELETE")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_") and name[3:] in UNROUTED_METHODS:
            return self._refuse
        raise AttributeError(name)


def create_api_server(app: Any, host: str, port: int, *, stage: str = "dev") -> LocalDevServer:
    config = Config.create(chalice_stage=stage, app_name="nightly-scheduler", environment_variables={})
    return LocalDevServer(app, config, host, port, handler_cls=ApiRequestHandler)
