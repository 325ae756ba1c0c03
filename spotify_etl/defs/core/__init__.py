"""Core layer: the star schema's dimensions, listening sessions, track versions and the two
monthly-partitioned fact tables, with the checks that hold them to staging."""

from spotify_etl.defs.core.checks import fact_integrity_checks
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
from spotify_etl.defs.core.facts import fact_tables
from spotify_etl.defs.core.listening_sessions import fact_listening_sessions
from spotify_etl.defs.core.plays_by_month import plays_by_month
from spotify_etl.defs.core.track_versions import track_versions

assets = [
    dim_date,
    dim_time,
    dim_reason,
    dim_platform,
    dim_listener,
    dim_artist,
    dim_track,
    dim_podcast,
    dim_episode,
    fact_listening_sessions,
    plays_by_month,
    track_versions,
    fact_tables,
]
asset_checks = [fact_integrity_checks]
