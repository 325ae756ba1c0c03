"""Monthly partitions of the facts, defined once."""

import warnings

import dagster as dg

# BackfillPolicy is marked beta; the facts rely on it on purpose (one run for many months).
warnings.filterwarnings("ignore", category=dg.BetaWarning)

# By calendar month of ts (UTC). Spotify streaming began in October 2008; end_offset=1 makes
# the current month exist before it is over.
monthly_partitions = dg.MonthlyPartitionsDefinition(start_date="2008-10-01", end_offset=1)
