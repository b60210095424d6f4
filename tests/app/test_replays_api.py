"""The replay endpoints over HTTP, on the memory store with a pinned clock."""
from __future__ import annotations

import pytest

from tests.fakes import utc

JOB = {"jobName": "nightly", "cronExpression": "0 2 * * *", "handler": "boom", "timezone": "Europe/Oslo",
       "retry": {"maxAttempts": 1}}
RANGE = {"from": "2026-11-28T00:00:00Z", "to": "2026-11-30T12:00:00Z"}


@pytest.fixture
def failed_nights(api):
    """Two failed Oslo nights (29 and 30 November, 02:00 CET = 01:00Z); 28 November was
    before the job was created."""
    assert api.call("POST", "/jobs", JOB).status_code == 201
    api.dispatch("2026-11-29T01:00:00Z")
    api.dispatch("2026-11-30T01:00:00Z")
    api.clock.set(utc(2026, 11, 30, 12, 0))
    return api


def test_a_replay_is_planned_accepted_shown_listed_and_cancelled(failed_nights):
    api = failed_nights
    plan = api.call("POST", "/jobs/nightly/replays", {**RANGE, "dryRun": True})
    assert plan.status_code == 200 and plan.json["replayId"] is None and plan.json["status"] == "planned"
    assert api.call("GET", "/jobs/nightly/replays").json == {"replays": [], "nextToken": None}

    created = api.call("POST", "/jobs/nightly/replays", RANGE, headers={"Idempotency-Key": "redo-nights"})
    assert created.status_code == 202
    body = created.json
    assert body["slots"] == [
        {"at": "2026-11-29T01:00:00Z", "localTime": "2026-11-29T02:00+01:00", "state": "pending", "outcome": None,
         "executionId": None},
        {"at": "2026-11-30T01:00:00Z", "localTime": "2026-11-30T02:00+01:00", "state": "pending", "outcome": None,
         "executionId": None}]
    assert body["leftOut"] == [{"at": "2026-11-28T01:00:00Z", "localTime": "2026-11-28T02:00+01:00",
                                "reason": "outside-history", "detail": "before the job was created: outside its history"}]
    assert (body["only"], body["status"], body["createdBy"]["subject"]) == ("failed", "active", "tester")
    assert [s["at"] for s in plan.json["slots"]] == [s["at"] for s in body["slots"]]
    rid = body["replayId"]

    again = api.call("POST", "/jobs/nightly/replays", RANGE, headers={"Idempotency-Key": "redo-nights"})
    assert again.status_code == 202 and again.json["replayId"] == rid
    second = api.call("POST", "/jobs/nightly/replays", {**RANGE, "only": "all"})
    assert second.status_code == 409 and second.json["replayId"] == rid
    reused = api.call("POST", "/jobs/nightly/replays", {**RANGE, "only": "all"}, headers={"Idempotency-Key": "redo-nights"})
    assert reused.status_code == 409

    api.dispatch("2026-11-30T12:01:00Z")  # the first slot runs (and fails: the handler still does)
    shown = api.call("GET", f"/jobs/nightly/replays/{rid}").json
    assert [(s["state"], s["outcome"]) for s in shown["slots"]] == [("running", None), ("pending", None)]
    assert shown["slots"][0]["executionId"] == f"20261129T010000000Z-r{rid}-a01"
    run = api.call("GET", f"/jobs/nightly/executions/{shown['slots'][0]['executionId']}").json
    assert (run["trigger"], run["scheduledFor"], run["replayId"], run["status"]) == (
        "replay", "2026-11-29T01:00:00Z", rid, "failed")

    cancelled = api.call("DELETE", f"/jobs/nightly/replays/{rid}")
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    assert [s["state"] for s in cancelled.json["slots"]] == ["running", "cancelled"]
    api.dispatch("2026-11-30T12:02:00Z")  # records the slot in flight's outcome and ends the replay
    listed = api.call("GET", "/jobs/nightly/replays").json["replays"]
    assert [(r["replayId"], r["status"]) for r in listed] == [(rid, "cancelled")]
    assert [(s["state"], s["outcome"]) for s in listed[0]["slots"]] == [("done", "failed"), ("cancelled", None)]


@pytest.mark.parametrize(("body", "field"), [
    (None, "body"),
    ([], "body"),
    ({"to": "2026-11-30T00:00:00Z"}, "from"),
    ({"from": "yesterday", "to": "2026-11-30T00:00:00Z"}, "from"),
    ({"from": "2026-11-30T00:00:00Z", "to": "2026-11-29T00:00:00Z"}, "from"),
    ({"from": "2026-11-29T00:00:00Z", "to": "2026-12-30T00:00:00Z"}, "to"),
    ({**RANGE, "only": "everything"}, "only"),
    ({**RANGE, "maxRuns": 501}, "maxRuns"),
    ({**RANGE, "maxRuns": "3"}, "maxRuns"),
    ({**RANGE, "dryRun": 1}, "dryRun"),
    ({**RANGE, "payload": {}}, "payload"),
])
def test_a_bad_replay_request_is_a_400_naming_the_field(failed_nights, body, field):
    response = failed_nights.call("POST", "/jobs/nightly/replays", body)
    assert response.status_code == 400, response.json
    assert response.headers["Content-Type"] == "application/problem+json"
    assert field in [e["field"] for e in response.json["errors"]]


def test_unknown_jobs_replays_and_ids(failed_nights):
    api = failed_nights
    assert api.call("POST", "/jobs/nobody/replays", RANGE).status_code == 404
    assert api.call("GET", "/jobs/nobody/replays").status_code == 404
    assert api.call("GET", "/jobs/nightly/replays/20261130T120000000-0009").status_code == 404
    assert api.call("DELETE", "/jobs/nightly/replays/20261130T120000000-0009").status_code == 404
    bad = api.call("GET", "/jobs/nightly/replays/..%2Fx")
    assert bad.status_code == 400 and bad.json["errors"][0]["field"] == "replayId"
