"""A caller's manual triggers are bounded per minute: 429 problem with Retry-After."""
from __future__ import annotations

from .conftest import token


def trigger(api, job: str, subject: str = "tester", key: str | None = None):
    headers = {"Authorization": f"Bearer {token(subject=subject)}"}
    if key:
        headers["Idempotency-Key"] = key
    return api.call("POST", f"/jobs/{job}/trigger", headers=headers)


def test_a_caller_past_its_budget_gets_a_429_problem_with_retry_after(api):
    assert api.call("POST", "/jobs", {"jobName": "report", "cronExpression": "0 3 * * *",
                                      "handler": "ok"}).status_code == 201
    budget = api.runtime.settings.trigger_budget_per_minute
    assert budget == 30  # the default
    for _ in range(budget):
        api.clock.advance(seconds=1)
        assert trigger(api, "report").status_code == 202
    api.clock.advance(seconds=1)  # 20:00:31
    refused = trigger(api, "report")
    assert refused.status_code == 429
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.headers["Retry-After"] == "29"
    assert refused.json["status"] == 429 and refused.json["type"].endswith("/trigger-budget-spent")
    assert refused.json["perMinute"] == 30 and "30 runs a minute" in refused.json["detail"]
    # Refused before anything ran: the 30 runs are all there is.
    assert len(api.call("GET", "/jobs/report/executions?limit=100").json["executions"]) == 30

    assert trigger(api, "report", subject="another-caller").status_code == 202  # a budget of its own
    api.clock.advance(seconds=29)  # the next minute
    assert trigger(api, "report").status_code == 202


def test_a_repeated_idempotency_key_costs_no_budget(api):
    assert api.call("POST", "/jobs", {"jobName": "report", "cronExpression": "0 3 * * *",
                                      "handler": "ok"}).status_code == 201
    first = trigger(api, "report", key="nightly-rerun")
    assert first.status_code == 202
    for _ in range(40):
        again = trigger(api, "report", key="nightly-rerun")
        assert again.status_code == 202 and again.json["executionId"] == first.json["executionId"]


def test_openapi_documents_the_429_of_trigger_with_retry_after():
    import pathlib

    import yaml

    spec = yaml.safe_load((pathlib.Path(__file__).resolve().parents[2] / "openapi.yaml").read_text())
    answer = spec["paths"]["/api/v1/scheduler/jobs/{jobName}/trigger"]["post"]["responses"]["429"]
    if "$ref" in answer:
        answer = spec["components"]["responses"][answer["$ref"].rsplit("/", 1)[-1]]
    assert "Retry-After" in answer["headers"]
    assert "application/problem+json" in answer["content"]
    assert "SCHEDULER_TRIGGER_BUDGET_PER_MINUTE" in answer["description"]


def replay(api, job: str, subject: str = "tester", **extra):
    body = {"from": "2026-11-26T00:00:00Z", "to": "2026-11-28T12:00:00Z", "only": "all", **extra}
    return api.call("POST", f"/jobs/{job}/replays", body, headers={"Authorization": f"Bearer {token(subject=subject)}"})


def test_a_replay_created_costs_one_unit_of_the_callers_budget(api):
    for name in ("report", "other"):
        assert api.call("POST", "/jobs", {"jobName": name, "cronExpression": "0 3 * * *",
                                          "handler": "ok"}).status_code == 201
    assert replay(api, "report", dryRun=True).status_code == 200  # a plan only: no cost
    assert replay(api, "report").status_code == 202  # 1
    for _ in range(29):
        api.clock.advance(seconds=1)
        assert trigger(api, "other").status_code == 202  # 2..30
    refused = replay(api, "other")
    assert refused.status_code == 429 and refused.json["type"].endswith("/trigger-budget-spent")
    assert refused.headers["Retry-After"] and api.call("GET", "/jobs/other/replays").json["replays"] == []
    assert replay(api, "other", subject="another-caller").status_code == 202  # a budget of its own


def test_a_caller_past_its_budget_cannot_start_a_replay_instead(api):
    assert api.call("POST", "/jobs", {"jobName": "report", "cronExpression": "0 3 * * *",
                                      "handler": "ok"}).status_code == 201
    for _ in range(30):
        api.clock.advance(seconds=1)
        assert trigger(api, "report").status_code == 202
    assert replay(api, "report").status_code == 429


def test_openapi_documents_the_429_of_a_replay_and_what_a_caller_is():
    import pathlib

    import yaml

    spec = yaml.safe_load((pathlib.Path(__file__).resolve().parents[2] / "openapi.yaml").read_text())
    answer = spec["paths"]["/api/v1/scheduler/jobs/{jobName}/replays"]["post"]["responses"]["429"]
    assert answer == {"$ref": "#/components/responses/TriggerBudgetSpent"}
    described = spec["components"]["responses"]["TriggerBudgetSpent"]["description"]
    assert "replay" in described and "each credential" in described and "fixed window" in described
