"""Schema migrations: the ordered files `sql/migrations/NNNN_name.sql`, each applied once.

Applied versions are recorded in `etl_internal.schema_migrations`. Several processes may
start at once (Dagster steps, the UI, the CLI), so the whole check-and-apply runs under a
transaction-scoped advisory lock: the second process waits, then finds nothing to do.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from spotify_etl.errors import SpotifyEtlError
from spotify_etl.lib.package_data import sql_dir
from spotify_etl.lib.warehouse.sql_files import load_sql

log = logging.getLogger(__name__)

MIGRATIONS_DIR = sql_dir() / "migrations"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# An arbitrary constant, the same in every process: the advisory lock of the migrator.
_LOCK_KEY = 7_301_115_001


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations in `directory`, in order. A folder that is missing or holds none is an
    error: a warehouse is never "migrated" by an empty list."""
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise ValueError(f"migration file name must look like 0001_name.sql: {path}")
        migrations.append(Migration(int(match[1]), match[2], path))
    if not migrations:
        raise SpotifyEtlError(f"no migrations found in {directory}: the package is incomplete, reinstall it")
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise ValueError(f"two migrations share a version number in {directory}")
    return migrations


def apply_migrations(conn: psycopg.Connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply the migrations not yet recorded; return the names of those applied now."""
    applied_now: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute(load_sql("internal/schema_migrations.sql"))
        done = {
            version: checksum
            for version, checksum in conn.execute("SELECT version, checksum FROM etl_internal.schema_migrations")
        }
        for migration in discover_migrations(directory):
            if migration.version in done:
                if done[migration.version] != migration.checksum:
                    log.warning(
                        "migration %04d_%s changed after it was applied; "
                        "write a new migration instead of editing an applied one",
                        migration.version,
                        migration.name,
                    )
                continue
            log.info("applying migration %04d_%s", migration.version, migration.name)
            conn.execute(migration.sql)
            conn.execute(
                "INSERT INTO etl_internal.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                (migration.version, migration.name, migration.checksum),
            )
            applied_now.append(f"{migration.version:04d}_{migration.name}")
    return applied_now
