"""What the scheduler retries by itself waits on one schedule (``policies.backoff``): 1 min,
2, 4 … capped at 1 h, for a notice's delivery and a set-aside job's dispatch alike."""
from __future__ import annotations

from datetime import timedelta

from chalicelib.core import isolation
from chalicelib.core.model import Notice, NoticeKind
from chalicelib.core.policies import backoff
from chalicelib.core.scheduler.outbox import deferred
from tests.fakes import utc

NOW = utc(2026, 11, 29, 2, 0)
MINUTES = [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_the_schedule_doubles_from_a_minute_and_stops_at_an_hour():
    assert backoff(0) == backoff(1) == timedelta(minutes=1)  # no failure yet reads as the first
    assert [backoff(n) for n in range(1, 10)] == [timedelta(minutes=m) for m in MINUTES]
    assert backoff(10_000) == timedelta(hours=1)


def test_a_notice_and_a_set_aside_job_back_off_alike():
    notice = Notice(notice_id="n", kind=NoticeKind.ALERT, subject="s", message={}, created_at=NOW)
    record = None
    notice_waits, set_aside_waits = [], []
    for _ in MINUTES:
        notice = deferred(notice, NOW)
        record = isolation.next_set_aside(record, "boom", NOW)
        notice_waits.append(notice.next_attempt_at - NOW)
        set_aside_waits.append(record.retry_at - NOW)
    assert notice_waits == set_aside_waits == [timedelta(minutes=m) for m in MINUTES]
