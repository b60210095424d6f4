"""The ``scheduler`` command against the app on the memory store, over real HTTP.

The app of ``tests/app`` (memory store, fake clock, inline workers, handlers ``ok`` and
``boom``) is served on a loopback port by ``devstack.api_server`` as ``make run`` serves
it; the commands run in Click's ``CliRunner`` with ``SCHEDULER_URL`` and ``SCHEDULER_TOKEN``
set, so every command goes through httpx, the local gateway and the authorizer. Times
are shown in Europe/Oslo (``TZ``) so the local half of each time is pinned too.
"""
from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner, Result

import app as chalice_app
from devstack.api_server import create_api_server
from devstack.net import free_port
from scheduler_cli.commands import cli
from tests.app.conftest import Api, api, token  # noqa: F401 - the app fixture, served here over HTTP


@dataclass
class Served:
    api: Api
    url: str
    token: str

    def run(self, *args: str, input: str | None = None, env: dict[str, Any] | None = None) -> Result:
        runner = CliRunner()
        base = {"SCHEDULER_URL": self.url, "SCHEDULER_TOKEN": self.token, "COLUMNS": "200", "NO_COLOR": None,
                "FORCE_COLOR": None}
        return runner.invoke(cli, list(args), input=input, env={**base, **(env or {})}, prog_name="scheduler",
                             catch_exceptions=False)

    def ok(self, *args: str, input: str | None = None) -> Result:
        result = self.run(*args, input=input)
        assert result.exit_code == 0, result.output
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json").stdout)


@pytest.fixture
def local_tz():
    """The reader's zone is Oslo; restored (and re-read by the C library) afterwards."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Oslo"
    time.tzset()
    yield
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.fixture
def served(api, local_tz) -> Served:  # noqa: F811 - the imported fixture, used
    port = free_port()
    server = create_api_server(chalice_app.app, "127.0.0.1", port)
    thread = threading.Thread(target=server.serve_forever, name="cli-test-api", daemon=True)
    thread.start()
    try:
        yield Served(api, f"http://127.0.0.1:{port}/api/v1/scheduler", token())
    finally:
        server.shutdown()
        thread.join(timeout=10)
