"""The partitions, defined once: listeners (of ingestion) and calendar months (of the facts)."""

import warnings
from collections.abc import Iterable
from pathlib import Path

import dagster as dg

from spotify_etl.lib.export.discover import listeners_of
from spotify_etl.lib.export.records import EARLIEST_PLAY

# BackfillPolicy is marked beta; the facts rely on it on purpose (one run for many months).
warnings.filterwarnings("ignore", category=dg.BetaWarning)

# By calendar month of ts (UTC), from the month of the earliest play ingestion accepts, so
# every stored play lies in a partition; end_offset=1 makes the current month exist before
# it is over.
monthly_partitions = dg.MonthlyPartitionsDefinition(start_date=f"{EARLIEST_PLAY:%Y-%m-%d}", end_offset=1)

# One per listener: a folder under the raw directory, or "default" for the exports lying in it
# (spotify_etl.lib.export.discover.listener_for). Added by whoever finds a new one: the sensor,
# `spotify-etl run`, or the UI ("Add partition").
listener_partitions = dg.DynamicPartitionsDefinition(name="listeners")


def add_listener_partitions(instance: dg.DagsterInstance, raw_dir: Path) -> list[str]:
    """Add the listeners found under `raw_dir` as partitions; return every listener partition,
    in the instance's order (those added before and gone since ingest nothing)."""
    known = instance.get_dynamic_partitions(listener_partitions.name)
    if new := [listener for listener in listeners_of(raw_dir) if listener not in known]:
        instance.add_dynamic_partitions(listener_partitions.name, new)
        known = [*known, *new]
    return known


def range_tags(first: str, last: str) -> dict[str, str]:
    """The tags of a run over the partitions from `first` to `last` (keys), from which Dagster
    takes a run's partition range."""
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}


def months_outside_partitions(months: Iterable[str]) -> list[str]:
    """Those of `months` (YYYY-MM) that are no monthly partition, in order. The partitions' keys
    are listed once for all of them (Dagster lists them for each has_partition_key: ~0.4 ms,
    70 ms for a first load's 170 months)."""
    keys = set(monthly_partitions.get_partition_keys())
    return sorted(month for month in months if f"{month}-01" not in keys)


def month_ranges(months: set[str]) -> list[tuple[str, str]]:
    """Months (YYYY-MM) as runs of consecutive partitions, each (first key, last key): a run
    of Dagster covers one range of partitions."""
    if outside := months_outside_partitions(months):
        raise ValueError(f"month {outside[0]} is outside the monthly partitions")
    ranges: list[tuple[str, str]] = []
    for month in sorted(months):
        key = f"{month}-01"
        year, number = int(month[:4]), int(month[5:7])
        previous = f"{year - (number == 1):04d}-{12 if number == 1 else number - 1:02d}-01"
        if ranges and ranges[-1][1] == previous:
            ranges[-1] = (ranges[-1][0], key)
        else:
            ranges.append((key, key))
    return ranges
