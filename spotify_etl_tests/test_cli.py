"""`spotify-etl` end to end, as a user runs it."""

from __future__ import annotations

import gc
import json
import subprocess
import zipfile
from pathlib import Path

import psycopg
from dagster import AssetKey, DagsterEventType, DagsterInstance

from spotify_etl.defs.partitions import month_ranges
from spotify_etl.lib.package_data import sample_dir
from spotify_etl_tests.conftest import CLI, cli_environment


def _cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CLI, *args], env=cli_environment(**env), cwd=cwd, capture_output=True, text=True, timeout=600
    )


def _sample_extended_records() -> int:
    """Records in the sample's extended history, counted independently of the pipeline."""
    total = 0
    with zipfile.ZipFile(sample_dir() / "my_spotify_data.zip") as zf:
        for name in zf.namelist():
            if "Streaming_History_" in name and name.endswith(".json"):
                total += len(json.loads(zf.read(name)))
    return total


def test_run_on_sample_fills_the_warehouse_and_records_the_run(database_url: str, tmp_path: Path) -> None:
    env = {"SPOTIFY_ETL_DATABASE_URL": database_url, "SPOTIFY_ETL_HOME": str(tmp_path / "home")}
    result = _cli("run", "--sample", "--no-enrich", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "raw_plays" in result.stdout and "succeeded" in result.stdout

    with psycopg.connect(database_url) as conn:
        stored = conn.execute("SELECT count(*) FROM staging.streaming_history").fetchone()[0]
    # The sample's account data repeats its extended history, so extended records are the plays.
    assert stored == _sample_extended_records()

    instance = DagsterInstance.from_config(str(tmp_path / "home" / "dagster"))
    runs = instance.get_runs()
    # Ingestion of the one listener, then one run of the rest (never built before): the
    # dimensions and sessions, the facts of the last stretch of months ingested; then one run
    # of each other stretch, the report with the last.
    with psycopg.connect(database_url) as conn:
        months = {
            month
            for (month,) in conn.execute(
                "SELECT DISTINCT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM') FROM staging.streaming_history"
            )
        }
    stretches = month_ranges(months)
    assert [run.job_name for run in reversed(runs)] == ["ingest_exports"] + ["full_load"] * len(stretches)
    assert {f"{month}-01" for month in months} == instance.get_materialized_partitions(AssetKey("fact_tracks_history"))
    # The command's runs plan each asset's months in one event, not one a month.
    for run in runs:
        planned = instance.get_records_for_run(run.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION_PLANNED)
        keys = [record.event_log_entry.dagster_event.asset_key for record in planned.records]
        assert len(keys) == len(set(keys)), run.job_name
    reports = instance.fetch_materializations(AssetKey("listening_report"), limit=10).records
    assert [report.run_id for report in reports] == [runs[0].run_id]  # built once, after every month
    assert instance.get_dynamic_partitions("listeners") == ["default"]
    assert all(run.is_success for run in runs)

    status = _cli("status", env=env, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    with psycopg.connect(database_url) as conn:
        tracks = conn.execute("SELECT count(*) FROM staging.streaming_history WHERE content_kind = 'track'").fetchone()[
            0
        ]
    track_line = next(line for line in status.stdout.splitlines() if line.split()[:2] == ["default", "track"])
    assert track_line.split()[2] == str(tracks)

    again = _cli("run", "--sample", "--no-enrich", env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM staging.streaming_history").fetchone()[0] == stored


def test_run_fails_with_one_line_reason(database_url: str, tmp_path: Path) -> None:
    env = {"SPOTIFY_ETL_DATABASE_URL": database_url, "SPOTIFY_ETL_HOME": str(tmp_path / "home")}
    result = _cli("run", "--raw-dir", str(tmp_path / "missing"), env=env, cwd=tmp_path)
    assert result.returncode == 1
    reason = [line for line in result.stderr.splitlines() if line.startswith("spotify-etl:")]
    assert len(reason) == 1 and "raw directory not found" in reason[0]


def test_month_options_are_validated(tmp_path: Path) -> None:
    result = _cli("run", "--from", "2024-06", "--to", "2024-01", env={"SPOTIFY_ETL_HOME": str(tmp_path)}, cwd=tmp_path)
    assert result.returncode == 2 and "after" in result.stderr
    result = _cli("run", "--from", "2024-13", env={"SPOTIFY_ETL_HOME": str(tmp_path)}, cwd=tmp_path)
    assert result.returncode == 2 and "YYYY-MM" in result.stderr


def test_only_the_command_s_own_process_freezes_what_it_imported(monkeypatch) -> None:
    """spotify_etl.cli.main._imports_kept_for_good: in `spotify-etl` (console), imports run
    without the garbage collector and are frozen after; a process calling main keeps its own."""
    from spotify_etl.cli import main as cli

    before = gc.get_freeze_count()
    with cli._imports_kept_for_good():
        assert gc.isenabled()
    assert gc.get_freeze_count() == before
    monkeypatch.setattr(cli, "_whole_process", True)
    try:
        with cli._imports_kept_for_good():
            assert not gc.isenabled()
            kept = [object() for _ in range(10)]  # noqa: F841  (made while importing)
        assert gc.isenabled()
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()
