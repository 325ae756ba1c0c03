"""What a build of one table of the core layer (a dimension, the sessions, the track versions)
did, as its step reports it: the materialization of its asset, and the months whose facts it changed with
their versions, read on the build's connection once it committed. Builds run side by side in
threads of one step (spotify_etl.defs.core.dimensions_and_sessions); the step reports each
outcome from its own thread, the only one that talks to Dagster's context."""

from dataclasses import dataclass

import dagster as dg
import psycopg

from spotify_etl.defs.changed_months import ChangedMonths, read_changed_months, rules_version
from spotify_etl.defs.resources import WarehouseResource
from spotify_etl.lib.warehouse.incremental import IncrementalBuild


@dataclass(frozen=True)
class TableBuilt:
    """What a build of one table did, for its step to report: the materialization, and the
    months whose facts it changed."""

    result: dg.MaterializeResult
    changed: ChangedMonths


def built(
    warehouse: WarehouseResource,
    spec: dg.AssetSpec,
    build: IncrementalBuild,
    *settings: object,
    conn: psycopg.Connection,
    metadata: dict | None = None,
) -> TableBuilt:
    """The build's outcome, once `conn` (the build's connection, still open) has committed it."""
    name = spec.key.path[-1]
    window = build.window
    return TableBuilt(
        dg.MaterializeResult(
            asset_key=spec.key,
            metadata={
                **warehouse.table_metadata(f"core.{name}", conn=conn),
                **(metadata or {}),
                "source_files_read": "none new"
                if window.is_empty
                else f"{window.after_file + 1} .. {window.through_file}",
                "months_changed": len(build.changed_months),
            },
            data_version=rules_version(f"core/{name}.sql", *settings),
        ),
        read_changed_months(conn, build.changed_months, name),
    )
