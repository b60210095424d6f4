"""openapi.yaml describes what the API really returns: schemathesis, over real HTTP.

The app runs on Chalice's local server (its API Gateway emulation, authorizer included)
on the memory store, and schemathesis runs its examples, coverage, fuzzing and stateful
phases with every check. It must find no server error and no response that violates
the schema, and every schema-valid request must be accepted. The only findings accepted
are listed in ACCEPTED (a check excluded everywhere) and POSITIVE_CHECK_OFF (operations
whose refusals a schema cannot express, kept from the positive-data check alone): they
are excluded as checks, not ignored as results.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from chalicelib.api import auth
from chalicelib.jobs.registry import JobRegistry
from devstack.net import free_port
from tests.fakes import RecordingInvoker
from tests.support.app_stack import app_runtime

pytestmark = pytest.mark.timeout(600)

ROOT = Path(__file__).resolve().parents[2]
SECRET = "schemathesis-secret-0123456789abcdef0123456789"

ACCEPTED = {
    # DELETE /jobs/{jobName} keeps the job's history until it expires (API.md, cancelJob):
    # its executions stay readable by design, which this check reads as use after free.
    "use_after_free": "a cancelled job's executions stay readable until they expire",
}

POSITIVE_CHECK_OFF = {
    # The positive-data check (a schema-valid request is accepted) runs on every operation
    # but these: each can refuse a schema-valid request for a reason that depends on more
    # than the request's own shape. openapi.yaml states the rule in words; the refusal is a
    # 400 problem naming the field, which the other checks still hold these operations to.
    "GET /api/v1/scheduler/jobs": "nextToken is opaque: only a token this API issued is accepted",
    "GET /api/v1/scheduler/jobs/{jobName}/executions": "nextToken is opaque: only a token this API issued is accepted",
    "GET /api/v1/scheduler/jobs/{jobName}/replays": "nextToken is opaque: only a token this API issued is accepted",
    "POST /api/v1/scheduler/jobs": "a cron expression's meaning (a range that runs backwards, a day its months never "
                                   "have), a zone the tz database knows, a handler registered in code, an "
                                   "http-request URL the destination policy allows (SCHEDULER_HTTP_ALLOWED_HOSTS)",
    "POST /api/v1/scheduler/schedules/preview": "a cron expression's meaning and a zone the tz database knows",
    "POST /api/v1/scheduler/jobs/{jobName}/trigger": "the payload options a run takes depend on the job's handler, "
                                                     "which the path names only by the job",
    "POST /api/v1/scheduler/jobs/{jobName}/pause": "until must be in the future, at most 90 days ahead",
    "POST /api/v1/scheduler/jobs/{jobName}/replays": "from before to, and to not in the future",
    "POST /api/v1/scheduler/maintenance-windows": "from before to, at most 7 days apart, ending in the future",
    "PUT /api/v1/scheduler/channels/{name}": "a secretRef inside the jobs' namespace and a webhook URL the destination "
                                             "policy allows (SCHEDULER_HTTP_ALLOWED_HOSTS, no private address)",
}


def _config(path: Path) -> Path:
    """A schemathesis.toml: every check, but ACCEPTED, and the positive-data check off for
    POSITIVE_CHECK_OFF alone. Checks are chosen here, not with --checks on the command line,
    which would override the per-operation entries."""
    path.write_text("[checks]\nenabled = true\n" + "".join(
        f"# {reason}\n{name}.enabled = false\n" for name, reason in ACCEPTED.items()) + "".join(
        f'\n# {reason}\n[[operations]]\ninclude-name = "{name}"\nchecks.positive_data_acceptance.enabled = false\n'
        for name, reason in POSITIVE_CHECK_OFF.items()))
    return path


def test_every_operation_kept_from_the_positive_check_exists():
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    documented = {f"{method.upper()} {path}" for path, item in spec["paths"].items() for method in item
                  if method in ("get", "post", "put", "patch", "delete")}
    assert set(POSITIVE_CHECK_OFF) <= documented, set(POSITIVE_CHECK_OFF) - documented


@pytest.fixture
def server(monkeypatch):
    import app as chalice_app
    from devstack.api_server import create_api_server

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    env = {"SCHEDULER_JWT_SECRET": SECRET, "SCHEDULER_WORKER_MODE": "inline",
           "SUPABASE_URL": "http://127.0.0.1:9", "SUPABASE_SERVICE_KEY": "unused"}
    registry = JobRegistry()
    registry.add("ok", lambda ctx: {"ok": True}, "Always succeeds")
    with app_runtime(env, registry=registry, invoker=RecordingInvoker()):
        port = free_port()
        local = create_api_server(chalice_app.app, "127.0.0.1", port)
        threading.Thread(target=local.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{port}"
        local.shutdown()


def test_schemathesis_finds_no_server_error_and_no_schema_violation(server, record_property):
    token = auth.issue_token(SECRET, subject="schemathesis", now_epoch=int(time.time()), ttl_seconds=3600,
                             issuer=auth.issuer_for("http://127.0.0.1:9"))
    report = ROOT / "build" / "schemathesis"
    report.mkdir(parents=True, exist_ok=True)
    command = [
        str(Path(sys.executable).parent / "schemathesis"), "--config-file", str(_config(report / "schemathesis.toml")),
        "run", str(ROOT / "openapi.yaml"), "--url", server,
        "--header", f"Authorization: Bearer {token}",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--max-examples", "15", "--seed", "20261201", "--workers", "1", "--request-timeout", "10",
        "--report", "junit", "--report-junit-path", str(report / "junit.xml"),
    ]
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, timeout=540, cwd=ROOT,
                            env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""})
    output = result.stdout + result.stderr
    summary = [line for line in output.splitlines() if re.search(r"\b(passed|failed|errors?|test cases)\b", line)]
    record_property("summary", f"schemathesis: {' | '.join(s.strip() for s in summary[-3:])} "
                               f"in {time.monotonic() - started:.0f} s")
    (ROOT / "build" / "schemathesis" / "output.txt").write_text(output)
    assert result.returncode == 0, output[-6000:]
    assert "500" not in json.dumps([line for line in output.splitlines() if "Server error" in line])
