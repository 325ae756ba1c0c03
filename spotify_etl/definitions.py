"""The one Definitions object of spotify_etl."""

import os

import dagster as dg

from spotify_etl.assets import dimensions, facts, raw, sessions
from spotify_etl.jobs import full_load_job
from spotify_etl.resources.warehouse import WarehouseResource

_ASSET_MODULES = [raw, dimensions, sessions, facts]
all_assets = dg.load_assets_from_modules(_ASSET_MODULES)
all_asset_checks = dg.load_asset_checks_from_modules(_ASSET_MODULES)


def _env_or_none(name: str) -> dg.EnvVar | None:
    # EnvVar keeps the value out of the UI's resource config (a URL may carry a password).
    return dg.EnvVar(name) if os.environ.get(name) else None


defs = dg.Definitions(
    assets=all_assets,
    asset_checks=all_asset_checks,
    jobs=[full_load_job],
    resources={
        "warehouse": WarehouseResource(
            database_url=_env_or_none("SPOTIFY_ETL_DATABASE_URL"),
            home=_env_or_none("SPOTIFY_ETL_HOME"),
        ),
    },
)
