"""plays_by_month: what the facts of one month are built from (the month's staged plays with
their sessions, home time zones and enrichment), as a monthly-partitioned asset that Dagster
observes rather than builds. The steps that change it observe the months they changed
(spotify_etl.defs.changed_months); "Observe" in the UI computes every month's version. The
facts depend on it month by month, so a month is stale when, and only when, something it is
built from changed."""

import dagster as dg

from spotify_etl.defs.changed_months import PLAYS_BY_MONTH, observe_months
from spotify_etl.defs.core.dimensions import dim_episode, dim_listener, dim_track
from spotify_etl.defs.core.listening_sessions import fact_listening_sessions
from spotify_etl.defs.partitions import monthly_partitions
from spotify_etl.defs.raw.staged_plays import staged_plays
from spotify_etl.defs.resources import WarehouseResource
from spotify_etl.lib.warehouse.incremental import month_versions


@dg.multi_observable_source_asset(
    specs=[
        dg.AssetSpec(
            PLAYS_BY_MONTH,
            partitions_def=monthly_partitions,
            deps=[staged_plays, fact_listening_sessions, dim_listener, dim_track, dim_episode],
            kinds={"postgres"},
            description=(
                "What the facts of a month are built from: its plays in staging with their sessions, their "
                "listener's home time zone and their track's or episode's enrichment. Observed, not built: "
                "fact_listening_sessions (every new play, with its session), dim_listener, dim_track and "
                "dim_episode observe the months they changed; observing it here computes every month's version "
                "(sql/core/plays_by_month_versions.sql)."
            ),
        )
    ],
)
def plays_by_month(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> None:
    with warehouse.connect() as conn:
        months = {
            month
            for (month,) in conn.execute(
                "SELECT DISTINCT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM') FROM staging.streaming_history"
            )
        }
        versions = month_versions(conn, months)
    observe_months(context, versions, "observing plays_by_month")
