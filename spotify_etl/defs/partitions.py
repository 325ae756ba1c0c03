"""Monthly partitions of the facts, defined once."""

import warnings

import dagster as dg

from spotify_etl.lib.export.records import EARLIEST_PLAY

# BackfillPolicy is marked beta; the facts rely on it on purpose (one run for many months).
warnings.filterwarnings("ignore", category=dg.BetaWarning)

# By calendar month of ts (UTC), from the month of the earliest play ingestion accepts, so
# every stored play lies in a partition; end_offset=1 makes the current month exist before
# it is over.
monthly_partitions = dg.MonthlyPartitionsDefinition(start_date=f"{EARLIEST_PLAY:%Y-%m-%d}", end_offset=1)
