"""The app on the memory store: one builder for every test that calls the routes.

:func:`app_runtime` builds the runtime the app serves from (settings from ``env``, a memory
store, a fake notifier, recording metrics, fixed randomness and, unless told otherwise, a
fake clock at a pinned instant), installs it with ``bootstrap.set_runtime`` and takes it
out again afterwards. Each fixture passes only what it changes.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterator, Mapping

from chalicelib import bootstrap
from chalicelib.adapters.memory_store import MemoryStore
from chalicelib.jobs.registry import JobRegistry
from chalicelib.settings import Settings
from tests.fakes import FakeClock, FakeNotifier, FixedRandom, RecordingMetrics, utc

START = utc(2026, 11, 28, 20, 0)
"""Where a stack's fake clock starts unless told otherwise."""


@dataclass(frozen=True)
class AppStack:
    runtime: bootstrap.Runtime
    settings: Settings
    clock: FakeClock | None
    notifier: Any
    registry: JobRegistry
    store: Any


@contextmanager
def app_runtime(
    env: Mapping[str, str],
    *,
    registry: JobRegistry | None = None,
    notifier: Any = None,
    store: Any = None,
    invoker: Any = None,
    start: datetime | None = START,
    clock: FakeClock | None = None,
) -> Iterator[AppStack]:
    """The runtime for ``env`` installed while the block runs. ``start=None``: the system
    clock and randomness (and a memory store on them), as the local stack runs; ``clock``:
    this fake clock, for a fixture that needs it before the stack is built."""
    settings = Settings.from_env(dict(env))
    clock = clock if clock is not None else FakeClock(start) if start is not None else None
    registry = registry if registry is not None else JobRegistry()
    notifier = notifier if notifier is not None else FakeNotifier()
    store = store if store is not None else MemoryStore(clock=clock) if clock is not None else MemoryStore()
    pinned: dict[str, Any] = {} if clock is None else {"clock": clock, "rand": FixedRandom(0.0)}
    if invoker is not None:
        pinned["invoker"] = invoker
    runtime = bootstrap.build_runtime(settings, store=store, notifier=notifier, metrics=RecordingMetrics(),
                                      registry=registry, **pinned)
    bootstrap.set_runtime(runtime)
    try:
        yield AppStack(runtime, settings, clock, notifier, registry, store)
    finally:
        bootstrap.set_runtime(None)
