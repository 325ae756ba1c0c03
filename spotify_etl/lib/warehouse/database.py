"""The warehouse as a PostgreSQL database: where a URL points (never showing its password),
connecting for set-based work, preparing a database (migrations, then views), and running a
file of `sql/`.

Dagster-free: the warehouse resource (spotify_etl/defs/resources/warehouse.py), the command
line and the benchmarks all use these.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from spotify_etl.errors import WarehouseUnavailable
from spotify_etl.lib.warehouse.migrations import apply_migrations
from spotify_etl.lib.warehouse.sql_files import load_sql
from spotify_etl.lib.warehouse.views import apply_views

log = logging.getLogger(__name__)


def redact_url(url: str) -> str:
    """The URL with its password masked, for logs and messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):  # not a URL sqlalchemy understands: show nothing of it
        return "<database url>"


def describe_url(url: str) -> str:
    """Where a URL points, for a message: host, port and database (never the password)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # not a URL sqlalchemy understands: show nothing of it
        return "<database url>"
    host = parsed.host or parsed.query.get("host") or "local socket"
    return f"database {parsed.database!r} at {host}" + (f":{parsed.port}" if parsed.port else "")


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection:
    """A connection for the warehouse's set-based work (loads, checks, the report), without
    JIT compilation, keeping any options the URL sets. The facts are partitioned by month,
    and PostgreSQL compiles every partition's scan of a query it finds costly: at 1M plays
    (172 months of each fact) a report query spent 644 of its 1,498 ms compiling 712
    functions, and ran in 897 ms without."""
    options = " ".join(filter(None, (conninfo_to_dict(url).get("options"), "-c jit=off")))
    return psycopg.connect(url, autocommit=autocommit, options=options)


def _server_message(exc: psycopg.Error) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def prepare_warehouse(url: str) -> list[str]:
    """Connect and apply the pending migrations; return those applied. A warehouse that cannot
    be reached, does not exist, or is lost while migrating (all of it rolled back: the pass is
    one transaction) raises WarehouseUnavailable with where it is and the server's words."""
    try:
        conn = psycopg.connect(url, connect_timeout=15)
    except psycopg.OperationalError as exc:
        raise WarehouseUnavailable(
            f"cannot connect to the warehouse, {describe_url(url)}: {_server_message(exc)}"
        ) from exc
    with conn:
        try:
            return migrate(conn)
        except psycopg.OperationalError as exc:
            raise WarehouseUnavailable(
                f"lost the warehouse, {describe_url(url)}, while applying migrations (rolled back; run "
                f"again once it is back): {_server_message(exc)}"
            ) from exc


def migrate(conn: psycopg.Connection) -> list[str]:
    """Bring a database's schema up to date in one transaction: the pending migrations, then
    the views if their files changed. Returns what was applied ("views" for the views)."""
    with conn.transaction():
        applied = apply_migrations(conn)
        if apply_views(conn):
            applied.append("views")
    return applied


def execute_sql_file(conn: psycopg.Connection, relative_path: str, params: dict | None = None) -> None:
    """Run a file of `sql/`, which may hold several statements. With parameters, they are
    bound client-side (properly quoted by psycopg): the server's prepared statements take
    one command only."""
    try:
        if params is None:
            conn.execute(load_sql(relative_path))
            return
        with psycopg.ClientCursor(conn) as cursor:
            cursor.execute(load_sql(relative_path), params)
    except psycopg.Error as exc:
        log.error("SQL step %s failed: %s", relative_path, exc, extra={"sql_step": relative_path}, exc_info=True)
        raise
