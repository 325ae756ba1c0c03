"""Enrichment layer: tracks, artists, episodes and podcasts from the Spotify Web API into the
jsonb cache of `staging`."""

from spotify_etl.defs.enrichment.assets import enriched_artists, enriched_episodes, enriched_podcasts, enriched_tracks
from spotify_etl.defs.enrichment.checks import api_values_usable, failed_uris

assets = [enriched_tracks, enriched_artists, enriched_episodes, enriched_podcasts]
asset_checks = [failed_uris, api_values_usable]
