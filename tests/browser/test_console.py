"""The operator console in a real browser (Debian's Chromium, driven by Playwright), as an
operator would use it, against the API on Chalice's local server. Screenshots of the
overview, a job page and a run page are saved under build/screenshots/ on each run."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from chalicelib.api import auth
from chalicelib.jobs.registry import JobRegistry
from devstack.net import free_port
from tests.support.app_stack import app_runtime

pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "build" / "screenshots"
SECRET = "console-secret-0123456789abcdef0123456789abcdef"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def stack(monkeypatch):
    import app as chalice_app
    from devstack.api_server import create_api_server

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    env = {"SCHEDULER_JWT_SECRET": SECRET, "SCHEDULER_WORKER_MODE": "inline", "SCHEDULER_LOCAL_MODE": "true",
           "SUPABASE_URL": "http://127.0.0.1:9", "SUPABASE_SERVICE_KEY": "unused"}
    registry = JobRegistry()

    def report(ctx):
        ctx.logger.info("building the report for %s", ctx.scheduled_for.date())
        return {"rows": 42}

    def boom(ctx):
        raise RuntimeError("the partner API is down")

    registry.add("report", report, "Builds the coordinators' report")
    registry.add("boom", boom, "Always fails")
    with app_runtime(env, registry=registry, start=None) as built:  # the system clock, as make run
        runtime = built.runtime
        runtime.ensure_code_jobs()
        runtime.engine.dispatcher.tick()  # one tick, so the console shows a recent one
        port = free_port()
        server = create_api_server(chalice_app.app, "127.0.0.1", port)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        token = auth.issue_token(SECRET, subject="ops-anna", now_epoch=int(time.time()), ttl_seconds=3600,
                                 issuer=auth.issuer_for(built.settings.supabase_url))
        yield f"http://127.0.0.1:{port}/api/v1/scheduler", token, runtime
        server.shutdown()


@pytest.fixture
def page():
    assert Path(CHROMIUM).exists(), "Chromium is installed by scripts/ensure-system-deps.sh (make test)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync"])
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        tab = context.new_page()
        tab.set_default_timeout(10_000)
        yield tab
        browser.close()


def test_an_operator_signs_in_registers_runs_pauses_inspects_and_signs_out(stack, page, record_property):
    base, token, runtime = stack
    SHOTS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    # 1. Sign in through the fragment link; the overview lists the code-defined job.
    page.goto(f"{base}/console#token={token}")
    expect(page.locator("tr[data-job='certification-expiry-check']")).to_be_visible()
    assert "token=" not in page.url
    assert page.evaluate("sessionStorage.getItem('scheduler.token')") == token
    expect(page.locator("#tick")).to_contain_text("Last tick")

    # 2. Register a job through the form; a bad cron shows its error beside the field.
    page.get_by_role("link", name="Register a job").click()
    page.fill("#f-jobName", "nightly-report")
    page.fill("#f-cronExpression", "0 2 * *")
    expect(page.locator("#e-cronExpression")).to_contain_text("five")
    page.fill("#f-cronExpression", "0 2 * * *")
    page.fill("#f-timezone", "Europe/Oslo")
    expect(page.locator("#preview")).to_contain_text("At 02:00")
    page.select_option("#f-handler", "report")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("heading", name="nightly-report")).to_be_visible()
    expect(page.locator("dl.definition")).to_contain_text("ops-anna")

    # 3. "Run now" makes a run whose status appears as succeeded.
    page.get_by_role("button", name="Run now").click()
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=15_000)

    # 4. "Pause" with a reason shows the job paused with that reason; then "Resume".
    page.get_by_role("button", name="Pause").click()
    page.fill("#pause-reason", "db maintenance")
    page.get_by_role("button", name="Pause job").click()
    expect(page.locator("dl.definition")).to_contain_text("paused — db maintenance")
    page.get_by_role("button", name="Resume").click()
    expect(page.locator("dl.definition")).to_contain_text("active")
    page.screenshot(path=str(SHOTS / "job.png"), full_page=True)

    # 6. A run's page shows its log lines.
    page.locator("#runs a").first.click()
    expect(page.locator("#logs")).to_contain_text("building the report")
    expect(page.locator("#result")).to_contain_text('"rows": 42')
    page.screenshot(path=str(SHOTS / "run.png"), full_page=True)

    # 5. A failing job shows as alerting and sorts first.
    runtime.service.register_job("partner-sync", "0 3 * * *", "boom", alert_after_failures=1, retry={"maxAttempts": 1})
    runtime.service.trigger_job("partner-sync")
    page.goto(f"{base}/console#/")
    first = page.locator("table.jobs tbody tr").first
    expect(first).to_have_attribute("data-job", "partner-sync")
    expect(first.locator(".alerts")).to_contain_text("alerting")
    page.screenshot(path=str(SHOTS / "overview.png"), full_page=True)

    # 7. An API error renders as a message.
    page.goto(f"{base}/console#/jobs/no-such-job")
    expect(page.get_by_role("alert")).to_contain_text("404")

    # 8. Sign out; a refused token returns to sign-in.
    page.goto(f"{base}/console#/")
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#sign-in")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('scheduler.token')") is None
    page.fill("#token", "not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#sign-in")).to_contain_text("refused")

    # On a phone-sized screen the overview still reads.
    page.set_viewport_size({"width": 390, "height": 844})
    fresh_load(page, f"{base}/console#token={token}")  # a link is read on a load, not on a hashchange
    expect(page.locator("tr[data-job='partner-sync']")).to_be_visible()
    page.screenshot(path=str(SHOTS / "overview-phone.png"), full_page=True)
    assert not [e for e in errors if "Content Security Policy" in e], errors
    record_property("summary", f"browser (Chromium, Playwright): console walk-through in {time.monotonic() - started:.1f} s")


def test_the_console_is_served_with_a_strict_content_security_policy(stack):
    import urllib.request

    base, _token, _runtime = stack
    with urllib.request.urlopen(f"{base}/console") as response:
        csp = response.headers["Content-Security-Policy"]
        html = response.read().decode()
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "<script>" not in html and "style=" not in html and "http" not in html.split("<body>")[1]


# ------------------------------------------------------------------ the console's edges


def fresh_load(page, url: str) -> None:
    """A new document load (a goto that changes only the fragment would be a hashchange)."""
    page.goto("about:blank")
    page.goto(url)


def session_token(page) -> str | None:
    return page.evaluate("sessionStorage.getItem('scheduler.token')")


def watch_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def test_a_link_with_a_token_never_silently_replaces_a_signed_in_session(stack, page):
    base, token, _runtime = stack
    other = auth.issue_token(SECRET, subject="mallory", now_epoch=int(time.time()), ttl_seconds=3600,
                             issuer=auth.issuer_for("http://127.0.0.1:9"))
    errors = watch_errors(page)
    cert_row = page.locator("tr[data-job='certification-expiry-check']")
    page.goto(f"{base}/console#token={token}")  # no session yet: taken without a question
    expect(cert_row).to_be_visible()
    assert session_token(page) == token

    # A link followed inside the open tab (a hashchange) is never read, and leaves the address bar.
    page.evaluate(f"location.hash = '#token={other}'")
    expect(page.locator("#toast")).to_contain_text("ignored")
    expect(cert_row).to_be_visible()
    assert session_token(page) == token and "token=" not in page.url

    # A fresh load with a session asks first: dismissed, the session stays ...
    questions: list[str] = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    fresh_load(page, f"{base}/console#token={other}")
    expect(cert_row).to_be_visible()
    assert questions and "replace" in questions[0].lower()
    assert session_token(page) == token and "token=" not in page.url

    # ... accepted, the link's token replaces it.
    page.once("dialog", lambda dialog: dialog.accept())
    fresh_load(page, f"{base}/console#token={other}")
    expect(cert_row).to_be_visible()
    assert session_token(page) == other

    # The session's own token in a link asks nothing.
    page.on("dialog", lambda dialog: (questions.append("unexpected: " + dialog.message), dialog.dismiss()))
    fresh_load(page, f"{base}/console#token={other}")
    expect(cert_row).to_be_visible()
    assert len(questions) == 1 and session_token(page) == other
    assert not errors, errors


def test_a_malformed_percent_in_the_address_shows_a_message_not_a_blank_page(stack, page):
    base, token, _runtime = stack
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors = watch_errors(page)

    page.goto(f"{base}/console#token=abc%E0%A4%A")  # no session: the sign-in, saying why
    expect(page.locator("#sign-in")).to_contain_text("malformed")
    assert session_token(page) is None and "token=" not in page.url
    page.screenshot(path=str(SHOTS / "malformed-token-link.png"), full_page=True)

    fresh_load(page, f"{base}/console#token={token}")
    expect(page.locator("tr[data-job='certification-expiry-check']")).to_be_visible()
    fresh_load(page, f"{base}/console#token=%E0%A4%A")  # a session: kept, with a note
    expect(page.locator("#toast")).to_contain_text("malformed")
    expect(page.locator("tr[data-job='certification-expiry-check']")).to_be_visible()
    assert session_token(page) == token

    page.evaluate("location.hash = '#/jobs/%E0%A4%A'")  # a route with a malformed escape
    expect(page.get_by_role("alert")).to_contain_text("not a valid console address")
    page.screenshot(path=str(SHOTS / "malformed-route.png"), full_page=True)
    fresh_load(page, f"{base}/console#/jobs/certification-expiry-check/runs/%ZZ")
    expect(page.get_by_role("alert")).to_contain_text("not a valid console address")
    page.get_by_role("link", name="All jobs").click()
    expect(page.locator("tr[data-job='certification-expiry-check']")).to_be_visible()
    assert not errors, errors


def test_the_console_address_with_a_trailing_slash_loads_the_console(stack, page):
    base, token, _runtime = stack
    errors = watch_errors(page)
    page.goto(f"{base}/console/#token={token}")
    expect(page.locator("tr[data-job='certification-expiry-check']")).to_be_visible()
    assert page.url == f"{base}/console#/"
    assert session_token(page) == token and not errors, errors


def test_one_malformed_job_or_run_is_marked_and_the_rest_are_shown(stack, page):
    base, token, runtime = stack
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors = watch_errors(page)
    runtime.service.register_job("nightly-report", "0 2 * * *", "report")
    runtime.service.trigger_job("nightly-report")

    def with_bad_jobs(route):
        response = route.fetch()
        body = response.json()
        good = body["jobs"][0]
        [listed] = [job for job in body["jobs"] if job["jobName"] == "nightly-report"]
        listed["recentRuns"].append({"executionId": 7, "status": ["failed"], "scheduledFor": "slow"})  # the strip's
        body["jobs"] += [
            {**good, "jobName": "broken-counter", "consecutiveFailures": "many", "nextRunAt": "not a date"},
            {**good, "jobName": "not-finite", "consecutiveFailures": float("nan"), "timeoutSeconds": float("inf")},
            {"jobName": 42, "state": {"nested": True}},
            "not even an object",
            None,
        ]
        route.fulfill(response=response, body=json.dumps(body))  # NaN and Infinity as Python writes them

    def with_a_bad_run(route):
        response = route.fetch()
        body = response.json()
        if "/jobs/nightly-report/" in route.request.url:
            body["executions"].append({"executionId": 7, "status": ["failed"], "durationMs": "slow"})
        route.fulfill(response=response, body=json.dumps(body))

    page.route(lambda url: "/jobs?limit=" in url and "nextToken=" not in url, with_bad_jobs)  # the first page
    page.route(lambda url: "/executions?limit=" in url, with_a_bad_run)
    page.goto(f"{base}/console#token={token}")

    expect(page.locator("tr[data-job='nightly-report'] .alerts")).to_contain_text("0 failed in a row")
    expect(page.locator("tr[data-job='certification-expiry-check'] .alerts")).to_be_visible()
    bad = page.locator("table.jobs tr.bad-row")
    expect(bad).to_have_count(5)
    expect(page.locator("tr.bad-row[data-job='broken-counter']")).to_contain_text("consecutiveFailures")
    expect(page.locator("tr.bad-row[data-job='broken-counter']")).to_contain_text("nextRunAt")
    expect(page.locator("tr.bad-row[data-job='not-finite']")).to_contain_text("consecutiveFailures")
    expect(bad.first).to_contain_text("cannot be shown")
    strip = page.locator("tr[data-job='nightly-report'] .strip")
    expect(strip.locator("a.succeeded")).to_have_count(1)
    expect(strip.locator(".bad")).to_have_count(1)
    page.screenshot(path=str(SHOTS / "overview-bad-rows.png"), full_page=True)

    page.get_by_role("link", name="nightly-report").click()
    expect(page.locator("#runs tr[data-run]")).to_have_count(1)
    expect(page.locator("#runs tr.bad-row")).to_contain_text("status")
    expect(page.locator("#runs tr.bad-row")).to_contain_text("durationMs")
    page.screenshot(path=str(SHOTS / "job-bad-run.png"), full_page=True)
    assert not errors, errors
