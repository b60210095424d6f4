"""Each ``scheduler`` command against the served app: what it prints and how it exits.

The fake clock stands at 2026-11-28 20:00Z (21:00 in Oslo, the reader's zone here).
"""
from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chalicelib.api.methods import UNKNOWN_PATH_PROBLEM
from chalicelib.core.model import parse_iso
from devstack.net import free_port
from scheduler_cli.inputs import instant

MONTHLY = ("register", "monthly", "30 2 28 * *", "ok", "--tz", "Europe/Oslo")


def lines_with(output: str, text: str) -> list[str]:
    return [line for line in output.splitlines() if text in line]


# ---------------------------------------------------------------------- settings and refusals


def test_a_missing_url_or_token_says_exactly_what_to_export(served):
    no_url = served.run("jobs", env={"SCHEDULER_URL": None})
    assert no_url.exit_code == 2
    assert "SCHEDULER_URL is not set" in no_url.stderr
    assert "export SCHEDULER_URL=http://127.0.0.1:8000/api/v1/scheduler" in no_url.stderr
    no_token = served.run("status", env={"SCHEDULER_TOKEN": None})
    assert no_token.exit_code == 2
    assert "SCHEDULER_TOKEN is not set" in no_token.stderr and "export SCHEDULER_TOKEN=" in no_token.stderr
    not_a_url = served.run("jobs", env={"SCHEDULER_URL": "127.0.0.1:8000"})
    assert not_a_url.exit_code == 2 and "must start with http:// or https://" in not_a_url.stderr
    flags = served.run("--url", served.url, "--token", served.token, "jobs", env={"SCHEDULER_URL": None, "SCHEDULER_TOKEN": None})
    assert flags.exit_code == 0 and "certification-expiry-check" in flags.stdout


def test_a_refused_registration_prints_title_and_field_errors_and_exits_2(served):
    result = served.run("register", "Bad Name", "0 2 * * * *", "nosuch")
    assert result.exit_code == 2
    assert "400 Your request is not valid." in result.stderr
    errors = lines_with(result.stderr, "  - ")
    assert [line.split(":")[0].strip(" -") for line in errors] == ["jobName", "cronExpression", "handler"]
    assert "'nosuch' is not a registered handler" in result.stderr
    assert len(lines_with(result.stderr, "is not a registered handler")) == 1  # the detail only repeated them
    assert served.json("jobs")["jobs"][0]["jobName"] == "certification-expiry-check"  # nothing stored


def test_a_refused_token_is_exit_2_with_what_to_check(served):
    result = served.run("jobs", env={"SCHEDULER_TOKEN": "not-a-jwt"})
    assert result.exit_code == 2
    assert "401 Unauthorized" in result.stderr and "check SCHEDULER_TOKEN" in result.stderr


def test_no_answer_is_exit_1_naming_the_url(served):
    url = f"http://127.0.0.1:{free_port()}/api/v1/scheduler"
    result = served.run("status", env={"SCHEDULER_URL": url})
    assert result.exit_code == 1
    assert f"No answer from {url}" in result.stderr


def test_bad_json_in_an_option_is_a_usage_error(served):
    result = served.run("trigger", "certification-expiry-check", "--payload", "{dryRun: true}")
    assert result.exit_code == 2 and "is not JSON" in result.stderr
    result = served.run("register", "x", "* * * * *", "ok", "--payload", "[1]")
    assert result.exit_code == 2 and "must be a JSON object" in result.stderr


# ---------------------------------------------------------------------- reading


def test_jobs_follows_every_page_and_prints_an_aligned_table_in_local_and_utc_time(served):
    served.ok(*MONTHLY)
    served.ok("register", "every-minute", "* * * * *", "ok")
    result = served.ok("jobs", "--page-size", "1")
    header, *rows = result.stdout.splitlines()
    assert [row.split()[0] for row in rows] == ["certification-expiry-check", "every-minute", "monthly"]
    for column in ("STATE", "NEXT RUN (local / UTC)", "ALERT"):
        assert all(row[header.index(column) - 1] == " " for row in rows)  # every cell starts under its heading
    monthly = lines_with(result.stdout, "monthly")[0]
    assert "30 2 28 * * Europe/Oslo" in monthly and "2026-12-28 02:30 CET (01:30Z)" in monthly
    assert "\x1b[" not in result.stdout  # not a terminal: no colour
    listed = served.json("jobs", "--page-size", "1")
    assert [j["jobName"] for j in listed["jobs"]] == ["certification-expiry-check", "every-minute", "monthly"]


def test_jobs_filters_by_state_and_owner_even_where_the_server_does_not(served):
    served.ok(*MONTHLY)
    served.ok("pause", "monthly", "--reason", "quiet month")
    assert [j["jobName"] for j in served.json("jobs", "--state", "paused")["jobs"]] == ["monthly"]
    assert "monthly" not in served.ok("jobs", "--state", "active").stdout
    # no job carries an owner label here: whatever the server does with owner=, none is shown
    assert served.json("jobs", "--owner", "mentoring")["jobs"] == []
    assert served.ok("jobs", "--owner", "mentoring").stdout.strip() == "No jobs."


def test_colour_only_when_asked_for_a_terminal(served):
    served.ok(*MONTHLY)
    coloured = served.run("jobs", env={"FORCE_COLOR": "1"})  # as a terminal that shows colour
    assert coloured.exit_code == 0 and "\x1b[32mactive" in coloured.stdout
    plain = served.run("jobs", env={"FORCE_COLOR": "1", "NO_COLOR": "1"})  # no-color.org: no colour, bold may stay
    assert "active" in plain.stdout and not re.search(r"\x1b\[[0-9;]*3[0-9]m", plain.stdout)


def test_show_prints_the_definition_the_next_five_slots_with_dst_notes_and_the_last_runs(served):
    served.ok(*MONTHLY, "--payload", '{"a": 1}', "--retries", "2")
    served.ok("trigger", "monthly")
    result = served.ok("show", "monthly")
    out = result.stdout
    assert "Schedule      30 2 28 * * in Europe/Oslo" in out and '{"a": 1}' in out and "3 attempts" in out
    slots = out.split("Next slots")[1].split("Last runs")[0].strip().splitlines()[1:]
    assert [s.split()[0] for s in slots] == ["2026-12-28T01:30:00Z", "2027-01-28T01:30:00Z", "2027-02-28T01:30:00Z",
                                             "2027-03-28T01:00:00Z", "2027-04-28T00:30:00Z"]
    spring = slots[3]
    assert "2027-03-28 03:00+02:00" in spring and "daylight saving starts" in spring
    assert "manual" in out.split("Last runs")[1] and "succeeded" in out.split("Last runs")[1]
    body = served.json("show", "monthly")
    assert body["job"]["jobName"] == "monthly" and len(body["upcoming"]["slots"]) == 5
    assert len(body["executions"]["executions"]) == 1


def test_show_of_an_unknown_job_is_the_servers_404_and_exit_2(served):
    result = served.run("show", "no-such-job")
    assert result.exit_code == 2 and "404" in result.stderr and "no-such-job" in result.stderr


def test_runs_pages_to_the_limit_newest_first(served):
    served.ok(*MONTHLY)
    for n in range(3):
        served.api.clock.advance(minutes=1)
        served.ok("trigger", "monthly", "--payload", json.dumps({"n": n}))
    runs = served.json("runs", "monthly", "--limit", "2")["executions"]
    assert [r["result"]["payload"]["n"] for r in runs] == [2, 1]
    table = served.ok("runs", "monthly", "--limit", "2").stdout.splitlines()
    assert table[0].split()[:3] == ["EXECUTION", "TRIGGER", "SLOT"] and len(table) == 3
    assert "2026-11-28 21:03 CET (20:03Z)" in table[1] and "succeeded" in table[1]


def test_logs_prints_the_run_its_result_and_its_error(served):
    served.ok("register", "failing", "0 0 1 1 *", "boom", "--retries", "0")
    waited = served.run("trigger", "failing", "--wait", "--every", "0.05", "--json")
    failed = json.loads(waited.stdout)
    assert waited.exit_code == 1 and failed["status"] == "failed"
    result = served.ok("logs", "failing", failed["executionId"])
    assert "Status     failed" in result.stdout
    assert "RuntimeError: handler exploded" in result.stdout
    detail = served.json("logs", "failing", failed["executionId"])
    assert detail["executionId"] == failed["executionId"] and "logs" in detail
    assert served.run("logs", "failing", "nope").exit_code == 2


def test_status_counts_jobs_and_shows_the_last_tick(served):
    served.api.dispatch("2026-11-28T20:00:00Z")
    out = served.ok("status").stdout
    assert "Jobs       active 1" in out and "Last tick  2026-11-28 21:00 CET (20:00Z)" in out
    assert served.json("status")["lastTickAt"] == "2026-11-28T20:00:00Z"


def test_preview_describes_a_schedule_with_its_dst_notes_and_stores_nothing(served):
    out = served.ok("preview", "30 2 28 * *", "--tz", "Europe/Oslo", "--count", "5").stdout
    assert out.splitlines()[0] == "At 02:30, on day 28 of the month (Europe/Oslo)"
    assert "daylight saving starts" in lines_with(out, "2027-03-28T01:00:00Z")[0]
    refused = served.run("preview", "cron(0 2 * * ? *)")
    assert refused.exit_code == 2 and "cronExpression" in refused.stderr
    assert [j["jobName"] for j in served.json("jobs")["jobs"]] == ["certification-expiry-check"]


# ---------------------------------------------------------------------- changing


def test_register_from_a_file_and_options_over_it(served, tmp_path):
    definition = tmp_path / "job.json"
    definition.write_text(json.dumps({"jobName": "from-file", "cronExpression": "0 3 * * *", "handler": "ok",
                                      "retry": {"maxAttempts": 2}}))
    created = served.ok("register", "--file", str(definition), "--tz", "Europe/Oslo", "--retry-delay", "30")
    assert created.stdout.startswith("Registered from-file.")
    job = served.json("show", "from-file")["job"]
    assert job["timezone"] == "Europe/Oslo" and job["retry"]["maxAttempts"] == 2 and job["retry"]["initialDelaySeconds"] == 30
    again = served.ok("register", "--file", str(definition), "--tz", "Europe/Oslo", "--retry-delay", "30")
    assert "already registered with this definition" in again.stdout
    assert served.run("register", "x", "--file", str(definition)).exit_code == 2
    assert "Give NAME CRON HANDLER" in served.run("register", "only-a-name").stderr


def test_trigger_without_wait_queues_and_says_how_to_follow(served):
    served.ok(*MONTHLY)
    out = served.ok("trigger", "monthly").stdout
    assert out.startswith("Queued monthly: execution ") and "scheduler logs monthly " in out
    served.api.clock.advance(minutes=1)  # one manual run per instant
    queued = served.json("trigger", "monthly", "--idempotency-key", "k-1")
    assert served.json("trigger", "monthly", "--idempotency-key", "k-1")["executionId"] == queued["executionId"]


def test_trigger_wait_exits_0_when_the_run_succeeded(served):
    served.ok(*MONTHLY)
    result = served.ok("trigger", "monthly", "--wait", "--every", "0.05", "--payload", '{"dryRun": true}')
    assert "waiting for its outcome" in result.stdout
    assert lines_with(result.stdout, "attempt 1 succeeded")


def test_trigger_wait_exits_1_when_the_run_failed(served):
    served.ok("register", "failing", "0 0 1 1 *", "boom", "--retries", "0")
    result = served.run("trigger", "failing", "--wait", "--every", "0.05")
    assert result.exit_code == 1
    assert lines_with(result.stdout, "attempt 1 failed")[0].count("RuntimeError: handler exploded") == 1
    served.api.clock.advance(minutes=1)
    again = served.run("trigger", "failing", "--wait", "--every", "0.05", "--json")
    assert again.exit_code == 1 and json.loads(again.stdout)["status"] == "failed"


def _run_retries_when_due(served, job: str, retries: int) -> threading.Thread:
    """The dispatcher's part: each time the job's retry is planned, move the clock there and tick."""
    def tick_retries() -> None:
        done, deadline = 0, time.monotonic() + 30
        while done < retries and time.monotonic() < deadline:
            due = served.api.call("GET", f"/jobs/{job}").json.get("pendingRetryAt")
            if due:
                time.sleep(0.5)  # the command has seen the failed attempt meanwhile, and must keep waiting
                served.api.clock.set(parse_iso(due))
                served.api.dispatch(due)
                done += 1
            time.sleep(0.05)

    thread = threading.Thread(target=tick_retries, daemon=True)
    thread.start()
    return thread


def test_trigger_wait_follows_the_slots_retries_to_the_outcome(served):
    served.api.registry.add("flaky", lambda ctx: {"attempt": ctx.attempt} if ctx.attempt == 2 else 1 / 0, "fails once")
    served.ok("register", "flaky-job", "0 0 1 1 *", "flaky", "--retries", "2")
    ticker = _run_retries_when_due(served, "flaky-job", 1)
    result = served.run("trigger", "flaky-job", "--wait", "--every", "0.05")
    ticker.join()
    assert result.exit_code == 0, result.output
    assert "attempt 1 failed" in result.stdout and "ZeroDivisionError" in result.stdout
    assert "attempt 2 succeeded" in result.stdout


def test_trigger_wait_exits_1_when_the_last_retry_failed(served):
    served.ok("register", "failing", "0 0 1 1 *", "boom", "--retries", "1")
    ticker = _run_retries_when_due(served, "failing", 1)
    result = served.run("trigger", "failing", "--wait", "--every", "0.05", "--json")
    ticker.join()
    assert result.exit_code == 1
    final = json.loads(result.stdout)
    assert final["attempt"] == 2 and final["trigger"] == "retry" and final["status"] == "failed"


def test_trigger_of_an_unknown_job_is_exit_2(served):
    result = served.run("trigger", "nope", "--wait")
    assert result.exit_code == 2 and "404" in result.stderr


def test_pause_and_resume(served):
    served.ok(*MONTHLY)
    paused = served.ok("pause", "monthly", "--reason", "supabase is down")
    assert "paused" in lines_with(paused.stdout, "State")[0] and "supabase is down" in paused.stdout
    assert served.run("pause", "monthly").exit_code == 2  # a reason is required
    assert served.run("pause", "monthly", "--reason", "x", "--until", "tomorrow").exit_code == 2
    resumed = served.json("resume", "monthly")
    assert resumed["state"] == "active" and resumed["nextRunAt"] == "2026-12-28T01:30:00Z"


def test_until_and_replay_ranges_take_iso_times_and_durations():
    now = parse_iso("2026-11-28T20:00:00Z")
    assert instant("2h", now=now, past=False) == "2026-11-28T22:00:00Z"
    assert instant("3d", now=now, past=True) == "2026-11-25T20:00:00Z"
    assert instant("2026-10-25T02:30:00+02:00", now=now, past=True) == "2026-10-25T00:30:00Z"
    assert instant("2026-10-24T01:00Z", now=now, past=True) == "2026-10-24T01:00:00Z"


def test_delete_asks_unless_yes(served):
    served.ok(*MONTHLY)
    declined = served.run("delete", "monthly", input="n\n")
    assert declined.exit_code == 1 and "Delete job monthly?" in declined.stderr
    assert served.json("show", "monthly")["job"]["jobName"] == "monthly"
    assert served.ok("delete", "monthly", input="y\n").stdout.strip() == "Deleted monthly."
    assert served.run("show", "monthly").exit_code == 2
    served.ok(*MONTHLY)
    assert served.ok("delete", "monthly", "--yes").stdout.strip() == "Deleted monthly."


def test_replay_of_failed_nights_across_a_dst_change_plans_runs_and_lists(served):
    """Three failed Oslo nights around the end of summer time (02:30 on 24, 25 and 26 October
    2026; the 25th is the night the clocks go back), replayed."""
    api = served.api
    api.clock.set(parse_iso("2026-10-23T12:00:00Z"))
    served.ok("register", "nightly", "30 2 * * *", "boom", "--tz", "Europe/Oslo", "--retries", "0")
    for slot in ("2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"):  # 02:30 CEST, CEST (the first
        # of the two 02:30s that night: wall-time jobs run at the first), CET
        api.clock.set(parse_iso(slot))
        api.dispatch(slot)
    api.clock.set(parse_iso("2026-10-27T12:00:00Z"))
    args = ("replay", "nightly", "--from", "2026-10-23T00:00Z", "--to", "2026-10-27T00:00Z")
    plan = served.ok(*args, "--dry-run").stdout
    assert "(dry run: nothing stored)" in plan and "planned" in plan
    planned, left_out = plan.split("Left out:")
    rows = [line for line in planned.splitlines() if line.startswith("2026-10-2")]
    assert [row.split("  ")[0] for row in rows] == ["2026-10-24 02:30 CEST (00:30Z)", "2026-10-25 02:30 CEST (00:30Z)",
                                                     "2026-10-26 02:30 CET (01:30Z)"]
    assert "2026-10-25 02:30+02:00" in rows[1] and "pending" in rows[1] and "daylight saving ends" in rows[1]
    assert "2026-10-26 02:30+01:00" in rows[2]
    assert "2026-10-23 02:30 CEST (00:30Z)  before the job was created" in left_out
    created = served.json(*args)
    assert [s["at"] for s in created["slots"]] == ["2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]
    listed = served.ok("replays", "nightly").stdout.splitlines()
    assert listed[1].split()[:2] == [created["replayId"], "active"] and listed[1].split()[-1] == "0/3"
    api.dispatch("2026-10-27T12:01:00Z")  # the first slot runs again (and fails: the handler still does)
    shown = served.ok("replays", "nightly", created["replayId"]).stdout
    first = lines_with(shown, "2026-10-24 02:30 CEST (00:30Z)")[0]
    assert "-r" + created["replayId"] in first  # the replayed run's execution id


def test_a_refused_replay_prints_the_servers_problem(served):
    served.ok(*MONTHLY)
    unknown = served.run("replay", "no-such-job", "--from", "2026-11-20T00:00Z", "--to", "2026-11-27T00:00Z")
    assert unknown.exit_code == 2 and "404" in unknown.stderr and "does not serve replays" not in unknown.stderr
    backwards = served.run("replay", "monthly", "--from", "2026-11-27T00:00Z", "--to", "2026-11-20T00:00Z")
    assert backwards.exit_code == 2 and "400" in backwards.stderr and "  - from:" in backwards.stderr
    assert served.run("replay", "monthly", "--from", "3d", "--to", "1d", "--only", "some").exit_code == 2


@pytest.fixture
def older_api():
    """An API from before replays, on loopback: it knows the job and answers 404 on /replays."""
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            found = self.path == "/api/v1/scheduler/jobs/monthly"
            body = json.dumps({"jobName": "monthly"} if found else UNKNOWN_PATH_PROBLEM).encode()
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json" if found else "application/problem+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/v1/scheduler"
    server.shutdown()


def test_an_api_without_replays_is_named_as_such(served, older_api):
    for args in (("replay", "monthly", "--from", "3d", "--to", "1d"), ("replays", "monthly")):
        result = served.run(*args, env={"SCHEDULER_URL": older_api})
        assert result.exit_code == 2
        assert "404 Not found." in result.stderr and "its paths are listed in openapi.yaml" in result.stderr
        assert f"The job monthly exists: this API ({older_api}) does not serve replays yet." in result.stderr
