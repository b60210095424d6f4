"""The Chalice app wired to the memory store, a fake clock and fake notifier."""
from __future__ import annotations

import json
import time
from typing import Any

import pytest
from chalice.test import Client

import app as chalice_app
from chalicelib import bootstrap
from chalicelib.jobs.registry import JobRegistry
from devstack.api_server import ApiTestClient
from tests.fakes import FakeClock, FakeNotifier
from tests.support.app_stack import app_runtime

SECRET = "test-jwt-secret-that-is-long-enough-for-hs256"
BASE = "/api/v1/scheduler"


ISSUER = "http://127.0.0.1:9/auth/v1"  # the api fixture's SUPABASE_URL + /auth/v1


def token(role: str = "service_role", *, app_role: str | None = None, exp_in: int = 3600, secret: str = SECRET,
          issuer: str | None = ISSUER, subject: str = "tester") -> str:
    import jwt

    claims: dict[str, Any] = {"sub": subject, "exp": int(time.time()) + exp_in}
    if issuer:
        claims["iss"] = issuer
    if role:
        claims["role"] = role
    if app_role:
        claims["app_metadata"] = {"role": app_role}
    return jwt.encode(claims, secret, algorithm="HS256")


class Api:
    def __init__(self, client: Client, runtime: bootstrap.Runtime, clock: FakeClock, notifier: FakeNotifier,
                 registry: JobRegistry) -> None:
        self.client = client
        self.runtime = runtime
        self.clock = clock
        self.notifier = notifier
        self.registry = registry
        self.headers = {"Authorization": f"Bearer {token()}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None, raw: bytes | None = None):
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        response = self.client.http.request(method, BASE + path, headers={**self.headers, **(headers or {})}, body=data)
        response.json = json.loads(response.body) if response.body else None
        return response

    def dispatch(self, time_iso: str) -> Any:
        from chalicelib.core.model import parse_iso
        from devstack.local import eventbridge_event

        event = eventbridge_event(parse_iso(time_iso), "arn:aws:events:eu-north-1:123456789012:rule/dispatch")
        return self.client.lambda_.invoke("dispatch", event)


@pytest.fixture
def api(monkeypatch, request) -> Api:
    """The app; more settings by indirect parametrization (``parametrize("api", [{...}], indirect=True)``)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-north-1")
    registry = JobRegistry()
    registry.add("ok", lambda ctx: {"attempt": ctx.attempt, "payload": dict(ctx.payload)}, "Always succeeds")

    def boom(ctx):
        raise RuntimeError("handler exploded")

    registry.add("boom", boom, "Always fails")
    env = {"SCHEDULER_JWT_SECRET": SECRET, "SCHEDULER_WORKER_MODE": "inline",
           "SUPABASE_URL": "http://127.0.0.1:9", "SUPABASE_SERVICE_KEY": "unused", **getattr(request, "param", {})}
    with app_runtime(env, registry=registry) as stack, \
            ApiTestClient(chalice_app.app, stage_name="dev") as client:  # unknown paths answered as deployed
        yield Api(client, stack.runtime, stack.clock, stack.notifier, registry)
