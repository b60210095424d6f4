"""The callers' manual-trigger budget, on every store (``store`` is parametrised in conftest.py).

The count is kept in the store so that every API instance shares it: an atomic counter
per caller and minute, forgotten after its expiry.
"""
from __future__ import annotations

import threading
from datetime import timedelta

from .builders import T0

KEPT = timedelta(minutes=2)


def take(store, caller: str, minute=T0, per_minute: int = 3) -> bool:
    return store.take_trigger_budget(caller, minute, per_minute=per_minute, expires_at=minute + KEPT)


def test_a_caller_gets_its_budget_for_the_minute_and_no_more(store):
    assert [take(store, "alice") for _ in range(5)] == [True, True, True, False, False]


def test_callers_and_minutes_have_budgets_of_their_own(store):
    for _ in range(3):
        assert take(store, "alice")
    assert not take(store, "alice")
    assert take(store, "bob")
    assert take(store, "alice", minute=T0 + timedelta(minutes=1))


def test_concurrent_triggers_of_one_caller_take_exactly_the_budget(store):
    """As from several API instances at once: the count is atomic in the store."""
    barrier = threading.Barrier(12)
    results: list[bool] = []
    lock = threading.Lock()

    def one() -> None:
        barrier.wait(5)
        taken = take(store, "burst", per_minute=5)
        with lock:
            results.append(taken)

    threads = [threading.Thread(target=one) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(results) == [False] * 7 + [True] * 5


def test_a_long_caller_id_is_counted_like_any_other(store):
    caller = "sub-" + "x" * 3000
    assert [take(store, caller, per_minute=1) for _ in range(2)] == [True, False]
    assert take(store, caller + "y", per_minute=1)


def test_the_dynamodb_count_carries_the_tables_ttl(dynamodb_store, settings):
    import boto3

    assert take(dynamodb_store, "alice")
    table = boto3.resource("dynamodb", region_name=settings.aws_region).Table(settings.executions_table)
    [item] = [i for i in table.scan()["Items"] if str(i["jobName"]).startswith("#trigger-budget#")]
    assert item["jobName"] == "#trigger-budget#alice" and int(item["spent"]) == 1
    assert int(item["expiresAt"]) == int((T0 + KEPT).timestamp())
