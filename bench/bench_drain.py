"""A busy minute: 100, 1,000 and 10,000 jobs due at once, drained by one tick.

Latency model (stated in the output): every store request sleeps 8 ms and every worker
invoke 15 ms, as time.sleep calls that release the GIL, so the figures show the tick's
concurrency rather than the emulator's own work. The store is the in-memory one behind
that model: moto's DynamoDB copies the whole table on every transaction, which would
turn 10,000 claims into hours of emulator time (see README, Figures). Requests per
claimed slot are the store's requests (due pages and commits) over the slots claimed.
"""
from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.adapters.memory_store import MemoryStore
from chalicelib.adapters.metrics import RecordingMetrics
from chalicelib.core.model import Job, JobDefinition
from chalicelib.core.scheduler import SchedulerService
from chalicelib.jobs.registry import JobRegistry

STORE_LATENCY = 0.008
INVOKE_LATENCY = 0.015
TICK_BUDGET_S = 60.0
T0 = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)


class LatencyStore:
    """The memory store with a fixed latency per request, counting requests."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self.requests = 0

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._store, name)
        if not callable(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            time.sleep(STORE_LATENCY)
            with self._lock:
                self.requests += 1
            return target(*args, **kwargs)

        return call


class LatencyInvoker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.invoked: list[float] = []

    def invoke(self, job_name: str, execution_id: str) -> None:
        time.sleep(INVOKE_LATENCY)
        with self._lock:
            self.invoked.append(time.monotonic())


class FixedClock:
    def now(self) -> datetime:
        return T0


class NoRandom:
    def random(self) -> float:
        return 0.0


class QuietNotifier:
    def publish(self, notice: Any) -> None:
        pass


def measure(due: int) -> dict[str, float]:
    memory = MemoryStore(clock=FixedClock())
    for index in range(due):
        definition = JobDefinition(job_name=f"nightly-{index:05d}", cron_expression="0 2 * * *", handler="noop",
                                   timezone="Europe/Oslo")
        memory.create_job(Job(definition=definition, created_at=T0 - timedelta(days=1),
                              updated_at=T0 - timedelta(days=1), next_run_at=T0))
    store, invoker = LatencyStore(memory), LatencyInvoker()
    registry = JobRegistry()
    registry.add("noop", lambda ctx: None)
    import logging

    quiet = logging.getLogger("bench.drain")
    quiet.setLevel(logging.ERROR)
    service = SchedulerService(store=store, jobs=registry, invoker=invoker, notifier=QuietNotifier(),  # type: ignore[arg-type]
                               metrics=RecordingMetrics(), clock=FixedClock(), rand=NoRandom(), logger=quiet,
                               dispatch_concurrency=16)
    started = time.monotonic()
    report = service.dispatch(T0, remaining_ms=lambda: int((TICK_BUDGET_S - (time.monotonic() - started)) * 1000))
    wall = time.monotonic() - started
    within = sum(1 for t in invoker.invoked if t - started <= TICK_BUDGET_S)
    claimed = len(report.claimed)
    return {"due": due, "claimed": claimed, "handed_off_60s": within, "wall_s": wall,
            "requests_per_slot": store.requests / claimed if claimed else float("nan"), "pages": report.pages}


def main(argv: list[str]) -> int:
    print(f"latency model: {STORE_LATENCY * 1000:.0f} ms per store request, {INVOKE_LATENCY * 1000:.0f} ms per invoke "
          f"(GIL-releasing sleeps); 16 claims in flight; tick budget {TICK_BUDGET_S:.0f} s")
    print(f"{'due':>7} {'claimed':>8} {'handed off <=60s':>17} {'drain wall':>11} {'req/slot':>9} {'pages':>6}")
    ok = True
    results = [measure(n) for n in (100, 1_000, 10_000)]
    for r in results:
        print(f"{r['due']:>7} {r['claimed']:>8} {r['handed_off_60s']:>17} {r['wall_s']:>10.1f}s "
              f"{r['requests_per_slot']:>9.2f} {r['pages']:>6}")
    biggest = results[-1]
    ok = biggest["handed_off_60s"] == biggest["due"] and all(r["requests_per_slot"] <= 2.1 for r in results)
    base = results[0]["wall_s"] / results[0]["due"]
    print("wall time per slot vs the 100-job baseline: "
          + ", ".join(f"{r['due']}: {r['wall_s'] / r['due'] / base:.2f}x" for r in results))
    print("targets: all 10,000 handed off within one tick's budget; at most 2 requests per slot plus a constant: "
          + ("met" if ok else "NOT MET"))
    return 0 if ok else 1


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
