"""The console shows each job's owner and channels, and filters the overview by owner
(Chromium, driven by Playwright, against the API on Chalice's local server)."""
from __future__ import annotations

from playwright.sync_api import expect

from chalicelib.core.channels import Channel, ChannelType
from chalicelib.core.model import UTC
from tests.browser.test_console import page, stack  # noqa: F401 - the fixtures


def test_the_overview_and_job_page_show_owner_and_channels_and_filter_by_owner(stack, page):  # noqa: F811
    base, token, runtime = stack
    from datetime import datetime

    now = datetime.now(UTC)
    runtime.store.put_channel(Channel(name="mentor-slack", type=ChannelType.SLACK, created_at=now,
                                                    updated_at=now, secret_ref="slack/mentor-team"))
    runtime.service.register_job("mentor-sync", "0 2 * * *", "report", owner="mentor-team", notify=("mentor-slack",))
    runtime.service.register_job("billing-close", "0 3 * * *", "report", owner="billing")

    page.goto(f"{base}/console#token={token}")
    row = page.locator("tr[data-job='mentor-sync']")
    expect(row).to_contain_text("mentor-team · mentor-slack")
    expect(page.locator("#owner-filter")).to_contain_text("billing, mentor-team")

    page.locator("#owner-filter").get_by_role("link", name="mentor-team").click()
    expect(page.locator("#owner-filter")).to_contain_text("mentor-team (all jobs)")
    expect(page.locator("table.jobs tbody tr")).to_have_count(1)
    expect(page.locator("table.jobs tbody tr").first).to_have_attribute("data-job", "mentor-sync")

    page.goto(f"{base}/console#/jobs/mentor-sync")
    expect(page.locator("dl.definition")).to_contain_text("mentor-team")
    expect(page.locator("dl.definition")).to_contain_text("mentor-slack")
    page.goto(f"{base}/console#/jobs/billing-close")
    expect(page.locator("dl.definition")).to_contain_text("the stack's topic")
