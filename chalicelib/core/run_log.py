"""The log lines a run writes, kept with its execution: the job's own and the scheduler's.

While a run is in progress :data:`CURRENT` holds its :class:`RunLog`; the handler
installed on the root logger (:class:`RunLogHandler`) appends every record written in
that context, from any logger, scrubbed of the secrets the run resolved
(``redaction.RUN_SECRETS``) and of anything that looks like a credential. The log
is bounded (the last :data:`MAX_LINES` lines and :data:`MAX_BYTES`), with a marker when
lines were dropped, and is stored with the execution under the same retention.
"""
from __future__ import annotations

import logging
import threading
from collections import deque
from contextvars import ContextVar
from datetime import UTC, datetime

from chalicelib.core.credentials import scrub_credentials
from chalicelib.core.model import LogLine
from chalicelib.core.redaction import scrub_run_secrets

MAX_LINES = 200
MAX_BYTES = 32 * 1024
MAX_LINE = 2000

def scrub(text: str) -> str:
    """``text`` without the run's resolved secrets (in their common encodings) and with
    credential-looking values replaced by the redaction marker."""
    return scrub_credentials(scrub_run_secrets(text))


class RunLog:
    """A bounded, thread-safe buffer of one run's log lines."""

    def __init__(self) -> None:
        self._lines: deque[LogLine] = deque()
        self._bytes = 0
        self._dropped = 0
        self._lock = threading.Lock()

    def add(self, at: datetime, level: str, message: str) -> None:
        line = LogLine(at=at, level=level, message=scrub(message)[:MAX_LINE])
        with self._lock:
            self._lines.append(line)
            self._bytes += len(line.message) + 40
            while len(self._lines) > MAX_LINES or self._bytes > MAX_BYTES:
                dropped = self._lines.popleft()
                self._bytes -= len(dropped.message) + 40
                self._dropped += 1

    def lines(self) -> tuple[tuple[LogLine, ...], int]:
        """The kept lines, oldest first, and how many older ones were dropped."""
        with self._lock:
            return tuple(self._lines), self._dropped


CURRENT: ContextVar[RunLog | None] = ContextVar("scheduler_run_log", default=None)


class RunLogHandler(logging.Handler):
    """Appends each record written while a run is in progress to that run's log."""

    def emit(self, record: logging.LogRecord) -> None:
        log = CURRENT.get()
        if log is None:
            return
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not break the run
            message = str(record.msg)
        log.add(datetime.fromtimestamp(record.created, UTC), record.levelname, message)


_installed = threading.Lock()


def install(logger: logging.Logger | None = None) -> None:
    """Add the handler once (to the root logger: every logger's records reach it)."""
    target = logger or logging.getLogger()
    with _installed:
        if not any(isinstance(h, RunLogHandler) for h in target.handlers):
            target.addHandler(RunLogHandler(level=logging.INFO))
