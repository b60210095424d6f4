"""Who did it: every change made through the API records the caller (token sub and role)."""
from __future__ import annotations

import logging

from tests.app.conftest import token

JOB = {"jobName": "every-minute", "cronExpression": "* * * * *", "handler": "ok"}


def as_user(api, subject: str, role: str = "service_role", app_role: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(role, app_role=app_role, subject=subject)}"}


def test_register_pause_resume_and_trigger_record_the_caller(api, caplog):
    caplog.set_level(logging.INFO, logger="chalicelib.audit")
    created = api.call("POST", "/jobs", JOB, headers=as_user(api, "svc-reports")).json
    assert created["createdBy"] == created["updatedBy"] == {"subject": "svc-reports", "role": "service_role"}
    assert created["pausedBy"] is None

    paused = api.call("POST", "/jobs/every-minute/pause", {"reason": "db maintenance"},
                      headers=as_user(api, "ops-anna", role="authenticated", app_role="admin")).json
    assert paused["pausedBy"] == paused["updatedBy"] == {"subject": "ops-anna", "role": "admin"}
    assert paused["createdBy"]["subject"] == "svc-reports"

    resumed = api.call("POST", "/jobs/every-minute/resume", headers=as_user(api, "ops-bo")).json
    assert resumed["updatedBy"]["subject"] == "ops-bo" and resumed["pausedBy"] is None

    run = api.call("POST", "/jobs/every-minute/trigger", headers=as_user(api, "ops-anna")).json
    assert run["triggeredBy"] == {"subject": "ops-anna", "role": "service_role"}
    history = api.call("GET", "/jobs/every-minute/executions").json["executions"]
    assert history[0]["triggeredBy"]["subject"] == "ops-anna"

    refused = api.call("POST", "/jobs/every-minute/trigger", {"payload": "nope"}, headers=as_user(api, "ops-cy"))
    assert refused.status_code == 400
    api.call("DELETE", "/jobs/every-minute", headers=as_user(api, "ops-bo"))

    lines = [(r.action, r.job_name, r.actor, r.actor_role, r.status, r.outcome)
             for r in caplog.records if getattr(r, "audit", False)]
    assert lines == [
        ("register", "every-minute", "svc-reports", "service_role", 201, "succeeded"),
        ("pause", "every-minute", "ops-anna", "admin", 200, "succeeded"),
        ("resume", "every-minute", "ops-bo", "service_role", 200, "succeeded"),
        ("trigger", "every-minute", "ops-anna", "service_role", 202, "succeeded"),
        ("trigger", "every-minute", "ops-cy", "service_role", 400, "refused"),
        ("cancel", "every-minute", "ops-bo", "service_role", 204, "succeeded"),
    ]


def test_a_forced_certification_run_says_who_forced_it_in_the_audit_line(api, caplog):
    caplog.set_level(logging.INFO, logger="chalicelib.audit")
    api.call("POST", "/jobs/certification-expiry-check/trigger", {"payload": {"force": True}},
             headers=as_user(api, "ops-anna"))
    (line,) = [r for r in caplog.records if getattr(r, "audit", False)]
    assert line.forced is True and line.actor == "ops-anna"


def test_reads_write_no_audit_line(api, caplog):
    caplog.set_level(logging.INFO, logger="chalicelib.audit")
    api.call("GET", "/jobs")
    assert not [r for r in caplog.records if getattr(r, "audit", False)]


def test_channel_and_window_lines_name_what_they_acted_on(api, caplog):
    caplog.set_level(logging.INFO, logger="chalicelib.audit")
    api.call("PUT", "/channels/ops-mail", {"type": "sns", "topicArn": "arn:aws:sns:eu-north-1:123456789012:ops"})
    api.call("DELETE", "/channels/ops-mail")
    window = api.call("POST", "/maintenance-windows", {"from": "2026-11-29T03:30:00Z", "to": "2026-11-29T05:00:00Z",
                                                       "reason": "migration", "all": True}).json
    api.call("DELETE", f"/maintenance-windows/{window['id']}")
    api.call("POST", "/maintenance-windows", {"reason": ""})  # refused: no id to name
    lines = [(r.action, r.target, r.status) for r in caplog.records if getattr(r, "audit", False)]
    assert [(a, t) for a, t, _ in lines] == [
        ("put-channel", "channel ops-mail"), ("delete-channel", "channel ops-mail"),
        ("create-maintenance-window", f"window {window['id']}"), ("end-maintenance-window", f"window {window['id']}"),
        ("create-maintenance-window", None)]
    assert all(s < 400 for _, _, s in lines[:4]), lines
    assert "audit: put-channel channel ops-mail by " in caplog.records[0].getMessage()
