"""Checks of the raw layer: every file read to its end, every record accounted for.
Both are ERROR checks: a failing one fails the command that ran it.

A file that cannot be read belongs to its listener: export_files_readable looks at the
listeners of the run (its raw_plays partitions), so one listener's damaged export fails that
listener's runs only. The ledger adds up or not as a whole (a play whose file is missing from
it belongs to nobody), so every_record_accounted_for looks at every file."""

import dagster as dg

from spotify_etl.defs.raw.raw_plays import raw_plays
from spotify_etl.defs.resources import WarehouseResource
from spotify_etl.lib.warehouse.sql_files import load_sql


@dg.asset_check(
    asset=raw_plays,
    description="Every export file of the run's listeners could be read to its end (a truncated download fails this).",
)
def export_files_readable(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    partitioned = context.has_partition_key or context.has_partition_key_range
    listeners = sorted(context.partition_keys) if partitioned else None
    with warehouse.connect() as conn:
        failed = conn.execute(load_sql("raw/failed_source_files.sql"), {"listeners": listeners}).fetchall()
    return dg.AssetCheckResult(
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=("; ".join(f"{path}: {error}" for path, error, _ in failed) if failed else "all files read"),
        metadata={
            "failed_files": len(failed),
            "files": dg.MetadataValue.json([{"path": p, "error": e, "records_kept": n} for p, e, n in failed]),
        },
    )


@dg.asset_check(
    asset=raw_plays,
    description="Every record read is accounted for, file by file: records_read = stored + duplicates "
    "+ rejected, stored = the file's rows in staging, rejected = its rows in rejected_records (each "
    "count observed on its own). Fails with the files that do not add up.",
)
def every_record_accounted_for(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        cursor = conn.execute(load_sql("raw/record_accounting.sql"))
        problems = cursor.fetchall()
        columns = [column.name for column in cursor.description]
        read, stored, duplicates, rejected = conn.execute(load_sql("raw/record_totals.sql")).fetchone()
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"{len(problems)} files do not add up: " + "; ".join(str(row[0]) for row in problems[:5])
            if problems
            else f"all {read} records read accounted for"
        ),
        metadata={
            "records_read": read,
            "stored": stored,
            "duplicates": duplicates,
            "rejected": rejected,
            "files_not_adding_up": len(problems),
            "first_problems": dg.MetadataValue.json(
                [dict(zip(columns, map(str, row), strict=True)) for row in problems[:20]]
            ),
        },
    )
