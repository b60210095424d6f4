"""The console at scale (Chromium, driven by Playwright, against the API on Chalice's local
server): every job reachable, a bounded number of API requests, search and filters. Screenshots
under build/screenshots/."""
from __future__ import annotations

import json
import math
import urllib.request

from playwright.sync_api import expect

from tests.browser.test_console import SHOTS, page, stack, watch_errors  # noqa: F401 - the fixtures

JOBS_PAGE = 250  # chalicelib/console/api.js JOBS_PAGE


def post(base: str, token: str, path: str, body: dict) -> None:
    request = urllib.request.Request(f"{base}{path}", data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        assert response.status == 200


def api_requests(tab, base: str) -> list[str]:
    """Every request the page makes to the JSON API (the console's own files are not counted)."""
    seen: list[str] = []
    tab.on("request", lambda r: seen.append(r.url) if r.url.startswith(base) and "/console" not in r.url else None)
    return seen


def test_all_300_jobs_are_reachable_with_one_request_per_page_of_jobs(stack, page):  # noqa: F811
    base, token, runtime = stack
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors = watch_errors(page)
    for i in range(300):  # two pages of jobs
        runtime.service.register_job(f"job-{i:03d}", f"{i % 60} 2 * * *", "report", timezone="Europe/Oslo")
    runtime.service.trigger_job("job-299")
    total = 301  # and the code-defined certification check
    requests = api_requests(page, base)

    page.goto(f"{base}/console#token={token}")
    expect(page.locator("#job-count")).to_have_text(f"{total} jobs")
    rows = page.locator("table.jobs tbody tr[data-job]")
    expect(rows).to_have_count(total)
    last = page.locator("tr[data-job='job-299']")
    last.scroll_into_view_if_needed()
    expect(last).to_be_visible()
    expect(last.locator(".describe")).to_have_text("At 02:59")  # the schedule in words, from the listing
    expect(last.locator(".strip a.succeeded")).to_have_count(1)
    page.screenshot(path=str(SHOTS / "overview-300-jobs.png"))

    pages = math.ceil(total / JOBS_PAGE)
    assert len(requests) == 2 + pages, requests
    assert sorted(u.split("/api/v1/scheduler")[1].split("?")[0] for u in requests) == sorted(
        ["/status", "/maintenance-windows"] + ["/jobs"] * pages)
    assert sum("nextToken=" in u for u in requests) == pages - 1  # every page followed

    last.get_by_role("link", name="job-299").click()  # the 300th job's page, from the overview
    expect(page.get_by_role("heading", name="job-299")).to_be_visible()
    assert not errors, errors


def test_search_and_filters_narrow_the_overview_without_asking_the_api_again(stack, page):  # noqa: F811
    base, token, runtime = stack
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors = watch_errors(page)
    for name in ("billing-close", "billing-export", "mentor-sync", "mentor-report"):
        runtime.service.register_job(name, "0 3 * * *", "report")
    post(base, token, "/jobs/billing-export/pause", {"reason": "quarter end"})
    runtime.service.register_job("partner-sync", "0 4 * * *", "boom", alert_after_failures=1, retry={"maxAttempts": 1})
    runtime.service.trigger_job("partner-sync")
    requests = api_requests(page, base)
    shown = page.locator("table.jobs tbody tr[data-job]:visible")

    page.goto(f"{base}/console#token={token}")
    expect(page.locator("#job-count")).to_have_text("6 jobs")
    before = len(requests)
    page.fill("#job-search", "BILLING")
    expect(page.locator("#job-count")).to_have_text("2 of 6 jobs")
    expect(shown).to_have_count(2)
    page.select_option("#job-state", "paused")
    expect(shown).to_have_count(1)
    expect(shown.first).to_have_attribute("data-job", "billing-export")
    assert "q=BILLING" in page.url and "state=paused" in page.url

    page.fill("#job-search", "sync")
    page.select_option("#job-state", "")
    expect(shown).to_have_count(2)
    page.select_option("#job-alert", "alerting")
    expect(shown).to_have_count(1)
    expect(shown.first).to_have_attribute("data-job", "partner-sync")
    page.screenshot(path=str(SHOTS / "overview-filtered.png"), full_page=True)
    page.fill("#job-search", "nothing-like-this")
    expect(page.locator("#no-match")).to_be_visible()
    expect(shown).to_have_count(0)
    assert len(requests) == before, requests[before:]  # filtering asked the API nothing

    page.goto("about:blank")  # a filtered address, loaded afresh, opens filtered
    page.goto(f"{base}/console#/?q=mentor&state=active")
    expect(page.locator("#job-search")).to_have_value("mentor")
    expect(shown).to_have_count(2)
    expect(page.locator("#job-count")).to_have_text("2 of 6 jobs")
    assert not errors, errors
