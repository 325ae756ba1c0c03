"""The rotating JSON log: step events of runs, exceptions with context, rotation, redaction."""

from __future__ import annotations

import json
import logging

import dagster as dg
from sqlalchemy.engine import make_url

from spotify_etl.cli.run import run_pipeline
from spotify_etl.lib import ingestion
from spotify_etl.lib.export.discover import discover
from spotify_etl.lib.package_data import sample_dir
from spotify_etl.logs import SpotifyEtlFileHandler, log_path, redact
from spotify_etl.settings import ensure_dagster_home

SECRET = "client-secret-7f3a9c"
DB_PASSWORD = "db-pass-91xq"


def _entries() -> list[dict]:
    return [json.loads(line) for line in log_path().read_text(encoding="utf-8").splitlines()]


def _run(monkeypatch, database_url: str) -> tuple[dg.DagsterInstance, object]:
    monkeypatch.setenv("SPOTIFY_ETL_DATABASE_URL", database_url)
    instance = dg.DagsterInstance.from_config(str(ensure_dagster_home()))
    return instance, run_pipeline(raw_dir=sample_dir(), enrich=False, instance=instance)


def test_a_run_writes_its_step_events_to_the_file(database_url, monkeypatch) -> None:
    instance, outcome = _run(monkeypatch, database_url)
    assert outcome.success
    entries = _entries()
    steps = {e["step"] for e in entries if e.get("event") == "STEP_SUCCESS"}
    assert {"raw_plays", "dimensions_and_sessions", "fact_tables"} <= steps
    assert {e["run_id"] for e in entries if "run_id" in e} == set(outcome.run_ids)
    progress = [e for e in entries if e.get("step") == "raw_plays" and "stored" in e["message"]]
    assert progress, "the ingestion's progress lines reach the file"
    instance.dispose()


def test_an_injected_failure_is_logged_with_its_context(conn, database_url, monkeypatch) -> None:
    conn.execute("DROP TABLE core.dim_time CASCADE")  # dim_time.sql will fail
    conn.commit()
    instance, outcome = _run(monkeypatch, database_url)
    # The one-line failure names the table whose build failed, within the step that built it.
    assert not outcome.success
    assert 'TableBuildFailed: dim_time: relation "core.dim_time" does not exist' in outcome.failure
    entries = _entries()
    sql_error = next(e for e in entries if e.get("sql_step") == "core/dim_time.sql")
    assert sql_error["level"] == "ERROR"
    assert sql_error["exception"]["type"] == "UndefinedTable"
    assert "Traceback" in sql_error["exception"]["traceback"]
    failure = next(e for e in entries if e.get("event") == "STEP_FAILURE")
    assert failure["step"] == "dimensions_and_sessions" and "UndefinedTable" in failure["exception"]["traceback"]
    # The same line shows in the run's event log in the UI (a managed Python logger).
    messages = [e.user_message for e in instance.all_logs(outcome.run_id)]
    assert any("SQL step core/dim_time.sql failed" in m for m in messages)
    instance.dispose()


def test_the_file_rotates_at_its_size_limit(tmp_path) -> None:
    handler = SpotifyEtlFileHandler(path=str(tmp_path / "x.log"), max_bytes=2_000, backups=2)
    logger = logging.getLogger("spotify_etl.test_rotation")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        for i in range(200):
            logger.info("line %d %s", i, "x" * 50)
    finally:
        logger.removeHandler(handler)
        handler.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["x.log", "x.log.1", "x.log.2"]
    assert all((tmp_path / name).stat().st_size <= 2_000 for name in files)
    assert json.loads((tmp_path / "x.log").read_text().splitlines()[-1])["message"].startswith("line 199")


def test_secrets_never_reach_the_file_or_the_event_log(database_url, monkeypatch) -> None:
    monkeypatch.setenv("SPOTIPY_CLIENT_SECRET", SECRET)
    # Trust authentication ignores the password, so the run works with it in the URL.
    with_password = make_url(database_url).set(password=DB_PASSWORD).render_as_string(hide_password=False)
    monkeypatch.setenv("SPOTIFY_ETL_DATABASE_URL", with_password)
    instance = dg.DagsterInstance.from_config(str(ensure_dagster_home()))

    # Inside the run, a line that carries both secrets, as an error message might.
    def discover_and_leak(raw_dir):
        logging.getLogger("spotify_etl.lib.ingestion").error("connecting to %s with %s", with_password, SECRET)
        return discover(raw_dir)

    monkeypatch.setattr(ingestion, "discover", discover_and_leak)
    outcome = run_pipeline(raw_dir=sample_dir(), enrich=False, instance=instance)
    assert outcome.success
    text = log_path().read_text(encoding="utf-8")
    event_log = "\n".join(
        str(e.user_message) + str(e.dagster_event) for run_id in outcome.run_ids for e in instance.all_logs(run_id)
    )
    assert "connecting to" in text and "connecting to" in event_log
    for secret in (SECRET, DB_PASSWORD):
        assert secret not in text
        assert secret not in event_log
    instance.dispose()


def test_redact_masks_urls_tokens_and_fields() -> None:
    text = redact('postgresql://me:hunter2@db/x Authorization: Bearer eyJhbGci.x.y {"access_token": "BQD123"}')
    assert "hunter2" not in text and "eyJhbGci" not in text and "BQD123" not in text
    assert "postgresql://me:***@db/x" in text
