"""Steps fanned out over Celery workers (dagster-celery, `spotify-etl worker`) on the machine's
RabbitMQ, with the Dagster instance in PostgreSQL (dagster-postgres), as a deployment for many
listeners has them (a run ingesting each listener's partition, then full_load): the warehouse
equals the in-process one, and a worker killed in the middle of a step hands it to the other
worker without anything loaded twice.

Each test has a queue of its own, so that runs of the suite sharing the broker never take each
other's steps. Without a broker at 127.0.0.1:5672 the tests skip, saying so (a user's machine);
CI sets SPOTIFY_ETL_TEST_REQUIRE_BROKER, and there a missing broker fails them."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from spotify_etl.cli.run import run_pipeline
from spotify_etl.definitions import full_load_from_environment, ingest_exports_from_environment
from spotify_etl.defs.partitions import listener_partitions, range_tags
from spotify_etl.defs.resources import WarehouseResource
from spotify_etl.lib.package_data import sample_dir
from spotify_etl.lib.synthetic import write_export
from spotify_etl_tests.conftest import CLI, REPOSITORY, _fresh_database, wait_for
from spotify_etl_tests.pipeline_helpers import Runs, check_results, materialize_all, played_months

BROKER = "pyamqp://guest:guest@127.0.0.1:5672//"
LISTENERS = ("alice", "bob", "carol")


def _broker_answers() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=2).close()
        return True
    except OSError:
        return False


if not _broker_answers() and not os.environ.get("SPOTIFY_ETL_TEST_REQUIRE_BROKER"):
    pytest.skip("no RabbitMQ at 127.0.0.1:5672 (CI has one)", allow_module_level=True)


@pytest.fixture(scope="module")
def listeners_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three listeners' exports, each in its folder of the raw directory."""
    raw = tmp_path_factory.mktemp("listeners") / "raw"
    for seed, listener in enumerate(LISTENERS, start=1):
        write_export(
            raw / listener,
            500,
            seed=seed,
            per_file=200,
            start=datetime(2024, 1, 1, tzinfo=UTC),
            end=datetime(2024, 12, 31, tzinfo=UTC),
        )
    return raw


@pytest.fixture
def deployment(server_url: str, tmp_path: Path, listeners_raw: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """A warehouse and a Dagster instance in PostgreSQL (deploy/dagster.yaml), and the
    environment every process of the deployment shares (this one launches runs, the workers
    execute their steps)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPOSITORY / "deploy" / "dagster.yaml", home / "dagster.yaml")
    environment = {
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_URL": _fresh_database(server_url).replace("postgresql://", "postgresql+psycopg2://", 1),
        "SPOTIFY_ETL_HOME": str(tmp_path / "spotify_etl_home"),
        "SPOTIFY_ETL_DATABASE_URL": _fresh_database(server_url),
        "SPOTIFY_ETL_RAW_DIR": str(listeners_raw),
        "SPOTIFY_ETL_CELERY_BROKER": BROKER,
        "SPOTIFY_ETL_CELERY_QUEUE": f"spotify_etl_test_{uuid.uuid4().hex[:8]}",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return environment


class Worker:
    """`spotify-etl worker` in a process of its own, its output in a file."""

    def __init__(self, name: str, environment: dict, log: Path):
        self.log = log
        command = [CLI, "worker", "--name", name]
        env = {**os.environ, **environment, "PYTHONPATH": str(REPOSITORY)}
        with log.open("w") as out:
            self.process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def tasks(self, state: str) -> set[str]:
        return set(re.findall(rf"execute_plan\[([0-9a-f-]+)\] {state}", self.text()))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture
def workers(deployment: dict, tmp_path: Path):
    # Named after the queue too: two runs of the suite at once (CI's two passes) share the
    # broker, where a worker's name must be unique.
    suffix = deployment["SPOTIFY_ETL_CELERY_QUEUE"].rsplit("_", 1)[-1]
    started = [Worker(f"w{n}-{suffix}", deployment, tmp_path / f"worker{n}.log") for n in (1, 2)]
    for worker in started:
        wait_for(lambda w=worker: " ready." in w.text(), f"Celery worker ready:\n{worker.text()}", timeout=60)
    yield started
    for worker in started:
        worker.stop()


def _launch(deployment: dict) -> Runs:
    """What the sensors launch for new exports: an ingestion run per listener (each adds its
    listener's partition), then full_load over the months they stored plays in."""
    instance = dg.DagsterInstance.from_config(deployment["DAGSTER_HOME"])
    instance.add_dynamic_partitions(listener_partitions.name, list(LISTENERS))
    ingest, load = dg.reconstructable(ingest_exports_from_environment), dg.reconstructable(full_load_from_environment)
    # Dagster keeps the last job it reconstructed in this process; this test's settings (its
    # queue) must be read again. A deployment's runs each have a process of their own.
    type(ingest).get_definition.cache_clear()
    type(ingest).get_repository_definition.cache_clear()
    results = [dg.execute_job(ingest, instance=instance, tags={"dagster/partition": name}) for name in LISTENERS]
    tags = range_tags(*played_months(deployment["SPOTIFY_ETL_DATABASE_URL"]))
    return Runs([*results, dg.execute_job(load, instance=instance, tags=tags)])


@pytest.fixture(scope="module")
def in_process(
    server_url: str, listeners_raw: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict, dict[str, bool]]:
    """The warehouse (its summary) and the checks of the same exports loaded in one process."""
    url = _fresh_database(server_url)
    with pytest.MonkeyPatch.context() as patch:  # before the per-test isolation: its own home
        patch.setenv("SPOTIFY_ETL_HOME", str(tmp_path_factory.mktemp("in_process_home")))
        checks = check_results(materialize_all(WarehouseResource(database_url=url), listeners_raw))
    return _summary(url), checks


SUMMARY = {
    "files": "SELECT listener, count(*), sum(stored), sum(duplicates) FROM etl_internal.source_files"
    " GROUP BY 1 ORDER BY 1",
    "plays": "SELECT listener, count(*), sum(ms_played) FROM staging.streaming_history GROUP BY 1 ORDER BY 1",
    "rejected": "SELECT count(*) FROM etl_internal.rejected_records",
    "tracks": "SELECT listener, to_char(ts, 'YYYY-MM'), count(*), sum(ms_played), count(DISTINCT session_id),"
    " sum(percent_played) FROM core.fact_tracks_history GROUP BY 1, 2 ORDER BY 1, 2",
    "podcasts": "SELECT listener, count(*), sum(ms_played) FROM core.fact_podcasts_history GROUP BY 1 ORDER BY 1",
    "sessions": "SELECT listener, count(*), sum(plays) FROM core.fact_listening_sessions GROUP BY 1 ORDER BY 1",
    "dimensions": "SELECT (SELECT count(*) FROM core.dim_track), (SELECT count(*) FROM core.dim_artist),"
    " (SELECT count(*) FROM core.dim_episode), (SELECT count(*) FROM core.dim_listener)",
}


def _summary(url: str) -> dict[str, list]:
    with psycopg.connect(url) as conn:
        return {name: conn.execute(query).fetchall() for name, query in SUMMARY.items()}


def test_three_listeners_through_two_celery_workers_give_the_in_process_warehouse(deployment, workers, in_process):
    result = _launch(deployment)
    assert result.success
    # The steps ran in the workers, both of them: each listener's ingestion is a step of its own.
    assert all(worker.tasks("succeeded") for worker in workers), [w.text()[-2000:] for w in workers]
    ingested = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == "raw_plays"]
    assert sorted(e.partition for e in ingested) == sorted(LISTENERS)

    reference, reference_checks = in_process
    assert check_results(result) == reference_checks and all(reference_checks.values())
    celery = _summary(deployment["SPOTIFY_ETL_DATABASE_URL"])
    assert [row[0] for row in celery["plays"]] == list(LISTENERS)
    assert celery == reference


def test_a_worker_killed_in_a_step_hands_it_to_the_other_and_nothing_is_loaded_twice(deployment, workers, in_process):
    first, second = workers
    launched = {}

    def kill_first_in_its_first_step() -> None:
        wait_for(lambda: first.tasks("received"), "the first worker to receive a step", timeout=120)
        launched["task"] = next(iter(first.tasks("received")))
        first.process.kill()  # SIGKILL: no goodbye, the broker sees the connection drop

    killer = threading.Thread(target=kill_first_in_its_first_step)
    killer.start()
    result = _launch(deployment)
    killer.join()
    assert result.success
    # The step the killed worker had taken was delivered again, and the other worker ran it.
    assert launched["task"] in second.tasks("succeeded")
    assert launched["task"] not in first.tasks("succeeded")

    # Every file, play, session and fact once: as in one process.
    assert _summary(deployment["SPOTIFY_ETL_DATABASE_URL"]) == in_process[0]


def test_the_command_line_runs_in_its_own_process_with_a_broker_set(deployment, tmp_path):
    """`spotify-etl run` with SPOTIFY_ETL_CELERY_BROKER set and no worker at all: its runs go
    on in its own process, as documented (only launched runs use the workers)."""
    with dg.instance_for_test() as instance:
        outcome = run_pipeline(raw_dir=sample_dir(), enrich=False, instance=instance)
    assert outcome.success, outcome.failure
    with psycopg.connect(deployment["SPOTIFY_ETL_DATABASE_URL"]) as conn:
        assert conn.execute("SELECT count(*) FROM core.fact_tracks_history").fetchone()[0] > 0
