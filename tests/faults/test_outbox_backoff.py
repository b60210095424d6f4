"""The outbox cannot starve anything: 300 jobs alerting while SNS is down, plus one
healthy nightly job. The healthy job runs at its minute; when SNS comes back every
notice is delivered once."""
from __future__ import annotations

from collections import Counter
from datetime import timedelta

from chalicelib.core.model import NoticeKind
from chalicelib.core.scheduler.outbox import deferred
from tests.fakes import Harness, utc

START = utc(2026, 11, 29, 0, 50)  # 01:50 in Oslo
NIGHTLY_SLOT = utc(2026, 11, 29, 1, 0)  # 02:00 in Oslo


def boom(ctx):
    raise RuntimeError("the downstream service is down")


def test_alerting_jobs_back_off_and_the_nightly_job_runs_at_its_minute():
    h = Harness(START)
    h.registry.add("boom", boom)
    h.registry.add("ok", lambda ctx: {"ok": True})
    for i in range(300):
        h.service.register_job(f"alerting-{i:03d}", "* * * * *", "boom", alert_after_failures=1,
                               retry={"maxAttempts": 1})
    h.service.register_job("certification-like", "0 2 * * *", "ok", timezone="Europe/Oslo")
    h.notifier.failing = True

    for minute in range(1, 31):  # 00:51 .. 01:20 UTC, SNS down throughout
        h.tick(START + timedelta(minutes=minute))
    nightly = h.service.reads.get_job("certification-like").last_execution
    assert nightly is not None and nightly.scheduled_for == NIGHTLY_SLOT and nightly.created_at == NIGHTLY_SLOT

    # Backed off: 300 notices over 30 minutes is at most 1 + 1 + 2 + 4 + 8 + 16 apart, not 30 tries each.
    assert h.notifier.attempts <= 300 * 6
    stuck = h.service.reads.get_job("alerting-000").outbox
    assert len(stuck) == 1 and stuck[0].attempts >= 4 and stuck[0].next_attempt_at > START + timedelta(minutes=30)

    h.notifier.failing = False
    for minute in range(31, 31 + 70):  # the longest backoff is one hour
        h.tick(START + timedelta(minutes=minute))
    alerts = Counter(n.notice_id for n in h.notifier.sent if n.kind is NoticeKind.ALERT)
    assert len(alerts) == 300 and set(alerts.values()) == {1}
    assert all(not h.service.reads.get_job(f"alerting-{i:03d}").outbox for i in range(300))


def test_the_backoff_doubles_from_one_minute_and_stops_at_an_hour():
    from chalicelib.core.model import Notice

    notice = Notice("n", NoticeKind.ALERT, "s", {}, START)
    delays = []
    for _ in range(9):
        notice = deferred(notice, START)
        delays.append(int((notice.next_attempt_at - START).total_seconds() // 60))
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60, 60]
