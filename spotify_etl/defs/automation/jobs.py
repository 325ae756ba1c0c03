"""Jobs a user finds by name in the UI and the CLI runs. A job's assets share one partitions
definition, so ingestion (by listener) and what follows (by month) are two jobs: a run of
`ingest_exports` per listener (or one over many), then `full_load` over the months their files
hold. Each run carries the tag `spotify_etl/writes`: what it writes, by which a shared
instance's run queue limits runs (deploy/dagster.yaml: a few ingestions, one fact load at a
time, one client of the API at a time)."""

import dagster as dg

from spotify_etl.defs.core.facts import fact_podcasts_history, fact_tracks_history
from spotify_etl.defs.core.plays_by_month import plays_by_month
from spotify_etl.defs.raw.raw_plays import raw_plays
from spotify_etl.defs.raw.staged_plays import staged_plays

WRITES_TAG = "spotify_etl/writes"

ingest_exports_job = dg.define_asset_job(
    name="ingest_exports",
    selection=dg.AssetSelection.assets(raw_plays),
    description=(
        "Ingest the exports of listeners (partitions of raw_plays) into staging. Launch it for one "
        "listener, or over many as one run; then full_load builds what follows."
    ),
    run_tags={WRITES_TAG: "staging"},
)

full_load_job = dg.define_asset_job(
    name="full_load",
    # staged_plays and plays_by_month are observed by the steps that change them, in the run.
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(raw_plays, staged_plays, plays_by_month),
    description=(
        "Build everything downstream of the ingested exports (enrichment, dimensions, sessions, the "
        "facts of the chosen months, checks, the report). Launch it over all months (or a range) as one run."
    ),
    run_tags={WRITES_TAG: "facts"},
)

reload_months_job = dg.define_asset_job(
    name="reload_months",
    selection=dg.AssetSelection.assets(fact_tracks_history.key, fact_podcasts_history.key),
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
