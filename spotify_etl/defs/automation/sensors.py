"""raw_files_sensor: new or changed export files request the months they hold."""

import hashlib
import json

import dagster as dg

from spotify_etl.defs.automation.abandoned_runs import fail_abandoned_runs
from spotify_etl.defs.automation.jobs import full_load_job
from spotify_etl.defs.partitions import month_ranges, monthly_partitions
from spotify_etl.defs.raw.raw_plays import raw_plays
from spotify_etl.defs.resources import ExportsResource
from spotify_etl.lib.export.discover import UNREADABLE, discover, months_of
from spotify_etl.lib.ingestion import sha256_of


@dg.sensor(
    job=full_load_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Watches the raw directory (the exports resource's raw_dir). A new or changed file (size, mtime, then "
        "content hash: a touched but identical file does nothing) requests ingestion and the "
        "downstream assets for exactly the months it contains. A file that cannot be read is "
        "reported and sent to ingestion alone, which records it as failed."
    ),
)
def raw_files_sensor(context: dg.SensorEvaluationContext, exports: ExportsResource):
    for run_id in fail_abandoned_runs(context.instance):
        context.log.warning(f"run {run_id} was left started by a process that is gone: marked failed")
    raw_dir = exports.raw_path
    if not raw_dir.is_dir():
        return dg.SkipReason(f"raw directory {raw_dir} does not exist")
    seen: dict = json.loads(context.cursor) if context.cursor else {}
    files, _ignored = discover(raw_dir)
    requests: list[dg.RunRequest] = []
    changed: dict[str, str] = {}  # path -> sha256 of the new or changed readable files
    months: set[str] = set()
    for export_file in files:
        stamp = [export_file.size, export_file.mtime]
        known = seen.get(export_file.path)
        if known and known["stamp"] == stamp:
            continue  # unchanged without opening it
        try:
            sha256 = sha256_of(export_file)
        except FileNotFoundError:
            continue  # gone since it was listed; if it comes back, the next tick sees it
        seen[export_file.path] = {"stamp": stamp, "sha256": sha256}
        if known and known["sha256"] == sha256:
            continue  # touched, same content
        try:
            months |= months_of(export_file)
        except UNREADABLE as exc:
            context.log.warning(f"{export_file.path}: cannot be read ({exc}); sending it to ingestion to be recorded")
            requests.append(
                dg.RunRequest(
                    run_key=f"{sha256}:raw",
                    asset_selection=[raw_plays.key],
                    tags={"spotify_etl/files": export_file.path},
                )
            )
            continue
        changed[export_file.path] = sha256
    context.update_cursor(json.dumps(seen, sort_keys=True))

    # The files found in one tick share their runs: one per run of consecutive months.
    content = hashlib.sha256("".join(sorted(changed.values())).encode()).hexdigest()[:16]
    # A play outside the partitions is rejected by ingestion: its month has nothing to load.
    for first, last in month_ranges({m for m in months if monthly_partitions.has_partition_key(f"{m}-01")}):
        requests.append(
            dg.RunRequest(
                run_key=f"{content}:{first}:{last}",
                tags={
                    "dagster/asset_partition_range_start": first,
                    "dagster/asset_partition_range_end": last,
                    "spotify_etl/files": ", ".join(sorted(changed))[:1000],
                },
            )
        )
    if not requests:
        return dg.SkipReason(f"no new or changed files among {len(files)} in {raw_dir}")
    context.log.info(f"{len(changed)} new or changed files: {len(requests)} runs requested")
    return requests
