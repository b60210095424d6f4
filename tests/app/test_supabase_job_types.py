"""The two Supabase job types through the REST API: described by ``GET /handlers`` with their
payload fields, and their payloads (``expect`` included) checked at registration."""
from __future__ import annotations

import pathlib

import pytest
import yaml

SPEC = pathlib.Path(__file__).resolve().parents[2] / "openapi.yaml"


def job(handler: str, payload: dict) -> dict:
    return {"jobName": "supabase-job", "cronExpression": "0 2 * * *", "handler": handler, "payload": payload}


def fields(response) -> list[str]:
    return [e["field"] for e in (response.json or {}).get("errors", [])]


def test_handlers_describe_both_supabase_job_types_with_their_payload_fields(api):
    handlers = {h["name"]: h for h in api.call("GET", "/handlers").json["handlers"]}
    database, edge = handlers["database-function"], handlers["edge-function"]
    assert "/rest/v1/rpc/" in database["description"] and "/functions/v1/" in edge["description"]
    assert [(f["name"], f["required"]) for f in database["payloadFields"]] == [
        ("function", True), ("args", False), ("schema", False), ("expect", False), ("timeoutSeconds", False)]
    assert [f["name"] for f in edge["payloadFields"]] == [
        "function", "method", "body", "headers", "query", "expect", "timeoutSeconds"]
    assert all(f["type"] and f["description"] for f in database["payloadFields"] + edge["payloadFields"])
    assert "payloadFields" not in handlers["ok"]  # a job type that does not describe its payload
    assert "expect" in handlers["http-request"]["description"]


@pytest.mark.parametrize(("handler", "payload", "field"), [
    ("database-function", {"function": "../auth/v1/admin"}, "payload.function"),
    ("database-function", {"function": "purge_sessions\n"}, "payload.function"),
    ("database-function", {"function": "purge", "schema": "auth.users"}, "payload.schema"),
    ("database-function", {"function": "purge", "args": "days=30"}, "payload.args"),
    ("database-function", {}, "payload.function"),
    ("edge-function", {"function": "send reminders"}, "payload.function"),
    ("edge-function", {"function": "f", "headers": {"Authorization": {"secretRef": "edge/key"}}},
     "payload.headers.Authorization"),
    ("edge-function", {"function": "f", "headers": {"X-Api-Key": "literal"}}, "payload.headers.X-Api-Key"),
    ("edge-function", {"function": "f", "query": {"access_token": "t"}}, "payload.query"),
    ("edge-function", {"function": "f", "expect": {"status": [700]}}, "payload.expect.status"),
    ("database-function", {"function": "f", "expect": {"json": {"ok": True}, "text": "x"}}, "payload.expect.text"),
    ("http-request", {"url": "https://api.example.com/x", "expect": "ok"}, "payload.expect"),
    # a job reads only the jobs' secrets: the scheduler's own service key is not a secretRef away
    ("edge-function", {"function": "f", "headers": {"X-Partner-Token": {
        "secretRef": "nightly-scheduler/prod/supabase-service-key"}}}, "payload.headers.X-Partner-Token.secretRef"),
    ("database-function", {"function": "f", "args": {"n": {"client_secret": "literal"}}}, "payload.args.n.client_secret"),
])
def test_a_bad_payload_is_a_400_naming_the_field_and_stores_nothing(api, handler, payload, field):
    response = api.call("POST", "/jobs", job(handler, payload))
    assert response.status_code == 400, response.json
    assert field in fields(response)
    assert api.call("GET", "/jobs/supabase-job").status_code == 404


def test_good_payloads_register(api):
    for handler, payload in (
        ("database-function", {"function": "mentor_counts", "expect": {"json": {"total": 20}}}),
        ("edge-function", {"function": "send-reminders", "method": "POST", "body": {"days": 7},
                           "headers": {"X-Tenant": "oslo"}, "query": {"dry": True}, "expect": {"status": [200, 202]}}),
    ):
        response = api.call("POST", "/jobs", {**job(handler, payload), "jobName": handler})
        assert response.status_code == 201, response.json
        assert response.json["payload"] == payload


def test_openapi_describes_the_handlers_payload_fields_and_both_job_types():
    spec = yaml.safe_load(SPEC.read_text())
    handler = spec["paths"]["/api/v1/scheduler/handlers"]["get"]["responses"]["200"]["content"]["application/json"]
    item = handler["schema"]["properties"]["handlers"]["items"]
    assert "payloadFields" in item["properties"]
    schemas = spec["components"]["schemas"]
    for name in ("DatabaseFunctionPayload", "EdgeFunctionPayload", "Expect"):
        assert name in schemas, name
    assert schemas["DatabaseFunctionPayload"]["properties"]["function"]["pattern"] == r"^[A-Za-z_][A-Za-z0-9_-]{0,62}$"
