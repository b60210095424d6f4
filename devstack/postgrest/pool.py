"""A small pool of autocommit connections for the PostgREST stand-in."""
from __future__ import annotations

import queue
import threading
from contextlib import contextmanager
from typing import Iterator

import psycopg
from psycopg.pq import TransactionStatus

from devstack.postgrest.sql import ApiError


class ConnectionPool:
    """Reuses idle connections; a connection left inside a transaction is closed, never reused."""

    def __init__(self, dsn: str, size: int) -> None:
        self._dsn = dsn
        self._idle: queue.LifoQueue[psycopg.Connection] = queue.LifoQueue()
        self._size = size
        self._all: list[psycopg.Connection] = []
        self._lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            try:
                conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=5)
            except psycopg.OperationalError as exc:
                raise ApiError(503, "PGRST000", "Could not connect with the database", str(exc)) from exc
            with self._lock:
                self._all.append(conn)
        try:
            yield conn
        finally:
            if not conn.closed and conn.info.transaction_status == TransactionStatus.IDLE and self._idle.qsize() < self._size:
                self._idle.put(conn)
            else:
                conn.close()

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
