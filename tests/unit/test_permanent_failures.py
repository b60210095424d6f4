"""Failures no retry can fix end the slot's attempts at once and alert on that slot."""
from __future__ import annotations

import httpx
import pytest

from chalicelib.core.errors import PermanentFailure, SecretUnavailable, ValidationFailed
from chalicelib.core.model import AlertState, ExecutionStatus, NoticeKind
from chalicelib.core.scheduler.worker import is_retryable
from chalicelib.jobs.certification.rule import BlastRadiusExceeded
from chalicelib.jobs.http_request import DestinationRefused, HttpRequestFailed, HttpRequestTimeout
from tests.fakes import Harness, utc

RETRY = {"maxAttempts": 3, "initialDelaySeconds": 60, "maxDelaySeconds": 60}


def refuse(ctx):
    raise PermanentFailure("the partner API says this account is closed")


def flaky(ctx):
    raise RuntimeError("connection reset")


@pytest.fixture
def h() -> Harness:
    harness = Harness(utc(2026, 11, 28, 20, 0))
    harness.registry.add("refuse", refuse)
    harness.registry.add("flaky", flaky)
    return harness


def test_a_permanent_failure_is_not_retried_and_alerts_at_once(h):
    h.service.register_job("closed-account", "0 2 * * *", "refuse", retry=RETRY, alert_after_failures=5)
    for minute in range(0, 10):
        h.tick(utc(2026, 11, 29, 2, minute))
    executions = h.executions("closed-account")
    assert [(e.attempt, e.status) for e in executions] == [(1, ExecutionStatus.FAILED)]
    assert executions[0].error.retryable is False and "account is closed" in executions[0].error.message
    job = h.service.reads.get_job("closed-account")
    assert job.pending_retry is None and job.alert_state is AlertState.ALERTING
    assert [n.kind for n in h.notifier.sent] == [NoticeKind.ALERT]
    assert h.notifier.sent[0].message["lastError"]["retryable"] is False


def test_an_ordinary_failure_is_retried_and_alerts_at_its_threshold(h):
    h.service.register_job("flaky", "0 2 * * *", "flaky", retry=RETRY, alert_after_failures=5)
    for minute in range(0, 10):
        h.tick(utc(2026, 11, 29, 2, minute))
    assert [e.attempt for e in sorted(h.executions("flaky"), key=lambda e: e.attempt)] == [1, 2, 3]
    assert all(e.error.retryable for e in h.executions("flaky"))
    assert h.notifier.sent == []


def _status_error(status: int) -> HttpRequestFailed:
    return HttpRequestFailed(f"HTTP {status}", method="POST", url="https://x.example/", status=status, body_excerpt="")


@pytest.mark.parametrize(("error", "retryable"), [
    (_status_error(400), False), (_status_error(404), False), (_status_error(422), False),
    (_status_error(408), True), (_status_error(425), True), (_status_error(429), True), (_status_error(503), True),
    (DestinationRefused("10.0.0.1 is private"), False),
    (ValidationFailed([]), False),
    (SecretUnavailable("secret 'x' not found"), False),
    (SecretUnavailable("Secrets Manager: ThrottlingException", retryable=True), True),
    (PermanentFailure("no"), False),
    (HttpRequestTimeout("slow"), True),
    (httpx.ConnectError("refused"), True),
    (RuntimeError("bug"), True),
])
def test_which_failures_are_permanent(error, retryable):
    assert is_retryable(error) is retryable


def test_the_blast_radius_refusal_stays_retryable():
    # The data may be corrected between attempts.
    assert BlastRadiusExceeded.__dict__.get("retryable", True) is True
    assert getattr(BlastRadiusExceeded, "retryable", True) is True
