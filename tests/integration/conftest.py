"""A real PostgreSQL 15 with the migrations, behind the PostgREST-protocol server.

Started once per session; every test starts from empty tables, no faults and no
recorded requests. Skipped, with the reason, only when the PostgreSQL binaries are
missing (``make test`` installs them, so CI never skips).
"""
from __future__ import annotations

from typing import Iterator

import psycopg
import pytest

from chalicelib.supabase.client import SupabaseClient
from devstack.postgres import LocalPostgres, postgres_available, start_postgres
from devstack.postgrest import PostgrestServer

from .support import SERVICE_KEY, TABLES, Db


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[LocalPostgres]:
    ok, reason = postgres_available()
    if not ok:
        pytest.skip(f"PostgreSQL 15 is not available: {reason}")
    cluster = start_postgres()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def rest_server(pg_cluster: LocalPostgres) -> Iterator[PostgrestServer]:
    server = PostgrestServer(pg_cluster.dsn, service_key=SERVICE_KEY).start()
    yield server
    server.stop()


@pytest.fixture
def db(pg_cluster: LocalPostgres, rest_server: PostgrestServer) -> Iterator[Db]:
    rest_server.faults.clear()
    with psycopg.connect(pg_cluster.dsn, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
        rest_server.reset_requests()
        yield Db(conn)
    rest_server.faults.clear()


@pytest.fixture
def sleeps() -> list[float]:
    """The backoff delays the client asked for (it never really sleeps in tests)."""
    return []


@pytest.fixture
def client(rest_server: PostgrestServer, sleeps: list[float]) -> Iterator[SupabaseClient]:
    with SupabaseClient(rest_server.url, SERVICE_KEY, connect_timeout=2.0, read_timeout=0.5,
                        sleep=sleeps.append) as supabase:
        yield supabase
