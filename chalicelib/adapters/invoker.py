"""Ways to hand a claimed execution to a worker.

* :class:`LambdaInvoker`: AWS; an asynchronous ``Invoke`` of the worker function.
* :class:`ThreadInvoker`: the local stack; the worker runs in-process on a bounded thread pool.
* :class:`InlineInvoker`: tests; the worker runs before ``invoke`` returns.
"""
from __future__ import annotations

import itertools
import json
import logging
import queue
import threading
import time
import uuid
from typing import Any, Callable

from chalicelib.core.worker_event import WorkerEvent

RunWorker = Callable[[WorkerEvent, str], Any]
"""``(event, worker_id)``: the engine's worker (``Worker.run``), run in this process."""

log = logging.getLogger("chalicelib.invoker")


class LambdaInvoker:
    def __init__(self, lambda_client: Any, function_name: str) -> None:
        self._client = lambda_client
        self._function = function_name

    def invoke(self, event: WorkerEvent, *, manual: bool = False) -> None:
        # Lambda has no priority among asynchronous invokes: the callers' trigger budget
        # (and the API stage's throttling) bound how much of the worker's reserved
        # concurrency manual runs can take.
        self._client.invoke(
            FunctionName=self._function,
            InvocationType="Event",  # asynchronous: the dispatcher never waits for a run
            Payload=json.dumps(event.to_payload()).encode(),
        )


class ThreadInvoker:
    """The local stack's worker function: runs on a bounded pool of daemon threads.

    Like the deployed worker with reserved concurrency (``WorkerReservedConcurrency``):
    at most ``concurrency`` runs at once, and an invocation past that waits in a queue,
    as Lambda queues a throttled asynchronous invocation, rather than being lost. The
    queue serves scheduled runs (and retries) before manual ones, each kind first come,
    first served, so one caller's burst of triggers cannot delay the schedule.
    Bounded because one thread per run does not scale on one interpreter: 1,000 runs
    in a minute meant 1,000 threads and as many fresh connections to the local
    DynamoDB, and starts ran late. Daemon threads never keep the process alive:
    :meth:`shutdown` gives runs in flight a bounded time to record their outcome.
    """

    def __init__(self, run_worker: RunWorker, *, concurrency: int) -> None:
        self._run = run_worker
        self._concurrency = max(1, concurrency)
        # (0 scheduled | 1 manual, arrival, event): lowest first (arrivals are unique).
        self._queue: queue.PriorityQueue[tuple[int, int, WorkerEvent]] = queue.PriorityQueue()
        self._arrivals = itertools.count()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._unfinished = 0  # queued or running
        self._all_done = threading.Condition(self._lock)

    def invoke(self, event: WorkerEvent, *, manual: bool = False) -> None:
        with self._lock:
            self._unfinished += 1
            # Threads live as long as the process, each taking one run at a time: one more
            # is needed while there are more runs outstanding than threads.
            if self._unfinished > len(self._threads) < self._concurrency:
                thread = threading.Thread(target=self._serve, name=f"worker-{len(self._threads) + 1}", daemon=True)
                self._threads.append(thread)
                thread.start()
        self._queue.put((1 if manual else 0, next(self._arrivals), event))

    def _serve(self) -> None:
        while True:
            _, _, event = self._queue.get()
            try:
                self._safe_run(event)
            finally:
                with self._lock:
                    self._unfinished -= 1
                    if self._unfinished == 0:
                        self._all_done.notify_all()

    def _safe_run(self, event: WorkerEvent) -> Any:
        try:
            return self._run(event, f"local-{uuid.uuid4().hex[:12]}")
        except Exception:
            log.exception("worker crashed", extra={"job_name": event.job_name, "execution_id": event.execution_id})
            return None

    def shutdown(self, wait_seconds: float = 10.0) -> int:
        """Wait up to ``wait_seconds`` for queued runs and runs in flight; returns how many
        are left (the process may exit: the threads are daemons)."""
        deadline = time.monotonic() + wait_seconds
        with self._all_done:
            while self._unfinished and (left := deadline - time.monotonic()) > 0:
                self._all_done.wait(left)
            return self._unfinished


class InlineInvoker:
    def __init__(self, run_worker: RunWorker) -> None:
        self._run = run_worker
        self.invocations: list[tuple[str, str]] = []

    def invoke(self, event: WorkerEvent, *, manual: bool = False) -> None:
        self.invocations.append((event.job_name, event.execution_id))
        self._run(event, f"inline-{uuid.uuid4().hex[:12]}")
