"""Pure Python, no Dagster: find, recognise and normalise the records of a Spotify export."""
