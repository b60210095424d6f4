"""The stored form: documents are plain JSON and decode to the value encoded."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib.core.codec import (
    JobRecord,
    execution_from_document,
    execution_to_document,
    job_from_record,
    job_to_record,
    readable_set_aside,
)
from chalicelib.core.model import (
    AlertState,
    ExecutionError,
    ExecutionStatus,
    JobState,
    Lease,
    Notice,
    NoticeKind,
    PendingRetry,
    SetAside,
    Trigger,
)
from chalicelib.core.replay_codec import ReplayRecord, replay_from_record, replay_to_record
from tests.contract.builders import T0, make_execution, make_job
from tests.contract.test_replay_store import make_replay


def _through_json(doc):
    return json.loads(json.dumps(doc))


def job_to_document(job):
    return job_to_record(job).doc


def job_from_document(doc, version=0):
    return job_from_record(JobRecord(doc=doc, version=version, set_aside=None))


def test_the_version_and_the_set_aside_are_beside_the_document_not_in_it():
    held = SetAside("ValueError: no such zone", T0, T0 + timedelta(minutes=5), attempts=2, alerted=True,
                    notified=("team-a",))
    job = make_job(version=12, set_aside=held)
    record = job_to_record(job)
    assert record.version == 12 and not {"version", "set_aside"} & set(record.doc)
    assert record.set_aside == _through_json(record.set_aside)
    assert job_from_record(JobRecord(_through_json(record.doc), 12, _through_json(record.set_aside))) == job


def test_a_record_written_before_the_version_moved_out_of_the_document_still_decodes():
    """Until 2026-12 the document held a copy of the version; the copy is ignored."""
    job = make_job(version=7)
    old_job_doc = {**job_to_record(job).doc, "version": 3}
    assert job_from_record(JobRecord(old_job_doc, 7, None)) == job
    replay = make_replay("nightly-report", "20261128T200000000-0000", version=4)
    old_replay_doc = {**replay_to_record(replay).doc, "version": 1}
    assert replay_from_record(ReplayRecord(old_replay_doc, 4)) == replay


def test_an_unreadable_set_aside_part_reads_as_none_never_raises():
    assert readable_set_aside({"reason": "x"}) is None  # no since, no retry_at
    assert readable_set_aside("not a mapping") is None
    assert readable_set_aside(None) is None


def test_a_minimal_job_round_trips_through_json():
    job = make_job()
    assert job_from_document(_through_json(job_to_document(job))) == job


def test_a_job_with_every_optional_field_round_trips_through_json():
    last = make_execution(
        "nightly-report",
        status=ExecutionStatus.TIMED_OUT,
        trigger=Trigger.MANUAL,
        started_at=T0,
        finished_at=T0 + timedelta(seconds=2),
        duration_ms=2000,
        result=[1, "two", {"three": 3.5}],
        error=ExecutionError("LeaseExpired", "worker vanished"),
        lease_owner="w",
        payload_override={"a": 1},
    )
    job = make_job(
        state=JobState.PAUSED,
        pause_reason="too many failures",
        alert_state=AlertState.ALERTING,
        consecutive_failures=7,
        last_execution=last,
        last_success_at=T0 - timedelta(days=1),
        lease=Lease("x", T0 + timedelta(minutes=1), "w"),
        pending_retry=PendingRetry(T0, 2, T0 + timedelta(minutes=1), {"b": [1]}, "k"),
        outbox=(Notice("n", NoticeKind.RECOVERY, "ok again", {"c": None}, T0),),
        version=12,
    )
    doc = job_to_document(job)
    assert _through_json(doc) == doc
    assert job_from_document(_through_json(doc), version=12) == job


def test_times_keep_microseconds_and_use_iso_z_otherwise():
    precise = make_execution("j", created_at=T0 + timedelta(microseconds=123_456), started_at=T0 + timedelta(milliseconds=7))
    doc = execution_to_document(precise)
    assert doc["created_at"] == "2026-11-28T20:00:00.123456Z"
    assert doc["started_at"] == "2026-11-28T20:00:00.007Z"
    assert doc["scheduled_for"] == "2026-11-28T20:00:00Z"
    assert execution_from_document(_through_json(doc)) == precise


def test_enums_are_stored_by_value():
    doc = job_to_document(make_job(last_execution=make_execution("nightly-report", status=ExecutionStatus.SKIPPED)))
    assert doc["state"] == "active" and doc["alert_state"] == "ok"
    assert doc["last_execution"]["status"] == "skipped" and doc["last_execution"]["trigger"] == "schedule"


def test_an_unknown_schema_version_is_refused():
    doc = job_to_document(make_job())
    with pytest.raises(ValueError):
        job_from_document({**doc, "schema": 99})


def test_decoded_mappings_are_copies():
    payload = {"n": 1}
    job = make_job(definition=replace(make_job().definition, payload=payload))
    doc = job_to_document(job)
    payload["n"] = 2
    assert job_from_document(doc).definition.payload == {"n": 1}
