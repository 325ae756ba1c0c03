"""Dagster resources: the warehouse, the Spotify Web API, the exports, the reports directory.

Built from `spotify_etl.settings` (the environment) by `resources_from_settings`, so what a run
uses is what the launchpad shows.
"""

from __future__ import annotations

import dagster as dg

from spotify_etl.defs.resources.exports import ExportsResource
from spotify_etl.defs.resources.reports import ReportsResource
from spotify_etl.defs.resources.spotify import SpotifyResource
from spotify_etl.defs.resources.warehouse import WarehouseResource
from spotify_etl.settings import Settings

__all__ = ["ExportsResource", "ReportsResource", "SpotifyResource", "WarehouseResource", "resources_from_settings"]


def resources_from_settings(settings: Settings) -> dict:
    # A URL may carry a password: the definitions name its variable (EnvVar), so the UI shows
    # the name and a run reads the value.
    database_url = dg.EnvVar("SPOTIFY_ETL_DATABASE_URL") if settings.database_url else None
    return {
        "warehouse": WarehouseResource(database_url=database_url, home=str(settings.home)),
        "spotify": SpotifyResource.from_settings(settings),
        "exports": ExportsResource.from_settings(settings),
        "reports": ReportsResource.from_settings(settings),
    }
