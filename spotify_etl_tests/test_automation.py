"""The sensor on the raw directory, the jobs, and the enrichment retry schedule."""

from __future__ import annotations

import json
import os

import dagster as dg
import pytest

from spotify_etl.definitions import all_asset_checks, all_assets, build_definitions
from spotify_etl.defs.automation.jobs import ingest_exports_job, reload_months_job
from spotify_etl.defs.automation.schedules import retry_enrichment_schedule
from spotify_etl.defs.automation.sensors import FILES_TAG, load_ingested_months, raw_files_sensor
from spotify_etl.defs.partitions import listener_partitions
from spotify_etl.defs.resources import ExportsResource, SpotifyResource, resources_from_settings
from spotify_etl.settings import load_settings
from spotify_etl_tests.export_factory import play, write_json, write_raw
from spotify_etl_tests.pipeline_helpers import materialize_all


def _sensor_environment() -> dict:
    """The definitions and the sensor's resource as the UI's daemon builds them from the
    environment now (only the exports: the others would start a warehouse)."""
    settings = load_settings()
    return {
        "definitions": build_definitions(settings),
        "resources": {"exports": ExportsResource.from_settings(settings)},
    }


@pytest.fixture
def tick(raw_dir, monkeypatch):
    monkeypatch.setenv("SPOTIFY_ETL_RAW_DIR", str(raw_dir))

    def evaluate(cursor: str | None):
        with dg.instance_for_test() as instance:
            context = dg.build_sensor_context(
                cursor=cursor, instance=instance, instance_ref=instance.get_ref(), **_sensor_environment()
            )
            return raw_files_sensor.evaluate_tick(context)

    return evaluate


def _ranges(requests) -> list[tuple]:
    return sorted(
        (r.tags.get("dagster/asset_partition_range_start"), r.tags.get("dagster/asset_partition_range_end"))
        for r in requests
    )


def test_sensor_requests_ingestion_of_the_listeners_of_new_files_and_never_again(tick, raw_dir) -> None:
    path = write_json(raw_dir / "Streaming_History_Audio_2024_0.json", [play("2024-01-05T10:00:00Z")])
    write_json(raw_dir / "ana" / "Streaming_History_Audio_2024_0.json", [play("2024-02-01T10:00:00Z")])
    write_json(raw_dir / "ana" / "Streaming_History_Audio_2024_1.json", [play("2024-03-01T10:00:00Z")])
    first = tick(None)
    by_listener = {r.partition_key: r for r in first.run_requests}
    assert set(by_listener) == {"default", "ana"}
    assert by_listener["default"].tags[FILES_TAG] == path.name
    assert by_listener["ana"].tags[FILES_TAG] == (
        "ana/Streaming_History_Audio_2024_0.json, ana/Streaming_History_Audio_2024_1.json"
    )
    assert len({r.run_key for r in first.run_requests}) == 2
    # Listeners not yet known are added as partitions in the same tick.
    (added,) = first.dynamic_partitions_requests
    assert added.partitions_def_name == listener_partitions.name and sorted(added.partition_keys) == ["ana", "default"]

    again = tick(first.cursor)
    assert again.run_requests == [] and "no new or changed files" in again.skip_message

    # Touched but identical: nothing.
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 100))
    touched = tick(again.cursor)
    assert touched.run_requests == []

    # Changed: that listener again, as a new run.
    write_json(path, [play("2024-01-05T10:00:00Z"), play("2024-07-01T00:00:00Z")])
    changed = tick(touched.cursor)
    assert [r.partition_key for r in changed.run_requests] == ["default"]
    assert not {r.run_key for r in changed.run_requests} & {r.run_key for r in first.run_requests}


def test_sensor_sends_a_corrupt_file_to_its_listeners_ingestion_and_keeps_working(tick, raw_dir) -> None:
    write_raw(raw_dir / "Streaming_History_Audio_2024_1.json", '[{"ts": "2024-03-01T00:00:00Z", "ms_pl')
    write_json(raw_dir / "Streaming_History_Audio_2024_2.json", [play("2024-05-01T00:00:00Z")])
    result = tick(None)
    (request,) = result.run_requests  # ingestion records the corrupt file as failed
    assert request.partition_key == "default"
    assert request.tags[FILES_TAG] == "Streaming_History_Audio_2024_1.json, Streaming_History_Audio_2024_2.json"
    # The next tick does not send it again, and still sees new files.
    write_json(raw_dir / "Streaming_History_Audio_2024_3.json", [play("2024-06-01T00:00:00Z")])
    later = tick(result.cursor)
    assert [r.tags[FILES_TAG] for r in later.run_requests] == ["Streaming_History_Audio_2024_3.json"]
    assert "Streaming_History_Audio_2024_1.json" in json.loads(later.cursor)


def test_a_successful_ingestion_requests_full_load_over_exactly_the_months_it_stored(warehouse, raw_dir) -> None:
    plays = [play("2024-01-05T10:00:00Z"), play("2024-02-01T10:00:00Z"), play("2024-04-30T23:59:59Z")]
    write_json(raw_dir / "ana" / "Streaming_History_Audio_2024_0.json", plays)
    test_defs = dg.Definitions(
        assets=all_assets,
        asset_checks=all_asset_checks,
        jobs=[ingest_exports_job],
        resources={
            **resources_from_settings(load_settings()),
            "warehouse": warehouse,
            "exports": ExportsResource(raw_dir=str(raw_dir)),
        },
    )
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(listener_partitions.name, ["ana"])

        def ingest_then_sensor():
            result = test_defs.resolve_job_def("ingest_exports").execute_in_process(
                instance=instance, partition_key="ana", tags={FILES_TAG: "ana/Streaming_History_Audio_2024_0.json"}
            )
            (succeeded,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_SUCCESS]
            context = dg.build_run_status_sensor_context(
                sensor_name=load_ingested_months.name,
                dagster_instance=instance,
                dagster_run=instance.get_run_by_id(result.run_id),
                dagster_event=succeeded,
            )
            return result.run_id, load_ingested_months(context)

        run_id, requests = ingest_then_sensor()
        assert _ranges(requests) == [("2024-01-01", "2024-02-01"), ("2024-04-01", "2024-04-01")]
        assert {r.run_key for r in requests} == {f"{run_id}:2024-01-01:2024-02-01", f"{run_id}:2024-04-01:2024-04-01"}
        assert {r.tags[FILES_TAG] for r in requests} == {"ana/Streaming_History_Audio_2024_0.json"}
        # Ingested again, nothing new: nothing to load.
        _, nothing = ingest_then_sensor()
        assert isinstance(nothing, dg.SkipReason) and "stored no new plays" in nothing.skip_message


def test_sensor_skips_when_the_raw_directory_is_missing(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SPOTIFY_ETL_RAW_DIR", str(tmp_path / "nowhere"))
    with dg.instance_for_test() as instance:
        result = raw_files_sensor.evaluate_tick(dg.build_sensor_context(instance=instance, **_sensor_environment()))
    assert "does not exist" in result.skip_message


def test_retry_schedule_respects_the_stored_resume_time(conn, warehouse) -> None:
    context = dg.build_schedule_context(resources={"warehouse": warehouse})
    assert isinstance(retry_enrichment_schedule(context), dg.RunRequest)
    conn.execute(
        "INSERT INTO etl_internal.api_resume_state (api, resume_at, reason)"
        " VALUES ('spotify', now() + interval '5 hours', 'quota')"
    )
    conn.commit()
    skipped = retry_enrichment_schedule(dg.build_schedule_context(resources={"warehouse": warehouse}))
    assert isinstance(skipped, dg.SkipReason) and "deferred until" in skipped.skip_message


def test_reload_job_over_one_month_leaves_the_tables_identical(conn, warehouse, raw_dir) -> None:
    write_json(
        raw_dir / "Streaming_History_Audio_2024_0.json", [play(f"2024-{m:02d}-10T10:00:00Z") for m in range(1, 7)]
    )
    materialize_all(warehouse, raw_dir)
    conn.commit()
    before = conn.execute("SELECT * FROM core.fact_tracks_history ORDER BY play_id").fetchall()
    march = conn.execute("SELECT xmin::text FROM core.fact_tracks_history WHERE ts::date = '2024-03-10'").fetchone()

    # The job as the UI launches it, on this test's warehouse.
    test_defs = dg.Definitions(
        assets=all_assets,
        asset_checks=all_asset_checks,
        jobs=[reload_months_job],
        resources={**resources_from_settings(load_settings()), "warehouse": warehouse, "spotify": SpotifyResource()},
    )
    job = test_defs.resolve_job_def("reload_months")
    assert {k.to_user_string() for k in job.asset_layer.selected_asset_keys} == {
        "fact_tracks_history",
        "fact_podcasts_history",
    }
    assert job.execute_in_process(partition_key="2024-03-01").success
    conn.commit()
    assert conn.execute("SELECT * FROM core.fact_tracks_history ORDER BY play_id").fetchall() == before
    assert (
        conn.execute("SELECT xmin::text FROM core.fact_tracks_history WHERE ts::date = '2024-03-10'").fetchone()
        != march
    )


def test_sensor_fails_runs_left_started_by_a_process_that_is_gone(raw_dir, monkeypatch) -> None:
    import socket
    import subprocess

    from spotify_etl.defs.automation.abandoned_runs import HOST_TAG, PID_TAG

    monkeypatch.setenv("SPOTIFY_ETL_RAW_DIR", str(raw_dir))
    finished = subprocess.Popen(["true"])
    finished.wait()
    with dg.instance_for_test() as instance:

        def started_run(pid: int) -> str:
            run = dg.DagsterRun(
                job_name="full_load",
                status=dg.DagsterRunStatus.STARTED,
                tags={PID_TAG: str(pid), HOST_TAG: socket.gethostname()},
            )
            return instance.add_run(run).run_id

        gone, alive = started_run(finished.pid), started_run(os.getpid())
        raw_files_sensor.evaluate_tick(dg.build_sensor_context(instance=instance, **_sensor_environment()))
        assert instance.get_run_by_id(gone).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(alive).status == dg.DagsterRunStatus.STARTED
        (message,) = [e.message for e in instance.all_logs(gone) if e.dagster_event and e.dagster_event.is_run_failure]
        assert f"pid {finished.pid}" in message
