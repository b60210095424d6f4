"""Ways to hand a claimed execution to a worker.

* :class:`LambdaInvoker`: AWS; an asynchronous ``Invoke`` of the worker function.
* :class:`ThreadInvoker`: the local stack; the worker runs in-process on a thread pool.
* :class:`InlineInvoker`: tests; the worker runs before ``invoke`` returns.
"""
from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from typing import Any, Callable

RunWorker = Callable[[str, str, str], Any]
"""``(job_name, execution_id, worker_id)``: the worker entry point."""

log = logging.getLogger("chalicelib.invoker")


def worker_event(job_name: str, execution_id: str) -> dict[str, str]:
    """The worker Lambda's event: names only, never a payload or a secret."""
    return {"jobName": job_name, "executionId": execution_id}


class LambdaInvoker:
    def __init__(self, lambda_client: Any, function_name: str) -> None:
        self._client = lambda_client
        self._function = function_name

    def invoke(self, job_name: str, execution_id: str) -> None:
        self._client.invoke(
            FunctionName=self._function,
            InvocationType="Event",  # asynchronous: the dispatcher never waits for a run
            Payload=json.dumps(worker_event(job_name, execution_id)).encode(),
        )


class ThreadInvoker:
    """Each run on its own daemon thread, like a Lambda per invocation.

    Daemon threads never keep the process alive: :meth:`shutdown` gives runs in flight
    a bounded time to record their outcome, then the process may exit.
    """

    def __init__(self, run_worker: RunWorker) -> None:
        self._run = run_worker
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def invoke(self, job_name: str, execution_id: str) -> None:
        thread = threading.Thread(target=self._safe_run, args=(job_name, execution_id),
                                  name=f"worker-{execution_id}", daemon=True)
        with self._lock:
            self._threads = {t for t in self._threads if t.is_alive()} | {thread}
        thread.start()

    def _safe_run(self, job_name: str, execution_id: str) -> Any:
        try:
            return self._run(job_name, execution_id, f"local-{uuid.uuid4().hex[:12]}")
        except Exception:
            log.exception("worker crashed", extra={"job_name": job_name, "execution_id": execution_id})
            return None

    def shutdown(self, wait_seconds: float = 10.0) -> int:
        """Wait up to ``wait_seconds`` for runs in flight; returns how many are still running."""
        deadline = time.monotonic() + wait_seconds
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return sum(t.is_alive() for t in threads)


class InlineInvoker:
    def __init__(self, run_worker: RunWorker) -> None:
        self._run = run_worker
        self.invocations: list[tuple[str, str]] = []

    def invoke(self, job_name: str, execution_id: str) -> None:
        self.invocations.append((job_name, execution_id))
        self._run(job_name, execution_id, f"inline-{uuid.uuid4().hex[:12]}")
