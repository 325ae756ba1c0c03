"""staged_plays: every listener's plays in `staging.streaming_history`, the one table everything
downstream reads, as an asset Dagster observes rather than builds. raw_plays (a partition per
listener) observes it after each ingestion, with the version of the whole table: the plays
stored and the last source file. Nothing stored is no new version, and nothing downstream
becomes stale.

What reads staging depends on staged_plays, not on raw_plays' partitions: Dagster compares the
data versions of at most 100 upstream partitions, so a dependency on every listener's partition
would stop making anything stale past 100 listeners; one observed version stays exact at any
number."""

import dagster as dg
import psycopg

from spotify_etl.defs.resources import WarehouseResource
from spotify_etl.lib.warehouse.sql_files import load_sql

STAGED_PLAYS = dg.AssetKey("staged_plays")


def observe_staged_plays(context: dg.AssetExecutionContext, conn: psycopg.Connection, observed_by: str) -> int:
    """Log an observation of staged_plays with the version of what staging holds now; return
    its rows, as the ledger adds them up (checked against the table by
    every_record_accounted_for)."""
    stored, last_file = conn.execute(load_sql("raw/source_files_totals.sql")).fetchone()
    context.log_event(
        dg.AssetObservation(
            asset_key=STAGED_PLAYS,
            description=f"observed by {observed_by}",
            metadata={"dagster/row_count": stored, "last_source_file": last_file, "observed_by": observed_by},
            tags={"dagster/data_version": f"{stored}:{last_file}"},
        )
    )
    return stored


@dg.multi_observable_source_asset(
    specs=[
        dg.AssetSpec(
            STAGED_PLAYS,
            # Every listener's partition of raw_plays (what Dagster assumes anyway, said here).
            deps=[dg.AssetDep("raw_plays", partition_mapping=dg.AllPartitionMapping())],
            kinds={"postgres"},
            description=(
                "Every listener's plays in staging.streaming_history: what the dimensions, sessions and "
                "enrichment read. Observed, not built: each raw_plays run observes it once its files are "
                "stored (version: plays stored and the last source file)."
            ),
        )
    ],
)
def staged_plays(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> None:
    with warehouse.connect() as conn:
        observe_staged_plays(context, conn, "observing staged_plays")
