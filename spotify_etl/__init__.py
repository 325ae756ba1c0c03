"""spotify_etl: a Spotify data export turned into a PostgreSQL star-schema warehouse, with Dagster."""

# Secrets are masked in every log record of the package (spotify_etl.logs).
from spotify_etl import logs as _logs  # noqa: E402,F401
