"""Raw layer: every play of every export file into `staging.streaming_history`."""

from spotify_etl.defs.raw.checks import every_record_accounted_for, export_files_readable
from spotify_etl.defs.raw.raw_plays import raw_plays

assets = [raw_plays]
asset_checks = [export_files_readable, every_record_accounted_for]
