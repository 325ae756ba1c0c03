"""Run the asset graph, or parts of it, against a test warehouse."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from spotify_etl.definitions import all_asset_checks, all_assets
from spotify_etl.defs.partitions import monthly_partitions
from spotify_etl.defs.resources import (
    ExportsResource,
    ReportsResource,
    SpotifyResource,
    WarehouseResource,
)
from spotify_etl.settings import load_settings

ALL_MONTHS = (monthly_partitions.get_partition_keys()[0], monthly_partitions.get_partition_keys()[-1])


def materialize_all(
    warehouse: WarehouseResource,
    raw_dir: Path,
    *,
    months: tuple[str, str] | None = ALL_MONTHS,
    selection: list[str] | dg.AssetSelection | None = None,
    run_config: dict | None = None,
    spotify: SpotifyResource | None = None,
    home_time_zone: str | None = None,
) -> dg.ExecuteInProcessResult:
    """One run of the graph (or `selection`) over the month range (None: a run without one)."""
    result = dg.materialize(
        [*all_assets, *all_asset_checks],
        selection=selection,
        run_config={"ops": run_config or {}},
        resources={
            "warehouse": warehouse,
            "spotify": spotify or SpotifyResource(),
            "exports": ExportsResource(raw_dir=str(raw_dir), home_time_zone=home_time_zone),
            "reports": ReportsResource.from_settings(load_settings()),
        },
        tags={"dagster/asset_partition_range_start": months[0], "dagster/asset_partition_range_end": months[1]}
        if months
        else None,
        raise_on_error=False,
    )
    failures = [e for e in result.all_events if e.is_step_failure]
    assert not failures, failures[0].step_failure_data.error.to_string()
    return result


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
