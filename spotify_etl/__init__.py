"""spotify_etl: a Spotify data export turned into a PostgreSQL star-schema warehouse, with Dagster."""
