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


def test_a_cluster_left_by_a_killed_stack_is_removed_by_the_next_start():
    """SIGKILL leaves no chance to stop the cluster: the next start stops and removes it."""
    import os
    import shutil
    import signal
    import subprocess
    import sys
    import tempfile
    import time
    from pathlib import Path

    ok, reason = pg.postgres_available()
    assert ok, reason
    tmp_path = Path(tempfile.mkdtemp(prefix="reap-test-", dir="/tmp"))  # the postgres user must reach it
    os.chmod(tmp_path, 0o755)
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; import devstack.postgres as pg; "
         f"c = pg.start_postgres(migrations_dir=None, base_dir=Path({str(tmp_path)!r})); "
         "print(c.base_dir, flush=True); time.sleep(600)"],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2])
    base = Path(child.stdout.readline().strip())
    postmaster = int((base / "data" / "postmaster.pid").read_text().split()[0])
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    os.kill(postmaster, 0)  # the orphaned server is still running

    fresh = pg.start_postgres(migrations_dir=None, base_dir=tmp_path)
    try:
        assert not base.exists()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(postmaster, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the orphaned PostgreSQL server is still running")
    finally:
        fresh.stop()
        shutil.rmtree(tmp_path, ignore_errors=True)
