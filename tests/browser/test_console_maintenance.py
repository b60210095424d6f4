"""The console shows pauses with an end and the current and upcoming maintenance windows,
on the overview and on each job they cover (Chromium, driven by Playwright, against the
API on Chalice's local server)."""
from __future__ import annotations

from datetime import datetime, timedelta

from playwright.sync_api import expect

from chalicelib.core.model import UTC, iso
from tests.browser.test_console import page, stack  # noqa: F401 - the fixtures


def test_the_console_shows_paused_until_and_the_windows_covering_each_job(stack, page):  # noqa: F811
    base, token, runtime = stack
    service = runtime.service
    now = datetime.now(UTC)
    service.register_job("mentor-sync", "0 2 * * *", "report")
    service.register_job("billing-close", "0 3 * * *", "report")
    service.jobs.pause_job("billing-close", "month end", until=now + timedelta(hours=3, minutes=1))
    current = service.windows.create({"from": iso(now - timedelta(minutes=10)),
                                                 "to": iso(now + timedelta(hours=2)), "reason": "database migration",
                                                 "jobs": ["mentor-sync"], "runMissed": True})
    upcoming = service.windows.create({"from": iso(now + timedelta(days=2)),
                                                  "to": iso(now + timedelta(days=2, hours=1)), "reason": "upgrade",
                                                  "all": True})

    page.goto(f"{base}/console#token={token}")
    panel = page.locator("#maintenance-windows")
    expect(panel.locator(f"li[data-window='{current.window_id}']")).to_contain_text("in maintenance")
    expect(panel.locator(f"li[data-window='{current.window_id}']")).to_contain_text("database migration — mentor-sync")
    expect(panel.locator(f"li[data-window='{upcoming.window_id}']")).to_contain_text("upcoming")
    expect(panel.locator(f"li[data-window='{upcoming.window_id}']")).to_contain_text("all jobs")
    expect(page.locator("tr[data-job='billing-close'] .paused-until")).to_contain_text("(in 3 h)")
    expect(page.locator("tr[data-job='billing-close'] .paused-until")).to_contain_text("paused until ")

    page.goto(f"{base}/console#/jobs/billing-close")
    expect(page.locator("dl.definition")).to_contain_text("(in 3 h) — month end")
    expect(page.locator("#maintenance-windows li")).to_have_count(1)  # only the all-jobs one covers it
    page.goto(f"{base}/console#/jobs/mentor-sync")
    expect(page.locator("#maintenance-windows li")).to_have_count(2)
    expect(page.locator("#maintenance-windows")).to_contain_text("the last skipped slot runs afterwards")
