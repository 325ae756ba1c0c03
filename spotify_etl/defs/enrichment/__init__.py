"""Enrichment layer: tracks, artists, episodes and podcasts from the Spotify Web API into the
jsonb cache of `staging`, and plays without an id resolved by name through its Search API."""

from spotify_etl.defs.enrichment.assets import enriched_artists, enriched_episodes, enriched_podcasts, enriched_tracks
from spotify_etl.defs.enrichment.checks import api_values_usable, failed_uris, unresolved_names
from spotify_etl.defs.enrichment.resolved_names import resolved_names

assets = [resolved_names, enriched_tracks, enriched_artists, enriched_episodes, enriched_podcasts]
asset_checks = [failed_uris, api_values_usable, unresolved_names]
