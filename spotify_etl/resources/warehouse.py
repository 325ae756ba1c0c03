"""The PostgreSQL warehouse as a Dagster resource."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import psycopg
from psycopg import sql
from dagster import (
    ConfigurableResource,
    InitResourceContext,
    TableColumn,
    TableColumnConstraints,
    TableSchema,
)
from pydantic import Field
from sqlalchemy.engine import make_url

from spotify_etl.errors import WarehouseUnavailable
from spotify_etl.resources.embedded_postgres import start_embedded_server
from spotify_etl.resources.migrations import apply_migrations
from spotify_etl.settings import load_settings
from spotify_etl.sql_files import load_sql

log = logging.getLogger(__name__)

# One server start and one migration pass per process and target, whatever the number of
# resource instances Dagster builds.
_ready_urls: dict[tuple[Optional[str], str], str] = {}
_ready_lock = threading.Lock()


def redact_url(url: str) -> str:
    """The URL with its password masked, for logs and messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL sqlalchemy understands: show nothing of it
        return "<database url>"


def describe_url(url: str) -> str:
    """Where a URL points, for a message: host, port and database (never the password)."""
    try:
        parsed = make_url(url)
    except Exception:  # not a URL sqlalchemy understands: show nothing of it
        return "<database url>"
    host = parsed.host or parsed.query.get("host") or "local socket"
    return f"database {parsed.database!r} at {host}" + (f":{parsed.port}" if parsed.port else "")


def _server_message(exc: psycopg.Error) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def prepare_warehouse(url: str) -> list[str]:
    """Connect and apply the pending migrations; return those applied. A warehouse that cannot
    be reached, does not exist, or is lost while migrating (all of it rolled back: the pass is
    one transaction) raises WarehouseUnavailable with where it is and the server's words."""
    try:
        conn = psycopg.connect(url, connect_timeout=15)
    except psycopg.OperationalError as exc:
        raise WarehouseUnavailable(f"cannot connect to the warehouse, {describe_url(url)}: {_server_message(exc)}") from exc
    with conn:
        try:
            return apply_migrations(conn)
        except psycopg.OperationalError as exc:
            raise WarehouseUnavailable(
                f"lost the warehouse, {describe_url(url)}, while applying migrations (rolled back; run "
                f"again once it is back): {_server_message(exc)}"
            ) from exc


def execute_sql_file(conn: psycopg.Connection, relative_path: str, params: Optional[dict] = None) -> None:
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


class WarehouseResource(ConfigurableResource):
    """The PostgreSQL warehouse.

    Connects to `database_url` (from `SPOTIFY_ETL_DATABASE_URL`) when given; otherwise starts,
    or joins, the embedded PostgreSQL server whose data lives under `home`
    (`SPOTIFY_ETL_HOME`, default `.spotify_etl/`). Migrations are applied before first use.
    """

    database_url: Optional[str] = Field(
        default=None,
        description="PostgreSQL URL of an external warehouse; unset for the embedded server.",
    )
    home: Optional[str] = Field(
        default=None,
        description="Directory of the embedded server's data; default SPOTIFY_ETL_HOME.",
    )

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self.url()

    def _home(self) -> Path:
        return Path(self.home).resolve() if self.home else load_settings().home

    def _database_url(self) -> Optional[str]:
        # Unset here: whatever the environment says now (SPOTIFY_ETL_DATABASE_URL).
        return self.database_url or load_settings().database_url

    def url(self) -> str:
        """The warehouse's URL, once the server is up and migrated."""
        key = (self._database_url(), str(self._home()))
        with _ready_lock:
            if key not in _ready_urls:
                url = key[0] or start_embedded_server(self._home())
                applied = prepare_warehouse(url)
                if applied:
                    log.info("warehouse %s: applied %s", redact_url(url), ", ".join(applied))
                _ready_urls[key] = url
            return _ready_urls[key]

    @property
    def is_embedded(self) -> bool:
        return not self._database_url()

    def run_sql_file(self, relative_path: str, params: Optional[dict] = None) -> None:
        """Run one SQL file of `sql/` in one transaction."""
        with self.connect() as conn:
            execute_sql_file(conn, relative_path, params)

    def row_count(self, table: str) -> int:
        schema, name = table.split(".")
        with self.connect() as conn:
            return conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, name))
            ).fetchone()[0]

    def table_metadata(self, table: str) -> dict:
        """Row count and column schema (names, types, comments) of a table, for the catalog."""
        schema, name = table.split(".")
        with self.connect() as conn:
            columns = conn.execute(load_sql("internal/table_columns.sql"), (schema, name)).fetchall()
        return {
            "dagster/row_count": self.row_count(table),
            "dagster/column_schema": TableSchema(
                columns=[
                    TableColumn(name=column, type=data_type, description=comment,
                                constraints=TableColumnConstraints(nullable=nullable))
                    for column, data_type, nullable, comment in columns
                ]
            ),
            "dagster/table_name": table,
        }

    @contextmanager
    def connect(self, autocommit: bool = False) -> Iterator[psycopg.Connection]:
        """A psycopg 3 connection; without autocommit, committed when the block succeeds."""
        with psycopg.connect(self.url(), autocommit=autocommit) as conn:
            yield conn
