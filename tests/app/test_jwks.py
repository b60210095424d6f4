"""Tokens from a current Supabase project: ES256/RS256 verified against a JWKS.

A local JWKS server publishes keys this test makes itself (with cryptography); the API
runs on the memory store behind Chalice's authorizer emulation.
"""
from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from chalice.test import Client
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import app as chalice_app
from chalicelib.api.jwks import JwksKeys, KeyNotFound
from tests.support.app_stack import app_runtime

SUPABASE_URL = "https://abcd.supabase.co"
ISSUER = f"{SUPABASE_URL}/auth/v1"
BASE = "/api/v1/scheduler"


def public_jwk(key: Any, kid: str, alg: str) -> dict[str, Any]:
    return {**json.loads(jwt.algorithms.get_default_algorithms()[alg].to_jwk(key.public_key())),
            "kid": kid, "alg": alg, "use": "sig"}


class JwksServer:
    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.requests = 0
        self.down = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer.requests += 1
                if outer.down:
                    self.send_response(503)
                    self.end_headers()
                    return
                body = json.dumps({"keys": outer.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/auth/v1/.well-known/jwks.json"


@pytest.fixture(scope="module")
def keys():
    return {"es": ec.generate_private_key(ec.SECP256R1()), "rs": rsa.generate_private_key(65537, 2048),
            "other": ec.generate_private_key(ec.SECP256R1())}


@pytest.fixture
def api(monkeypatch, keys):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    server = JwksServer()
    server.keys = [public_jwk(keys["es"], "es-1", "ES256"), public_jwk(keys["rs"], "rs-1", "RS256")]
    env = {"SCHEDULER_WORKER_MODE": "inline", "SCHEDULER_LOCAL_MODE": "true",
           "SUPABASE_URL": SUPABASE_URL, "SUPABASE_SERVICE_KEY": "unused", "SCHEDULER_JWKS_URL": server.url}
    with app_runtime(env) as stack, Client(chalice_app.app, stage_name="dev") as client:
        assert stack.settings.problems == ()
        yield client, server, stack.runtime
    server.httpd.shutdown()


def sign(key: Any, alg: str, kid: str | None, **changes: Any) -> str:
    claims = {"sub": "user-1", "role": "service_role", "iss": ISSUER, "exp": int(time.time()) + 600, **changes}
    claims = {k: v for k, v in claims.items() if v is not None}
    headers = {"kid": kid} if kid else {}
    return jwt.encode(claims, key, algorithm=alg, headers=headers)


def status(client: Client, token: str) -> int:
    return client.http.get(f"{BASE}/jobs", headers={"Authorization": f"Bearer {token}"}).status_code


def test_es256_and_rs256_tokens_are_accepted(api, keys):
    client, _server, _ = api
    assert status(client, sign(keys["es"], "ES256", "es-1")) == 200
    assert status(client, sign(keys["rs"], "RS256", "rs-1")) == 200


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(header + "=="))
    decoded["kid"] = "rs-1"  # point the ES256 signature at the RSA key
    forged = base64.urlsafe_b64encode(json.dumps(decoded).encode()).rstrip(b"=").decode()
    return ".".join([forged, payload, signature])


def _none(token_claims: dict[str, Any]) -> str:
    return jwt.encode(token_claims, key=None, algorithm="none", headers={"kid": "es-1"})


def _hs256_with_the_public_key(keys: Any) -> str:
    """The classic confusion attack, built by hand (PyJWT itself refuses to sign it)."""
    import hashlib
    import hmac

    from cryptography.hazmat.primitives import serialization

    pem = keys["es"].public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "es-1"}).encode())
    payload = b64(json.dumps({"sub": "x", "role": "service_role", "iss": ISSUER, "exp": int(time.time()) + 600}).encode())
    signature = b64(hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    return f"{header}.{payload}.{signature}"


def test_bad_tokens_get_401(api, keys):
    client, _server, _ = api
    claims = {"sub": "x", "role": "service_role", "iss": ISSUER, "exp": int(time.time()) + 600}
    cases = {
        "signed by another key": sign(keys["other"], "ES256", "es-1"),
        "an unknown kid": sign(keys["es"], "ES256", "nobody"),
        "a tampered header": _tampered(sign(keys["es"], "ES256", "es-1")),
        "alg none": _none(claims),
        "HS256 keyed with the public key": _hs256_with_the_public_key(keys),
        "a wrong issuer": sign(keys["es"], "ES256", "es-1", iss="https://evil.supabase.co/auth/v1"),
        "no issuer": sign(keys["es"], "ES256", "es-1", iss=None),
        "an expired token": sign(keys["es"], "ES256", "es-1", exp=int(time.time()) - 60),
        "no exp": sign(keys["es"], "ES256", "es-1", exp=None),
    }
    assert {name: status(client, token) for name, token in cases.items()} == dict.fromkeys(cases, 401)


def test_the_role_rules_give_403_as_before(api, keys):
    client, _server, runtime = api
    assert status(client, sign(keys["es"], "ES256", "es-1", role="authenticated")) == 403
    assert status(client, sign(keys["es"], "ES256", "es-1", role="authenticated",
                               app_metadata={"role": runtime.settings.admin_roles[0]})) == 200


def test_with_the_jwks_down_cached_keys_work_and_an_unknown_kid_gets_401(api, keys):
    client, server, _ = api
    assert status(client, sign(keys["es"], "ES256", "es-1")) == 200  # caches the set
    server.down = True
    assert status(client, sign(keys["es"], "ES256", "es-1")) == 200
    assert status(client, sign(keys["es"], "ES256", "rotated-away")) == 401


def test_an_unknown_kid_refetches_once_but_a_flood_fetches_about_once_a_minute(keys):
    server = JwksServer()
    server.keys = [public_jwk(keys["es"], "es-1", "ES256")]
    now = [1000.0]
    cache = JwksKeys(server.url, monotonic=lambda: now[0])
    cache.key_for("es-1")
    assert server.requests == 1
    server.keys.append(public_jwk(keys["rs"], "rs-2", "RS256"))  # a rotation
    now[0] += 61
    cache.key_for("rs-2")  # unknown: one refetch finds it
    assert server.requests == 2
    for attempt in range(1500):  # 150 s of unknown kids, ten a second
        now[0] += 0.1
        with pytest.raises(KeyNotFound):
            cache.key_for(f"flood-{attempt}")
    assert server.requests == 4  # one fetch a minute: at +60 s and +120 s
    server.httpd.shutdown()


def test_hs256_with_the_legacy_secret_still_works_alongside(monkeypatch, keys):
    from tests.app.conftest import SECRET, token

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    env = {"SCHEDULER_JWT_SECRET": SECRET, "SCHEDULER_WORKER_MODE": "inline",
           "SUPABASE_URL": SUPABASE_URL, "SUPABASE_SERVICE_KEY": "unused"}
    with app_runtime(env), Client(chalice_app.app, stage_name="dev") as client:
        assert status(client, token(issuer=ISSUER)) == 200
        assert status(client, token(issuer=None)) == 401  # iss is required where SUPABASE_URL is set
