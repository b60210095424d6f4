"""The engine: what the clock and the workers do, apart from what callers ask.

As APScheduler 4 keeps processing schedules apart from running jobs, the ``dispatcher``
(one tick: claim due slots, break expired leases, hand claimed runs to workers) is apart
from the ``worker`` (run one claimed execution and record its outcome); both deliver the
notices their changes record through the ``outbox`` (every notice is built in
:mod:`chalicelib.core.notices`). Each is built in ``chalicelib.bootstrap`` with exactly
the ports it uses.
"""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.core.scheduler.dispatch import Dispatcher
from chalicelib.core.scheduler.outbox import Outbox
from chalicelib.core.scheduler.worker import Worker


@dataclass(frozen=True)
class Engine:
    """The dispatch entry point calls ``dispatcher.tick``; the worker entry point (and the
    invoker of a local stack or a test) ``worker.run``."""

    dispatcher: Dispatcher
    worker: Worker
    outbox: Outbox
