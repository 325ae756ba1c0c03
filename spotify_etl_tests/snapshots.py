"""The whole warehouse as comparable values: to show that an interrupted and resumed run
leaves exactly what an uninterrupted one does."""

from __future__ import annotations

import psycopg
from psycopg import sql

TABLES = (
    "staging.streaming_history",
    "etl_internal.source_files",
    "etl_internal.rejected_records",
    "staging.spotify_track_data",
    "staging.spotify_artist_data",
    "staging.spotify_episode_data",
    "staging.spotify_podcast_data",
    "etl_internal.failed_uris",
    "core.dim_date",
    "core.dim_reason",
    "core.dim_platform",
    "core.dim_listener",
    "core.dim_artist",
    "core.dim_track",
    "core.bridge_track_artist",
    "core.dim_podcast",
    "core.dim_episode",
    "core.fact_listening_sessions",
    "core.fact_tracks_history",
    "core.fact_podcasts_history",
)
# Surrogate keys drawn from sequences (a killed transaction consumes values) and the times
# rows were written: they differ between two correct runs.
VOLATILE = {
    "play_id",
    "session_id",
    "source_file_id",
    "rejected_id",
    "loaded_at",
    "fetched_at",
    "rejected_at",
    "first_failed_at",
    "last_failed_at",
    "next_attempt_at",
    "linked_at",
    "enriched_at",
}


def snapshot(url: str, tables: tuple[str, ...] = TABLES) -> dict[str, list[tuple]]:
    """Every row of `tables`, without the volatile columns, sorted."""
    result = {}
    with psycopg.connect(url) as conn:
        for table in tables:
            schema, name = table.split(".")
            columns = [
                column
                for (column,) in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s"
                    " ORDER BY ordinal_position",
                    (schema, name),
                )
                if column not in VOLATILE
            ]
            assert columns, f"{table} has no columns: a typo in the test?"
            query = sql.SQL("SELECT {} FROM {} ORDER BY {}").format(
                sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.Identifier(schema, name),
                sql.SQL(", ").join(sql.Literal(i) for i in range(1, len(columns) + 1)),
            )
            result[table] = conn.execute(query).fetchall()
    return result


def assert_same_warehouse(killed: str, clean: str, tables: tuple[str, ...] = TABLES) -> dict[str, int]:
    """The two warehouses hold the same rows; returns the row count of each table."""
    left, right = snapshot(killed, tables), snapshot(clean, tables)
    for table in tables:
        assert left[table] == right[table], f"{table} differs: {len(left[table])} rows vs {len(right[table])}"
    return {table: len(rows) for table, rows in left.items()}
