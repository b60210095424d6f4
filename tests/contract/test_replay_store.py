"""The Store contract for replays, run against every store (memory and DynamoDB on moto).

A replay is written only by ``commit``, with its job, on condition of its own version;
it is read back whole, listed newest first, and outlives its job like executions do.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib.core.errors import ConcurrentUpdate, InvalidCursor
from chalicelib.core.model import ExecutionStatus, ReplayCursor, Trigger, execution_id_for
from chalicelib.core.ports import IdempotencyRecord, ReplayUpdate
from chalicelib.core.replays import LeftOut, Replay, ReplaySelection, ReplaySlot, ReplayStatus, SlotState

from .builders import T0, make_execution, make_job


def make_replay(job_name: str, replay_id: str, **changes) -> Replay:
    replay = Replay(
        replay_id=replay_id, job_name=job_name, window_from=T0 - timedelta(days=3), window_to=T0,
        only=ReplaySelection.FAILED, max_runs=None,
        slots=(ReplaySlot(T0 - timedelta(days=2, hours=18)),
               ReplaySlot(T0 - timedelta(days=1, hours=18), SlotState.DONE, "x-a01", ExecutionStatus.SUCCEEDED)),
        left_out=(LeftOut(T0 - timedelta(hours=18), "already-succeeded", "already succeeded"),),
        status=ReplayStatus.ACTIVE, created_at=T0, updated_at=T0, job_created_at=T0 - timedelta(days=30),
        idempotency_key="k1", expires_at=T0 + timedelta(days=90),
    )
    return replace(replay, **changes)


def test_a_replay_is_written_with_its_job_and_read_back_whole(store):
    job = make_job()
    store.create_job(job)
    replay = make_replay(job.name, "20261128T200000000-0000")
    cursor = ReplayCursor(replay.replay_id, due_at=T0)
    stored = store.commit(replace(job, replay=cursor), expected_version=0, replay=ReplayUpdate(replay, None))
    assert stored.replay == cursor and store.get_job(job.name).replay == cursor
    assert store.get_replay(job.name, replay.replay_id) == replace(replay, version=1)
    assert store.get_replay(job.name, "20261128T200000000-0001") is None
    assert store.get_replay("other-job", replay.replay_id) is None


def test_a_replay_write_lands_only_at_the_version_read_and_takes_the_job_with_it(store):
    job = make_job()
    store.create_job(job)
    replay = make_replay(job.name, "20261128T200000000-0000")
    job = store.commit(job, expected_version=0, replay=ReplayUpdate(replay, None))
    with pytest.raises(ConcurrentUpdate):  # a second create of the same replay
        store.commit(job, expected_version=job.version, replay=ReplayUpdate(replay, None))
    running = replace(replay, slots=(replace(replay.slots[0], state=SlotState.RUNNING),) + replay.slots[1:])
    with pytest.raises(ConcurrentUpdate):  # a stale version: nothing is written, the job neither
        store.commit(replace(job, pause_reason="x"), expected_version=job.version, replay=ReplayUpdate(running, 7))
    assert store.get_job(job.name).version == job.version and store.get_job(job.name).pause_reason is None
    assert store.get_replay(job.name, replay.replay_id).version == 1
    store.commit(job, expected_version=job.version, replay=ReplayUpdate(running, 1))
    assert store.get_replay(job.name, replay.replay_id) == replace(running, version=2)


def test_replays_list_newest_first_page_by_page_and_only_the_jobs_own(store):
    job, other = make_job(), make_job("other-job")
    store.create_job(job)
    store.create_job(other)
    ids = [f"20261128T2000{n:02d}000-0000" for n in range(3)]
    for replay_id in ids:
        job = store.commit(job, expected_version=job.version, replay=ReplayUpdate(make_replay(job.name, replay_id), None))
    store.commit(other, expected_version=0, replay=ReplayUpdate(make_replay(other.name, "20261128T210000000-0000"), None))
    seen, cursor = [], None
    while True:
        page = store.list_replays(job.name, limit=2, cursor=cursor)
        seen.extend(r.replay_id for r in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == list(reversed(ids))
    assert store.list_replays("nobody", limit=5, cursor=None).items == []
    with pytest.raises(InvalidCursor):  # a token for another job's listing
        store.list_replays(other.name, limit=2, cursor=store.list_replays(job.name, limit=1, cursor=None).next_cursor)


def test_replays_stay_out_of_the_executions_listing_and_outlive_their_job(store):
    job = make_job()
    store.create_job(job)
    execution = make_execution(job.name)
    job = store.commit(job, expected_version=0, new_executions=[execution],
                       replay=ReplayUpdate(make_replay(job.name, "20261128T200000000-0000"), None))
    assert [e.execution_id for e in store.list_executions(job.name, limit=10, cursor=None).items] == [
        execution.execution_id]
    store.delete_job(job.name)
    assert store.get_replay(job.name, "20261128T200000000-0000") is not None


def test_a_replays_executions_keep_their_replay_id_and_a_replay_request_key_names_the_replay(store):
    job = make_job()
    store.create_job(job)
    slot = T0 - timedelta(days=2)
    run = make_execution(job.name, slot, execution_id=execution_id_for(slot, 1, "r1"), trigger=Trigger.REPLAY,
                         replay_id="r1")
    record = IdempotencyRecord(job.name, "replay:abc", "r1", T0 + timedelta(hours=24))
    store.commit(job, expected_version=0, new_executions=[run], idempotency=record,
                 replay=ReplayUpdate(make_replay(job.name, "r1"), None))
    assert store.get_execution(job.name, run.execution_id) == run
    assert run.execution_id == "20261126T200000000Z-rr1-a01"
    assert store.find_idempotency(job.name, "replay:abc", T0) == record
