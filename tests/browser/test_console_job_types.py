"""The console's register form offers the Supabase job types with their payload fields
(from ``GET /handlers``), in Chromium as an operator uses it."""
from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.browser.test_console import page, stack  # noqa: F401 - the fixtures

pytestmark = pytest.mark.timeout(300)


def test_the_register_form_offers_each_supabase_job_type_with_its_fields_and_a_template(stack, page):  # noqa: F811
    base, token, runtime = stack
    page.goto(f"{base}/console#token={token}")
    expect(page.locator("tr[data-job='certification-expiry-check']")).to_be_visible()
    page.get_by_role("link", name="Register a job").click()
    expect(page.locator("#f-handler option[value='database-function']")).to_have_count(1)

    page.select_option("#f-handler", "edge-function")
    fields = page.locator("#payload-fields table tbody tr td:first-child")
    expect(fields).to_have_text(["function", "method", "body", "headers", "query", "expect", "timeoutSeconds"])
    expect(page.locator("#payload-fields")).to_contain_text("secretRef")
    assert json.loads(page.input_value("#f-payload"))["function"] == "echo"

    page.select_option("#f-handler", "database-function")  # an untouched template follows the type
    expect(page.locator("#payload-fields")).to_contain_text("Content-Profile")
    assert json.loads(page.input_value("#f-payload")) == {"function": "mentor_counts", "args": {}, "schema": "public",
                                                          "expect": {"status": [200]}}

    page.fill("#f-jobName", "mentor-counts")
    page.fill("#f-cronExpression", "0 6 * * *")
    page.fill("#f-payload", json.dumps({"function": "mentor/counts"}))
    page.get_by_role("button", name="Register").click()
    expect(page.locator("#e-payload")).to_contain_text("payload.function: must be an identifier")

    page.fill("#f-payload", json.dumps({"function": "mentor_counts", "expect": {"json": {"total": 20}}}))
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("heading", name="mentor-counts")).to_be_visible()
    assert runtime.service.reads.get_job("mentor-counts").definition.handler == "database-function"
