"""fact_tracks_history, fact_podcasts_history: one row per play, partitioned by calendar month
of ts (UTC), both loaded by one step (fact_tables), side by side.

Both are PostgreSQL tables partitioned by the same months (migration 0016), one partition per
month holding plays. Loading months empties their partitions (creating missing ones) and
inserts them again from staging, and replaces those months' rows of the aggregates the mart's
views read (migrations 0017, 0018: per local date, weekday and hour, start reason, year and
track, year and episode), in one transaction, so building month by month or all at once gives
identical tables, and a reload never rewrites another month. A run over many months (a
backfill) is one run (BackfillPolicy.single_run()) and one load per fact; months a fact holds
no row of yet (a first load), a few pieces of them loaded side by side
(spotify_etl.lib.warehouse.fact_loads).

A month is stale when its partition of plays_by_month has a new version (something it is
built from changed); the automation condition reloads exactly those months. New rows of the
dimensions or sessions do not make every month stale: their changes arrive month by month.
"""

from collections.abc import Iterator
from datetime import datetime
from functools import partial

import dagster as dg
import psycopg

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
from spotify_etl.lib.side_by_side import run_side_by_side
from spotify_etl.lib.warehouse.fact_loads import FactLoad, Partitions, add_partitions, load_fact, plan_fact_loads
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
# Loads (whole facts or pieces) at a time: the server's two cores.
LOADS_AT_ONCE = 2

_FACT_DEPS = [plays_by_month, dim_date, dim_time, dim_reason, dim_platform, dim_listener, fact_listening_sessions]

# Reload a month when its plays_by_month partition has a new version (never for an update of
# an unpartitioned dependency, which would mean every month), once nothing upstream is still
# being built.
RELOAD_CHANGED_MONTHS = (
    dg.AutomationCondition.any_deps_updated().allow(dg.AssetSelection.assets(plays_by_month.key))
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("plays of the month changed")


def _load(warehouse: WarehouseResource, load: FactLoad) -> None:
    """One load of a fact's months (whole, or a piece), on a connection of its own."""
    params = {"skip_below_ms": SKIP_BELOW_MS, "full_from_share": FULL_FROM_SHARE}
    with warehouse.connect() as conn:
        load_fact(conn, load, params)


def _add_partitions(warehouse: WarehouseResource, partitions: Partitions) -> None:
    with warehouse.connect() as conn:
        add_partitions(conn, partitions)


def _metadata(
    warehouse: WarehouseResource, conn: psycopg.Connection, table: str, kind: str, start: datetime, end: datetime
) -> dict:
    """What a fact's materialization says of its months of [start, end), once they loaded."""
    plays, loaded, ms_loaded = conn.execute(
        load_sql("core/fact_counts.sql"), {"start": start, "end": end, "kind": kind}
    ).fetchone()
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
    """Both facts in one step, LOADS_AT_ONCE loads at a time, each on its own connection (they
    read the same staging and write their own tables); months a fact holds no row of yet, in
    pieces side by side (spotify_etl.lib.warehouse.fact_loads). At 1M plays a first load took
    ~6 s in pieces, ~9.5 s as two whole loads, 13.8 s one after the other. A fact whose load
    fails fails the step once the others are done; what they loaded is committed and
    materialized, and its months stay stale (plays_by_month) until a run loads them."""
    window = context.partition_time_window
    facts = {key.path[-1]: _LOADS[key] for key in _LOADS if key in context.selected_asset_keys}
    with warehouse.connect() as conn:
        partitions, loads = plan_fact_loads(conn, facts, window.start, window.end)
    tasks = {
        **{made: partial(_add_partitions, warehouse, made) for made in partitions},
        **{load: partial(_load, warehouse, load) for load in loads},
    }
    after = {load: {made for made in partitions if made.table == load.table} for load in loads}
    outcomes = list(run_side_by_side(tasks, after, LOADS_AT_ONCE, [*partitions, *loads]))
    failed: dict[str, BaseException] = {}
    for outcome in outcomes:  # a piece not run waits for its fact's partitions, which failed
        if outcome.error is not None:
            failed.setdefault(outcome.key.table, outcome.error)
    loaded = [key for key in _LOADS if key.path[-1] in facts and key.path[-1] not in failed]
    with warehouse.connect() as conn:
        metadata = {
            key: _metadata(warehouse, conn, key.path[-1], _LOADS[key], window.start, window.end) for key in loaded
        }
    for key in loaded:
        pieces = sum(1 for load in loads if load.table == key.path[-1])
        side_by_side = f" in {pieces} pieces side by side" if pieces > 1 else ""
        context.log.info(
            f"core.{key.path[-1]}: {metadata[key]['plays_loaded']} plays loaded for {metadata[key]['months']}"
            + side_by_side
        )
        yield dg.MaterializeResult(asset_key=key, metadata=metadata[key])
    if failed:
        raise next(iter(failed.values()))
