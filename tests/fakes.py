"""Fakes for the service's ports (cosmicpython style: fakes, not mocks)."""
from __future__ import annotations

import dataclasses
import threading
from datetime import datetime, timedelta
from typing import Any, Callable

from chalicelib.adapters.invoker import InlineInvoker
from chalicelib.adapters.memory_store import MemoryStore
from chalicelib.bootstrap import build_scheduler
from chalicelib.core.errors import NotifierUnavailable
from chalicelib.core.model import UTC, Notice
from chalicelib.core.worker_event import WorkerEvent
from chalicelib.jobs.registry import JobRegistry


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment

    def advance(self, **delta: float) -> datetime:
        with self._lock:
            self._now = self._now + timedelta(**delta)
            return self._now


class RecordingInvoker:
    """Remembers invocations without running them: a worker that never starts."""

    def __init__(self) -> None:
        self.invocations: list[tuple[str, str]] = []

    def invoke(self, event: WorkerEvent, *, manual: bool = False) -> None:
        self.invocations.append((event.job_name, event.execution_id))


class FixedRandom:
    def __init__(self, value: float = 0.0) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


class FakeNotifier:
    """Records what was published; ``failing`` makes every publish raise."""

    def __init__(self) -> None:
        self.sent: list[Notice] = []
        self.failing = False
        self.failing_channels: set[str] = set()
        self.delivered: list[tuple[str, str | None]] = []  # (noticeId, channel name; None: the stack's topic)
        self.attempts = 0

    def publish(self, notice: Notice, channel: Any = None) -> None:
        """``channel``: a job's channel (``failing_channels`` names those that fail)."""
        self.attempts += 1
        if self.failing or (channel is not None and channel.name in self.failing_channels):
            raise NotifierUnavailable("fake SNS is down")
        self.sent.append(notice)
        self.delivered.append((notice.notice_id, None if channel is None else channel.name))

    def kinds(self) -> list[str]:
        return [n.kind.value for n in self.sent]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


class Harness:
    """The API service and the engine on the memory store with a fake clock, notifier and metrics."""

    def __init__(self, start: datetime, *, inline: bool = True, store: Any = None, registry: JobRegistry | None = None,
                 notifier: Any = None) -> None:
        self.clock = FakeClock(start)
        self.store = store if store is not None else MemoryStore(clock=self.clock)
        self.notifier = notifier if notifier is not None else FakeNotifier()
        self.metrics = RecordingMetrics()
        self.registry = registry or JobRegistry()
        scheduler = build_scheduler(
            store=self.store, handlers=self.registry, make_invoker=InlineInvoker if inline else lambda _run: RecordingInvoker(),
            notifier=self.notifier, metrics=self.metrics, clock=self.clock, rand=FixedRandom(0.0), lease_margin_seconds=60,
        )
        self.service = scheduler.service
        self.engine = scheduler.engine
        self.invoker: Any = scheduler.invoker

    def handler(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.registry.handler(name)

    def tick(self, moment: datetime | None = None) -> Any:
        if moment is not None:
            self.clock.set(moment)
        return self.engine.dispatcher.tick(self.clock.now())

    def executions(self, job_name: str) -> list[Any]:
        out: list[Any] = []
        cursor = None
        while True:
            page = self.store.list_executions(job_name, limit=100, cursor=cursor)
            out.extend(page.items)
            if not page.next_cursor:
                return out
            cursor = page.next_cursor


def rendezvous_commits(store: Any, parties: int, timeout: float = 5.0) -> None:
    """Make the first ``commit`` of each of ``parties`` threads wait for all the others.

    Threads that merely start together rarely interleave: the first one often finishes
    before the next one reads. Held at the store's door, every thread has read the same
    state and decided from it before any of them writes, so only the store's
    compare-and-swap keeps one claim. A thread's later commits (its retries) pass
    straight through.
    """
    barrier = threading.Barrier(parties, timeout=timeout)
    seen = threading.local()
    original = store.commit

    def commit(*args: Any, **kwargs: Any) -> Any:
        if not getattr(seen, "waited", False):
            seen.waited = True
            barrier.wait()
        return original(*args, **kwargs)

    store.commit = commit


class RecordingMetrics:
    """In-memory metrics: every point recorded, for tests and the benchmarks to read."""

    def __init__(self) -> None:
        self.points: list[tuple[str, float, str | None]] = []
        self._lock = threading.Lock()

    def record(self, name: str, value: float, *, unit: str = "Count", job_name: str | None = None) -> None:
        with self._lock:
            self.points.append((name, value, job_name))

    def total(self, name: str, job_name: str | None = None) -> float:
        return sum(v for n, v, j in self.points if n == name and (job_name is None or j == job_name))

    def flush(self) -> None:
        pass


def corrupt_job(store: MemoryStore, job_name: str, junk: dict[str, Any]) -> None:
    """Replace a job's document in the memory store with ``junk``, keeping its due entry
    (as a hand-edited DynamoDB item keeps ``dueShard``/``dueAt``)."""
    with store._lock:
        store._jobs[job_name] = dataclasses.replace(store._jobs[job_name], doc=junk)
