"""raw_plays: every play of every export file under the raw directory, one row per unique play
in `staging.streaming_history` (spotify_etl.lib.ingestion does the work)."""

from pathlib import Path

import dagster as dg

from spotify_etl.defs.resources import ExportsResource, WarehouseResource
from spotify_etl.lib.ingestion import IngestReport, ingest_raw_dir
from spotify_etl.lib.warehouse.sql_files import load_sql


@dg.asset(
    kinds={"python", "postgres"},
    description=(
        "Every play from every Spotify export under the raw directory (zips, folders, loose "
        "JSON; extended history, account data, video), one row per unique play. Each record "
        "read is stored, counted as a duplicate, or kept in etl_internal.rejected_records."
    ),
)
def raw_plays(
    context: dg.AssetExecutionContext, exports: ExportsResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    raw_dir = exports.raw_path
    context.log.info(f"reading exports under {raw_dir}")
    report = ingest_raw_dir(
        warehouse.url(), raw_dir, keep_personal_data=exports.keep_personal_data, progress=context.log.info
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
            "| file | why ignored |\n|---|---|\n" + "\n".join(f"| {i.path} | {i.reason} |" for i in report.ignored)
        )
    if report.failed:
        metadata["FAILED_FILES"] = dg.MetadataValue.md(
            "| file | error |\n|---|---|\n" + "\n".join(f"| {f.path} | {f.error} |" for f in report.failed)
        )
    return metadata
