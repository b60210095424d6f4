"""One bad job never stops the shared scheduler (issue: fault isolation), on moto's DynamoDB.

Set-up: 50 jobs due in the same minute; one item made undecodable directly in the table
(its non-key attributes replaced with junk, so it stays in the due index) and one
holding a legacy zone name that the current code refuses ('EST').
"""
from __future__ import annotations

from collections import Counter
from datetime import timedelta

import boto3

from chalicelib.core.codec import job_to_record
from chalicelib.core.model import NoticeKind
from tests.fakes import Harness, utc
from tests.faults.conftest import SETTINGS

T0 = utc(2026, 11, 28, 20, 0)
HEALTHY = [f"healthy-{i:02d}" for i in range(48)]


def make_bad(harness: Harness) -> None:
    """Break two of the 50 jobs the way a hand edit or an old version would."""
    client = boto3.client("dynamodb", region_name=SETTINGS.aws_region)
    # 1. Junk in every non-key attribute; dueShard/dueAt kept, so it stays in the index.
    item = client.get_item(TableName=SETTINGS.jobs_table, Key={"jobName": {"S": "junk"}})["Item"]
    client.put_item(TableName=SETTINGS.jobs_table, Item={
        "jobName": item["jobName"], "dueShard": item["dueShard"], "dueAt": item["dueAt"],
        "version": {"S": "not-a-number"}, "doc": {"S": "{not json"}})
    # 2. A definition stored before 'EST' was refused: written as the old code wrote it.
    legacy = harness.service.reads.get_job("legacy-zone")
    doc = job_to_record(legacy).doc
    doc["definition"]["timezone"] = "EST"
    client.update_item(TableName=SETTINGS.jobs_table, Key={"jobName": {"S": "legacy-zone"}},
                       UpdateExpression="SET #doc = :doc", ExpressionAttributeNames={"#doc": "doc"},
                       ExpressionAttributeValues={":doc": {"S": __import__("json").dumps(doc)}})


def test_two_bad_jobs_are_set_aside_and_the_48_others_run_every_minute(store_factory):
    harness = Harness(T0, store=store_factory(), inline=False)
    harness.registry.add("ok", lambda ctx: {"ok": True})
    for name in [*HEALTHY, "junk", "legacy-zone"]:
        harness.service.register_job(name, "* * * * *", "ok")
    make_bad(harness)

    claimed_per_tick = []
    for minute in range(1, 6):
        report = harness.tick(T0 + timedelta(minutes=minute))
        claimed_per_tick.append(sorted(name for name, _ in report.claimed))
        if minute == 1:
            assert sorted(report.set_aside) == ["junk", "legacy-zone"]
        # Workers never start (RecordingInvoker): their leases block overlap, so every
        # minute after the first the healthy jobs record a skipped slot instead; clear it.
        harness.invoker.invocations.clear()
    assert claimed_per_tick[0] == HEALTHY

    # Set aside with a backoff: not retried on every tick (1 min, then 2, then 4).
    alerts = Counter(n.message["jobName"] for n in harness.notifier.sent if n.kind is NoticeKind.SET_ASIDE)
    assert alerts == {"junk": 1, "legacy-zone": 1}

    # Both are visible, the listing does not fail, and each says why.
    page = harness.service.reads.list_jobs(limit=100)
    views = {entry.name: entry for entry in page.items}
    assert len(views) == 50
    junk = harness.service.reads.describe_job("junk")
    assert "cannot be decoded" in junk.set_aside.reason
    legacy = harness.service.reads.describe_job("legacy-zone")
    assert legacy.set_aside is not None and "EST" in legacy.set_aside.reason


def test_the_healthy_jobs_are_claimed_in_every_tick_with_the_bad_ones_present(store_factory):
    harness = Harness(T0, store=store_factory())  # inline workers: every run finishes
    harness.registry.add("ok", lambda ctx: {"ok": True})
    for name in [*HEALTHY, "junk", "legacy-zone"]:
        harness.service.register_job(name, "* * * * *", "ok")
    make_bad(harness)
    for minute in range(1, 8):
        report = harness.tick(T0 + timedelta(minutes=minute))
        assert sorted(name for name, _ in report.claimed) == HEALTHY, minute
    set_aside_attempts = harness.service.reads.describe_job("junk").set_aside.attempts
    assert set_aside_attempts == 3  # minutes 1, 2 (+1 min) and 4 (+2 min); the next is at 8


def test_repairing_or_registering_again_brings_them_back(store_factory):
    harness = Harness(T0, store=store_factory())
    harness.registry.add("ok", lambda ctx: {"ok": True})
    for name in [*HEALTHY, "junk", "legacy-zone"]:
        harness.service.register_job(name, "* * * * *", "ok")
    make_bad(harness)
    harness.tick(T0 + timedelta(minutes=1))

    # The junk record: registering the job again replaces it (201, created).
    job, created = harness.service.jobs.register(
        {"jobName": "junk", "cronExpression": "* * * * *", "handler": "ok"})
    assert created and job.set_aside is None
    # The legacy zone: registering it with a valid zone replaces the stored definition.
    repaired, created = harness.service.jobs.register(
        {"jobName": "legacy-zone", "cronExpression": "* * * * *", "handler": "ok", "timezone": "America/New_York"})
    assert not created and repaired.set_aside is None and repaired.definition.timezone == "America/New_York"

    report = harness.tick(T0 + timedelta(minutes=2))
    assert sorted(name for name, _ in report.claimed) == sorted([*HEALTHY, "junk", "legacy-zone"])
    assert report.set_aside == []
    restored = [n.message["jobName"] for n in harness.notifier.sent if n.kind is NoticeKind.RESTORED]
    assert sorted(restored) == ["junk", "legacy-zone"]
