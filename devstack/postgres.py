"""A throwaway PostgreSQL 15 cluster for tests, the bench and the local stack.

    cluster = start_postgres()          # initdb, start on 127.0.0.1:<free port>, migrate
    cluster.dsn                         # postgresql://postgres@127.0.0.1:54321/postgres
    cluster.stop()                      # stop and delete the data directory

PostgreSQL refuses to run as root: when this process is root, ``initdb``, ``postgres``
and ``pg_ctl`` run as the ``postgres`` OS user (``runuser``), in a temporary directory
that user owns. Authentication is ``trust``, bound to loopback only, for the
superuser ``postgres``. Durability is switched off (``fsync=off``): the data is thrown
away anyway.

The binaries come from the Debian package ``postgresql-15``
(``/usr/lib/postgresql/15/bin``; ``PG_BIN`` overrides the directory). When they are
missing, :class:`PostgresNotInstalled` says which package to install.
"""
from __future__ import annotations

import atexit
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import psycopg

from devstack.net import free_port

PG_MAJOR = 15
APT_PACKAGE = f"postgresql-{PG_MAJOR}"
INSTALL_HINT = f"apt-get install -y {APT_PACKAGE}"
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "infra" / "supabase" / "migrations"
SUPERUSER = "postgres"
OS_USER = "postgres"


class PostgresNotInstalled(RuntimeError):
    """The PostgreSQL server binaries are not on this machine."""


class PostgresStartFailed(RuntimeError):
    """initdb or the server failed; the message carries the server's log tail."""


def pg_bin_dir() -> Path:
    """The directory holding ``initdb``, ``postgres`` and ``pg_ctl``.

    Raises :class:`PostgresNotInstalled` naming the apt package when they are missing.
    """
    candidates = [Path(os.environ["PG_BIN"])] if os.environ.get("PG_BIN") else []
    candidates.append(Path(f"/usr/lib/postgresql/{PG_MAJOR}/bin"))
    for directory in candidates:
        if all((directory / tool).is_file() for tool in ("initdb", "postgres", "pg_ctl")):
            return directory
    raise PostgresNotInstalled(
        f"PostgreSQL {PG_MAJOR} server binaries not found (looked in "
        f"{', '.join(str(c) for c in candidates)}). Install them with: {INSTALL_HINT}"
    )


def postgres_available() -> tuple[bool, str]:
    """``(True, "")`` when a cluster can be started here, else ``(False, reason)``."""
    try:
        pg_bin_dir()
    except PostgresNotInstalled as exc:
        return False, str(exc)
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(OS_USER)
        except KeyError:
            return False, f"running as root but there is no '{OS_USER}' OS user to run PostgreSQL as ({INSTALL_HINT} creates it)"
        if shutil.which("runuser") is None:
            return False, "running as root but 'runuser' (util-linux) is not installed"
    return True, ""


@dataclass
class LocalPostgres:
    """A running throwaway cluster. :meth:`stop` (also run at exit) removes it."""

    port: int
    base_dir: Path
    bin_dir: Path
    applied_migrations: list[str] = field(default_factory=list)
    _stopped: bool = False

    @property
    def dsn(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    def connect(self, **kwargs) -> psycopg.Connection:
        return psycopg.connect(self.dsn, **kwargs)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        _run_as_postgres(
            [str(self.bin_dir / "pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "30"],
            check=False,
        )
        shutil.rmtree(self.base_dir, ignore_errors=True)


CLUSTER_PREFIX = "pg15-"
OWNER_FILE = "owner"


def _process_identity(pid: int) -> str:
    """``pid`` and its start time (so a recycled pid is not taken for the owner)."""
    try:
        started = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        started = "?"
    return f"{pid} {started}"


def _owner_alive(identity: str) -> bool:
    try:
        pid = int(identity.split()[0])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return _process_identity(pid) == identity.strip()


def reap_orphan_clusters(parent: Path) -> list[Path]:
    """Stop and remove the throwaway clusters whose owning process is gone.

    A stack killed with SIGKILL (a crash, the OOM killer) cannot stop its cluster; the
    next start does it here. Returns the directories removed.
    """
    reaped = []
    bin_dir = pg_bin_dir()
    for base in sorted(parent.glob(CLUSTER_PREFIX + "*")):
        owner = base / OWNER_FILE
        try:
            identity = owner.read_text()
        except OSError:
            continue  # not one of ours, or still being created
        if _owner_alive(identity):
            continue
        if (base / "data" / "postmaster.pid").exists():
            _run_as_postgres([str(bin_dir / "pg_ctl"), "stop", "-D", str(base / "data"), "-m", "immediate", "-w",
                              "-t", "30"], check=False)
        shutil.rmtree(base, ignore_errors=True)
        reaped.append(base)
    return reaped


def start_postgres(
    *,
    migrations_dir: Path | None = MIGRATIONS_DIR,
    base_dir: Path | None = None,
    port: int | None = None,
    settings: Sequence[str] = (),
) -> LocalPostgres:
    """initdb a new cluster, start it on 127.0.0.1 and apply the migrations in order.

    ``migrations_dir=None`` skips the migrations. ``settings`` are extra ``name=value``
    server settings. Raises :class:`PostgresNotInstalled` or :class:`PostgresStartFailed`.
    """
    bin_dir = pg_bin_dir()
    ok, reason = postgres_available()
    if not ok:
        raise PostgresNotInstalled(reason)
    parent = Path(base_dir) if base_dir else Path(tempfile.gettempdir())
    reap_orphan_clusters(parent)
    base = Path(tempfile.mkdtemp(prefix=CLUSTER_PREFIX, dir=str(parent)))
    _give_to_postgres(base)
    (base / OWNER_FILE).write_text(_process_identity(os.getpid()))
    data = base / "data"
    log = base / "server.log"
    init = _run_as_postgres(
        [str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8",
         "--locale=C", "--no-sync"],
        check=False,
    )
    if init.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        raise PostgresStartFailed(f"initdb failed: {init.stdout}{init.stderr}")

    server_settings = [
        "listen_addresses=127.0.0.1",
        f"unix_socket_directories={base}",
        "fsync=off",
        "synchronous_commit=off",
        "full_page_writes=off",
        "max_connections=50",
        "shared_buffers=128MB",
        "log_min_messages=warning",
        *settings,
    ]
    # A free port can be taken between choosing and binding it: try another (3 times).
    cluster: LocalPostgres | None = None
    last_error = ""
    for _ in range(1 if port is not None else 3):
        chosen = port or free_port()
        options = " ".join(f"-c {s}" for s in server_settings) + f" -p {chosen}"
        started = _run_as_postgres(
            [str(bin_dir / "pg_ctl"), "start", "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options],
            check=False,
        )
        if started.returncode == 0:
            cluster = LocalPostgres(port=chosen, base_dir=base, bin_dir=bin_dir)
            atexit.register(cluster.stop)
            break
        last_error = _tail(log) or started.stdout + started.stderr
    if cluster is None:
        shutil.rmtree(base, ignore_errors=True)
        raise PostgresStartFailed(f"PostgreSQL did not start: {last_error}")

    _wait_ready(cluster.dsn)
    if migrations_dir is not None:
        cluster.applied_migrations = apply_migrations(cluster.dsn, migrations_dir)
    return cluster


def migration_files(migrations_dir: Path = MIGRATIONS_DIR) -> list[Path]:
    """The ``NNNN_name.sql`` files in the order they must be applied."""
    return sorted(p for p in Path(migrations_dir).glob("*.sql") if p.name[:1].isdigit())


def apply_migrations(dsn: str, migrations_dir: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every migration in order, each in its own transaction (like ``psql -1 -f``)."""
    applied = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        for path in migration_files(migrations_dir):
            try:
                with conn.transaction():
                    conn.execute(path.read_text())  # no parameters: sent as a simple query
            except psycopg.Error as exc:
                raise PostgresStartFailed(f"migration {path.name} failed: {exc}") from exc
            applied.append(path.name)
    return applied


def _wait_ready(dsn: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(dsn, connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _as_root() -> bool:
    return os.geteuid() == 0


def _give_to_postgres(path: Path) -> None:
    if _as_root():
        entry = pwd.getpwnam(OS_USER)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    os.chmod(path, 0o700)


def _run_as_postgres(argv: list[str], *, check: bool) -> subprocess.CompletedProcess:
    if _as_root():
        argv = ["runuser", "-u", OS_USER, "--", *argv]
    return subprocess.run(argv, capture_output=True, text=True, check=check, cwd="/", stdin=subprocess.DEVNULL)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


if __name__ == "__main__":  # pragma: no cover - manual check: python -m devstack.postgres
    cluster = start_postgres()
    print(cluster.dsn, cluster.applied_migrations)
    cluster.stop()
