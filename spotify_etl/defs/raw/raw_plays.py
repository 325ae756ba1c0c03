"""raw_plays: every play of every export file under the raw directory, one row per unique play
in `staging.streaming_history` (spotify_etl.lib.ingestion does the work). Its data version is
the staged plays' count and last source file: nothing new is no new version, and what follows
is not stale. (The months of the new plays reach the facts through the sessions, which read
every new play and observe its month with the session it got.)"""

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
    read_now = any(f.status != "unchanged" for f in report.files)
    with warehouse.connect() as conn:
        stored, last_file = conn.execute(load_sql("raw/source_files_totals.sql")).fetchone()
        # What staging holds is looked at again only when a file was read.
        summary = conn.execute(load_sql("raw/streaming_history_summary.sql")).fetchone() if read_now else None
    for failed in report.failed:
        context.log.error(f"FILE FAILED: {failed.path}: {failed.error}")
    metadata = _metadata(report, raw_dir, summary)
    metadata["dagster/row_count"] = stored
    if summary:
        metadata.update(warehouse.table_metadata("staging.streaming_history"))
    # Plays are only ever added (and account twins moved to duplicates, which lowers `stored`).
    return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(f"{stored}:{last_file}"))


def _metadata(report: IngestReport, raw_dir: Path, summary: tuple | None) -> dict:
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
        "months_changed": len(report.months),
    }
    if summary:
        by_kind, first_ts, last_ts = summary
        metadata["plays_by_kind"] = dg.MetadataValue.json(by_kind or {})
        metadata["first_play"] = str(first_ts) if first_ts else "none"
        metadata["last_play"] = str(last_ts) if last_ts else "none"
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
