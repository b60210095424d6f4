"""A bad setting is a clear, contained error: named, defaulted, reported by /health."""
from __future__ import annotations

import pytest

from chalicelib.bootstrap import install_handlers
from chalicelib.jobs.registry import JobRegistry
from chalicelib.settings import Settings


def problems(env: dict[str, str]) -> dict[str, str]:
    return {p.field: p.message for p in Settings.from_env(env).problems}


def test_well_formed_settings_have_no_problems():
    assert Settings.from_env({}).problems == ()


@pytest.mark.parametrize(("name", "value", "words"), [
    ("CERT_CHECK_CRON", "0 2 * *", "five"),
    ("CERT_CHECK_CRON", "cron(0 2 * * ? *)", "five fields"),
    ("CERT_CHECK_TIMEZONE", "CEST", "IANA"),
    ("CERT_CHECK_TIMEZONE", "EST", "legacy"),
    ("CERT_CHECK_NOTICE_DAYS", "30,soon", "comma-separated whole days"),
    ("CERT_CHECK_NOTICE_DAYS", "0", "from 1 to 365"),
    ("CERT_CHECK_MAX_PAUSE_SHARE", "lots", "a number"),
    ("CERT_CHECK_MAX_PAUSE_SHARE", "1.5", "from 0.0 to 1.0"),
    ("CERT_CHECK_MAX_PAUSE_COUNT", "-1", "from 0"),
    ("CERT_CHECK_MAX_PAUSE_COUNT", "²", "whole number"),
    ("SCHEDULER_DISPATCH_BATCH", "0", "from 1 to 1000"),
    ("SCHEDULER_WORKER_TIMEOUT_SECONDS", "1000", "from 60 to 900"),
    ("SCHEDULER_WORKER_MODE", "fork", "lambda, thread or inline"),
    ("SCHEDULER_LOCAL_WORKER_CONCURRENCY", "0", "from 1 to 256"),
])
def test_a_bad_value_is_named_with_the_accepted_form(name, value, words):
    found = problems({name: value})
    assert name in found and words in found[name], found


def test_a_bad_certification_setting_keeps_the_job_from_being_registered_but_not_the_rest():
    settings = Settings.from_env({"CERT_CHECK_CRON": "every night", "SUPABASE_URL": "https://x.supabase.co",
                                  "SUPABASE_SERVICE_KEY": "k"})
    registry = JobRegistry()
    code_jobs = install_handlers(registry, settings, resolve_secret=lambda _id: "")
    assert code_jobs == []
    assert "http-request" in registry and "noop" in registry


def test_the_timeout_cap_is_the_worker_timeout_less_the_lease_margin():
    assert Settings.from_env({"SCHEDULER_WORKER_TIMEOUT_SECONDS": "300",
                              "SCHEDULER_LEASE_MARGIN_SECONDS": "60"}).max_timeout_seconds == 240


def test_the_local_worker_pool_and_the_store_connections_fit_each_other():
    from chalicelib.adapters.dynamodb_store import DynamoDBStore

    settings = Settings.from_env({"SCHEDULER_WORKER_MODE": "thread", "SCHEDULER_LOCAL_WORKER_CONCURRENCY": "64"})
    assert settings.local_worker_concurrency == 64
    store = DynamoDBStore.from_settings(settings)
    # a connection for each worker thread, each claim in flight, and the API's requests
    assert store.client.meta.config.max_pool_connections >= 64 + settings.dispatch_concurrency
