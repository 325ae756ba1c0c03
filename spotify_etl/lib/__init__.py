"""spotify_etl's library: everything that does the work, free of Dagster (the definitions in
spotify_etl.defs wire it into assets, resources and automation)."""
