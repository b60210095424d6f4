"""The API accepts what a Supabase project really issues, and nothing else.

Tokens here are shaped exactly as Supabase issues them: a hosted project's legacy API keys
(``{"iss": "supabase", "ref", "role", "iat", "exp"}``, HS256 with the project's JWT
secret), the local Supabase CLI's published demo keys (verbatim), Supabase Auth access
tokens, and the opaque ``sb_secret_…`` / ``sb_publishable_…`` API keys.
"""
from __future__ import annotations

import json
import logging
import time
from typing import Any, Iterator

import jwt
import pytest
from chalice.test import Client

import app as chalice_app
from chalicelib import bootstrap
from chalicelib.settings import Settings
from tests.support.app_stack import app_runtime

PROJECT_REF = "abcdefghijklmnopqrst"
OTHER_REF = "zyxwvutsrqponmlkjihg"
PROJECT_URL = f"https://{PROJECT_REF}.supabase.co"
JWT_SECRET = "a-projects-jwt-secret-of-at-least-thirty-two-characters"
SERVICE_KEY = "sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz"
LISTED_KEY = "sb_secret_Q3xvPZr1w0yfBn8Lk2TgAq_9sHd4YcMe"
PUBLISHABLE_KEY = "sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH"

# The local Supabase CLI's published demo keys (`supabase status`), verbatim, and their secret.
CLI_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"
CLI_SERVICE_ROLE_KEY = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vf"
                        "cm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU")
CLI_ANON_KEY = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5"
                "ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0")


def legacy_key(role: str, *, ref: str = PROJECT_REF, secret: str = JWT_SECRET, iss: str = "supabase") -> str:
    """A hosted project's anon / service_role API key, as the dashboard shows it."""
    iat = int(time.time()) - 86400
    claims = {"iss": iss, "ref": ref, "role": role, "iat": iat, "exp": iat + 10 * 365 * 86400}
    return jwt.encode(claims, secret, algorithm="HS256", headers={"typ": "JWT"})


def auth_token(*, role: str = "authenticated", app_role: str | None = None, iss: str = f"{PROJECT_URL}/auth/v1") -> str:
    """A Supabase Auth access token (HS256 projects), with the claims GoTrue writes."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": iss, "sub": "6f1c1f8e-2d53-4f3a-9d8e-3b1f0c2a9e77", "aud": "authenticated", "exp": now + 3600,
        "iat": now, "email": "ops@example.org", "phone": "", "role": role, "aal": "aal1",
        "amr": [{"method": "password", "timestamp": now}], "session_id": "b2f4c6d8-0000-4000-8000-000000000001",
        "is_anonymous": False, "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": {"email_verified": True}}
    if app_role:
        claims["app_metadata"]["role"] = app_role
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256", headers={"typ": "JWT", "kid": "legacy"})


class Stack:
    def __init__(self, client: Client, secrets: dict[str, str]) -> None:
        self.client = client
        self.secrets = secrets

    def status(self, credential: str) -> int:
        response = self.client.http.get("/api/v1/scheduler/handlers", headers={"Authorization": f"Bearer {credential}"})
        return response.status_code

    def register(self, credential: str) -> Any:
        body = {"jobName": "who-made-me", "cronExpression": "0 3 * * *", "handler": "noop"}
        response = self.client.http.post("/api/v1/scheduler/jobs", body=json.dumps(body),
                                          headers={"Authorization": f"Bearer {credential}",
                                                   "Content-Type": "application/json"})
        return json.loads(response.body)


def build(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], secrets: dict[str, str] | None = None) -> Iterator[Stack]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-north-1")
    secrets = dict(secrets or {})

    def resolve(secret_id: str) -> str:  # Secrets Manager by name, as the deployed resolver reads it
        if secret_id not in secrets:
            raise LookupError(f"ResourceNotFoundException: {secret_id}")
        return secrets[secret_id]

    with app_runtime({"SCHEDULER_WORKER_MODE": "inline", "SCHEDULER_JWKS_URL": "", **env}) as stack:
        stack.runtime.resolve_secret = resolve
        with Client(chalice_app.app, stage_name="dev") as client:
            yield Stack(client, secrets)


DEPLOYED = {"SUPABASE_URL": PROJECT_URL, "SCHEDULER_JWT_SECRET_ID": "nightly-scheduler/prod/jwt-secret",
            "SUPABASE_SERVICE_KEY_ID": "nightly-scheduler/prod/supabase-service-key",
            "SCHEDULER_API_KEYS_SECRET_ID": "nightly-scheduler/prod/api-keys"}
DEPLOYED_SECRETS = {"nightly-scheduler/prod/jwt-secret": JWT_SECRET,
                    "nightly-scheduler/prod/supabase-service-key": SERVICE_KEY,
                    "nightly-scheduler/prod/api-keys": json.dumps([LISTED_KEY])}


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """As deployed: SUPABASE_URL set, secrets by id, not local mode."""
    yield from build(monkeypatch, DEPLOYED, DEPLOYED_SECRETS)


def test_the_projects_service_role_key_is_accepted_when_deployed(deployed: Stack) -> None:
    assert deployed.status(legacy_key("service_role")) == 200


def test_a_key_of_another_project_is_401(deployed: Stack) -> None:
    assert deployed.status(legacy_key("service_role", ref=OTHER_REF)) == 401
    # Signed with another project's secret too: refused for the signature before the ref.
    assert deployed.status(legacy_key("service_role", ref=OTHER_REF, secret="x" * 40)) == 401


def test_the_anon_key_and_a_publishable_key_are_403(deployed: Stack) -> None:
    assert deployed.status(legacy_key("anon")) == 403
    assert deployed.status(PUBLISHABLE_KEY) == 403


def test_the_local_clis_demo_keys_are_refused_when_deployed(monkeypatch: pytest.MonkeyPatch) -> None:
    for stack in build(monkeypatch, {**DEPLOYED, "SCHEDULER_JWT_SECRET_ID": "cli"}, {**DEPLOYED_SECRETS, "cli": CLI_JWT_SECRET}):
        assert stack.status(CLI_SERVICE_ROLE_KEY) == 401
        assert stack.status(CLI_ANON_KEY) == 401


def test_the_local_clis_demo_keys_work_in_local_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"SCHEDULER_LOCAL_MODE": "true", "SCHEDULER_JWT_SECRET": CLI_JWT_SECRET, "SUPABASE_URL": "http://127.0.0.1:54321"}
    for stack in build(monkeypatch, env):
        assert stack.status(CLI_SERVICE_ROLE_KEY) == 200
        assert stack.status(CLI_ANON_KEY) == 403


def test_supabase_auth_tokens_keep_their_answers(deployed: Stack) -> None:
    assert deployed.status(auth_token(app_role="admin")) == 200
    assert deployed.status(auth_token(role="service_role")) == 200
    assert deployed.status(auth_token()) == 403  # a plain signed-in user
    assert deployed.status(auth_token(app_role="admin", iss="https://evil.supabase.co/auth/v1")) == 401


@pytest.mark.parametrize("issuer", ["supabase-demo", "supabase.io", "https://abcdefghijklmnopqrst.supabase.co"])
def test_other_issuers_are_401(deployed: Stack, issuer: str) -> None:
    assert deployed.status(legacy_key("service_role", iss=issuer)) == 401


def test_forged_expired_and_unsigned_legacy_keys_are_401(deployed: Stack) -> None:
    good = legacy_key("service_role")
    head, body, signature = good.split(".")
    assert deployed.status(f"{head}.{body}.{signature[:-2]}AA") == 401
    expired = jwt.encode({"iss": "supabase", "ref": PROJECT_REF, "role": "service_role", "iat": 1, "exp": 2},
                         JWT_SECRET, algorithm="HS256")
    assert deployed.status(expired) == 401
    no_exp = jwt.encode({"iss": "supabase", "ref": PROJECT_REF, "role": "service_role", "iat": 1}, JWT_SECRET,
                        algorithm="HS256")
    assert deployed.status(no_exp) == 401
    unsigned = jwt.encode({"iss": "supabase", "ref": PROJECT_REF, "role": "service_role", "exp": 2**31}, None,
                          algorithm="none")
    assert deployed.status(unsigned) == 401
    assert deployed.status(jwt.encode(jwt.decode(good, options={"verify_signature": False}), JWT_SECRET,
                                      algorithm="HS512")) == 401


def test_secret_keys_the_scheduler_holds_are_accepted(deployed: Stack) -> None:
    assert deployed.status(SERVICE_KEY) == 200
    assert deployed.status(LISTED_KEY) == 200
    assert deployed.status("sb_secret_" + "A" * 32) == 401
    assert deployed.status(SERVICE_KEY[:-1]) == 401
    assert deployed.status(SERVICE_KEY + "x") == 401


def test_a_secret_key_is_named_by_a_fingerprint_never_by_itself(deployed: Stack, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        job = deployed.register(SERVICE_KEY)
    by = job["createdBy"]["subject"]
    assert by.startswith("secret-key:") and len(by) == len("secret-key:") + 12
    audit = [r for r in caplog.records if getattr(r, "audit", False)]
    assert audit and audit[0].actor == by
    assert SERVICE_KEY not in caplog.text and SERVICE_KEY[10:] not in json.dumps(job)


def test_an_unreadable_key_list_refuses_its_keys_not_the_api(monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = {k: v for k, v in DEPLOYED_SECRETS.items() if not k.endswith("api-keys")}
    for stack in build(monkeypatch, DEPLOYED, secrets):
        assert stack.status(LISTED_KEY) == 401
        assert stack.status(SERVICE_KEY) == 200
        assert stack.status(legacy_key("service_role")) == 200


def test_a_custom_domain_names_its_project_by_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {**DEPLOYED, "SUPABASE_URL": "https://api.mentors.example.org", "SUPABASE_PROJECT_REF": PROJECT_REF}
    for stack in build(monkeypatch, env, DEPLOYED_SECRETS):
        assert stack.status(legacy_key("service_role")) == 200
        assert stack.status(legacy_key("service_role", ref=OTHER_REF)) == 401


def signed(claims_json: str, secret: str = JWT_SECRET) -> str:
    """An HS256 token over claims written as raw JSON text (numbers JSON allows but Python would not write)."""
    import base64
    import hashlib
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(claims_json.encode())
    return signing_input + "." + b64(hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest())


@pytest.mark.parametrize("exp", ['"9999999999"', "99999999999999999999999999999", "1e999", "true", "null",
                                 "[9999999999]", "1e300", "-1"])
def test_an_exp_that_is_not_a_numeric_date_within_reach_is_401(deployed: Stack, exp: str) -> None:
    def claims(exp_text: str) -> str:
        return (f'{{"iss": "supabase", "ref": "{PROJECT_REF}", "role": "service_role", '
                f'"iat": {int(time.time()) - 60}, "exp": {exp_text}}}')

    assert deployed.status(signed(claims(str(int(time.time()) + 3600)))) == 200
    assert deployed.status(signed(claims(exp))) == 401


@pytest.mark.parametrize("claim", ["iat", "nbf"])
@pytest.mark.parametrize("value", ['"1"', "true", "1e999", "99999999999999999999"])
def test_an_iat_or_nbf_that_is_not_a_numeric_date_is_401(deployed: Stack, claim: str, value: str) -> None:
    claims = (f'{{"iss": "supabase", "ref": "{PROJECT_REF}", "role": "service_role", '
              f'"exp": {int(time.time()) + 3600}, "{claim}": {value}}}')
    assert deployed.status(signed(claims)) == 401


def test_a_key_valid_for_ten_years_as_supabase_issues_them_is_accepted(deployed: Stack) -> None:
    assert deployed.status(legacy_key("service_role")) == 200  # iat a day ago, exp ten years on


def test_iat_and_nbf_a_few_seconds_ahead_are_clock_skew_but_exp_has_no_leeway() -> None:
    from chalicelib.api import auth

    now = 1_800_000_000

    def check(**claims: Any) -> str:
        token = jwt.encode({"iss": "supabase", "ref": PROJECT_REF, "role": "service_role", **claims}, JWT_SECRET,
                           algorithm="HS256")
        try:
            auth.verify(token, secret=JWT_SECRET, admin_roles=("admin",), project_ref=PROJECT_REF, now=now)
        except auth.InvalidToken:
            return "401"
        return "ok"

    assert check(iat=now + 30, nbf=now + 30, exp=now + 3600) == "ok"  # a minting clock 30 s fast
    assert check(iat=now + 31, exp=now + 3600) == "401"
    assert check(nbf=now + 31, exp=now + 3600) == "401"
    assert check(iat=now - 60, exp=now + 1) == "ok"
    assert check(iat=now - 60, exp=now) == "401"  # expired from its exp second on, no leeway
    assert check(iat=now - 60, exp=now + auth.MAX_NUMERIC_DATE_AHEAD) == "ok"
    assert check(iat=now - 60, exp=now + auth.MAX_NUMERIC_DATE_AHEAD + 1) == "401"


KEY_A = "sb_secret_" + "A1b2C3d4E5f6G7h8"  # 16 characters after the prefix: the shortest accepted
KEY_B = "sb_secret_Q3xvPZr1w0yfBn8Lk2TgAq_9sHd4YcMe"


@pytest.mark.parametrize("listed, keys", [
    (json.dumps([KEY_A, KEY_B]), [KEY_A, KEY_B]),
    (f"{KEY_A}\n{KEY_B}\n", [KEY_A, KEY_B]),
    (f"{KEY_A}, {KEY_B}", [KEY_A, KEY_B]),
    (f"{KEY_A},{KEY_B}", [KEY_A, KEY_B]),
    (f"{KEY_A} {KEY_B}", [KEY_A, KEY_B]),
    (json.dumps(f"{KEY_A}, {KEY_B}"), [KEY_A, KEY_B]),
    (json.dumps(KEY_A), [KEY_A]),
    (json.dumps([f"{KEY_A},{KEY_B}"]), [KEY_A, KEY_B]),
    ("sb_secret_", []),
    ("sb_secret_\n" + KEY_A, [KEY_A]),
    ("sb_secret_" + "x" * 15, []),
    (json.dumps({"key": KEY_A}), []),
    (json.dumps([KEY_A, None, 5]), [KEY_A]),
])
def test_the_api_keys_secret_is_read_strictly(listed: str, keys: list[str], caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings.from_env({"SCHEDULER_API_KEYS_SECRET_ID": "nightly-scheduler/prod/api-keys"})
    with caplog.at_level(logging.WARNING, logger="chalicelib.bootstrap"):
        assert bootstrap.api_secret_keys(settings, {"nightly-scheduler/prod/api-keys": listed}.__getitem__) == keys
    refused = [r for r in caplog.records if getattr(r, "setting", None) == "SCHEDULER_API_KEYS_SECRET_ID"]
    assert bool(refused) == (listed.count("sb_secret_") > len(keys) or listed.startswith("{") or "null" in listed)
    logged = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    assert KEY_A[10:] not in logged and "x" * 15 not in logged  # what was read is never logged


def test_a_bare_prefix_listed_in_the_secret_is_not_a_key_that_opens_the_api(monkeypatch: pytest.MonkeyPatch) -> None:
    for stack in build(monkeypatch, DEPLOYED, {**DEPLOYED_SECRETS, "nightly-scheduler/prod/api-keys": "sb_secret_\n"}):
        assert stack.status("sb_secret_") == 401
        assert stack.status(SERVICE_KEY) == 200
