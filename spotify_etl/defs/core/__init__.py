"""Core layer: the star schema's dimensions, listening sessions, track versions and the two
monthly-partitioned fact tables, with the checks that hold them to staging."""

from spotify_etl.defs.core.checks import fact_integrity_checks
from spotify_etl.defs.core.dimensions_and_sessions import dimensions_and_sessions
from spotify_etl.defs.core.facts import fact_tables
from spotify_etl.defs.core.plays_by_month import plays_by_month

assets = [dimensions_and_sessions, plays_by_month, fact_tables]
asset_checks = [fact_integrity_checks]
