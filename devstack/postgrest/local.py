"""The local stack's Supabase: a throwaway PostgreSQL with the migrations and demo data,
behind the PostgREST stand-in."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg

from devstack.postgrest.server import PostgrestServer


@dataclass
class LocalSupabase:
    """PostgreSQL + migrations + demo data behind this server: what ``make run`` uses."""

    url: str
    service_key: str
    dsn: str
    server: PostgrestServer
    cluster: Any

    def stop(self) -> None:
        self.server.stop()
        self.cluster.stop()


def start_local_supabase(*, today: date, service_key: str = "local-service-key-not-secret",
                         demo_data: bool = True) -> LocalSupabase:
    """Start a throwaway PostgreSQL with the migrations (and the demo data) behind the server.

    Raises ``devstack.postgres.PostgresNotInstalled`` (its message says which apt package
    to install) when PostgreSQL 15 is missing; the caller can then run without Supabase.
    Set ``SUPABASE_URL``/``SUPABASE_SERVICE_KEY`` to ``url``/``service_key``.
    """
    from devstack.demo_data import load_demo_data
    from devstack.postgres import start_postgres

    cluster = start_postgres()
    try:
        if demo_data:
            with psycopg.connect(cluster.dsn, autocommit=True) as conn:
                load_demo_data(conn, today)
        server = PostgrestServer(cluster.dsn, service_key=service_key).start()
    except BaseException:
        cluster.stop()
        raise
    return LocalSupabase(server.url, service_key, cluster.dsn, server, cluster)
