"""POST /jobs: a job may name only secrets of the jobs' namespace, and no literal secret in its body."""
from __future__ import annotations

import pytest

JOB = {"jobName": "edge-nightly", "cronExpression": "0 2 * * *", "handler": "http-request"}


@pytest.mark.parametrize("ref", ["nightly-scheduler/prod/supabase-service-key", "nightly-scheduler/prod/jwt-secret",
                                 "ssm:/aws/service/global-infrastructure/regions"])
def test_a_secret_ref_outside_the_jobs_namespace_is_a_400_naming_the_field(api, ref: str) -> None:
    payload = {"url": "https://api.example.com/hook", "headers": {"Authorization": {"secretRef": ref}}}
    response = api.call("POST", "/jobs", {**JOB, "payload": payload})
    assert response.status_code == 400, response.json
    assert response.headers["Content-Type"] == "application/problem+json"
    fields = {e["field"]: e["message"] for e in response.json["errors"]}
    assert "jobs' namespace" in fields["payload.headers.Authorization.secretRef"]
    assert api.call("GET", "/jobs/edge-nightly").status_code == 404


def test_a_literal_secret_in_the_body_is_a_400_and_is_not_echoed(api) -> None:
    payload = {"url": "https://api.example.com/hook", "body": {"grant": {"client_secret": "literal-9f8e7d"}}}
    response = api.call("POST", "/jobs", {**JOB, "payload": payload})
    assert response.status_code == 400
    assert "payload.body.grant.client_secret" in {e["field"] for e in response.json["errors"]}
    assert "literal-9f8e7d" not in response.body.decode()
