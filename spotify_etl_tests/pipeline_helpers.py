"""Run the asset graph, or parts of it, against a test warehouse."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import psycopg

from spotify_etl.definitions import all_asset_checks, all_assets, defs
from spotify_etl.defs.partitions import add_listener_partitions, monthly_partitions, range_tags
from spotify_etl.defs.raw.raw_plays import raw_plays
from spotify_etl.defs.resources import (
    ExportsResource,
    ReportsResource,
    SpotifyResource,
    WarehouseResource,
)
from spotify_etl.settings import load_settings

ALL_MONTHS = (monthly_partitions.get_partition_keys()[0], monthly_partitions.get_partition_keys()[-1])
# The months from the first staged play's to the last's, as the command line loads them: a run
# over every partition since 2008 costs Dagster an event or two per month and asset, and the
# months without plays hold no rows (an empty staging table: every month).
PLAYED = "played"


class Runs:
    """The runs of one materialize_all (ingestion by listener, then the rest by month), read as
    one result."""

    def __init__(self, results: list[dg.ExecuteInProcessResult]):
        self.results = results

    @property
    def success(self) -> bool:
        return all(result.success for result in self.results)

    @property
    def all_events(self) -> list:
        return [event for result in self.results for event in result.all_events]

    def get_asset_check_evaluations(self) -> list:
        return [evaluation for result in self.results for evaluation in result.get_asset_check_evaluations()]

    def get_asset_materialization_events(self) -> list:
        return [event for result in self.results for event in result.get_asset_materialization_events()]

    def get_asset_observation_events(self) -> list:
        return [event for result in self.results for event in result.get_asset_observation_events()]


def materialize_all(
    warehouse: WarehouseResource,
    raw_dir: Path,
    *,
    months: tuple[str, str] | str | None = PLAYED,
    selection: list[str] | dg.AssetSelection | None = None,
    run_config: dict | None = None,
    spotify: SpotifyResource | None = None,
    home_time_zone: str | None = None,
) -> Runs:
    """The graph (or `selection`) as the command line runs it: raw_plays over every listener
    under `raw_dir` in one run, then the rest over the month range (PLAYED: the months holding
    plays once ingested; None: a run without one)."""
    selected = dg.AssetSelection.all() if selection is None else dg.AssetSelection.from_coercible(selection)
    ingestion = dg.AssetSelection.assets(raw_plays)
    resources = {
        "warehouse": warehouse,
        "spotify": spotify or SpotifyResource(),
        "exports": ExportsResource(raw_dir=str(raw_dir), home_time_zone=home_time_zone),
        "reports": ReportsResource.from_settings(load_settings()),
    }
    graph = defs.resolve_asset_graph()
    instance = dg.DagsterInstance.ephemeral()
    # Each run: its selection, its range of partitions (listeners or months) and its ops' config.
    runs: list[tuple[dg.AssetSelection, tuple[str, str] | str | None, dict]] = []
    if raw_plays.key in selected.resolve(graph):
        if listeners := add_listener_partitions(instance, raw_dir):
            runs.append((ingestion, (listeners[0], listeners[-1]), {}))
        selected = selected - ingestion
        if not selected.resolve(graph):
            selected = None
    if selected is not None:
        runs.append((selected, months, run_config or {}))
    results = []
    for run_selection, partitions, ops in runs:
        if partitions == PLAYED:  # known once the plays are staged
            partitions = played_months(warehouse.url())
        tags = range_tags(*partitions) if partitions else None
        result = dg.materialize(
            [*all_assets, *all_asset_checks],
            selection=run_selection,
            run_config={"ops": ops},
            resources=resources,
            instance=instance,
            tags=tags,
            raise_on_error=False,
        )
        failures = [e for e in result.all_events if e.is_step_failure]
        assert not failures, failures[0].step_failure_data.error.to_string()
        results.append(result)
    return Runs(results)


def played_months(database_url: str) -> tuple[str, str]:
    """The monthly partitions from the first staged play's to the last's (every one if none)."""
    with psycopg.connect(database_url) as conn:
        first, last = conn.execute(
            "SELECT to_char(min(ts) AT TIME ZONE 'UTC', 'YYYY-MM-01'),"
            " to_char(max(ts) AT TIME ZONE 'UTC', 'YYYY-MM-01') FROM staging.streaming_history"
        ).fetchone()
    return (first, last) if first else ALL_MONTHS


def check_results(result: Runs | dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
