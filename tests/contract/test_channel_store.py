"""The Store contract for notification channels and job owners, run against every store
(``store`` is parametrised in conftest.py: memory, and DynamoDB on moto)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.core.channels import Channel, ChannelNotFound, ChannelType
from chalicelib.core.model import UTC, Actor, Notice, NoticeKind

from .builders import T0, make_job


def _channels() -> list[Channel]:
    return [
        Channel(name="ops-topic", type=ChannelType.SNS, created_at=T0, updated_at=T0,
                topic_arn="arn:aws:sns:eu-north-1:123456789012:ops"),
        Channel(name="mentor-slack", type=ChannelType.SLACK, created_at=T0, updated_at=T0,
                secret_ref="slack/mentor-team", description="the mentor team's channel",
                updated_by=Actor("admin@example.com", "admin")),
        Channel(name="pager", type=ChannelType.WEBHOOK, created_at=T0, updated_at=T0,
                url="https://hooks.example.com/scheduler", secret_ref="ssm:pager/signing"),
    ]


def test_channels_read_back_equal_and_list_by_name(store):
    for channel in _channels():
        store.put_channel(channel)
    assert store.get_channel("mentor-slack") == _channels()[1]
    assert [c.name for c in store.list_channels()] == ["mentor-slack", "ops-topic", "pager"]
    assert store.list_channels() == sorted(_channels(), key=lambda c: c.name)


def test_putting_a_channel_again_replaces_it(store):
    store.put_channel(_channels()[0])
    changed = replace(_channels()[0], topic_arn="arn:aws:sns:eu-north-1:123456789012:ops-2",
                      updated_at=T0.replace(hour=5))
    store.put_channel(changed)
    assert store.get_channel("ops-topic") == changed


def test_deleting_a_channel_and_an_unknown_one(store):
    store.put_channel(_channels()[0])
    store.delete_channel("ops-topic")
    assert store.get_channel("ops-topic") is None
    with pytest.raises(ChannelNotFound):
        store.delete_channel("ops-topic")


def test_channels_are_never_listed_as_jobs_nor_due(store):
    for channel in _channels():
        store.put_channel(channel)
    store.create_job(make_job("a-job"))
    page = store.list_jobs(limit=100, cursor=None)
    assert [j.name for j in page.items] == ["a-job"] and page.next_cursor is None
    assert [j.name for j in store.due_page(T0.replace(year=2030), limit=10).items] == ["a-job"]


def test_owner_notify_and_routed_notices_round_trip(store):
    job = make_job()
    definition = replace(job.definition, owner="mentor-team", notify=("mentor-slack", "pager"))
    notice = Notice("nightly-report#alert#x", NoticeKind.ALERT, "s", {"jobName": "nightly-report"},
                    T0.astimezone(UTC), attempts=2, next_attempt_at=T0.replace(minute=4), channel="pager")
    job = replace(job, definition=definition, outbox=(notice,))
    store.create_job(job)
    assert store.get_job(job.name) == job
