"""The API the console reads: upcoming slots, schedule previews, one run with its logs, status."""
from __future__ import annotations

import logging

from chalicelib.core import run_log

JOB = {"jobName": "every-minute", "cronExpression": "* * * * *", "handler": "ok"}


def test_upcoming_gives_utc_and_local_time_and_flags_a_dst_change(api):
    api.clock.set(api.clock.now().replace(year=2027, month=3, day=27, hour=12, minute=0))
    api.call("POST", "/jobs", {"jobName": "nightly", "cronExpression": "30 2 * * *", "handler": "ok",
                               "timezone": "Europe/Oslo"})
    body = api.call("GET", "/jobs/nightly/upcoming?count=3").json
    assert body["timezone"] == "Europe/Oslo"
    assert [s["at"] for s in body["slots"]] == ["2027-03-28T01:00:00Z", "2027-03-29T00:30:00Z", "2027-03-30T00:30:00Z"]
    assert body["slots"][0]["localTime"] == "2027-03-28T03:00+02:00" and "moved" in body["slots"][0]["dstNote"]
    assert "dstNote" not in body["slots"][1]
    assert api.call("GET", "/jobs/nightly/upcoming?count=51").status_code == 400
    assert api.call("GET", "/jobs/nobody/upcoming").status_code == 404


def test_preview_describes_in_words_and_refuses_like_registration(api):
    body = api.call("POST", "/schedules/preview", {"cronExpression": "*/15 9-17 * * 1-5", "timezone": "Europe/Oslo",
                                                   "count": 2}).json
    assert body["description"] == "Every 15 minutes, between 09:00 and 17:59, Monday through Friday"
    assert len(body["slots"]) == 2
    refused = api.call("POST", "/schedules/preview", {"cronExpression": "0 2 * * ? *", "timezone": "CEST"})
    assert refused.status_code == 400
    assert {e["field"] for e in refused.json["errors"]} == {"cronExpression", "timezone"}
    assert api.call("GET", "/jobs").json["jobs"][0]["jobName"] == "certification-expiry-check"  # nothing stored


def test_one_execution_carries_its_scrubbed_log_lines(api):
    run_log.install()
    run_log.install(logging.getLogger("chalicelib"))

    def chatty(ctx):
        ctx.logger.info("starting with Authorization: Bearer abcdefghijklmnop.qrstuvwx")
        logging.getLogger("my.job").warning("half way")
        return {"ok": True}

    api.registry.add("chatty", chatty)
    api.call("POST", "/jobs", {**JOB, "jobName": "chatty", "handler": "chatty"})
    run = api.call("POST", "/jobs/chatty/trigger").json
    detail = api.call("GET", f"/jobs/chatty/executions/{run['executionId']}").json
    messages = [line["message"] for line in detail["logs"]]
    assert any("starting with Authorization: ***" in m for m in messages)
    assert "abcdefghijklmnop" not in str(detail["logs"])
    assert any(line["message"] == "half way" and line["level"] == "WARNING" for line in detail["logs"])
    assert detail["logsTruncated"] is False and detail["status"] == "succeeded"
    listed = api.call("GET", "/jobs/chatty/executions").json["executions"][0]
    assert "logs" not in listed
    assert api.call("GET", "/jobs/chatty/executions/20261128T200000000Z-a09").status_code == 404
    assert api.call("GET", "/jobs/chatty/executions/not%20an%20id").status_code == 400


def test_a_run_log_is_bounded_with_a_marker():
    log = run_log.RunLog()
    from datetime import UTC, datetime

    for index in range(500):
        log.add(datetime.now(UTC), "INFO", f"line {index}")
    lines, dropped = log.lines()
    assert len(lines) == run_log.MAX_LINES and dropped == 300 and lines[-1].message == "line 499"


def test_status_counts_jobs_names_the_overdue_and_the_last_tick(api):
    api.call("POST", "/jobs", JOB)
    api.call("POST", "/jobs", {**JOB, "jobName": "paused-one"})
    api.call("POST", "/jobs/paused-one/pause")
    before = api.call("GET", "/status").json
    assert before["lastTickAt"] is None and before["tickStale"] is True
    api.dispatch("2026-11-28T20:01:00Z")
    api.clock.set(api.clock.now().replace(hour=20, minute=30))  # no tick for half an hour
    body = api.call("GET", "/status").json
    assert body["jobs"]["byState"] == {"active": 2, "paused": 1}
    assert body["lastTickAt"] == "2026-11-28T20:01:00Z" and body["tickStale"] is True
    assert body["overdue"] == ["certification-expiry-check", "every-minute"] or body["overdue"] == ["every-minute"]


def test_the_job_listing_carries_the_schedule_in_words_and_the_last_ten_runs(api):
    """The overview needs nothing but GET /jobs: each job's schedule in words and the strip of
    its last 10 finished runs (newest first, failures and skipped slots included)."""
    assert api.call("POST", "/jobs/certification-expiry-check/pause").status_code == 200  # it would run on ticks
    api.call("POST", "/jobs", {**JOB, "jobName": "often", "cronExpression": "*/15 9-17 * * 1-5"})
    api.call("POST", "/jobs", {**JOB, "jobName": "flaky", "handler": "boom", "retry": {"maxAttempts": 1}})
    for _ in range(12):
        assert api.call("POST", "/jobs/often/trigger").status_code == 202
        api.clock.advance(seconds=1)  # the run just finished: the job's lease is released at this instant
    api.call("POST", "/jobs/flaky/trigger")
    api.call("POST", "/maintenance-windows", {"from": "2026-11-28T20:00:00Z", "to": "2026-11-28T21:00:00Z",
                                              "reason": "db upgrade", "jobs": ["flaky"]})
    api.clock.set(api.clock.now().replace(minute=1, second=0))
    api.dispatch("2026-11-28T20:01:00Z")  # flaky's every-minute slot falls in the window: skipped

    jobs = {j["jobName"]: j for j in api.call("GET", "/jobs").json["jobs"]}
    often, flaky = jobs["often"], jobs["flaky"]
    assert often["scheduleDescription"] == "Every 15 minutes, between 09:00 and 17:59, Monday through Friday"
    assert flaky["scheduleDescription"] == "Every minute"
    newest = api.call("GET", "/jobs/often/executions?limit=10").json["executions"]
    assert often["recentRuns"] == [{"executionId": e["executionId"], "status": "succeeded",
                                    "scheduledFor": e["scheduledFor"]} for e in newest]
    assert [r["status"] for r in flaky["recentRuns"]] == ["skipped", "failed"]
    assert api.call("GET", "/jobs/flaky").json["recentRuns"] == flaky["recentRuns"]  # every Job view says the same
    assert jobs["certification-expiry-check"]["recentRuns"] == []
