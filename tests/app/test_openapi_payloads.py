"""openapi.yaml's JobDefinition, its per-handler payloads included, allows nothing the API refuses.

Schemathesis keeps POST /jobs from its positive-data check, because some of what the API
refuses there depends on more than the body's shape (the cron expression's meaning, the
tz database, the http-request destination policy, handlers added in code, channels that
exist). This test holds the rest to it: it draws bodies the schema allows, gives each a
cron expression, a zone and a URL the API accepts, a unique name and no channels, and
registers it.
"""
from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation import GenerationMode

SPEC = Path(__file__).resolve().parents[2] / "openapi.yaml"
REGISTER = schemathesis.openapi.from_path(SPEC)["/api/v1/scheduler/jobs"]["POST"]
BUILT_IN = {"http-request", "database-function", "edge-function", "certification-expiry-check", "noop"}
_names = itertools.count()

pytestmark = pytest.mark.timeout(300)


def _as_accepted_beyond_the_schema(body: dict) -> dict:
    """The body with the parts no schema can judge set to values the API accepts."""
    body = {**body, "jobName": f"schema-drawn-{next(_names)}", "cronExpression": "0 2 * * *"}
    body.pop("notify", None)  # each must name a channel that exists: state, not shape
    retry = body.get("retry")
    if retry and retry.get("initialDelaySeconds", 60) > retry.get("maxDelaySeconds", 3600):  # a relation
        body["retry"] = {**retry, "maxDelaySeconds": retry.get("initialDelaySeconds", 60)}
    if "timezone" in body:
        body["timezone"] = "Europe/Oslo"
    if body["handler"] not in BUILT_IN:  # a handler added in code: the api fixture registers "ok"
        body["handler"] = "ok"
    if body["handler"] == "http-request":
        body["payload"] = {**body["payload"], "url": "https://example.com/hook"}
    if isinstance(body.get("payload", {}).get("headers"), dict):  # OpenAPI 3.0 has no propertyNames
        headers = [{**v, "secretRef": "drawn/token"} if isinstance(v, dict) else v  # the namespace is a setting
                   for v in body["payload"]["headers"].values()]
        body["payload"] = {**body["payload"], "headers": {f"X-Drawn-{i}": v for i, v in enumerate(headers)}}
    return body


@settings(max_examples=150, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much, HealthCheck.data_too_large])
@pytest.mark.parametrize("api", [{"SCHEDULER_HTTP_ALLOWED_HOSTS": "example.com"}], indirect=True)
@given(case=REGISTER.as_strategy(generation_mode=GenerationMode.POSITIVE))
def test_every_job_definition_the_schema_allows_is_registered(api, case):
    body = _as_accepted_beyond_the_schema(case.body)
    response = api.call("POST", "/jobs", body)
    assert response.status_code == 201, (body, response.json)
