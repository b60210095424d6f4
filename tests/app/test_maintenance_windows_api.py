"""Pauses with an end and maintenance windows over HTTP (memory store, pinned clock at
2026-11-28T20:00Z): the shapes of API.md, 400 problems naming the field, 404s."""
from __future__ import annotations

import pytest

from tests.fakes import utc

JOB = {"jobName": "nightly", "cronExpression": "0 5 * * *", "handler": "ok", "timezone": "Europe/Oslo"}
WINDOW = {"from": "2026-11-29T03:30:00Z", "to": "2026-11-29T05:00:00Z", "reason": "database migration",
          "jobs": ["nightly"]}


@pytest.fixture
def api(api):
    """The app's client with the code-defined certification check paused (it would run, and
    retry against an absent Supabase, on the nights these tests tick through)."""
    assert api.call("POST", "/jobs/certification-expiry-check/pause").status_code == 200
    return api


def test_a_pause_until_shows_paused_until_and_ends_by_itself(api):
    assert api.call("POST", "/jobs", JOB).status_code == 201
    paused = api.call("POST", "/jobs/nightly/pause", {"reason": "migration", "until": "2026-11-29T06:00:00+01:00"})
    assert paused.status_code == 200
    assert (paused.json["state"], paused.json["pausedUntil"]) == ("paused", "2026-11-29T05:00:00Z")
    api.dispatch("2026-11-29T04:00:00Z")  # 05:00 CET: paused
    assert api.call("GET", "/jobs/nightly/executions").json["executions"] == []
    api.clock.set(utc(2026, 11, 29, 5, 0))  # the tick's event time: notices are due then
    api.dispatch("2026-11-29T05:00:00Z")
    job = api.call("GET", "/jobs/nightly").json
    assert (job["state"], job["pausedUntil"], job["nextRunAt"]) == ("active", None, "2026-11-30T04:00:00Z")
    assert [n.kind.value for n in api.notifier.sent if n.message.get("jobName") == "nightly"] == ["pause-expired"]


@pytest.mark.parametrize("body", [{"until": "2026-11-28T19:00:00Z"}, {"until": "2027-03-01T00:00:00Z"},
                                  {"until": "tomorrow"}, {"until": 5}, {"until": "2026-11-29T03:00:00"}])
def test_a_bad_pause_end_is_a_400_naming_until(api, body):
    assert api.call("POST", "/jobs", JOB).status_code == 201
    response = api.call("POST", "/jobs/nightly/pause", body)
    assert response.status_code == 400 and response.headers["Content-Type"] == "application/problem+json"
    assert [e["field"] for e in response.json["errors"]] == ["until"]


def test_a_window_is_created_listed_applied_and_ended(api):
    assert api.call("POST", "/jobs", JOB).status_code == 201
    created = api.call("POST", "/maintenance-windows", {**WINDOW, "runMissed": True})
    assert created.status_code == 201
    window = created.json
    assert window == {"id": window["id"], "from": "2026-11-29T03:30:00Z", "to": "2026-11-29T05:00:00Z",
                      "reason": "database migration", "jobs": ["nightly"], "runMissed": True, "status": "upcoming",
                      "createdAt": "2026-11-28T20:00:00Z", "createdBy": window["createdBy"], "endedBy": None}
    assert created.headers["Location"].endswith(f"/maintenance-windows/{window['id']}")
    assert api.call("GET", f"/maintenance-windows/{window['id']}").json == window  # where Location points
    assert api.call("GET", "/maintenance-windows").json == {"windows": [window]}

    api.dispatch("2026-11-29T04:00:00Z")
    api.dispatch("2026-11-29T05:00:00Z")  # the window ends: runMissed runs the skipped slot once
    executions = api.call("GET", "/jobs/nightly/executions").json["executions"]
    assert [(e["scheduledFor"], e["status"], e.get("skipReason", "")[:26]) for e in executions] == [
        ("2026-11-29T04:00:00Z", "succeeded", ""),
        ("2026-11-29T04:00:00Z", "skipped", f"maintenance window {window['id']}"[:26]),
    ]
    assert window["id"] in executions[1]["skipReason"]

    api.clock.set(utc(2026, 11, 29, 5, 30))
    later = api.call("POST", "/maintenance-windows", {"from": "2026-11-29T06:00:00Z", "to": "2026-11-29T08:00:00Z",
                                                      "reason": "r", "all": True}).json
    assert later["all"] is True and later["status"] == "upcoming"
    ended = api.call("DELETE", f"/maintenance-windows/{later['id']}")
    assert ended.status_code == 200 and ended.json["to"] == ended.json["from"] == "2026-11-29T06:00:00Z"
    assert ended.json["status"] == "ended" and ended.json["endedBy"]["subject"] == "tester"


def test_unknown_and_malformed_window_ids(api):
    missing = api.call("DELETE", "/maintenance-windows/mw-20261128T200000-abcdef")
    assert missing.status_code == 404 and missing.json["windowId"] == "mw-20261128T200000-abcdef"
    bad = api.call("DELETE", "/maintenance-windows/nope")
    assert bad.status_code == 400 and bad.json["errors"][0]["field"] == "id"
    assert api.call("GET", "/maintenance-windows/mw-20261128T200000-abcdef").status_code == 404
    assert api.call("GET", "/maintenance-windows/nope").status_code == 400


@pytest.mark.parametrize("body, fields", [
    ({**WINDOW, "to": "2026-11-29T03:00:00Z"}, ["to"]),
    ({**WINDOW, "to": "2026-12-07T00:00:00Z"}, ["to"]),
    ({**WINDOW, "from": "2027-03-01T00:00:00Z", "to": "2027-03-01T01:00:00Z"}, ["from"]),
    ({k: v for k, v in WINDOW.items() if k != "jobs"}, ["jobs"]),
    ({**WINDOW, "owner": "mentor-team"}, ["jobs", "owner"]),
    ({**WINDOW, "reason": ""}, ["reason"]),
    ({**WINDOW, "runMissed": 1}, ["runMissed"]),
    ({**WINDOW, "colour": "red"}, ["colour"]),
    ([WINDOW], ["body"]),
])
def test_a_bad_window_body_is_a_400_naming_the_field(api, body, fields):
    response = api.call("POST", "/maintenance-windows", body)
    assert response.status_code == 400 and response.headers["Content-Type"] == "application/problem+json"
    assert [e["field"] for e in response.json["errors"]] == fields
    assert api.call("GET", "/maintenance-windows").json == {"windows": []}
