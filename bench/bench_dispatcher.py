"""Dispatcher tick cost against the number of registered jobs (moto DynamoDB).

Two tables, one with 10 registered jobs and one with 10,000; in both exactly 5 jobs
are due at each tick. Each tick is timed alone (the workers it hands runs to are run
afterwards, untimed), repeated, and the medians compared: the 10-job table is the
baseline measured in the same run. DynamoDB requests per tick are counted by the
store's botocore hook.

    .venv/bin/python -m bench.bench_dispatcher [--ticks 15]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

DUE = 5
T0 = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)


class EmulatorTimer:
    """Time spent inside moto's DynamoDB backend, per operation.

    moto answers a Query by scanning every item of the table and snapshots whole
    tables for a transaction, so its own time grows with the table whatever the
    client asks; DynamoDB's does not. Subtracting it leaves what this code costs.
    """

    def __init__(self) -> None:
        import functools

        from moto.dynamodb.models import DynamoDBBackend

        from devstack.moto_atomic import OPERATIONS

        self.seconds = 0.0
        self.by_operation: dict[str, float] = {}
        for name in OPERATIONS:
            original = getattr(DynamoDBBackend, name)

            @functools.wraps(original)
            def timed(backend: Any, *args: Any, __original: Any = original, __name: str = name, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return __original(backend, *args, **kwargs)
                finally:
                    spent = time.perf_counter() - started
                    self.seconds += spent
                    self.by_operation[__name] = self.by_operation.get(__name, 0.0) + spent

            setattr(DynamoDBBackend, name, timed)

    def reset(self) -> None:
        self.seconds = 0.0
        self.by_operation = {}


def build(registered: int, suffix: str) -> tuple[Any, Any, Any, Any]:
    from chalicelib.adapters.dynamodb_store import DynamoDBStore
    from chalicelib.bootstrap import build_scheduler
    from chalicelib.core.model import Job, JobDefinition
    from chalicelib.jobs.registry import JobRegistry
    from chalicelib.settings import Settings
    from devstack.tables import create_tables
    from tests.fakes import FakeClock, FakeNotifier, FixedRandom, RecordingInvoker, RecordingMetrics

    settings = Settings(jobs_table=f"bench-jobs-{suffix}", executions_table=f"bench-executions-{suffix}",
                        aws_region="eu-north-1")
    create_tables(settings)
    store = DynamoDBStore(settings.jobs_table, settings.executions_table, settings.aws_region)
    registry = JobRegistry()
    registry.add("noop", lambda ctx: None)
    invoker = RecordingInvoker()
    clock = FakeClock(T0)
    scheduler = build_scheduler(store=store, handlers=registry, make_invoker=lambda _run: invoker, notifier=FakeNotifier(),
                                metrics=RecordingMetrics(), clock=clock, rand=FixedRandom(0.0))
    # The idle majority: yearly jobs, registered through the store so setup stays quick.
    yearly = JobDefinition(job_name="x", cron_expression="0 0 1 1 *", handler="noop")
    next_year = datetime(2027, 1, 1, tzinfo=UTC)
    for index in range(registered - DUE):
        definition = JobDefinition(job_name=f"idle-{index:05d}", cron_expression=yearly.cron_expression, handler="noop")
        store.create_job(Job(definition=definition, created_at=T0, updated_at=T0, next_run_at=next_year))
    for index in range(DUE):
        scheduler.service.register_job(f"due-{index}", "* * * * *", "noop")
    return scheduler.engine, store, invoker, clock


def measure(registered: int, ticks: int, suffix: str, emulator: EmulatorTimer) -> tuple[float, float, float]:
    """Medians of (wall time, wall time less moto's own, requests) per tick."""
    from chalicelib.core.worker_event import WorkerEvent

    engine, store, invoker, clock = build(registered, suffix)
    durations: list[float] = []
    own: list[float] = []
    requests: list[int] = []
    for minute in range(1, ticks + 1):
        now = T0 + timedelta(minutes=minute)
        clock.set(now)
        store.reset_request_count()
        emulator.reset()
        started = time.perf_counter()
        report = engine.dispatcher.tick(now)
        durations.append(time.perf_counter() - started)
        own.append(durations[-1] - emulator.seconds)
        requests.append(store.request_count)
        assert len(report.claimed) == DUE, report
        for job_name, execution_id in invoker.invocations:  # the workers, untimed
            engine.worker.run(WorkerEvent(job_name, execution_id), "bench")
        invoker.invocations.clear()
    return statistics.median(durations[1:]), statistics.median(own[1:]), statistics.median(requests[1:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ticks", type=int, default=15)
    args = parser.parse_args(argv)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-north-1")
    import logging

    logging.disable(logging.INFO)
    from moto import mock_aws

    with mock_aws():
        emulator = EmulatorTimer()
        small = measure(10, args.ticks, "small", emulator)
        large = measure(10_000, args.ticks, "large", emulator)
    for label, (wall, own, requests) in (("10 jobs     ", small), ("10,000 jobs ", large)):
        print(f"dispatcher tick, {label}: {requests:.0f} DynamoDB requests/tick; median {own * 1000:6.1f} ms "
              f"without moto's own time ({wall * 1000:7.1f} ms with it)")
    print(f"dispatcher tick: requests/tick {large[2]:.0f} vs {small[2]:.0f} ({DUE} due in each); "
          f"ratio 10,000/10 = {large[1] / small[1]:.2f}x without moto's time (target <= 1.5x), "
          f"{large[0] / small[0]:.2f}x with it (moto scans the table per query and copies it per transaction)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
