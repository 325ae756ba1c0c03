"""The warehouse's views, one file each: `sql/views/<schema>/<name>.sql`.

Views hold no data, so they are not migrated: whenever the set of view files differs from the
one in place (a checksum over names and texts, kept in `etl_internal.schema_views`), every
view of the set in place and of the new one is dropped and each file is run again, core
before mart, in the migrator's transaction and under its lock. Unchanged files cost one
query. A view created by hand on top of these is dropped with them (CASCADE).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import psycopg
from psycopg import sql

from spotify_etl.errors import SpotifyEtlError
from spotify_etl.lib.package_data import sql_dir

log = logging.getLogger(__name__)

# Schemas in the order their views are created (mart reads core).
SCHEMAS = ("etl_internal", "core", "mart")


def view_files(directory: Path | None = None) -> list[tuple[str, Path]]:
    """(qualified name, file) of every view, in creation order."""
    root = directory or sql_dir() / "views"
    views = [(f"{schema}.{path.stem}", path) for schema in SCHEMAS for path in sorted((root / schema).glob("*.sql"))]
    if not views:
        raise SpotifyEtlError(f"no view files found in {root}: the package is incomplete, reinstall it")
    return views


def _checksum(views: list[tuple[str, Path]]) -> str:
    digest = hashlib.sha256()
    for name, path in views:
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def apply_views(conn: psycopg.Connection, directory: Path | None = None) -> bool:
    """Create the views again if their files changed; True when they were. Call inside the
    migrator's transaction."""
    views = view_files(directory)
    checksum = _checksum(views)
    in_place = conn.execute("SELECT checksum, views FROM etl_internal.schema_views").fetchone()
    if in_place and in_place[0] == checksum:
        return False
    names = sorted({name for name, _ in views} | set(in_place[1] if in_place else []))
    log.info("creating %d views from their files", len(views))
    for name in names:
        conn.execute(sql.SQL("DROP VIEW IF EXISTS {} CASCADE").format(sql.Identifier(*name.split("."))))
    for _, path in views:
        conn.execute(path.read_text(encoding="utf-8"))
    conn.execute(
        "INSERT INTO etl_internal.schema_views (checksum, views) VALUES (%s, %s)"
        " ON CONFLICT (one_row) DO UPDATE SET checksum = excluded.checksum, views = excluded.views,"
        " applied_at = now()",
        (checksum, [name for name, _ in views]),
    )
    return True
