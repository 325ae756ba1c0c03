"""The PostgreSQL warehouse as a Dagster resource.

Configured, never guessed: the URL of an external server, or the directory of the embedded
one. Whatever the environment says reaches it through `spotify_etl.settings` when the
definitions are built, so the launchpad shows (and may change) what a run will use; a URL
from the environment stays an `EnvVar` there, since it may carry a password.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import dagster as dg
import psycopg
from psycopg import sql
from pydantic import Field

from spotify_etl.errors import SpotifyEtlError
from spotify_etl.lib.warehouse.database import connect, execute_sql_file, prepare_warehouse, redact_url
from spotify_etl.lib.warehouse.embedded_postgres import start_embedded_server
from spotify_etl.lib.warehouse.sql_files import load_sql
from spotify_etl.settings import Settings

log = logging.getLogger(__name__)

# One server start and one migration pass per process and target, whatever the number of
# resource instances Dagster builds.
_ready_urls: dict[tuple[str | None, str], str] = {}
_ready_lock = threading.Lock()


class WarehouseResource(dg.ConfigurableResource):
    """The PostgreSQL warehouse: an external server at `database_url`, or else the embedded
    server whose data lives under `home`. Migrations and views are applied before first use."""

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL of an external warehouse (SPOTIFY_ETL_DATABASE_URL); unset: the embedded server.",
    )
    home: str | None = Field(
        default=None,
        description="spotify_etl's own directory (SPOTIFY_ETL_HOME): the embedded server's data lives in its "
        "pgdata/. Needed only without database_url.",
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> WarehouseResource:
        return cls(database_url=settings.database_url, home=str(settings.home))

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self.url()

    def url(self) -> str:
        """The warehouse's URL, once the server is up and migrated."""
        if not (self.database_url or self.home):
            raise SpotifyEtlError("the warehouse resource needs a database_url or a home for the embedded server")
        key = (self.database_url, str(Path(self.home or ".").resolve()))
        with _ready_lock:
            if key not in _ready_urls:
                url = self.database_url or start_embedded_server(Path(key[1]))
                applied = prepare_warehouse(url)
                if applied:
                    log.info("warehouse %s: applied %s", redact_url(url), ", ".join(applied))
                _ready_urls[key] = url
            return _ready_urls[key]

    @property
    def is_embedded(self) -> bool:
        return not self.database_url

    def run_sql_file(self, relative_path: str, params: dict | None = None) -> None:
        """Run one SQL file of `sql/` in one transaction."""
        with self.connect() as conn:
            execute_sql_file(conn, relative_path, params)

    def table_metadata(self, table: str, rows: int | None = None, conn: psycopg.Connection | None = None) -> dict:
        """Row count (counted, unless the caller knows it) and column schema (names, types,
        comments) of a table, for the catalog; read on `conn` if given (a step's own, once it
        committed: a new connection costs ~5 ms and its first look at the catalog as much)."""
        schema, name = table.split(".")
        with nullcontext(conn) if conn is not None else self.connect() as conn:
            columns = conn.execute(load_sql("internal/table_columns.sql"), (schema, name)).fetchall()
            if rows is None:
                count = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, name))
                rows = conn.execute(count).fetchone()[0]
        return {
            "dagster/row_count": rows,
            "dagster/column_schema": dg.TableSchema(
                columns=[
                    dg.TableColumn(
                        name=column,
                        type=data_type,
                        description=comment,
                        constraints=dg.TableColumnConstraints(nullable=nullable),
                    )
                    for column, data_type, nullable, comment in columns
                ]
            ),
            "dagster/table_name": table,
        }

    @contextmanager
    def connect(self, autocommit: bool = False) -> Iterator[psycopg.Connection]:
        """A psycopg 3 connection (spotify_etl.lib.warehouse.database.connect); without
        autocommit, committed when the block succeeds."""
        with connect(self.url(), autocommit=autocommit) as conn:
            yield conn
