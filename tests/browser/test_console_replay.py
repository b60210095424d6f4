"""The console's Replay…: a range and which slots, the plan shown before anything starts,
then the replay started, in Chromium as an operator uses it."""
from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from chalicelib.core.cron import CronSchedule
from chalicelib.core.model import Job, JobDefinition
from tests.browser.test_console import page, stack  # noqa: F401 - the fixtures

pytestmark = pytest.mark.timeout(300)


def test_replay_shows_the_plan_and_starts_only_when_confirmed(stack, page):  # noqa: F811
    base, token, runtime = stack
    service = runtime.service
    now = service.clock.now()
    created = now - timedelta(days=5)
    definition = JobDefinition(job_name="nightly-report", cron_expression="0 2 * * *", handler="report")
    # A job five days old that never ran (the dispatcher was down): three nights in the last three days.
    runtime.store.create_job(Job(definition=definition, created_at=created, updated_at=created,
                                 next_run_at=CronSchedule("0 2 * * *", "UTC").next_after(now)))

    page.goto(f"{base}/console#token={token}")
    page.locator("tr[data-job='nightly-report'] a").first.click()
    page.get_by_role("button", name="Replay…").click()
    page.get_by_role("button", name="Show plan").click()  # only=failed: nothing failed
    expect(page.locator("#replay-slots tbody tr[data-plan='left out']")).to_have_count(3)
    expect(page.locator("#replay-slots")).to_contain_text("no run was recorded")
    expect(page.locator("#replay-start")).to_be_disabled()

    page.select_option("#replay-only", "missed")
    page.get_by_role("button", name="Show plan").click()
    expect(page.locator("#replay-slots tbody tr[data-plan='runs']")).to_have_count(3)
    page_of_replays, _ = service.replays.list_for_job("nightly-report")
    assert page_of_replays.items == []  # the plan stored nothing

    page.get_by_role("button", name="Start replay of 3 slot(s)").click()
    expect(page.locator("#replay-started")).to_contain_text("3 slot(s)")
    page_of_replays, _ = service.replays.list_for_job("nightly-report")
    [replay] = page_of_replays.items
    assert [s.scheduled_for.hour for s in replay.slots] == [2, 2, 2] and replay.only.value == "missed"
