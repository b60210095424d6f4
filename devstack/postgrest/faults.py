"""Faults a test injects into the PostgREST stand-in, and the requests it recorded."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any


@dataclass
class Fault:
    kind: str  # unavailable | unauthorized | hang | status
    remaining: int
    after_commit: bool = False
    path_contains: str | None = None
    status: int = 503
    body: dict[str, Any] | None = None
    hang_seconds: float = 10.0


class FaultInjector:
    """Makes the next N matching requests fail. Thread-safe; faults apply in order."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._released = threading.Event()

    def inject(self, kind: str, times: int = 1, *, after_commit: bool = False, path_contains: str | None = None,
               status: int = 503, body: dict[str, Any] | None = None, hang_seconds: float = 10.0) -> None:
        """Queue a fault.

        ``unavailable``: 503 with a PGRST001 body. ``unauthorized``: 401 (PGRST301).
        ``status``: the given ``status`` and ``body``. ``hang``: no answer for
        ``hang_seconds`` (or until :meth:`clear`), then the connection is closed.
        ``after_commit``: run the request and commit, then fail instead of answering.
        """
        if kind not in ("unavailable", "unauthorized", "hang", "status"):
            raise ValueError(f"unknown fault kind {kind!r}")
        with self._lock:
            self._released.clear()
            self._faults.append(Fault(kind, times, after_commit, path_contains, status, body, hang_seconds))

    def clear(self) -> None:
        """Drop queued faults and wake every hanging request."""
        with self._lock:
            self._faults.clear()
            self._released.set()

    def take(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.path_contains is None or fault.path_contains in path:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def hang(self, seconds: float) -> None:
        self._released.wait(seconds)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    status: int
