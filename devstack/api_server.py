"""The API on Chalice's local server, as ``make run`` and the HTTP tests serve it.

Chalice's handler answers only the methods it has ``do_*`` for and 501 to the rest;
API Gateway knows no other methods either. Here those answer a 405 problem document
with ``Allow``, like every unsupported method on a known path (see ``app.py``).
"""
from __future__ import annotations

import json
from typing import Any

from chalice.config import Config
from chalice.local import ChaliceRequestHandler, LocalDevServer

PROBLEM_JSON = "application/problem+json"
UNROUTED_METHODS = ("TRACE", "CONNECT", "PROPFIND", "COPY", "MOVE", "LOCK", "UNLOCK", "MKCOL", "PURGE", "QUERY")


class ApiRequestHandler(ChaliceRequestHandler):
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
