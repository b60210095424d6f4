"""``make run``: the whole scheduler on this machine, nothing to configure.

* moto stands in for DynamoDB, SNS, Secrets Manager, in this process (``mock_aws``, as
  in the tests): every AWS call goes straight to moto's backends, with no HTTP server in
  between (a loopback server cost twice the CPU per request; README, Benchmarks). Its
  state lives in memory: stopping the stack forgets every job and execution;
* the tables are created from ``infra/template.json``;
* the API is served by Chalice's local server on 127.0.0.1:${PORT:-8000};
* the dispatcher ticks at each wall-clock minute with an EventBridge-shaped event;
* workers run in-process on a bounded thread pool (``SCHEDULER_LOCAL_WORKER_CONCURRENCY``,
  32), as the deployed worker runs under reserved concurrency: runs past it wait their turn;
* alerts and recovery notices published to the SNS topic are printed here;
* without ``SUPABASE_URL``, a throwaway PostgreSQL with the migrations and demo data
  is served through the PostgREST-protocol server, for ``certification-expiry-check``.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from devstack.net import free_port

HOST = "127.0.0.1"
REGION = "eu-north-1"


def say(message: str) -> None:
    print(message, flush=True)


class AlertSink:
    """An HTTP endpoint subscribed to the alert topic: prints each notice."""

    def __init__(self) -> None:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                sink.receive(self.rfile.read(length))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((HOST, free_port()), Handler)
        self.url = f"http://{HOST}:{self.server.server_address[1]}/alerts"
        self.received: list[dict[str, Any]] = []
        threading.Thread(target=self.server.serve_forever, name="alert-sink", daemon=True).start()

    def receive(self, raw: bytes) -> None:
        try:
            envelope = json.loads(raw)
        except json.JSONDecodeError:
            return
        if envelope.get("Type") != "Notification":
            return
        self.received.append(envelope)
        try:
            message = json.dumps(json.loads(envelope.get("Message", "")), indent=2)
        except json.JSONDecodeError:
            message = envelope.get("Message", "")
        bar = "=" * 72
        say(f"\n{bar}\nSNS NOTICE  {envelope.get('Subject', '')}\n{message}\n{bar}\n")

    def stop(self) -> None:
        self.server.shutdown()


def eventbridge_event(now: datetime, rule_arn: str) -> dict[str, Any]:
    """A scheduled event as EventBridge delivers it."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [rule_arn],
        "detail": {},
    }


class MinuteTicker:
    """Calls ``tick(now)`` at each wall-clock minute until stopped."""

    def __init__(self, tick: Callable[[datetime], None]) -> None:
        self._tick = tick
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dispatch-ticker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            wait = 60 - (time.time() % 60)
            if self._stop.wait(wait):
                return
            now = datetime.now(UTC).replace(second=0, microsecond=0)
            try:
                self._tick(now)
            except Exception as exc:  # noqa: BLE001 - a failed tick must not stop the clock
                say(f"dispatch tick failed: {type(exc).__name__}: {exc}")

    def stop(self) -> None:
        self._stop.set()


def start_supabase(env: dict[str, str], stack: list[Callable[[], None]]) -> None:
    """A local PostgreSQL + PostgREST-protocol server with demo data, when possible."""
    if os.environ.get("SUPABASE_URL"):
        say(f"Supabase: using SUPABASE_URL={os.environ['SUPABASE_URL']}")
        return
    try:
        from devstack import demo_data, postgres, postgrest
    except ImportError as exc:  # pragma: no cover - shipped together
        say(f"Supabase: local stand-in unavailable ({exc}); certification-expiry-check will fail until SUPABASE_URL is set.")
        return
    try:
        cluster = postgres.start_postgres()
    except (postgres.PostgresNotInstalled, postgres.PostgresStartFailed) as exc:
        say(f"Supabase: {exc}\n  Install it with: sudo apt-get install -y postgresql-15 (or set SUPABASE_URL).\n"
            "  The rest of the stack runs; certification-expiry-check fails until then.")
        return
    stack.append(cluster.stop)
    # Dated in the check's own time zone, as the check computes its run date.
    from zoneinfo import ZoneInfo

    today = datetime.now(ZoneInfo(os.environ.get("CERT_CHECK_TIMEZONE") or "Europe/Oslo")).date()
    with cluster.connect(autocommit=True) as conn:
        mentors = demo_data.load_demo_data(conn, today)
    key = "sb_secret_" + secrets.token_urlsafe(24)  # shaped as a project's secret API key
    server = postgrest.PostgrestServer(cluster.dsn, service_key=key).start()
    stack.append(server.stop)
    env["SUPABASE_URL"] = server.url
    env["SUPABASE_SERVICE_KEY"] = key
    say(f"Supabase: local PostgreSQL 15 behind a PostgREST-protocol server at {server.url}, "
        f"{len(mentors)} demo mentors (some expired, some near expiry)")


def _secret_key_line() -> str:
    """The local Supabase stand-in's secret API key, which the API accepts as a bearer too."""
    key = os.environ.get("SUPABASE_SERVICE_KEY", "")
    return f"  Or:       {key}  (the local Supabase's secret key)\n" if key.startswith("sb_secret_") else ""


def main() -> int:
    port = int(os.environ.get("PORT", "8000"))
    stack: list[Callable[[], None]] = []
    stopping = threading.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        return serve(port, stack, stopping)
    except OSError as exc:
        say(f"Could not start: {exc}. Is port {port} taken? Try PORT=8001 make run.")
        return 1
    finally:
        say("Stopping…")
        for stop in reversed(stack):
            try:
                stop()
            except Exception as exc:  # noqa: BLE001 - keep stopping the rest
                say(f"  while stopping: {type(exc).__name__}: {exc}")
        say("Stopped.")


def _load_local_secrets(settings: Any) -> None:
    """``SCHEDULER_LOCAL_SECRETS`` / ``_FILE`` into moto's Secrets Manager and SSM (names only are printed)."""
    import boto3

    from chalicelib.jobs.job_secrets import JobSecretNamespace
    from devstack.local_secrets import LocalSecretsRefused, load_local_secrets

    try:
        written = load_local_secrets(os.environ, JobSecretNamespace(settings.job_secrets_prefix),
                                     secretsmanager=boto3.client("secretsmanager", region_name=REGION),
                                     ssm=boto3.client("ssm", region_name=REGION))
    except LocalSecretsRefused as exc:
        raise SystemExit(f"make run: {exc}") from None
    if written:
        say(f"Local job secrets loaded: {', '.join(written)}")


def serve(port: int, stack: list[Callable[[], None]], stopping: threading.Event) -> int:

    from moto import mock_aws

    from devstack.moto_atomic import serialise_dynamodb

    serialise_dynamodb()
    for name in [n for n in os.environ if n.startswith(("AWS_ENDPOINT_URL", "SCHEDULER_AWS_ENDPOINT_URL"))]:
        del os.environ[name]  # an endpoint from the shell would send calls past moto
    aws = mock_aws()  # before any client exists: it starts from empty backends
    aws.start()
    stack.append(aws.stop)

    jwt_secret = os.environ.get("SCHEDULER_JWT_SECRET") or secrets.token_urlsafe(32)
    env = {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "SCHEDULER_LOCAL_MODE": "true",
        "SCHEDULER_WORKER_MODE": "thread",
        "SCHEDULER_JWT_SECRET": jwt_secret,
        "SCHEDULER_CONSOLE_URL": os.environ.get("SCHEDULER_CONSOLE_URL") or f"http://{HOST}:{port}/api/v1/scheduler/console",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
    }
    start_supabase(env, stack)
    os.environ.update(env)

    import boto3

    from chalicelib import bootstrap
    from chalicelib.api import auth
    from chalicelib.settings import Settings
    from devstack.tables import create_tables

    settings = Settings.from_env()
    create_tables(settings)
    _load_local_secrets(settings)
    sns = boto3.client("sns", region_name=REGION)
    topic_arn = sns.create_topic(Name="scheduler-alerts")["TopicArn"]
    sink = AlertSink()
    stack.append(sink.stop)
    sns.subscribe(TopicArn=topic_arn, Protocol="http", Endpoint=sink.url)
    os.environ["SCHEDULER_ALERT_TOPIC_ARN"] = topic_arn

    import app as chalice_app
    from devstack.api_server import create_api_server

    runtime = bootstrap.get_runtime()
    invoker = runtime.invoker

    def drain_workers() -> None:
        left = invoker.shutdown(wait_seconds=10)
        if left:
            say(f"  {left} run(s) still in flight were abandoned (the stack's state is in memory).")

    stack.append(drain_workers)
    runtime.ensure_code_jobs()

    server = create_api_server(chalice_app.app, HOST, port)
    threading.Thread(target=server.serve_forever, name="api", daemon=True).start()
    stack.append(server.shutdown)

    rule_arn = f"arn:aws:events:{REGION}:123456789012:rule/nightly-scheduler-dev-dispatch"

    def tick(now: datetime) -> None:
        result = chalice_app.dispatch(eventbridge_event(now, rule_arn), None)
        if result.get("claimed") or result.get("missed") or result.get("timedOut") or result.get("errors"):
            say(f"tick {now:%H:%M}Z  {json.dumps(result)}")

    ticker = MinuteTicker(tick)
    ticker.start()
    stack.append(ticker.stop)

    token = auth.issue_token(jwt_secret, subject="local-operator", now_epoch=int(time.time()), ttl_seconds=7 * 24 * 3600,
                             issuer=auth.issuer_for(runtime.settings.supabase_url))
    base = f"http://{HOST}:{port}/api/v1/scheduler"
    say(f"""
Nightly scheduler running locally (state in memory: it is gone when you stop).
  API:      {base}
  Token:    {token}
{_secret_key_line()}  Console:  {base}/console#token={token}

The command line (.venv/bin/scheduler; `scheduler --help`):
  export SCHEDULER_URL={base}
  export SCHEDULER_TOKEN={token}
  .venv/bin/scheduler jobs

Try:
  export TOKEN={token}
  curl -s {base}/jobs -H "Authorization: Bearer $TOKEN"
  curl -s -X POST {base}/jobs -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
       -d '{{"jobName": "every-minute", "cronExpression": "* * * * *", "handler": "noop"}}'
  curl -s -X POST {base}/jobs/certification-expiry-check/trigger -H "Authorization: Bearer $TOKEN" \\
       -H 'Content-Type: application/json' -d '{{"payload": {{"dryRun": true}}}}'   # dryRun: report, change nothing
  curl -s {base}/jobs/every-minute/executions -H "Authorization: Bearer $TOKEN"

The dispatcher ticks at every wall-clock minute. Ctrl-C stops everything.
""")
    stopping.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
