"""The sensors that follow new exports: raw_files_sensor ingests the listeners whose files are
new or changed (one run each, adding listeners it has not seen as partitions), and
load_ingested_months then builds what follows for exactly the months each ingestion stored
plays in. Ingestion knows those months (it has read the plays); the sensor only tells changed
files from unchanged ones, without parsing them."""

import hashlib
import json
from collections import defaultdict

import dagster as dg

from spotify_etl.defs.automation.abandoned_runs import fail_abandoned_runs
from spotify_etl.defs.automation.jobs import full_load_job, ingest_exports_job
from spotify_etl.defs.partitions import listener_partitions, month_ranges, months_outside_partitions, range_tags
from spotify_etl.defs.raw.raw_plays import MONTHS_STORED, raw_plays
from spotify_etl.defs.resources import ExportsResource
from spotify_etl.lib.export.discover import UNREADABLE, discover
from spotify_etl.lib.ingestion import sha256_of

FILES_TAG = "spotify_etl/files"


@dg.sensor(
    job=ingest_exports_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Watches the raw directory (the exports resource's raw_dir). A new or changed file (size, mtime, then "
        "content hash: a touched but identical file does nothing) requests the ingestion of its listener (a new "
        "listener is added as a partition first); load_ingested_months then loads the months ingestion stored "
        "plays in. A file that cannot be read goes to its listener's ingestion too, which records it as failed."
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
    changed: dict[str, dict[str, str]] = defaultdict(dict)  # listener -> path -> content
    for export_file in files:
        stamp = [export_file.size, export_file.mtime]
        known = seen.get(export_file.path)
        if known and known["stamp"] == stamp:
            continue  # unchanged without opening it
        try:
            content = sha256_of(export_file)
        except FileNotFoundError:
            continue  # gone since it was listed; if it comes back, the next tick sees it
        except UNREADABLE as exc:
            context.log.warning(f"{export_file.path}: cannot be read ({exc}); its listener's ingestion records it")
            content = f"unreadable at {stamp}"
        seen[export_file.path] = {"stamp": stamp, "sha256": content}
        if known and known["sha256"] == content:
            continue  # touched, same content
        changed[export_file.listener][export_file.path] = content
    cursor = json.dumps(seen, sort_keys=True)
    if not changed:
        return dg.SensorResult(skip_reason=f"no new or changed files among {len(files)} in {raw_dir}", cursor=cursor)

    known_listeners = set(context.instance.get_dynamic_partitions(listener_partitions.name))
    new_listeners = sorted(set(changed) - known_listeners)
    requests = [
        dg.RunRequest(
            # The same files (by content) of a listener are one run, however often they are seen.
            run_key=f"{listener}:{hashlib.sha256(''.join(sorted(found.values())).encode()).hexdigest()[:16]}",
            partition_key=listener,
            tags={FILES_TAG: ", ".join(sorted(found))[:1000]},
        )
        for listener, found in sorted(changed.items())
    ]
    context.log.info(
        f"{sum(map(len, changed.values()))} new or changed files of {len(changed)} listeners "
        f"({len(new_listeners)} new): {len(requests)} ingestion runs requested"
    )
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[listener_partitions.build_add_request(new_listeners)] if new_listeners else [],
        cursor=cursor,
    )


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[ingest_exports_job],
    request_job=full_load_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "After each successful ingestion, requests full_load over exactly the months it stored plays in "
        "(one run per stretch of consecutive months); an ingestion that stored nothing requests nothing."
    ),
)
def load_ingested_months(context: dg.RunStatusSensorContext):
    run = context.dagster_run
    months: set[str] = set()
    for record in context.instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records:
        materialization = record.event_log_entry.asset_materialization
        if materialization and materialization.asset_key == raw_plays.key and MONTHS_STORED in materialization.metadata:
            months |= set(materialization.metadata[MONTHS_STORED].value)
    # Ingestion stores no play outside the partitions (EARLIEST_PLAY .. next month).
    months -= set(months_outside_partitions(months))
    if not months:
        return dg.SkipReason(f"ingestion run {run.run_id} stored no new plays")
    return [
        dg.RunRequest(
            run_key=f"{run.run_id}:{first}:{last}",
            tags={**range_tags(first, last), FILES_TAG: run.tags.get(FILES_TAG, "")},
        )
        for first, last in month_ranges(months)
    ]
