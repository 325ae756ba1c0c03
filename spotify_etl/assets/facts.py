"""Core layer: the fact tables, one row per play, partitioned by calendar month of ts (UTC).

Loading a month deletes that month's rows and inserts them again from staging in one
transaction, so building month by month or all at once gives identical tables. A run over
many months (a backfill) is one run and one statement (BackfillPolicy.single_run()).
"""

from datetime import datetime

import dagster as dg
from psycopg import sql

from spotify_etl.assets.dimensions import dim_listener
from spotify_etl.assets.raw import OWNERS
from spotify_etl.assets.sessions import fact_listening_sessions
from spotify_etl.partitions import monthly_partitions
from spotify_etl.resources.warehouse import WarehouseResource, execute_sql_file
from spotify_etl.sql_files import load_sql

# How a play is categorised (play_category):
#   skip     less than SKIP_BELOW_MS played: Spotify itself counts a stream only after 30 s;
#   full     at least FULL_FROM_SHARE of the duration (when enrichment knows it), or the
#            stream ended with reason 'trackdone';
#   partial  everything else.
# is_skip is Spotify's `skipped` flag when true (it is unreliable: always false from 2015-04
# to 2022-10), or a 'skip' play that did not end by finishing.
SKIP_BELOW_MS = 30_000
FULL_FROM_SHARE = 0.8

_FACT_DEPS = ["dim_date", "dim_time", "dim_reason", "dim_platform", dim_listener, fact_listening_sessions]


def _load_months(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, table: str
) -> dg.MaterializeResult:
    window = context.partition_time_window
    start, end = window.start, window.end
    params = {"start": start, "end": end, "skip_below_ms": SKIP_BELOW_MS, "full_from_share": FULL_FROM_SHARE}
    with warehouse.connect() as conn:
        execute_sql_file(conn, f"core/{table}.sql", params)
        loaded = conn.execute(
            sql.SQL("SELECT count(*), coalesce(sum(ms_played), 0) FROM {} WHERE ts >= %s AND ts < %s").format(
                sql.Identifier("core", table)
            ),
            (start, end),
        ).fetchone()
    context.log.info(f"core.{table}: {loaded[0]} plays loaded for {_span(start, end)}")
    return dg.MaterializeResult(
        metadata={
            "months": _span(start, end),
            "plays_loaded": loaded[0],
            "hours_loaded": round(float(loaded[1]) / 3_600_000, 1),
            **warehouse.table_metadata(f"core.{table}"),
        }
    )


def _span(start: datetime, end: datetime) -> str:
    return f"{start:%Y-%m} .. {end:%Y-%m} (exclusive)"


@dg.asset(
    group_name="core",
    deps=[*_FACT_DEPS, "dim_track", "dim_artist"],
    partitions_def=monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    kinds={"postgres", "sql"},
    owners=OWNERS,
    description=(
        "core.fact_tracks_history: one row per music play (tracks and local files) with local "
        "time, session, skip/partial/full category. Built by sql/core/fact_tracks_history.sql."
    ),
)
def fact_tracks_history(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    return _load_months(context, warehouse, "fact_tracks_history")


@dg.asset(
    group_name="core",
    deps=[*_FACT_DEPS, "dim_episode", "dim_podcast"],
    partitions_def=monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    kinds={"postgres", "sql"},
    owners=OWNERS,
    description=(
        "core.fact_podcasts_history: one row per podcast episode play, with local time and "
        "session. Built by sql/core/fact_podcasts_history.sql."
    ),
)
def fact_podcasts_history(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    return _load_months(context, warehouse, "fact_podcasts_history")


def _check_from_sql(warehouse: WarehouseResource, check_name: str, what: str) -> dg.AssetCheckResult:
    """Pass when `sql/checks/<check_name>.sql` returns no row; the rows found are the evidence."""
    with warehouse.connect() as conn:
        cursor = conn.execute(load_sql(f"checks/{check_name}.sql"))
        rows = cursor.fetchall()
        columns = [c.name for c in cursor.description]
    return dg.AssetCheckResult(
        check_name=check_name,
        asset_key=fact_tracks_history.key,
        passed=not rows,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{len(rows)} {what}" if rows else f"no {what}",
        metadata={
            "problems": len(rows),
            "first_problems": dg.MetadataValue.json([dict(zip(columns, map(str, row))) for row in rows[:20]]),
        },
    )


_CHECKS = {
    "no_duplicate_plays": ("duplicate natural keys", "No two fact rows share a natural key (listener, ts, content, ms_played)."),
    "no_orphan_keys": ("orphan dimension keys", "Every dimension key of a fact row exists in its dimension."),
    "reconciles_with_staging": ("months that do not reconcile", "Plays in staging by kind and month = fact rows + explicitly excluded ones (audiobooks, unknown content); ms_played sums agree."),
    "dim_date_covers_facts": ("fact dates missing from dim_date", "Every fact date is in dim_date."),
}  # fmt: skip


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(name, asset=fact_tracks_history, description=description)
        for name, (_, description) in _CHECKS.items()
    ],
)
def fact_integrity_checks(warehouse: WarehouseResource):
    """Both fact tables are checked; the checks hang on fact_tracks_history, built last but
    one, so they show beside the facts in the UI."""
    for name, (what, _) in _CHECKS.items():
        yield _check_from_sql(warehouse, name, what)
