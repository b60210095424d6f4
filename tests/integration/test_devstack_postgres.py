"""The throwaway cluster helper: a clear message when PostgreSQL is missing; re-runnable migrations."""
from __future__ import annotations

import pytest

import devstack.postgres as pg


def test_missing_binaries_name_the_apt_package(monkeypatch):
    monkeypatch.setattr(pg, "PG_MAJOR", 99)
    monkeypatch.delenv("PG_BIN", raising=False)

    with pytest.raises(pg.PostgresNotInstalled, match="apt-get install -y postgresql-15"):
        pg.pg_bin_dir()
    ok, reason = pg.postgres_available()
    assert ok is False and "postgresql-15" in reason


def test_migrations_are_ordered_and_can_be_applied_again(pg_cluster):
    names = [p.name for p in pg.migration_files()]
    assert names == sorted(names) and names[0].startswith("0001_")

    assert pg.apply_migrations(pg_cluster.dsn) == names  # a second time: no error, nothing duplicated
    with pg_cluster.connect() as conn:
        rls = conn.execute("SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
                           "AND relkind = 'r' AND NOT relrowsecurity").fetchall()
        assert rls == []  # row level security on every table
