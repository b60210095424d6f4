"""The Store contract (chalicelib/core/ports.py), run against every store.

``store`` is parametrised in conftest.py: the in-memory store and the DynamoDB store
on moto. A behaviour belongs here when callers may rely on it whichever store they have.
"""
from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib.core.cursor import DUE_TOKEN_LENGTH, decode_cursor
from chalicelib.core.errors import ConcurrentUpdate, InvalidCursor, JobAlreadyExists, JobNotFound
from chalicelib.core.model import (
    AlertState,
    ExecutionError,
    ExecutionStatus,
    JobDefinition,
    JobState,
    Lease,
    Notice,
    NoticeKind,
    PendingRetry,
    RetryPolicy,
    Trigger,
)
from chalicelib.core.ports import ExecutionUpdate, IdempotencyRecord

from .builders import T0, make_execution, make_job

# --- create / get / delete ---------------------------------------------------------------


def test_a_created_job_reads_back_equal(store):
    job = make_job()
    store.create_job(job)
    assert store.get_job(job.name) == job


def test_an_unknown_job_reads_as_none(store):
    assert store.get_job("no-such-job") is None


def test_creating_a_taken_name_raises_and_keeps_the_original(store):
    original = make_job()
    store.create_job(original)
    with pytest.raises(JobAlreadyExists):
        store.create_job(replace(original, definition=replace(original.definition, handler="other")))
    assert store.get_job(original.name) == original


def test_deleting_a_job_keeps_its_executions(store):
    job = make_job()
    store.create_job(job)
    execution = make_execution(job.name)
    store.commit(job, expected_version=0, new_executions=[execution])

    store.delete_job(job.name)

    assert store.get_job(job.name) is None
    assert store.get_execution(job.name, execution.execution_id) == execution
    assert store.list_executions(job.name, limit=10, cursor=None).items == [execution]
    assert store.due_page(T0 + timedelta(days=1), limit=10).items == []


def test_deleting_an_unknown_job_raises_job_not_found(store):
    with pytest.raises(JobNotFound):
        store.delete_job("no-such-job")


# --- commit --------------------------------------------------------------------------------


def test_commit_replaces_the_job_and_bumps_its_version(store):
    job = make_job()
    store.create_job(job)
    changed = replace(job, consecutive_failures=2, updated_at=T0 + timedelta(minutes=1))

    stored = store.commit(changed, expected_version=0)

    assert stored == replace(changed, version=1)
    assert store.get_job(job.name) == stored
    assert store.commit(stored, expected_version=1).version == 2


def test_commit_inserts_new_executions_with_the_job(store):
    job = make_job()
    store.create_job(job)
    first, retry = make_execution(job.name), make_execution(job.name, attempt=2, trigger=Trigger.RETRY)

    store.commit(job, expected_version=0, new_executions=[first, retry])

    assert store.get_execution(job.name, first.execution_id) == first
    assert store.get_execution(job.name, retry.execution_id) == retry


def test_a_stale_version_raises_and_writes_nothing(store):
    job = make_job()
    store.create_job(job)
    current = store.commit(replace(job, consecutive_failures=1), expected_version=0)
    execution = make_execution(job.name)
    record = IdempotencyRecord(job.name, "key-1", execution.execution_id, T0 + timedelta(hours=24))

    with pytest.raises(ConcurrentUpdate):
        store.commit(
            replace(job, consecutive_failures=9),
            expected_version=0,
            new_executions=[execution],
            idempotency=record,
        )

    assert store.get_job(job.name) == current
    assert store.get_execution(job.name, execution.execution_id) is None
    assert store.find_idempotency(job.name, "key-1", T0) is None


def test_commit_never_recreates_a_deleted_job(store):
    job = make_job()
    store.create_job(job)
    store.delete_job(job.name)

    with pytest.raises(ConcurrentUpdate):
        store.commit(job, expected_version=0, new_executions=[make_execution(job.name)])

    assert store.get_job(job.name) is None
    assert store.list_executions(job.name, limit=10, cursor=None).items == []


def test_claiming_an_existing_execution_id_raises_and_writes_nothing(store):
    job = make_job()
    store.create_job(job)
    execution = make_execution(job.name)
    stored = store.commit(job, expected_version=0, new_executions=[execution])
    duplicate = replace(execution, trigger=Trigger.MANUAL, status=ExecutionStatus.RUNNING)

    with pytest.raises(ConcurrentUpdate):
        store.commit(replace(stored, consecutive_failures=5), expected_version=1, new_executions=[duplicate])

    assert store.get_job(job.name) == stored
    assert store.get_execution(job.name, execution.execution_id) == execution


def _job_with_running_execution(store, owner: str | None):
    job = make_job()
    store.create_job(job)
    execution = make_execution(job.name, status=ExecutionStatus.RUNNING, lease_owner=owner)
    stored = store.commit(job, expected_version=0, new_executions=[execution])
    return stored, execution


@pytest.mark.parametrize(
    "expected_status, expected_owner",
    [
        (ExecutionStatus.QUEUED, "worker-1"),  # wrong status
        (ExecutionStatus.RUNNING, "worker-2"),  # lease taken over by another worker
        (ExecutionStatus.RUNNING, None),  # caller thinks nobody owns it
    ],
)
def test_an_execution_update_whose_condition_fails_raises_and_writes_nothing(store, expected_status, expected_owner):
    stored, execution = _job_with_running_execution(store, owner="worker-1")
    finished = replace(execution, status=ExecutionStatus.SUCCEEDED, lease_owner=None)

    with pytest.raises(ConcurrentUpdate):
        store.commit(
            replace(stored, consecutive_failures=0, last_execution=finished),
            expected_version=1,
            execution_updates=[ExecutionUpdate(finished, expected_status, expected_owner)],
        )

    assert store.get_job(stored.name) == stored
    assert store.get_execution(stored.name, execution.execution_id) == execution


def test_an_execution_update_lands_when_status_and_owner_match(store):
    stored, execution = _job_with_running_execution(store, owner="worker-1")
    finished = replace(execution, status=ExecutionStatus.SUCCEEDED, lease_owner=None, result={"paused": 2})

    store.commit(
        replace(stored, last_execution=finished),
        expected_version=1,
        execution_updates=[ExecutionUpdate(finished, ExecutionStatus.RUNNING, "worker-1")],
    )

    assert store.get_execution(stored.name, execution.execution_id) == finished


def test_an_execution_of_a_cancelled_job_is_updated_on_its_own_condition(store):
    stored, execution = _job_with_running_execution(store, owner="worker-1")
    store.delete_job(stored.name)
    finished = replace(execution, status=ExecutionStatus.FAILED, error=ExecutionError("JobCancelled", "gone"))
    with pytest.raises(ConcurrentUpdate):
        store.update_execution(ExecutionUpdate(finished, ExecutionStatus.RUNNING, "worker-2"))
    assert store.get_execution(stored.name, execution.execution_id) == execution
    store.update_execution(ExecutionUpdate(finished, ExecutionStatus.RUNNING, "worker-1"))
    assert store.get_execution(stored.name, execution.execution_id) == finished


def test_an_unowned_execution_is_updated_by_expecting_no_owner(store):
    stored, execution = _job_with_running_execution(store, owner=None)
    started = replace(execution, lease_owner="worker-7")

    store.commit(
        stored,
        expected_version=1,
        execution_updates=[ExecutionUpdate(started, ExecutionStatus.RUNNING, None)],
    )

    assert store.get_execution(stored.name, execution.execution_id) == started


def test_updating_an_execution_that_does_not_exist_raises(store):
    job = make_job()
    store.create_job(job)
    ghost = make_execution(job.name)

    with pytest.raises(ConcurrentUpdate):
        store.commit(job, expected_version=0, execution_updates=[ExecutionUpdate(ghost, ExecutionStatus.QUEUED)])

    assert store.get_execution(job.name, ghost.execution_id) is None


def test_eight_concurrent_claims_of_one_version_have_exactly_one_winner(store):
    job = make_job()
    store.create_job(job)
    contenders = 8
    start = threading.Barrier(contenders)
    winners: list[str] = []
    losers: list[str] = []
    record = threading.Lock()

    def claim(worker: int) -> None:
        owner = f"dispatcher-{worker}"
        execution = make_execution(job.name, attempt=worker + 1, lease_owner=owner)
        claimed = replace(job, lease=Lease(execution.execution_id, T0 + timedelta(minutes=10), owner))
        start.wait()
        try:
            store.commit(claimed, expected_version=0, new_executions=[execution])
        except ConcurrentUpdate:
            with record:
                losers.append(owner)
        else:
            with record:
                winners.append(owner)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(winners) == 1 and len(losers) == contenders - 1
    stored = store.get_job(job.name)
    assert stored.version == 1 and stored.lease.owner == winners[0]
    executions = store.list_executions(job.name, limit=20, cursor=None).items
    assert [e.lease_owner for e in executions] == winners


def test_a_commit_touching_one_execution_twice_is_refused(store):
    job = make_job()
    store.create_job(job)
    execution = make_execution(job.name)
    with pytest.raises(ValueError):
        store.commit(job, expected_version=0, new_executions=[execution, execution])
    assert store.get_job(job.name) == job


# --- idempotency ---------------------------------------------------------------------------


def _bind(store, job, key: str, *, version: int, expires_at, attempt: int = 1):
    execution = make_execution(job.name, attempt=attempt, trigger=Trigger.MANUAL)
    record = IdempotencyRecord(job.name, key, execution.execution_id, expires_at)
    stored = store.commit(job, expected_version=version, new_executions=[execution], idempotency=record)
    return stored, record


def test_a_bound_idempotency_key_is_found_until_it_expires(store):
    job = make_job()
    store.create_job(job)
    expires = T0 + timedelta(hours=24)
    _, record = _bind(store, job, "req-1", version=0, expires_at=expires)

    assert store.find_idempotency(job.name, "req-1", T0) == record
    assert store.find_idempotency(job.name, "req-1", expires - timedelta(milliseconds=1)) == record
    assert store.find_idempotency(job.name, "req-1", expires) is None
    assert store.find_idempotency(job.name, "other-key", T0) is None
    assert store.find_idempotency("other-job", "req-1", T0) is None


def test_binding_a_bound_key_again_raises_and_writes_nothing(store):
    job = make_job()
    store.create_job(job)
    stored, record = _bind(store, job, "req-1", version=0, expires_at=T0 + timedelta(hours=24))
    second = make_execution(job.name, attempt=2, trigger=Trigger.MANUAL)

    with pytest.raises(ConcurrentUpdate):
        store.commit(
            stored,
            expected_version=1,
            new_executions=[second],
            idempotency=IdempotencyRecord(job.name, "req-1", second.execution_id, T0 + timedelta(hours=25)),
        )

    assert store.find_idempotency(job.name, "req-1", T0) == record
    assert store.get_execution(job.name, second.execution_id) is None
    assert store.get_job(job.name) == stored


def test_an_expired_key_can_be_bound_again(store, clock):
    job = make_job()
    store.create_job(job)
    stored, _ = _bind(store, job, "req-1", version=0, expires_at=T0 + timedelta(hours=24))
    clock.advance(hours=25)
    later = T0 + timedelta(hours=25)

    _, rebound = _bind(store, stored, "req-1", version=1, expires_at=later + timedelta(hours=24), attempt=2)

    assert store.find_idempotency(job.name, "req-1", later) == rebound


def test_a_key_bound_for_a_fraction_of_a_second_more_cannot_be_bound_again(store, clock):
    job = make_job()
    store.create_job(job)
    expires = T0 + timedelta(hours=24, milliseconds=500)
    stored, record = _bind(store, job, "req-1", version=0, expires_at=expires)
    clock.advance(hours=24, milliseconds=200)

    with pytest.raises(ConcurrentUpdate):
        _bind(store, stored, "req-1", version=1, expires_at=expires + timedelta(hours=24), attempt=2)

    assert store.find_idempotency(job.name, "req-1", clock.now()) == record


# --- due jobs --------------------------------------------------------------------------------


def test_due_jobs_are_those_due_by_now_earliest_first(store):
    for name, hours in [("c-job", 3), ("a-job", 1), ("later-job", 30), ("b-job", 2)]:
        store.create_job(make_job(name, next_run_at=T0 + timedelta(hours=hours)))
    store.create_job(make_job("exact-job", next_run_at=T0 + timedelta(hours=4)))

    due = store.due_page(T0 + timedelta(hours=4), limit=10).items

    assert [j.name for j in due] == ["a-job", "b-job", "c-job", "exact-job"]
    assert store.due_page(T0, limit=10).items == []


def test_due_jobs_returns_at_most_limit_earliest_first(store):
    for i in range(6):
        store.create_job(make_job(f"job-{i}", next_run_at=T0 + timedelta(minutes=10 - i)))

    due = store.due_page(T0 + timedelta(hours=1), limit=3).items

    assert [j.name for j in due] == ["job-5", "job-4", "job-3"]


def test_a_paused_job_without_other_work_is_not_due(store):
    store.create_job(make_job("paused-job", state=JobState.PAUSED, next_run_at=T0))
    assert store.due_page(T0 + timedelta(days=1), limit=10).items == []


@pytest.mark.parametrize(
    "work",
    [
        {"lease": Lease("20261128T200000000Z-a01", T0 + timedelta(minutes=5))},
        {"pending_retry": PendingRetry(T0, 2, T0 + timedelta(minutes=5))},
        {"outbox": (Notice("n-1", NoticeKind.ALERT, "failing", {"failures": 3}, T0 + timedelta(minutes=5)),)},
    ],
    ids=["lease-expiry", "pending-retry", "outbox"],
)
def test_a_paused_job_with_other_work_is_due_when_that_work_is(store, work):
    job = make_job("paused-job", state=JobState.PAUSED, next_run_at=T0, **work)
    store.create_job(job)

    assert store.due_page(T0 + timedelta(minutes=4), limit=10).items == []
    assert store.due_page(T0 + timedelta(minutes=5), limit=10).items == [job]


def test_a_job_whose_work_is_done_leaves_the_due_index(store):
    job = make_job(next_run_at=T0)
    store.create_job(job)
    assert store.due_page(T0, limit=10).items == [job]

    store.commit(replace(job, next_run_at=None), expected_version=0)

    assert store.due_page(T0 + timedelta(days=365), limit=10).items == []


def test_a_job_moves_in_the_due_index_when_its_due_time_changes(store):
    store.create_job(make_job("first", next_run_at=T0 + timedelta(minutes=1)))
    second = make_job("second", next_run_at=T0 + timedelta(minutes=2))
    store.create_job(second)

    store.commit(replace(second, next_run_at=T0), expected_version=0)

    assert [j.name for j in store.due_page(T0 + timedelta(minutes=5), limit=10).items] == ["second", "first"]


def test_due_times_with_microseconds_are_ordered_exactly(store):
    store.create_job(make_job("late", next_run_at=T0 + timedelta(microseconds=900)))
    store.create_job(make_job("early", next_run_at=T0 + timedelta(microseconds=100)))

    assert [j.name for j in store.due_page(T0 + timedelta(microseconds=500), limit=10).items] == ["early"]
    assert [j.name for j in store.due_page(T0 + timedelta(seconds=1), limit=10).items] == ["early", "late"]


# --- listings --------------------------------------------------------------------------------


def test_list_jobs_pages_through_every_job_once(store):
    names = {f"job-{i:02d}" for i in range(25)}
    for name in names:
        store.create_job(make_job(name))

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = store.list_jobs(limit=10, cursor=cursor)
        assert len(page.items) <= 10
        seen += [job.name for job in page.items]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
        assert pages < 10, "pagination does not end"

    assert sorted(seen) == sorted(names)
    assert pages >= 3


@pytest.mark.parametrize("mangle", ["flip-a-character", "truncate", "garbage", "too-long"])
def test_list_jobs_refuses_a_cursor_it_did_not_issue(store, mangle):
    for i in range(3):
        store.create_job(make_job(f"job-{i}"))
    cursor = store.list_jobs(limit=1, cursor=None).next_cursor
    assert cursor is not None
    bad = {
        "flip-a-character": cursor[:5] + ("A" if cursor[5] != "A" else "B") + cursor[6:],
        "truncate": cursor[:-3],
        "garbage": "not-a-token",
        "too-long": cursor + "A" * 2000,
    }[mangle]

    with pytest.raises(InvalidCursor):
        store.list_jobs(limit=1, cursor=bad)


def test_list_executions_pages_newest_first_over_one_job_only(store):
    job, other = make_job("job-a"), make_job("job-b")
    store.create_job(job)
    store.create_job(other)
    slots = [T0 + timedelta(days=d) for d in range(4)]
    executions = [make_execution(job.name, slot, attempt) for slot in slots for attempt in (1, 2)]
    version = 0
    for execution in executions:
        store.commit(job, expected_version=version, new_executions=[execution])
        version += 1
    store.commit(other, expected_version=0, new_executions=[make_execution(other.name, slots[-1] + timedelta(days=1))])
    # an idempotency record lives next to the executions; it is not one
    store.commit(
        job,
        expected_version=version,
        idempotency=IdempotencyRecord(job.name, "req-1", executions[0].execution_id, T0 + timedelta(days=9)),
    )

    listed = []
    cursor = None
    for _ in range(10):
        page = store.list_executions(job.name, limit=3, cursor=cursor)
        assert len(page.items) <= 3
        listed += page.items
        cursor = page.next_cursor
        if cursor is None:
            break

    newest_first = sorted(executions, key=lambda e: (e.scheduled_for, e.attempt), reverse=True)
    assert listed == newest_first


def test_list_executions_refuses_another_jobs_cursor(store):
    for name in ("job-a", "job-b"):
        job = make_job(name)
        store.create_job(job)
        store.commit(
            job, expected_version=0,
            new_executions=[make_execution(name, T0), make_execution(name, T0 + timedelta(days=1))],
        )
    cursor = store.list_executions("job-a", limit=1, cursor=None).next_cursor
    assert cursor is not None

    with pytest.raises(InvalidCursor):
        store.list_executions("job-b", limit=1, cursor=cursor)
    with pytest.raises(InvalidCursor):
        store.list_jobs(limit=1, cursor=cursor)


def test_a_job_without_executions_lists_none(store):
    store.create_job(make_job())
    page = store.list_executions("nightly-report", limit=5, cursor=None)
    assert page.items == [] and page.next_cursor is None


# --- the stored form -------------------------------------------------------------------------


def test_a_job_with_every_field_set_round_trips(store):
    last = make_execution(
        "full-job",
        trigger=Trigger.RETRY,
        attempt=2,
        status=ExecutionStatus.FAILED,
        payload_override={"dryRun": True, "limit": 5, "ratio": 0.25},
        started_at=T0 + timedelta(seconds=1, microseconds=412_000),
        finished_at=T0 + timedelta(seconds=3, microseconds=20_123),
        duration_ms=2608,
        result={"paused": 2, "names": ["a", "b"], "nested": {"x": None, "empty": ""}},
        error=ExecutionError("TimeoutError", "upstream took too long"),
        lease_owner="worker-9",
    )
    job = make_job(
        "full-job",
        definition=JobDefinition(
            job_name="full-job",
            cron_expression="30 1,13 * * 1-5",
            handler="http-request",
            timezone="Europe/Oslo",
            payload={"url": "https://example.org/hook", "headers": {"x": "1"}, "retries": [1, 2.5]},
            retry=RetryPolicy(max_attempts=5, initial_delay_seconds=30, max_delay_seconds=600),
            timeout_seconds=120,
            alert_after_failures=2,
            misfire_grace_seconds=600,
            pause_after_failures=10,
            description="Calls the hook",
        ),
        state=JobState.PAUSED,
        pause_reason="maintenance",
        next_run_at=T0 + timedelta(hours=5),
        consecutive_failures=4,
        alert_state=AlertState.ALERTING,
        last_execution=last,
        last_success_at=T0 - timedelta(days=2),
        lease=Lease("20261128T200000000Z-a03", T0 + timedelta(minutes=11), "worker-9"),
        pending_retry=PendingRetry(T0, 3, T0 + timedelta(minutes=2), {"dryRun": False}, "full-job@2026-11-28T20:00:00Z"),
        outbox=(
            Notice("n-1", NoticeKind.ALERT, "full-job failing", {"failures": 4, "last": "TimeoutError"}, T0),
            Notice("n-2", NoticeKind.RECOVERY, "full-job recovered", {}, T0 + timedelta(seconds=1)),
        ),
    )
    store.create_job(job)
    assert store.get_job(job.name) == job

    committed = store.commit(job, expected_version=0, new_executions=[last])
    assert store.get_job(job.name) == committed == replace(job, version=1)
    assert store.get_execution(job.name, last.execution_id) == last
    assert store.due_page(T0 + timedelta(hours=1), limit=1).items == [committed]


def test_due_pages_give_every_due_job_once_oldest_first_ties_included(store):
    # 25 due jobs, 12 of them at the very same instant (a busy 02:00): three pages of 10.
    for index in range(25):
        due = T0 if index < 12 else T0 + timedelta(seconds=index)
        store.create_job(make_job(f"job-{index:02d}", next_run_at=due))
    store.create_job(make_job("later", next_run_at=T0 + timedelta(hours=1)))
    seen, cursor, pages = [], None, 0
    while True:
        page = store.due_page(T0 + timedelta(minutes=1), limit=10, cursor=cursor)
        seen.extend(page.items)
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == 3 and len(seen) == 25 and len({j.name for j in seen}) == 25
    dues = [j.due_at for j in seen]
    assert dues == sorted(dues) and "later" not in {j.name for j in seen}


def test_a_due_page_stays_right_while_the_jobs_it_gave_are_committed(store):
    """The dispatcher commits each job of a page (moving its entry) before reading the next."""
    for index in range(15):
        store.create_job(make_job(f"job-{index:02d}", next_run_at=T0))
    first = store.due_page(T0, limit=10)
    for job in first.items:
        store.commit(replace(job, next_run_at=T0 + timedelta(days=1)), expected_version=job.version)
    rest = store.due_page(T0, limit=10, cursor=first.next_cursor)
    assert sorted(j.name for j in first.items + rest.items) == [f"job-{i:02d}" for i in range(15)]


@pytest.mark.parametrize("mangle", ["flip-a-character", "truncate", "garbage", "another-listing"])
def test_a_due_page_token_is_the_checksummed_token_every_listing_uses(store, mangle):
    """The due index pages with the same token format as the API's listings: an edited,
    cut or foreign token is refused, never read as a position."""
    for index in range(3):
        store.create_job(make_job(f"job-{index}", next_run_at=T0))
    cursor = store.due_page(T0, limit=1).next_cursor
    assert cursor is not None and decode_cursor(cursor, max_length=DUE_TOKEN_LENGTH)["k"] == "due"
    bad = {
        "flip-a-character": cursor[:5] + ("A" if cursor[5] != "A" else "B") + cursor[6:],
        "truncate": cursor[:-3],
        "garbage": "not-a-token",
        "another-listing": store.list_jobs(limit=1, cursor=None).next_cursor,
    }[mangle]

    with pytest.raises(InvalidCursor):
        store.due_page(T0, limit=1, cursor=bad)
