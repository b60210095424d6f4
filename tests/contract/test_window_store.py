"""The Store contract for maintenance windows and the job fields of issue 17 parts 2-3,
run against every store (memory and DynamoDB on moto).

Every window is in one record read at once; a write lands only at the version read, and
the record is never listed or dispatched as a job.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib.core.errors import ConcurrentUpdate
from chalicelib.core.maintenance import MaintenanceWindow
from chalicelib.core.model import Actor, ExecutionStatus, HeldSlot, JobState
from chalicelib.core.ports import WindowSet

from .builders import T0, make_execution, make_job


def window(window_id: str = "mw-20261128T200000-00000a", **changes) -> MaintenanceWindow:
    value = MaintenanceWindow(window_id=window_id, starts_at=T0 + timedelta(hours=1), ends_at=T0 + timedelta(hours=3),
                              reason="database migration", created_at=T0, jobs=("nightly-report", "other"),
                              run_missed=True, created_by=Actor("ops", "service_role"))
    return replace(value, **changes)


def test_no_windows_were_ever_stored(store):
    assert store.maintenance_windows() == WindowSet((), 0)


def test_windows_are_stored_whole_and_read_back_at_their_version(store):
    windows = [window(), window("mw-20261128T200001-00000b", jobs=(), owner="mentor-team", run_missed=False),
               window("mw-20261128T200002-00000c", jobs=(), all_jobs=True, ended_by=Actor("ops", "service_role"))]
    saved = store.save_maintenance_windows(windows, expected_version=0)
    assert saved == WindowSet(tuple(windows), 1)
    assert store.maintenance_windows() == WindowSet(tuple(windows), 1)
    store.save_maintenance_windows(windows[1:], expected_version=1)
    assert store.maintenance_windows() == WindowSet(tuple(windows[1:]), 2)


def test_a_write_at_a_stale_version_lands_nothing(store):
    store.save_maintenance_windows([window()], expected_version=0)
    with pytest.raises(ConcurrentUpdate):
        store.save_maintenance_windows([], expected_version=0)  # another writer created the record first
    with pytest.raises(ConcurrentUpdate):
        store.save_maintenance_windows([], expected_version=5)
    assert store.maintenance_windows() == WindowSet((window(),), 1)


def test_the_windows_record_is_never_listed_nor_due_as_a_job(store):
    job = make_job()
    store.create_job(job)
    store.save_maintenance_windows([window()], expected_version=0)
    assert [j.name for j in store.list_jobs(limit=10, cursor=None).items] == ["nightly-report"]
    assert [j.name for j in store.due_page(T0 + timedelta(days=30), limit=10).items] == ["nightly-report"]


def test_a_pause_with_an_end_and_a_held_slot_round_trip_and_make_the_job_due(store):
    job = make_job(next_run_at=T0 + timedelta(hours=6))
    store.create_job(job)
    paused = replace(job, state=JobState.PAUSED, paused_until=T0 + timedelta(hours=2))
    store.commit(paused, expected_version=0)
    assert store.get_job(job.name).paused_until == T0 + timedelta(hours=2)
    assert store.due_page(T0 + timedelta(hours=1), limit=10).items == []
    assert [j.name for j in store.due_page(T0 + timedelta(hours=2), limit=10).items] == [job.name]
    held = HeldSlot(T0 + timedelta(minutes=30), "mw-20261128T200000-00000a", T0 + timedelta(hours=1))
    store.commit(replace(paused, state=JobState.ACTIVE, paused_until=None, held_slot=held), expected_version=1)
    stored = store.get_job(job.name)
    assert stored.held_slot == held and stored.paused_until is None
    assert [j.name for j in store.due_page(T0 + timedelta(hours=1), limit=10).items] == [job.name]


def test_a_skipped_executions_reason_round_trips(store):
    job = make_job()
    store.create_job(job)
    skipped = make_execution(job.name, status=ExecutionStatus.SKIPPED, skip_reason="maintenance window mw-x: db")
    store.commit(job, expected_version=0, new_executions=[skipped])
    assert store.get_execution(job.name, skipped.execution_id).skip_reason == "maintenance window mw-x: db"
