"""Routing notices to a job's channels: each delivery tracked on its own in the outbox."""
from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from chalicelib.core.channels import Channel, ChannelType
from chalicelib.core.errors import ValidationFailed
from chalicelib.core.model import STACK_TOPIC, NoticeKind
from tests.fakes import Harness, corrupt_job, utc

START = utc(2026, 11, 28, 23, 59, 30)
SLOT = utc(2026, 11, 29, 0, 0)


def boom(ctx):
    raise RuntimeError("the downstream service is down")


def _channel(name: str) -> Channel:
    return Channel(name=name, type=ChannelType.SNS, created_at=START, updated_at=START,
                   topic_arn=f"arn:aws:sns:eu-north-1:123456789012:{name}")


def _alerting_job(h: Harness, notify: tuple[str, ...], owner: str | None = "mentor-team") -> None:
    h.registry.add("boom", boom)
    h.service.register_job("nightly-report", "0 0 * * *", "boom", alert_after_failures=1,
                           retry={"maxAttempts": 1}, owner=owner, notify=notify)


def test_one_failing_channel_among_three_neither_blocks_nor_repeats_the_others():
    h = Harness(START)
    for name in ("team-a", "team-b", "team-c"):
        h.store.put_channel(_channel(name))
    _alerting_job(h, ("team-a", "team-b", "team-c"))
    h.notifier.failing_channels = {"team-b"}

    h.tick(SLOT)  # the run fails, the alert is queued and delivered at once to a and c
    alert_id = "nightly-report#alert#" + h.service.reads.get_job("nightly-report").last_execution.execution_id
    assert h.notifier.delivered == [(alert_id, "team-a"), (alert_id, "team-c")]
    [waiting] = h.service.reads.get_job("nightly-report").outbox
    assert (waiting.channel, waiting.attempts, waiting.next_attempt_at) == ("team-b", 1, SLOT + timedelta(minutes=1))

    h.tick(SLOT + timedelta(seconds=30))  # not due yet: nothing sent, nothing tried
    h.tick(SLOT + timedelta(minutes=1))  # b tried again, fails, backs off 2 minutes
    [waiting] = h.service.reads.get_job("nightly-report").outbox
    assert (waiting.attempts, waiting.next_attempt_at) == (2, SLOT + timedelta(minutes=3))

    h.notifier.failing_channels = set()
    h.tick(SLOT + timedelta(minutes=2))  # still backing off
    assert len(h.notifier.delivered) == 2
    h.tick(SLOT + timedelta(minutes=3))
    assert Counter(h.notifier.delivered) == {(alert_id, "team-a"): 1, (alert_id, "team-b"): 1, (alert_id, "team-c"): 1}
    assert h.service.reads.get_job("nightly-report").outbox == ()
    assert {n.notice_id for n in h.notifier.sent} == {alert_id}  # the same stable noticeId on every channel
    assert all(n.message["owner"] == "mentor-team" for n in h.notifier.sent)


def test_a_job_without_notify_goes_to_the_stack_topic_as_before():
    h = Harness(START)
    _alerting_job(h, (), owner=None)
    h.tick(SLOT)
    [(notice_id, channel)] = h.notifier.delivered
    assert channel is None and notice_id.startswith("nightly-report#alert#")
    assert "owner" not in h.notifier.sent[0].message


def test_a_deleted_channel_sends_to_the_stack_topic_saying_which_channel_was_gone():
    h = Harness(START)
    h.store.put_channel(_channel("team-a"))
    h.store.put_channel(_channel("gone"))
    _alerting_job(h, ("team-a", "gone"))
    h.store.delete_channel("gone")
    h.tick(SLOT)
    assert [c for _, c in h.notifier.delivered] == ["team-a", None]
    assert "channel 'gone', which no longer exists" in h.notifier.sent[1].message["note"]


def test_every_kind_of_notice_queued_on_a_job_is_routed():
    """Routing is generic: a recovery (and any kind added later) reaches each channel too."""
    h = Harness(START)
    h.store.put_channel(_channel("team-a"))
    h.store.put_channel(_channel("team-b"))
    outcomes = iter([RuntimeError("down"), None])

    def flaky(ctx):
        outcome = next(outcomes)
        if outcome is not None:
            raise outcome
        return {"ok": True}

    h.registry.add("flaky", flaky)
    h.service.register_job("flaky-job", "0 0 * * *", "flaky", alert_after_failures=1, retry={"maxAttempts": 1},
                           notify=("team-a", "team-b"))
    h.tick(SLOT)
    h.tick(SLOT + timedelta(days=1))
    kinds = Counter((n.kind, c) for n, (_, c) in zip(h.notifier.sent, h.notifier.delivered, strict=True))
    assert kinds == {(NoticeKind.ALERT, "team-a"): 1, (NoticeKind.ALERT, "team-b"): 1,
                     (NoticeKind.RECOVERY, "team-a"): 1, (NoticeKind.RECOVERY, "team-b"): 1}


def test_registration_refuses_a_channel_that_does_not_exist():
    h = Harness(START)
    h.store.put_channel(_channel("team-a"))
    h.registry.add("boom", boom)
    with pytest.raises(ValidationFailed) as refused:
        h.service.register_job("nightly-report", "0 0 * * *", "boom", notify=("team-a", "nobody"))
    assert [e.field for e in refused.value.errors] == ["notify[1]"]
    assert h.store.get_job("nightly-report") is None


def test_stack_topic_is_no_channel_name():
    from chalicelib.core.channels import CHANNEL_NAME_PATTERN

    assert not CHANNEL_NAME_PATTERN.fullmatch(STACK_TOPIC)


def test_a_set_aside_alert_reaches_each_channel_once_even_when_one_fails_at_first():
    from chalicelib.core.codec import job_to_record

    h = Harness(START)
    for name in ("team-a", "team-b"):
        h.store.put_channel(_channel(name))
    h.registry.add("ok", lambda ctx: None)
    h.service.register_job("legacy-zone", "0 0 * * *", "ok", notify=("team-a", "team-b"), owner="mentor-team")
    doc = job_to_record(h.service.reads.get_job("legacy-zone")).doc
    doc["definition"]["timezone"] = "EST"  # stored before the code refused it: planning fails
    corrupt_job(h.store, "legacy-zone", doc)
    h.notifier.failing_channels = {"team-b"}

    h.tick(SLOT)
    assert [(n.kind, c) for n, (_, c) in zip(h.notifier.sent, h.notifier.delivered, strict=True)] == [(NoticeKind.SET_ASIDE, "team-a")]
    record = h.service.reads.describe_job("legacy-zone").set_aside
    assert (record.alerted, record.notified) == (False, ("team-a",))

    h.notifier.failing_channels = set()
    h.tick(record.retry_at)
    assert [c for _, c in h.notifier.delivered] == ["team-a", "team-b"]  # b now, a not again
    assert h.service.reads.describe_job("legacy-zone").set_aside.alerted
    h.tick(h.service.reads.describe_job("legacy-zone").set_aside.retry_at)
    assert len(h.notifier.delivered) == 2
    assert all(n.message["owner"] == "mentor-team" for n in h.notifier.sent)
