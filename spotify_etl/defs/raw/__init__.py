"""Raw layer: every play of every export file into `staging.streaming_history`, listener by
listener (raw_plays), and the table as a whole as downstream reads it (staged_plays)."""

from spotify_etl.defs.raw.checks import every_record_accounted_for, export_files_readable
from spotify_etl.defs.raw.raw_plays import raw_plays
from spotify_etl.defs.raw.staged_plays import staged_plays

assets = [raw_plays, staged_plays]
asset_checks = [export_files_readable, every_record_accounted_for]
