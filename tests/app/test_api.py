"""Every route and error through chalice.test.Client, plus the dispatcher Lambda."""
from __future__ import annotations

import json
import threading

import pytest

from tests.app.conftest import SECRET, token
from tests.fakes import rendezvous_commits, utc

JOB = {"jobName": "every-minute", "cronExpression": "* * * * *", "handler": "ok"}


def problem_fields(response) -> set[str]:
    assert response.headers["Content-Type"] == "application/problem+json"
    body = response.json
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == response.status_code
    assert "Traceback" not in json.dumps(body)
    return {e["field"] for e in body.get("errors", [])}


# ------------------------------------------------------------------ auth


def test_health_needs_no_token(api):
    response = api.client.http.get("/api/v1/scheduler/health")
    assert response.status_code == 200 and json.loads(response.body) == {"status": "ok"}


@pytest.mark.parametrize("header", [None, "Bearer", "Basic abc", "Bearer not-a-jwt",
                                    f"Bearer {token(exp_in=-60)}", f"Bearer {token(secret='another-secret-entirely-0123456789')}"])
def test_missing_or_invalid_tokens_get_401(api, header):
    headers = {} if header is None else {"Authorization": header}
    response = api.client.http.get("/api/v1/scheduler/jobs", headers=headers)
    assert response.status_code == 401


def test_token_without_exp_is_refused(api):
    import jwt

    no_exp = jwt.encode({"sub": "x", "role": "service_role"}, SECRET, algorithm="HS256")
    assert api.call("GET", "/jobs", headers={"Authorization": f"Bearer {no_exp}"}).status_code == 401


def test_alg_none_is_refused(api):
    import jwt

    unsigned = jwt.encode({"sub": "x", "role": "service_role", "exp": 4102444800}, None, algorithm="none")
    assert api.call("GET", "/jobs", headers={"Authorization": f"Bearer {unsigned}"}).status_code == 401


def test_valid_token_with_the_wrong_role_gets_403(api):
    response = api.call("GET", "/jobs", headers={"Authorization": f"Bearer {token('authenticated')}"})
    assert response.status_code == 403


def test_admin_app_metadata_role_is_accepted(api):
    response = api.call("GET", "/jobs", headers={"Authorization": f"Bearer {token('authenticated', app_role='admin')}"})
    assert response.status_code == 200


# ------------------------------------------------------------------ jobs


def test_register_then_get_list_and_identical_reregister(api):
    created = api.call("POST", "/jobs", JOB)
    assert created.status_code == 201
    assert created.headers["Location"] == "/api/v1/scheduler/jobs/every-minute"
    job = created.json
    assert job["timezone"] == "UTC" and job["state"] == "active" and job["alertState"] == "ok"
    assert job["nextRunAt"] == "2026-11-28T20:01:00Z" and job["lastExecution"] is None
    assert job["retry"] == {"maxAttempts": 3, "initialDelaySeconds": 60, "maxDelaySeconds": 3600}
    assert api.call("POST", "/jobs", JOB).status_code == 200
    assert api.call("GET", "/jobs/every-minute").json["jobName"] == "every-minute"
    names = [j["jobName"] for j in api.call("GET", "/jobs").json["jobs"]]
    assert "every-minute" in names and "certification-expiry-check" in names


def test_same_name_with_another_definition_is_409(api):
    api.call("POST", "/jobs", JOB)
    response = api.call("POST", "/jobs", {**JOB, "cronExpression": "*/5 * * * *"})
    assert response.status_code == 409
    problem_fields(response)


@pytest.mark.parametrize("body,field", [
    ({**JOB, "jobName": "Bad_Name"}, "jobName"),
    ({**JOB, "jobName": "-x"}, "jobName"),
    ({**JOB, "jobName": "a" * 65}, "jobName"),
    ({**JOB, "cronExpression": "0 2 * * * *"}, "cronExpression"),
    ({**JOB, "cronExpression": "cron(0 2 * * ? *)"}, "cronExpression"),
    ({**JOB, "cronExpression": 5}, "cronExpression"),
    ({**JOB, "handler": "does-not-exist"}, "handler"),
    ({**JOB, "timezone": "Mars/Olympus"}, "timezone"),
    ({**JOB, "payload": [1, 2]}, "payload"),
    ({**JOB, "payload": {"x": "y" * 17000}}, "payload"),
    ({**JOB, "retry": {"maxAttempts": 11}}, "retry.maxAttempts"),
    ({**JOB, "retry": {"maxAttempts": "3"}}, "retry.maxAttempts"),
    ({**JOB, "retry": {"initialDelaySeconds": 0}}, "retry.initialDelaySeconds"),
    ({**JOB, "retry": {"maxDelaySeconds": 21601}}, "retry.maxDelaySeconds"),
    ({**JOB, "timeoutSeconds": 901}, "timeoutSeconds"),
    ({**JOB, "timeoutSeconds": True}, "timeoutSeconds"),
    ({**JOB, "timeoutSeconds": 30.5}, "timeoutSeconds"),
    ({**JOB, "alertAfterFailures": 0}, "alertAfterFailures"),
    ({**JOB, "misfireGraceSeconds": 86401}, "misfireGraceSeconds"),
    ({"cronExpression": "* * * * *", "handler": "ok"}, "jobName"),
    ({**JOB, "colour": "blue"}, "colour"),
    ([JOB], "body"),
])
def test_invalid_registrations_are_400_naming_the_field_and_store_nothing(api, body, field):
    response = api.call("POST", "/jobs", body)
    assert response.status_code == 400
    assert field in problem_fields(response)
    assert api.call("GET", "/jobs/every-minute").status_code in (404, 400)


def test_a_whole_number_written_as_a_float_is_that_number(api):
    response = api.call("POST", "/jobs", {**JOB, "timeoutSeconds": 30.0, "retry": {"maxAttempts": 2.0}})
    assert response.status_code == 201, response.json
    assert (response.json["timeoutSeconds"], response.json["retry"]["maxAttempts"]) == (30, 2)


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b"null", b"42", b""])
def test_malformed_bodies_are_400(api, raw):
    response = api.call("POST", "/jobs", raw=raw)
    assert response.status_code == 400
    assert "body" in problem_fields(response)


def test_curl_default_form_content_type_is_still_read_as_json(api):
    response = api.call("POST", "/jobs", JOB, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 201


def test_unknown_job_is_404_everywhere(api):
    for method, path in [("GET", "/jobs/nope"), ("DELETE", "/jobs/nope"), ("POST", "/jobs/nope/trigger"),
                         ("POST", "/jobs/nope/pause"), ("POST", "/jobs/nope/resume"),
                         ("GET", "/jobs/nope/last-result"), ("GET", "/jobs/nope/executions")]:
        response = api.call(method, path)
        assert response.status_code == 404, (method, path)
        problem_fields(response)


def test_a_path_name_that_breaks_the_pattern_is_400(api):
    response = api.call("GET", "/jobs/NOT_VALID")
    assert response.status_code == 400 and "jobName" in problem_fields(response)


def test_paging_through_jobs_and_a_tampered_token(api):
    for i in range(7):
        api.call("POST", "/jobs", {**JOB, "jobName": f"job-{i}"})
    seen, token_ = [], None
    while True:
        query = "?limit=3" + (f"&nextToken={token_}" if token_ else "")
        page = api.call("GET", "/jobs" + query).json
        seen += [j["jobName"] for j in page["jobs"]]
        token_ = page["nextToken"]
        if not token_:
            break
    assert len(seen) == len(set(seen)) == 8  # 7 + certification-expiry-check
    first = api.call("GET", "/jobs?limit=3").json["nextToken"]
    tampered = first[:-2] + ("AA" if not first.endswith("AA") else "BB")
    response = api.call("GET", f"/jobs?nextToken={tampered}")
    assert response.status_code == 400 and "nextToken" in problem_fields(response)
    for bad in ("0", "251", "abc", "-1"):  # a page holds at most 250 jobs
        response = api.call("GET", f"/jobs?limit={bad}")
        assert response.status_code == 400 and "limit" in problem_fields(response)


def test_handlers_lists_builtins_and_registered(api):
    names = {h["name"] for h in api.call("GET", "/handlers").json["handlers"]}
    assert {"ok", "boom", "noop", "http-request", "certification-expiry-check"} <= names


# ------------------------------------------------------------------ runs


def test_trigger_last_result_executions_and_idempotency_key(api):
    api.call("POST", "/jobs", {**JOB, "payload": {"a": 1}})
    assert api.call("GET", "/jobs/every-minute/last-result").status_code == 204
    first = api.call("POST", "/jobs/every-minute/trigger", {"payload": {"b": 2}}, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 202
    assert first.json["trigger"] == "manual" and first.json["attempt"] == 1
    again = api.call("POST", "/jobs/every-minute/trigger", {"payload": {"b": 2}}, headers={"Idempotency-Key": "k-1"})
    assert again.json["executionId"] == first.json["executionId"]
    last = api.call("GET", "/jobs/every-minute/last-result").json
    assert last["status"] == "succeeded" and last["result"] == {"attempt": 1, "payload": {"a": 1, "b": 2}}
    assert last["durationMs"] is not None and last["finishedAt"].endswith("Z")
    history = api.call("GET", "/jobs/every-minute/executions").json
    assert [e["executionId"] for e in history["executions"]] == [first.json["executionId"]]


@pytest.mark.parametrize("body,field", [
    ({"payload": [1]}, "payload"), ({"payload": "x"}, "payload"), ({"other": 1}, "other"), ([1], "body"),
])
def test_bad_trigger_bodies_are_400(api, body, field):
    api.call("POST", "/jobs", JOB)
    response = api.call("POST", "/jobs/every-minute/trigger", body)
    assert response.status_code == 400 and field in problem_fields(response)
    assert api.call("GET", "/jobs/every-minute/last-result").status_code == 204


def test_pause_and_resume(api):
    api.call("POST", "/jobs", JOB)
    paused = api.call("POST", "/jobs/every-minute/pause", {"reason": "maintenance window"})
    assert paused.status_code == 200 and paused.json["state"] == "paused"
    assert paused.json["pauseReason"] == "maintenance window" and paused.json["nextRunAt"] is None
    assert api.call("POST", "/jobs/every-minute/pause", {"reason": 5}).status_code == 400
    resumed = api.call("POST", "/jobs/every-minute/resume")
    assert resumed.status_code == 200 and resumed.json["state"] == "active" and resumed.json["nextRunAt"]


def test_delete_cancels_the_job(api):
    api.call("POST", "/jobs", JOB)
    assert api.call("DELETE", "/jobs/every-minute").status_code == 204
    assert api.call("GET", "/jobs/every-minute").status_code == 404


# ------------------------------------------------------------------ dispatcher lambda


def test_dispatch_uses_the_event_time_and_the_same_event_twice_runs_once(api):
    api.call("POST", "/jobs", JOB)
    first = api.dispatch("2026-11-28T20:01:00Z")
    assert first.payload["claimed"] == 1
    second = api.dispatch("2026-11-28T20:01:00Z")
    assert second.payload["claimed"] == 0
    history = api.call("GET", "/jobs/every-minute/executions").json["executions"]
    assert [(e["scheduledFor"], e["status"]) for e in history] == [("2026-11-28T20:01:00Z", "succeeded")]


def test_two_ticks_at_once_from_threads_claim_once(api):
    api.call("POST", "/jobs", JOB)
    barrier = threading.Barrier(4)
    rendezvous_commits(api.runtime.store, 4)  # all four planned the claim before any writes

    claims: list[int] = []

    def tick():
        barrier.wait()
        claims.append(len(api.runtime.engine.dispatcher.tick(utc(2026, 11, 28, 20, 1)).claimed))

    threads = [threading.Thread(target=tick) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(claims) == [0, 0, 0, 1]
    assert len(api.call("GET", "/jobs/every-minute/executions").json["executions"]) == 1


def test_three_hours_of_downtime(api):
    api.call("POST", "/jobs", {**JOB, "jobName": "coalesced", "cronExpression": "*/10 * * * *", "misfireGraceSeconds": 900})
    api.call("POST", "/jobs", {**JOB, "jobName": "too-late", "cronExpression": "0 * * * *", "misfireGraceSeconds": 60})
    api.dispatch("2026-11-28T23:05:00Z")
    coalesced = api.call("GET", "/jobs/coalesced/executions").json["executions"]
    assert [(e["scheduledFor"], e["status"]) for e in coalesced] == [("2026-11-28T23:00:00Z", "succeeded")]
    late = api.call("GET", "/jobs/too-late/executions").json["executions"]
    assert [(e["scheduledFor"], e["status"]) for e in late] == [("2026-11-28T23:00:00Z", "missed")]
    assert api.call("GET", "/jobs/too-late").json["consecutiveFailures"] == 1


def test_failures_show_alert_state_and_send_one_alert(api):
    api.call("POST", "/jobs", {**JOB, "jobName": "failing", "handler": "boom", "alertAfterFailures": 2,
                               "retry": {"maxAttempts": 1}})
    api.dispatch("2026-11-28T20:01:00Z")
    api.dispatch("2026-11-28T20:02:00Z")
    api.dispatch("2026-11-28T20:03:00Z")
    job = api.call("GET", "/jobs/failing").json
    assert job["alertState"] == "alerting" and job["consecutiveFailures"] == 3
    assert [n.kind.value for n in api.notifier.sent] == ["alert"]
    assert job["lastExecution"]["error"] == {"type": "RuntimeError", "message": "handler exploded", "retryable": True}


def test_worker_refuses_a_malformed_event(api):
    response = api.client.lambda_.invoke("run_execution", {"nope": 1})
    assert response.payload["status"] == "refused"


def test_an_unreadable_jwt_secret_refuses_everyone_without_a_500(api, monkeypatch):
    from chalicelib import bootstrap

    def broken(settings, resolve):
        raise RuntimeError("Secrets Manager is unreachable")

    monkeypatch.setattr(bootstrap, "jwt_secret", broken)
    assert api.call("GET", "/jobs").status_code == 401


def test_deeply_nested_json_is_a_400_not_a_500(api):
    deep = b'{"jobName": "deep", "cronExpression": "* * * * *", "handler": "ok", "payload": ' + b'{"a":' * 5000 + b'1' + b'}' * 5001
    response = api.call("POST", "/jobs", raw=deep)
    assert response.status_code == 400 and "body" in problem_fields(response)


def test_the_payload_limit_counts_utf8_bytes(api):
    response = api.call("POST", "/jobs", {**JOB, "payload": {"x": "ø" * 3000}})  # 6 KB of UTF-8
    assert response.status_code == 201
    response = api.call("POST", "/jobs", {**JOB, "jobName": "too-big", "payload": {"x": "ø" * 9000}})
    assert response.status_code == 400 and "payload" in problem_fields(response)


def test_a_reused_idempotency_key_with_another_payload_is_409(api):
    api.call("POST", "/jobs", JOB)
    api.call("POST", "/jobs/every-minute/trigger", {"payload": {"z": 1}}, headers={"Idempotency-Key": "k"})
    response = api.call("POST", "/jobs/every-minute/trigger", {"payload": {"z": 2}}, headers={"Idempotency-Key": "k"})
    assert response.status_code == 409
    # The key's own refusal, not the run-in-progress 409 an ignored header would give.
    assert response.json["type"].endswith("/idempotency-key-reused"), response.json


@pytest.mark.parametrize("raw", [b"{bad", b"[1]", b'{"x": 1}'])
def test_resume_refuses_a_body_it_cannot_use(api, raw):
    api.call("POST", "/jobs", JOB)
    assert api.call("POST", "/jobs/every-minute/resume", raw=raw).status_code == 400


@pytest.mark.parametrize("value", ["²", "١٠", "1e1", " 5", "-1"])
def test_query_numbers_must_be_ascii_digits(api, value):
    response = api.call("GET", f"/jobs?limit={value}")
    assert response.status_code == 400 and "limit" in problem_fields(response)


def test_timeout_seconds_is_capped_at_the_worker_timeout_less_the_lease_margin(api):
    response = api.call("POST", "/jobs", {**JOB, "jobName": "long", "timeoutSeconds": 900})
    assert response.status_code == 400
    (message,) = [e["message"] for e in response.json["errors"] if e["field"] == "timeoutSeconds"]
    assert "840" in message and "timed_out" in message
    assert api.call("POST", "/jobs", {**JOB, "jobName": "long", "timeoutSeconds": 840}).status_code == 201


def test_health_reports_refused_settings_as_degraded(api, monkeypatch):
    from dataclasses import replace

    from chalicelib.core.errors import FieldError

    assert api.call("GET", "/health").json == {"status": "ok"}
    degraded = replace(api.runtime.settings, problems=(FieldError("CERT_CHECK_CRON", "five fields, e.g. '0 2 * * *'"),))
    monkeypatch.setattr(api.runtime, "settings", degraded)
    response = api.call("GET", "/health")
    assert response.status_code == 503
    assert response.json == {"status": "degraded",
                             "problems": [{"setting": "CERT_CHECK_CRON", "message": "five fields, e.g. '0 2 * * *'"}]}
    assert api.call("GET", "/jobs").status_code == 200  # every other route keeps working


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("PUT", "/jobs", "GET, POST"), ("PATCH", "/jobs/every-minute", "DELETE, GET"),
    ("DELETE", "/jobs/every-minute/trigger", "POST"), ("GET", "/jobs/every-minute/pause", "POST"),
])
def test_an_unsupported_method_on_a_known_path_is_a_405_problem(api, method, path, allow):
    response = api.call(method, path)
    assert response.status_code == 405 and response.headers["Allow"] == allow
    assert response.headers["Content-Type"] == "application/problem+json" and response.json["status"] == 405
