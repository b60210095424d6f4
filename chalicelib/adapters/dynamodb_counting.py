"""Counting what a DynamoDB store sends, for benchmarks and the request-cost tests.

:attr:`request_count` is the number of API calls, :attr:`requests_by_operation` the same
per operation, :attr:`attempt_count` the HTTP sends including botocore's retries. They
are kept by handlers on the client's events (``before-call`` and ``before-send``).
"""
from __future__ import annotations

import collections
import threading
from typing import Any


class RequestCounting:
    """Mixed into the store; :meth:`_start_counting` hooks the client's events."""

    def _start_counting(self, events: Any) -> None:
        self._count_lock = threading.Lock()
        self._calls: collections.Counter[str] = collections.Counter()
        self._attempts = 0
        events.register("before-call.dynamodb.*", self._count_call)
        events.register_first("before-send.dynamodb.*", self._count_attempt)

    @property
    def request_count(self) -> int:
        with self._count_lock:
            return sum(self._calls.values())

    @property
    def requests_by_operation(self) -> dict[str, int]:
        with self._count_lock:
            return dict(self._calls)

    @property
    def attempt_count(self) -> int:
        with self._count_lock:
            return self._attempts

    def reset_request_count(self) -> None:
        with self._count_lock:
            self._calls.clear()
            self._attempts = 0

    def _count_call(self, model: Any, **_: Any) -> None:
        with self._count_lock:
            self._calls[model.name] += 1

    def _count_attempt(self, **_: Any) -> None:
        with self._count_lock:
            self._attempts += 1
