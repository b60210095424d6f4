"""`make run` as a new user meets it: start the stack, use it over real HTTP, stop it."""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from chalicelib.api import auth
from devstack.net import free_port

ROOT = Path(__file__).resolve().parents[2]
SECRET = "smoke-test-secret-0123456789abcdef0123456789"


class Stack:
    def __init__(self) -> None:
        self.port = free_port()
        # The nightly check is moved to New Year so a test run near 02:00 Oslo time does
        # not find it running on its own schedule.
        env = {**os.environ, "PORT": str(self.port), "SCHEDULER_JWT_SECRET": SECRET, "PYTHONUNBUFFERED": "1",
               "CERT_CHECK_CRON": "0 0 1 1 *"}
        env.pop("SUPABASE_URL", None)
        self.proc = subprocess.Popen([sys.executable, "-m", "devstack.local"], cwd=ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.port}/api/v1/scheduler"
        self.token = auth.issue_token(SECRET, subject="smoke", now_epoch=int(time.time()), ttl_seconds=3600)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            if text in line:
                return line
        raise AssertionError(f"{text!r} not printed; output:\n{''.join(self.output)[-3000:]}")

    def call(self, method: str, path: str, body: object = None, token: str | None = "default") -> tuple[int, object]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {self.token if token == 'default' else token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as err:
            raw = err.read()
            return err.code, json.loads(raw) if raw else None

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


@pytest.fixture(scope="module")
def stack():
    running = Stack()
    try:
        running.token = running.wait_for("Token:", timeout=120).split("Token:", 1)[1].strip()  # as a new user would
        yield running
    finally:
        code = running.stop()
        assert code == 0, "".join(running.output)[-3000:]
        assert any("Stopped." in line for line in running.output)


def wait_final(stack: Stack, job: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = stack.call("GET", f"/jobs/{job}/last-result")
        if status == 200 and body["status"] not in ("queued", "running"):
            return body
        time.sleep(0.5)
    raise AssertionError(f"{job} did not finish")


def test_health_and_auth_over_http(stack):
    assert stack.call("GET", "/health", token=None) == (200, {"status": "ok"})
    assert stack.call("GET", "/jobs", token=None)[0] == 401
    assert stack.call("GET", "/jobs", token="not-a-jwt")[0] == 401
    status, body = stack.call("POST", "/jobs", {"jobName": "Bad Name"})
    assert status == 400 and {e["field"] for e in body["errors"]} >= {"jobName", "cronExpression", "handler"}


def test_certification_check_pauses_the_expired_demo_mentors(stack):
    status, body = stack.call("GET", "/handlers")
    assert "certification-expiry-check" in {h["name"] for h in body["handlers"]}
    if any("Supabase: PostgreSQL" in line or "not installed" in line for line in stack.output):
        pytest.skip("PostgreSQL 15 is not installed here")
    status, queued = stack.call("POST", "/jobs/certification-expiry-check/trigger", {"payload": {"dryRun": True}})
    assert status == 202, queued
    dry = wait_final(stack, "certification-expiry-check")
    assert dry["status"] == "succeeded", dry
    assert dry["result"]["dryRun"] is True and dry["result"]["paused"]["count"] > 0
    status, _ = stack.call("POST", "/jobs/certification-expiry-check/trigger")
    real = wait_final(stack, "certification-expiry-check")
    assert real["status"] == "succeeded", real
    assert real["result"]["paused"]["count"] == dry["result"]["paused"]["count"]
    assert real["result"]["noticesCreated"] > 0


def test_an_every_minute_job_runs_at_the_next_wall_clock_minute(stack):
    status, job = stack.call("POST", "/jobs", {"jobName": "smoke-every-minute", "cronExpression": "* * * * *",
                                               "handler": "noop"})
    assert status == 201, job
    run = wait_final(stack, "smoke-every-minute", timeout=90)  # the next wall-clock minute's tick
    assert run["status"] == "succeeded" and run["trigger"] == "schedule"
    assert run["scheduledFor"] == job["nextRunAt"]


def test_a_failing_endpoint_alerts_once_in_the_terminal_and_recovers(stack):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    healthy = threading.Event()

    class Endpoint(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200 if healthy.is_set() else 500)
            self.end_headers()
            self.wfile.write(b'{"ok": true}' if healthy.is_set() else b"edge function crashed")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/functions/v1/nightly"
        status, job = stack.call("POST", "/jobs", {
            "jobName": "edge-fn", "cronExpression": "0 0 1 1 *", "handler": "http-request",
            "alertAfterFailures": 2, "retry": {"maxAttempts": 1}, "payload": {"url": url}})
        assert status == 201, job
        for _ in range(2):
            assert stack.call("POST", "/jobs/edge-fn/trigger")[0] == 202
            failed = wait_final(stack, "edge-fn")
            assert failed["status"] == "failed" and "500" in failed["error"]["message"]
        assert stack.call("GET", "/jobs/edge-fn")[1]["alertState"] == "alerting"
        stack.wait_for("[ALERT] Scheduled job 'edge-fn'", timeout=30)
        healthy.set()
        assert stack.call("POST", "/jobs/edge-fn/trigger")[0] == 202
        assert wait_final(stack, "edge-fn")["status"] == "succeeded"
        stack.wait_for("[RECOVERED] Scheduled job 'edge-fn'", timeout=30)
        job = stack.call("GET", "/jobs/edge-fn")[1]
        assert job["alertState"] == "ok" and job["consecutiveFailures"] == 0
        assert sum("[ALERT] Scheduled job 'edge-fn'" in line for line in stack.output) == 1
    finally:
        server.shutdown()


def test_the_scheduler_command_line_against_make_run(stack):
    """The installed console script, set up with the two ``export`` lines ``make run`` prints."""
    if not any("export SCHEDULER_TOKEN=" in line for line in stack.output):
        stack.wait_for("export SCHEDULER_TOKEN=", timeout=30)
    exports = dict(line.split("export ", 1)[1].strip().split("=", 1) for line in stack.output
                   if line.strip().startswith("export SCHEDULER_"))
    assert exports["SCHEDULER_URL"] == stack.base
    scheduler = Path(sys.executable).parent / "scheduler"  # .venv/bin/scheduler, from `pip install -e .`
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SCHEDULER_")}, **exports, "COLUMNS": "200"}

    def scheduler_run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(scheduler), *args], env=env, capture_output=True, text=True, timeout=120)

    registered = scheduler_run("register", "noop-job", "0 0 1 1 *", "noop", "--tz", "Europe/Oslo")
    assert registered.returncode == 0, registered.stderr
    jobs = scheduler_run("jobs")
    assert jobs.returncode == 0, jobs.stderr
    assert jobs.stdout.splitlines()[0].split()[:3] == ["JOB", "STATE", "SCHEDULE"]
    assert any(line.split()[:2] == ["noop-job", "active"] for line in jobs.stdout.splitlines())
    waited = scheduler_run("trigger", "noop-job", "--wait", "--every", "0.2")
    assert waited.returncode == 0, waited.stdout + waited.stderr
    assert "attempt 1 succeeded" in waited.stdout
    refused = scheduler_run("trigger", "no-such-job", "--wait")
    assert refused.returncode == 2 and "404" in refused.stderr
    print(f"$ scheduler jobs\n{jobs.stdout}$ scheduler trigger noop-job --wait\n{waited.stdout}")
