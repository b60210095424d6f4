"""The code-defined jobs are registered by the entry points that need them, not by getting a service."""
from __future__ import annotations

CERT = "certification-expiry-check"


def test_getting_the_service_registers_nothing_and_listing_jobs_registers_the_code_jobs(api):
    from chalicelib.api import http

    http.service()
    assert api.call("GET", "/handlers").status_code == 200  # a route that reads no job
    assert api.runtime.store.get_job(CERT) is None
    assert [j["jobName"] for j in api.call("GET", "/jobs").json["jobs"]] == [CERT]
    assert api.runtime.store.get_job(CERT) is not None


def test_the_tick_registers_the_code_jobs(api):
    api.dispatch("2026-11-28T20:01:00Z")
    assert api.runtime.store.get_job(CERT) is not None
