"""`spotify-etl status`: what the warehouse holds, as plain tables."""

from __future__ import annotations

from collections.abc import Sequence

from spotify_etl.defs.resources import WarehouseResource
from spotify_etl.lib.warehouse.database import redact_url
from spotify_etl.lib.warehouse.sql_files import load_sql
from spotify_etl.settings import load_settings

# Section title and the SQL file answering it. Sections whose tables do not exist yet
# (a warehouse never run) are skipped.
SECTIONS = (
    ("Plays", "status/plays_by_kind.sql"),
    ("Files loaded", "status/source_files.sql"),
    ("Rejected records", "status/rejections.sql"),
    ("Enrichment", "status/enrichment.sql"),
    ("Plays without ids, by name pair", "status/name_pairs.sql"),
    ("Failed URIs", "status/failed_uris.sql"),
)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [list(map(str, headers))] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def warehouse_status() -> str:
    settings = load_settings()
    warehouse = WarehouseResource.from_settings(settings)
    where = redact_url(settings.database_url) if settings.database_url else f"embedded server under {settings.home}"
    parts = [f"Warehouse: {where}"]
    with warehouse.connect() as conn:
        for title, path in SECTIONS:
            cursor = conn.execute(load_sql(path))
            rows = cursor.fetchall()
            headers = [column.name for column in cursor.description]
            parts.append(f"\n{title}\n" + (format_table(headers, rows) if rows else "(none)"))
    return "\n".join(parts)
