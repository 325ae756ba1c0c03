"""raw_plays: every play of every export file under the raw directory, one row per unique play
in `staging.streaming_history` (spotify_etl.lib.ingestion does the work), partitioned by
listener: each listener's exports are ingested by their own partition, so many listeners are
many independent steps (a run per listener fans out over workers; one run over a range of
listeners is one step), and one listener's unreadable file fails that listener's checks only.

A partition's data version is its listener's stored plays and last source file; a run over
several listeners gives them one version of all of them. Each run then observes staged_plays
(the whole table), which is what everything downstream depends on. (The months of the new
plays reach the facts through the sessions, which read every new play and observe its month
with the session it got.)

Ingestion takes one lock per warehouse: listeners' steps may run side by side, but their
files are merged one at a time, in the order of their ids, which the incremental steps'
windows rely on (spotify_etl.lib.warehouse.incremental)."""

from pathlib import Path

import dagster as dg

from spotify_etl.defs.partitions import listener_partitions
from spotify_etl.defs.raw.staged_plays import observe_staged_plays
from spotify_etl.defs.resources import ExportsResource, WarehouseResource
from spotify_etl.lib.ingestion import IngestReport, ingest_raw_dir
from spotify_etl.lib.warehouse.sql_files import load_sql

# Metadata of a materialization: the months (YYYY-MM, UTC) whose staged plays it changed, which
# load_ingested_months loads next.
MONTHS_STORED = "months_changed"


@dg.asset(
    partitions_def=listener_partitions,
    # A run over many listeners ingests them in one step (the command line does so); a
    # backfill from the UI then makes one run of them too.
    backfill_policy=dg.BackfillPolicy.single_run(),
    kinds={"python", "postgres"},
    description=(
        "Every play from every Spotify export of a listener (a folder under the raw directory; "
        "exports lying in it belong to 'default'): zips, folders, loose JSON; extended history, "
        "account data, video; one row per unique play. Each record read is stored, counted as a "
        "duplicate, or kept in etl_internal.rejected_records."
    ),
)
def raw_plays(
    context: dg.AssetExecutionContext, exports: ExportsResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    raw_dir = exports.raw_path
    listeners = sorted(context.partition_keys)
    context.log.info(f"reading the exports of {_listing(listeners)} under {raw_dir}")
    report = ingest_raw_dir(
        warehouse.url(),
        raw_dir,
        keep_personal_data=exports.keep_personal_data,
        listeners=set(listeners),
        progress=context.log.info,
    )
    read_now = any(f.status != "unchanged" for f in report.files)
    with warehouse.connect() as conn:
        params = {"listeners": listeners}
        stored, last_file = conn.execute(load_sql("raw/listener_files_totals.sql"), params).fetchone()
        # What staging holds of them is looked at again only when a file was read.
        summary = conn.execute(load_sql("raw/streaming_history_summary.sql"), params).fetchone() if read_now else None
        staged = observe_staged_plays(context, conn, "raw_plays")
        table = warehouse.table_metadata("staging.streaming_history", rows=staged, conn=conn) if summary else {}
    for failed in report.failed:
        context.log.error(f"FILE FAILED: {failed.path}: {failed.error}")
    metadata = _metadata(report, raw_dir, summary) | table
    metadata["dagster/row_count"] = stored
    # Plays are only ever added (and account twins moved to duplicates, which lowers `stored`).
    return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(f"{stored}:{last_file}"))


def _listing(listeners: list[str]) -> str:
    shown = ", ".join(listeners[:5]) + (f" and {len(listeners) - 5} more" if len(listeners) > 5 else "")
    return f"{'listener' if len(listeners) == 1 else 'listeners'} {shown}"


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
        MONTHS_STORED: dg.MetadataValue.json(sorted(report.months)),
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
