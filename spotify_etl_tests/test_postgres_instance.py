"""deploy/dagster.yaml: a Dagster instance whose runs and event logs live in PostgreSQL."""

from __future__ import annotations

import os
import shutil
import uuid

import dagster as dg
import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from spotify_etl.cli.run import run_pipeline
from spotify_etl.lib.package_data import sample_dir
from spotify_etl.settings import DAGSTER_EVENT_BATCH_SIZE, ensure_dagster_home
from spotify_etl_tests.conftest import REPOSITORY


def test_postgres_backed_instance_records_the_run(server_url, database_url, tmp_path, monkeypatch) -> None:
    dagster_db = f"dagster_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dagster_db)))
    try:
        home = tmp_path / "dagster_home"
        home.mkdir()
        shutil.copy(REPOSITORY / "deploy" / "dagster.yaml", home / "dagster.yaml")
        pg_url = make_url(server_url).set(drivername="postgresql+psycopg2", database=dagster_db)
        monkeypatch.setenv("DAGSTER_PG_URL", pg_url.render_as_string(hide_password=False))
        monkeypatch.setenv("SPOTIFY_ETL_DATABASE_URL", database_url)
        ensure_dagster_home()  # as the command line does: events in batches
        assert os.environ["DAGSTER_EVENT_BATCH_SIZE"] == DAGSTER_EVENT_BATCH_SIZE
        with dg.DagsterInstance.from_config(str(home)) as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
            batches: list[int] = []
            store_batch = instance.event_log_storage.store_event_batch
            monkeypatch.setattr(
                instance.event_log_storage,
                "store_event_batch",
                lambda events: batches.append(len(events)) or store_batch(events),
            )
            outcome = run_pipeline(raw_dir=sample_dir(), enrich=False, instance=instance)
            assert outcome.success, outcome.failure
            # A run over several months stored its months' events in batches, and every one of them.
            assert batches and max(batches) > 1
            with psycopg.connect(database_url) as warehouse:
                months = {
                    f"{month}-01"
                    for (month,) in warehouse.execute(
                        "SELECT DISTINCT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM') FROM core.fact_tracks_history"
                    )
                }
            assert len(months) > 1
            assert instance.get_materialized_partitions(dg.AssetKey("fact_tracks_history")) == months
            runs = instance.get_runs()
            assert {run.run_id for run in runs} == set(outcome.run_ids)
            assert all(run.is_success for run in runs)
            # The run queue: two ingestions at a time, one run writing the facts, one talking to the API.
            writes = {run.job_name: run.tags["spotify_etl/writes"] for run in runs}
            assert writes == {"ingest_exports": "staging", "full_load": "facts"}
            limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
            assert {(limit["value"], limit["limit"]) for limit in limits} == {
                ("staging", 2),
                ("facts", 1),
                ("spotify_api", 1),
            }
            materialized = instance.get_latest_materialization_event(dg.AssetKey("fact_tracks_history"))
            assert materialized is not None
        with psycopg.connect(
            make_url(server_url).set(database=dagster_db).render_as_string(hide_password=False)
        ) as conn:
            assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == len(outcome.run_ids)
            assert conn.execute("SELECT count(*) FROM event_logs").fetchone()[0] > 0
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dagster_db)))
