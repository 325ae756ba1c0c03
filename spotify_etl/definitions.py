"""The one Definitions object of spotify_etl."""

import os

import dagster as dg

from spotify_etl.assets import dimensions, enrichment, facts, marts, raw, sessions, track_versions
from spotify_etl.jobs import full_load_job, reload_months_job, retry_enrichment_job
from spotify_etl.resources.spotify import SpotifyResource
from spotify_etl.resources.warehouse import WarehouseResource
from spotify_etl.sensors import raw_files_sensor, retry_enrichment_schedule
from spotify_etl.settings import DEFAULT_API_URL, DEFAULT_TOKEN_URL

_ASSET_MODULES = [raw, enrichment, dimensions, track_versions, sessions, facts, marts]
all_assets = dg.load_assets_from_modules(_ASSET_MODULES)
all_asset_checks = dg.load_asset_checks_from_modules(_ASSET_MODULES)


def _env_or_none(name: str) -> dg.EnvVar | None:
    # EnvVar keeps the value out of the UI's resource config (a URL may carry a password).
    return dg.EnvVar(name) if os.environ.get(name) else None


defs = dg.Definitions(
    assets=all_assets,
    asset_checks=all_asset_checks,
    jobs=[full_load_job, reload_months_job, retry_enrichment_job],
    sensors=[raw_files_sensor],
    schedules=[retry_enrichment_schedule],
    # Every step pushes its work down to PostgreSQL; a process per step would only add start-up time.
    executor=dg.in_process_executor,
    resources={
        "warehouse": WarehouseResource(
            database_url=_env_or_none("SPOTIFY_ETL_DATABASE_URL"),
            home=_env_or_none("SPOTIFY_ETL_HOME"),
        ),
        "spotify": SpotifyResource(
            client_id=_env_or_none("SPOTIPY_CLIENT_ID"),
            client_secret=_env_or_none("SPOTIPY_CLIENT_SECRET"),
            api_url=os.environ.get("SPOTIFY_API_URL") or DEFAULT_API_URL,
            token_url=os.environ.get("SPOTIFY_TOKEN_URL") or DEFAULT_TOKEN_URL,
        ),
    },
)
