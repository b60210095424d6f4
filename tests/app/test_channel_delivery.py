"""Notices delivered to a Slack and a webhook receiver on loopback, over real HTTP.

The scheduler runs as ``make run`` does (local mode: plain http to loopback is allowed,
as for ``http-request``), its job secrets in moto's Secrets Manager under the jobs'
namespace. The webhook receiver verifies ``X-Scheduler-Signature`` as a real receiver
would (Stripe's scheme, five minutes' tolerance) and refuses a replayed timestamp.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator

import pytest

import app as chalice_app
from chalicelib.jobs.registry import JobRegistry
from devstack.api_server import ApiTestClient
from tests.app.conftest import SECRET, Api
from tests.fakes import FakeClock, utc
from tests.support.app_stack import app_runtime

PREFIX = "nightly-scheduler/local/jobs/"
SIGNING_SECRET = "whsec-3b1f0c9e8d7a6b5c4d3e2f1a"
SLACK_PATH = "/services/T0SCHED/B0SCHED/xq8Z3Kb2VwLmN4pR"
CONSOLE = "https://scheduler.example.com/api/v1/scheduler/console"
TOLERANCE = timedelta(minutes=5)


class Receiver:
    """A loopback HTTP server that records each POST; ``check(headers, body)`` answers it."""

    def __init__(self, check: Callable[[dict[str, str], bytes], int]) -> None:
        self.received: list[tuple[dict[str, str], bytes, int]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = check(headers, body)
                receiver.received.append((headers, body, status))
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def verify_signature(header: str, body: bytes, secret: str, now: datetime) -> str | None:
    """What a receiver does: why it refuses the delivery, or None when it accepts it."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    if "t" not in fields or "v1" not in fields or not fields["t"].isdigit():
        return "malformed signature"
    expected = hmac.new(secret.encode(), fields["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, fields["v1"]):
        return "signature does not match"
    if abs(now.timestamp() - int(fields["t"])) > TOLERANCE.total_seconds():
        return "timestamp outside the tolerance (a replay?)"
    return None


@pytest.fixture
def stack(monkeypatch) -> Iterator[tuple[Api, Receiver, Receiver, list[str | None]]]:
    from moto import mock_aws

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-north-1")
    clock = FakeClock(utc(2026, 11, 28, 23, 58))
    verdicts: list[str | None] = []
    slack = Receiver(lambda headers, body: 200)

    def check_webhook(headers: dict[str, str], body: bytes) -> int:
        verdict = verify_signature(headers.get("x-scheduler-signature", ""), body, SIGNING_SECRET, clock.now())
        verdicts.append(verdict)
        return 200 if verdict is None else 400

    webhook = Receiver(check_webhook)
    with mock_aws():
        import boto3

        secrets = boto3.client("secretsmanager", region_name="eu-north-1")
        secrets.create_secret(Name=PREFIX + "slack/mentor-team", SecretString=slack.url + SLACK_PATH)
        secrets.create_secret(Name=PREFIX + "webhooks/pager", SecretString=SIGNING_SECRET)
        env = {"SCHEDULER_JWT_SECRET": SECRET, "SCHEDULER_WORKER_MODE": "inline", "SCHEDULER_LOCAL_MODE": "1",
               "SUPABASE_URL": "http://127.0.0.1:9", "SUPABASE_SERVICE_KEY": "unused", "SCHEDULER_CONSOLE_URL": CONSOLE}
        registry = JobRegistry()

        def leaky(ctx):
            raise RuntimeError("upstream refused Authorization: Bearer sk_live_4f3e2d1c0b9a and answered 503")

        registry.add("leaky", leaky, "Always fails, quoting a credential")
        try:
            with app_runtime(env, registry=registry, clock=clock) as built, \
                    ApiTestClient(chalice_app.app, stage_name="dev") as client:
                yield Api(client, built.runtime, clock, built.notifier, registry), slack, webhook, verdicts
        finally:
            slack.close()
            webhook.close()


def _set_up(api: Api, webhook: Receiver) -> None:
    assert api.call("PUT", "/channels/mentor-slack", {
        "type": "slack", "webhook": {"secretRef": "slack/mentor-team"}}).status_code == 201
    assert api.call("PUT", "/channels/pager", {
        "type": "webhook", "url": webhook.url + "/scheduler-hook",
        "signingSecret": {"secretRef": "webhooks/pager"}}).status_code == 201
    created = api.call("POST", "/jobs", {
        "jobName": "mentor-sync", "cronExpression": "0 0 * * *", "handler": "leaky", "owner": "mentor-team",
        "notify": ["mentor-slack", "pager"], "alertAfterFailures": 1, "retry": {"maxAttempts": 1}})
    assert created.status_code == 201, created.json
    assert (created.json["owner"], created.json["notify"]) == ("mentor-team", ["mentor-slack", "pager"])


def test_an_alert_reaches_slack_formatted_and_the_webhook_signed(stack, capsys) -> None:
    api, slack, webhook, verdicts = stack
    _set_up(api, webhook)
    api.clock.set(utc(2026, 11, 29, 0, 0))
    api.dispatch("2026-11-29T00:00:00Z")

    [(headers, body, status)] = slack.received
    assert headers["content-type"] == "application/json" and status == 200
    message = json.loads(body)
    text = message["blocks"][0]["text"]["text"]
    assert "*Job:* `mentor-sync`" in text and "*Owner:* mentor-team" in text and "is failing" in text
    assert "*Consecutive failures:* 1" in text
    assert "*Last error:* RuntimeError: upstream refused Authorization: *** and answered 503" in text
    assert f"<{CONSOLE}#/jobs/mentor-sync|Open mentor-sync in the console>" in text
    assert "sk_live_4f3e2d1c0b9a" not in body.decode()
    assert message["text"] == "[ALERT] Scheduled job 'mentor-sync' has failed once (owner: mentor-team)"

    [(hook_headers, hook_body, hook_status)] = webhook.received
    assert hook_status == 200 and verdicts == [None]
    notice = json.loads(hook_body)
    assert notice["kind"] == "alert" and notice["jobName"] == "mentor-sync" and notice["owner"] == "mentor-team"
    assert notice["lastError"]["message"] == "upstream refused Authorization: *** and answered 503"
    assert notice["noticeId"] == hook_headers["x-scheduler-notice"] == text.rsplit("`", 2)[-2]
    assert hook_headers["x-scheduler-signature"].startswith(f"t={int(api.clock.now().timestamp())},v1=")
    assert api.notifier.delivered == []  # nothing went to the stack's topic
    assert api.call("GET", "/jobs/mentor-sync").json["unsentNotices"] == 0
    with capsys.disabled():
        print("\n--- Slack message as received on loopback ---\n" + json.dumps(message, indent=2))
        print("--- webhook delivery ---\nX-Scheduler-Signature: " + hook_headers["x-scheduler-signature"])
        print(hook_body.decode() + "\nverified: " + str(verdicts[0] is None))


def test_the_webhook_receiver_refuses_a_replayed_delivery(stack) -> None:
    api, _slack, webhook, verdicts = stack
    _set_up(api, webhook)
    api.clock.set(utc(2026, 11, 29, 0, 0))
    api.dispatch("2026-11-29T00:00:00Z")
    [(headers, body, _)] = webhook.received

    import httpx

    def replay() -> int:
        return httpx.post(webhook.url + "/scheduler-hook", content=body,
                          headers={"X-Scheduler-Signature": headers["x-scheduler-signature"]}).status_code

    assert replay() == 200  # within the tolerance, the same bytes verify (delivery is at least once)
    api.clock.set(utc(2026, 11, 29, 0, 6))
    assert replay() == 400 and verdicts[-1] == "timestamp outside the tolerance (a replay?)"
    tampered = body.replace(b'"alert"', b'"recovery"')
    assert httpx.post(webhook.url + "/scheduler-hook", content=tampered,
                      headers={"X-Scheduler-Signature": headers["x-scheduler-signature"]}).status_code == 400
    assert verdicts[-1] == "signature does not match"


def test_a_failing_receiver_is_retried_with_backoff_and_the_other_is_not_repeated(stack) -> None:
    api, slack, webhook, verdicts = stack
    _set_up(api, webhook)
    api.clock.set(utc(2026, 11, 29, 0, 0))
    broken = Receiver(lambda headers, body: 503)
    try:
        assert api.call("PUT", "/channels/pager", {
            "type": "webhook", "url": broken.url + "/scheduler-hook",
            "signingSecret": {"secretRef": "webhooks/pager"}}).status_code == 200
        api.dispatch("2026-11-29T00:00:00Z")
        assert len(slack.received) == 1 and len(broken.received) == 1
        api.dispatch("2026-11-29T00:00:30Z")  # backing off: not tried again yet
        assert len(broken.received) == 1
        api.clock.set(utc(2026, 11, 29, 0, 1))
        api.dispatch("2026-11-29T00:01:00Z")
        assert len(broken.received) == 2 and len(slack.received) == 1
        assert api.call("GET", "/jobs/mentor-sync").json["unsentNotices"] == 1
    finally:
        broken.close()


def test_a_slack_webhook_elsewhere_than_allowed_hosts_goes_to_the_stack_topic_saying_why(stack) -> None:
    api, slack, webhook, _ = stack
    import boto3

    boto3.client("secretsmanager", region_name="eu-north-1").create_secret(
        Name=PREFIX + "slack/elsewhere", SecretString="https://10.0.0.7/services/T/B/secret-path-123")
    assert api.call("PUT", "/channels/elsewhere", {
        "type": "slack", "webhook": {"secretRef": "slack/elsewhere"}}).status_code == 201
    assert api.call("POST", "/jobs", {
        "jobName": "mentor-sync", "cronExpression": "0 0 * * *", "handler": "leaky", "notify": ["elsewhere"],
        "alertAfterFailures": 1, "retry": {"maxAttempts": 1}}).status_code == 201
    api.clock.set(utc(2026, 11, 29, 0, 0))
    api.dispatch("2026-11-29T00:00:00Z")
    [(_, channel)] = api.notifier.delivered
    note = api.notifier.sent[0].message["note"]
    assert channel is None and "channel 'elsewhere', which cannot be used" in note
    assert "secret-path-123" not in note
