"""Jobs a user finds by name in the UI and the CLI runs. Each run carries the tag
`spotify_etl/writes`: what it writes, by which a shared instance's run queue limits runs
(deploy/dagster.yaml: one fact load at a time, one client of the API at a time)."""

import dagster as dg

from spotify_etl.defs.core.facts import fact_podcasts_history, fact_tracks_history
from spotify_etl.defs.core.plays_by_month import plays_by_month

WRITES_TAG = "spotify_etl/writes"

full_load_job = dg.define_asset_job(
    name="full_load",
    # plays_by_month is observed by the steps that change it, month by month, in the run.
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(plays_by_month),
    description=(
        "Ingest every export under the raw directory and build everything downstream. "
        "Launch it over all months (or a range) as one run."
    ),
    run_tags={WRITES_TAG: "facts"},
)

reload_months_job = dg.define_asset_job(
    name="reload_months",
    selection=dg.AssetSelection.assets(fact_tracks_history, fact_podcasts_history),
    description=(
        "Reload the facts of chosen months from staging (each month's partition emptied and filled). Launch a backfill "
        "over the months you want; it runs as one run."
    ),
    run_tags={WRITES_TAG: "facts"},
)

retry_enrichment_job = dg.define_asset_job(
    name="retry_enrichment",
    selection=dg.AssetSelection.groups("enrichment"),
    description="Fetch pending enrichment from the Spotify Web API (scheduled hourly).",
    run_tags={WRITES_TAG: "spotify_api"},
)
