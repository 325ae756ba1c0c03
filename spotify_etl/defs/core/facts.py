"""fact_tracks_history, fact_podcasts_history: one row per play, partitioned by calendar month
of ts (UTC), both loaded by one step (fact_tables), side by side.

Both are PostgreSQL tables partitioned by the same months (migration 0016), one partition per
month holding plays. Loading months empties their partitions (creating missing ones) and
inserts them again from staging, and replaces those months' rows of the aggregates the mart's
views read (migrations 0017, 0018: per local date, weekday and hour, start reason, year and
track, year and episode), in one transaction, so building month by month or all at once gives
identical tables, and a reload never rewrites another month. A run over many months (a
backfill) is one run and one statement (BackfillPolicy.single_run()).

A month is stale when its partition of plays_by_month has a new version (something it is
built from changed); the automation condition reloads exactly those months. New rows of the
dimensions or sessions do not make every month stale: their changes arrive month by month.
"""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import dagster as dg

from spotify_etl.defs.core.dimensions import (
    dim_artist,
    dim_date,
    dim_episode,
    dim_listener,
    dim_platform,
    dim_podcast,
    dim_reason,
    dim_time,
    dim_track,
)
from spotify_etl.defs.core.listening_sessions import fact_listening_sessions
from spotify_etl.defs.core.plays_by_month import plays_by_month
from spotify_etl.defs.partitions import monthly_partitions
from spotify_etl.defs.resources import WarehouseResource
from spotify_etl.lib.warehouse.database import execute_sql_file
from spotify_etl.lib.warehouse.sql_files import load_sql

# How a play is categorised (play_category):
#   skip     less than SKIP_BELOW_MS played: Spotify itself counts a stream only after 30 s;
#   full     at least FULL_FROM_SHARE of the duration (when enrichment knows it), or the
#            stream ended with reason 'trackdone';
#   partial  everything else.
# is_skip is Spotify's `skipped` flag when true (it is unreliable: always false from 2015-04
# to 2022-10), or a 'skip' play that did not end by finishing.
SKIP_BELOW_MS = 30_000
FULL_FROM_SHARE = 0.8

_FACT_DEPS = [plays_by_month, dim_date, dim_time, dim_reason, dim_platform, dim_listener, fact_listening_sessions]

# Reload a month when its plays_by_month partition has a new version (never for an update of
# an unpartitioned dependency, which would mean every month), once nothing upstream is still
# being built.
RELOAD_CHANGED_MONTHS = (
    dg.AutomationCondition.any_deps_updated().allow(dg.AssetSelection.assets(plays_by_month.key))
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("plays of the month changed")


def _load_months(warehouse: WarehouseResource, table: str, kind: str, start: datetime, end: datetime) -> dict:
    """Load the months of [start, end) of `table`, the fact whose aggregates are kept as
    `kind`, on a connection of its own; the materialization's metadata."""
    params = {"start": start, "end": end, "skip_below_ms": SKIP_BELOW_MS, "full_from_share": FULL_FROM_SHARE}
    with warehouse.connect() as conn:
        execute_sql_file(conn, f"core/{table}.sql", params)
        plays, loaded, ms_loaded = conn.execute(
            load_sql("core/fact_counts.sql"), {"start": start, "end": end, "kind": kind}
        ).fetchone()
        conn.commit()
        return {
            "months": _span(start, end),
            "plays_loaded": loaded,
            "hours_loaded": round(float(ms_loaded) / 3_600_000, 1),
            **warehouse.table_metadata(f"core.{table}", rows=plays, conn=conn),
        }


def _span(start: datetime, end: datetime) -> str:
    return f"{start:%Y-%m} .. {end:%Y-%m} (exclusive)"


fact_tracks_history = dg.AssetSpec(
    "fact_tracks_history",
    deps=[*_FACT_DEPS, dim_track, dim_artist],
    automation_condition=RELOAD_CHANGED_MONTHS,
    kinds={"postgres", "sql"},
    description=(
        "core.fact_tracks_history: one row per music play (tracks and local files) with local "
        "time, session, skip/partial/full category. Built by sql/core/fact_tracks_history.sql."
    ),
)
fact_podcasts_history = dg.AssetSpec(
    "fact_podcasts_history",
    deps=[*_FACT_DEPS, dim_episode, dim_podcast],
    automation_condition=RELOAD_CHANGED_MONTHS,
    kinds={"postgres", "sql"},
    description=(
        "core.fact_podcasts_history: one row per podcast episode play, with local time and "
        "session. Built by sql/core/fact_podcasts_history.sql."
    ),
)
# Each fact's table and the name its aggregates are kept under.
_LOADS = {fact_tracks_history.key: "music", fact_podcasts_history.key: "podcast"}


@dg.multi_asset(
    specs=[fact_tracks_history, fact_podcasts_history],
    partitions_def=monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    can_subset=True,
)
def fact_tables(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> Iterator[dg.MaterializeResult]:
    """Both facts in one step, each loaded on its own connection at the same time as the other
    (they read the same staging and write their own tables): at 1M plays a first load took
    12.5 s instead of 13.8 s one after the other. A fact that fails fails the step once the other
    is done; what that one loaded is committed, and its months stay stale (plays_by_month) until
    a run of both succeeds."""
    window = context.partition_time_window
    keys = [key for key in _LOADS if key in context.selected_asset_keys]
    with ThreadPoolExecutor(max_workers=len(keys)) as pool:
        loads = {
            key: pool.submit(_load_months, warehouse, key.path[-1], _LOADS[key], window.start, window.end)
            for key in keys
        }
    for key, load in loads.items():
        metadata = load.result()
        context.log.info(f"core.{key.path[-1]}: {metadata['plays_loaded']} plays loaded for {metadata['months']}")
        yield dg.MaterializeResult(asset_key=key, metadata=metadata)
