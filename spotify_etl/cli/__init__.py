"""The `spotify-etl` command line: run the pipeline, open the UI, see what the warehouse holds."""
