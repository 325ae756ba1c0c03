"""Planner statistics refreshed after a load only where the load could change them.

The steps after a load join what it wrote, and without statistics for it PostgreSQL plans
badly (a twin search over a million plays took minutes). Sampling a large table costs time of
its own, though (0.1 s for a million session assignments), and a few thousand rows into a
million change nothing a plan depends on: a table is analyzed when the rows changed are a
tenth of what it holds, as autovacuum's default threshold sees it, or when it never was.
Autovacuum still analyzes the rest in its own time.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

# autovacuum_analyze_scale_factor's default.
CHANGED_SHARE = 0.1


def analyze_if_changed(conn: psycopg.Connection, table: str, rows_changed: int) -> bool:
    """ANALYZE `table` ("schema.name") in the caller's transaction if `rows_changed` rows are
    enough to change its statistics; return whether it was analyzed."""
    if rows_changed <= 0:
        return False
    schema, name = table.split(".")
    held, analyzed = conn.execute(
        "SELECT c.reltuples, s.last_analyze IS NOT NULL OR s.last_autoanalyze IS NOT NULL"
        " FROM pg_stat_user_tables AS s JOIN pg_class AS c ON c.oid = s.relid"
        " WHERE s.schemaname = %s AND s.relname = %s",
        (schema, name),
    ).fetchone()
    if analyzed and rows_changed < CHANGED_SHARE * max(held, 0):
        return False
    conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(schema, name)))
    return True
