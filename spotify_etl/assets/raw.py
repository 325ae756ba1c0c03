"""Raw layer: every play of every export file into `staging.streaming_history`."""

from pathlib import Path
from typing import Optional

import dagster as dg

from spotify_etl.ingestion import IngestReport, ingest_raw_dir
from spotify_etl.resources.warehouse import WarehouseResource
from spotify_etl.settings import load_settings
from spotify_etl.sql_files import load_sql

OWNERS = ["team:data-eng"]

class RawPlaysConfig(dg.Config):
    raw_dir: Optional[str] = None
    """Directory to read the exports from; default SPOTIFY_ETL_RAW_DIR (data/raw)."""

@dg.asset(
    group_name="raw",
    kinds={"python", "postgres"},
    owners=OWNERS,
    description=(
        "Every play from every Spotify export under the raw directory (zips, folders, loose "
        "JSON; extended history, account data, video), one row per unique play. Each record "
        "read is stored, counted as a duplicate, or kept in etl_internal.rejected_records."
    ),
)
def raw_plays(
    context: dg.AssetExecutionContext, config: RawPlaysConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    settings = load_settings()
    raw_dir = Path(config.raw_dir).resolve() if config.raw_dir else settings.raw_dir
    context.log.info(f"reading exports under {raw_dir}")
    report = ingest_raw_dir(
        warehouse.url(), raw_dir, keep_personal_data=settings.keep_personal_data, progress=context.log.info
    )
    with warehouse.connect() as conn:
        summary = conn.execute(load_sql("raw/streaming_history_summary.sql")).fetchone()
    for failed in report.failed:
        context.log.error(f"FILE FAILED: {failed.path}: {failed.error}")
    metadata = {**warehouse.table_metadata("staging.streaming_history"), **_metadata(report, raw_dir, summary)}
    return dg.MaterializeResult(metadata=metadata)

def _metadata(report: IngestReport, raw_dir: Path, summary: tuple) -> dict:
    total, by_kind, first_ts, last_ts = summary
    read_now = [f for f in report.files if f.status != "unchanged"]
    metadata = {
        "raw_dir": str(raw_dir),
        "files_read": len(read_now),
        "files_unchanged": len(report.files) - len(read_now),
        "files_failed": len(report.failed),
        "files_ignored": len(report.ignored),
        "records_read": report.records_read,
        "stored": report.stored,
        "duplicates": report.duplicates,
        "rejected": report.rejected,
        "plays_by_kind": dg.MetadataValue.json(by_kind or {}),
        "first_play": str(first_ts) if first_ts else "none",
        "last_play": str(last_ts) if last_ts else "none",
        "dagster/row_count": total,
    }
    if report.rejected_by_reason:
        metadata["rejected_by_reason"] = dg.MetadataValue.json(dict(report.rejected_by_reason))
    if report.ignored:
        metadata["ignored"] = dg.MetadataValue.md(
            "| file | why ignored |\n|---|---|\n"
            + "\n".join(f"| {i.path} | {i.reason} |" for i in report.ignored)
        )
    if report.failed:
        metadata["FAILED_FILES"] = dg.MetadataValue.md(
            "| file | error |\n|---|---|\n" + "\n".join(f"| {f.path} | {f.error} |" for f in report.failed)
        )
    return metadata

@dg.asset_check(
    asset=raw_plays,
    description="Every export file could be read to its end (a truncated download fails this).",
)
def export_files_readable(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        failed = conn.execute(load_sql("raw/failed_source_files.sql")).fetchall()
    return dg.AssetCheckResult(
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            "; ".join(f"{path}: {error}" for path, error, _ in failed) if failed else "all files read"
        ),
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
            "first_problems": dg.MetadataValue.json([dict(zip(columns, map(str, row))) for row in problems[:20]]),
        },
    )
