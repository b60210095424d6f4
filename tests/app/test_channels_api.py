"""/channels over the API, owners and notify on jobs, and GET /jobs?owner=."""
from __future__ import annotations

import pytest

SLACK = {"type": "slack", "webhook": {"secretRef": "slack/mentor-team"}}
TOPIC = {"type": "sns", "topicArn": "arn:aws:sns:eu-north-1:123456789012:ops-alerts"}


def _job(name: str, **extra):
    return {"jobName": name, "cronExpression": "0 2 * * *", "handler": "ok", **extra}


def test_channels_are_put_listed_read_and_deleted(api) -> None:
    created = api.call("PUT", "/channels/mentor-slack", SLACK)
    assert created.status_code == 201, created.json
    assert created.json["webhook"] == {"secretRef": "slack/mentor-team"} and created.json["type"] == "slack"
    assert api.call("PUT", "/channels/mentor-slack", SLACK).status_code == 200  # the same again: unchanged
    assert api.call("PUT", "/channels/ops", TOPIC).status_code == 201
    assert [c["name"] for c in api.call("GET", "/channels").json["channels"]] == ["mentor-slack", "ops"]
    assert api.call("GET", "/channels/ops").json["topicArn"] == TOPIC["topicArn"]
    assert api.call("DELETE", "/channels/ops").status_code == 204
    missing = api.call("GET", "/channels/ops")
    assert missing.status_code == 404 and missing.headers["Content-Type"] == "application/problem+json"
    assert api.call("DELETE", "/channels/ops").status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    ({"type": "slack", "webhook": "https://hooks.slack.com/services/T/B/literal"}, "webhook"),
    ({"type": "slack", "webhook": {"secretRef": "nightly-scheduler/prod/jwt-secret"}}, "webhook.secretRef"),
    ({"type": "webhook", "url": "http://hooks.example.com/x", "signingSecret": {"secretRef": "hooks/a"}}, "url"),
    ({"type": "webhook", "url": "https://169.254.169.254/latest", "signingSecret": {"secretRef": "hooks/a"}}, "url"),
    ({"type": "webhook", "url": "https://hooks.example.com/x"}, "signingSecret"),
    ({"type": "sns", "topicArn": "ops-alerts"}, "topicArn"),
    ({"type": "email", "to": "ops@example.com"}, "type"),
    ({"type": "sns", "topicArn": TOPIC["topicArn"], "extra": 1}, "extra"),
])
def test_a_bad_channel_is_a_400_naming_the_field_and_stores_nothing(api, body, field) -> None:
    response = api.call("PUT", "/channels/team", body)
    assert response.status_code == 400, response.json
    assert field in {e["field"] for e in response.json["errors"]}
    assert "literal" not in response.body.decode()
    assert api.call("GET", "/channels/team").status_code == 404


def test_a_bad_channel_name_is_a_400(api) -> None:
    assert api.call("PUT", "/channels/Bad_Name", TOPIC).status_code == 400


def test_a_job_naming_a_channel_that_does_not_exist_is_a_400(api) -> None:
    api.call("PUT", "/channels/mentor-slack", SLACK)
    response = api.call("POST", "/jobs", _job("mentor-sync", notify=["mentor-slack", "nobody"]))
    assert response.status_code == 400
    assert [e["field"] for e in response.json["errors"]] == ["notify[1]"]
    assert "nobody" in response.json["errors"][0]["message"]
    assert api.call("GET", "/jobs/mentor-sync").status_code == 404


@pytest.mark.parametrize(("extra", "field"), [
    ({"owner": "Mentor Team"}, "owner"), ({"owner": "team\n"}, "owner"), ({"notify": "mentor-slack"}, "notify"),
    ({"notify": ["a", "a"]}, "notify[1]"), ({"notify": [7]}, "notify[0]"),
])
def test_bad_owner_or_notify_is_a_400_naming_the_field(api, extra, field) -> None:
    response = api.call("POST", "/jobs", _job("mentor-sync", **extra))
    assert response.status_code == 400
    assert field in {e["field"] for e in response.json["errors"]}


def test_deleting_a_channel_that_jobs_name_is_a_409_listing_them_unless_forced(api) -> None:
    api.call("PUT", "/channels/mentor-slack", SLACK)
    for name in ("mentor-sync", "mentor-digest"):
        assert api.call("POST", "/jobs", _job(name, owner="mentor-team", notify=["mentor-slack"])).status_code == 201
    refused = api.call("DELETE", "/channels/mentor-slack")
    assert refused.status_code == 409
    assert refused.json["jobs"] == ["mentor-digest", "mentor-sync"] and "force=true" in refused.json["detail"]
    assert api.call("GET", "/channels/mentor-slack").status_code == 200
    assert api.call("DELETE", "/channels/mentor-slack?force=maybe").status_code == 400
    assert api.call("DELETE", "/channels/mentor-slack?force=true").status_code == 204
    assert api.call("GET", "/channels/mentor-slack").status_code == 404
    assert api.call("GET", "/jobs/mentor-sync").json["notify"] == ["mentor-slack"]  # kept; delivered to the topic


def test_jobs_show_and_filter_by_owner(api) -> None:
    api.call("PUT", "/channels/ops", TOPIC)
    api.call("POST", "/jobs", _job("mentor-sync", owner="mentor-team", notify=["ops"]))
    api.call("POST", "/jobs", _job("billing-close", owner="billing"))
    api.call("POST", "/jobs", _job("no-owner"))
    view = api.call("GET", "/jobs/mentor-sync").json
    assert (view["owner"], view["notify"]) == ("mentor-team", ["ops"])
    assert api.call("GET", "/jobs/no-owner").json["owner"] is None
    mine = api.call("GET", "/jobs?owner=mentor-team").json["jobs"]
    assert [j["jobName"] for j in mine] == ["mentor-sync"]
    assert {"mentor-sync", "billing-close", "no-owner"} <= {j["jobName"] for j in api.call("GET", "/jobs").json["jobs"]}
    bad = api.call("GET", "/jobs?owner=Not%20An%20Owner")
    assert bad.status_code == 400 and bad.json["errors"][0]["field"] == "owner"
