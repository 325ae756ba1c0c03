"""Faults: the pipeline killed, PostgreSQL restarted or out of disk, the Spotify API failing
every way it can, the raw directory read-only or full, files vanishing. After each, a
re-run leaves exactly the warehouse an uninterrupted run does: no play lost or doubled,
no id fetched twice."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import psutil
import psycopg
import pytest
from psycopg import sql

from spotify_etl.cli.run import run_pipeline
from spotify_etl.definitions import defs
from spotify_etl.defs.automation.sensors import raw_files_sensor
from spotify_etl.defs.resources import ExportsResource, SpotifyResource, WarehouseResource
from spotify_etl.lib.ingestion import IngestionError, ingest_raw_dir
from spotify_etl.lib.spotify.enrichment import TRACKS, enrich
from spotify_etl.lib.synthetic import write_export
from spotify_etl.lib.warehouse.embedded_postgres import (
    restart_embedded_server,
    start_embedded_server,
    stop_embedded_server,
)
from spotify_etl.settings import ensure_dagster_home
from spotify_etl_tests.conftest import CLI, _with_database, cli_environment, fresh_warehouse_url, wait_for
from spotify_etl_tests.export_factory import play, write_json
from spotify_etl_tests.pipeline_helpers import materialize_all
from spotify_etl_tests.snapshots import assert_same_warehouse
from spotify_etl_tests.spotify_simulator import CLIENT_ID, CLIENT_SECRET, SimulatorServer, artist_obj, track_obj

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="mounts a small filesystem, which needs root (CI runs as root)"
)


def scalar(url: str, query: str, *params):
    with psycopg.connect(url) as conn:
        return conn.execute(query, params or None).fetchone()[0]


# --- the pipeline process killed ----------------------------------------------------------


def test_pipeline_killed_during_the_fact_load_resumes_to_the_same_warehouse(server_url, tmp_path) -> None:
    raw_dir = tmp_path / "raw"
    write_export(raw_dir, 50_000, per_file=25_000, account_months=2)
    killed, clean = fresh_warehouse_url(server_url), fresh_warehouse_url(server_url)
    home = tmp_path / "home"

    process = subprocess.Popen(
        [CLI, "run", "--raw-dir", str(raw_dir), "--no-enrich"],
        env=cli_environment(SPOTIFY_ETL_DATABASE_URL=killed, SPOTIFY_ETL_HOME=str(home)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def fact_insert_running() -> bool:
        assert process.poll() is None, "the run ended before the fact load was caught"
        # The load's statements are sent as one text, whose first line names it (the server
        # shows only its first 1 kB, where the INSERT need not be).
        return bool(
            scalar(
                killed,
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active'"
                " AND pid <> pg_backend_pid() AND query LIKE '-- (Re)load the music plays of %'",
            )
        )

    wait_for(fact_insert_running, "the fact load to start", timeout=300)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    # The server rolls back the dead client's transaction once it notices.
    others = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
    )
    wait_for(lambda: not scalar(killed, others), "the killed run's sessions to end")
    # The load of all months is one transaction: nothing of it is left, not half of it.
    assert scalar(killed, "SELECT count(*) FROM core.fact_tracks_history") == 0

    def run(url: str, run_home: Path) -> subprocess.Popen:
        return subprocess.Popen(
            [CLI, "run", "--raw-dir", str(raw_dir), "--no-enrich"],
            env=cli_environment(SPOTIFY_ETL_DATABASE_URL=url, SPOTIFY_ETL_HOME=str(run_home)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    # The resumed run and a clean one side by side (they share nothing but the server).
    resumed, reference = run(killed, home), run(clean, tmp_path / "clean_home")
    for done in (resumed, reference):
        _, errors = done.communicate(timeout=600)
        assert done.returncode == 0, errors
    counts = assert_same_warehouse(killed, clean)
    assert 2 * counts["core.fact_tracks_history"] > scalar(clean, "SELECT count(*) FROM staging.streaming_history")
    # The killed run is not left "started" in the instance, where it would block queued runs.
    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    statuses = [run.status.value for run in instance.get_runs()]
    assert statuses.count("FAILURE") == 1 and set(statuses) == {"FAILURE", "SUCCESS"}


def test_enrichment_killed_midway_fetches_no_id_twice(warehouse, raw_dir) -> None:
    with SimulatorServer() as server:
        sim = server.sim
        artist = sim.add("artists", artist_obj("A" + "0" * 21, "Artist"))
        plays = []
        for i in range(150):
            track = sim.add("tracks", track_obj(f"T{i:021d}", f"Song {i}", [artist], "L" + "0" * 21, "Album"))
            plays.append(play(f"2024-01-01T{i // 60:02d}:{i % 60:02d}:00Z", uri=track["uri"]))
        write_json(raw_dir / "Streaming_History_Audio_2024_0.json", plays)
        ingest_raw_dir(warehouse.url(), raw_dir)
        sim.delay_s = 0.01  # a network's latency, so the kill lands mid-run

        script = (
            "import sys, psycopg\n"
            "from spotify_etl.lib.spotify.enrichment import TRACKS, enrich\n"
            "from spotify_etl.defs.resources.spotify import SpotifyResource\n"
            "client = SpotifyResource(client_id=sys.argv[2], client_secret=sys.argv[3], api_url=sys.argv[4],"
            " token_url=sys.argv[5], requests_per_30s=100000).client()\n"
            "with psycopg.connect(sys.argv[1]) as conn:\n"
            "    enrich(conn, client, TRACKS)\n"
        )
        url = warehouse.url()
        process = subprocess.Popen(
            [sys.executable, "-c", script, url, CLIENT_ID, CLIENT_SECRET, server.api_url, server.token_url]
        )
        wait_for(lambda: scalar(url, "SELECT count(*) FROM staging.spotify_track_data") >= 40, "40 tracks fetched")
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        with psycopg.connect(url) as conn:
            stored_by_killed = {
                u.rsplit(":", 1)[1] for (u,) in conn.execute("SELECT spotify_track_uri FROM staging.spotify_track_data")
            }
        assert 40 <= len(stored_by_killed) < 150
        requests_by_killed = sum(sim.ids_requested.values())

        sim.delay_s = 0
        client = SpotifyResource(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            api_url=server.api_url,
            token_url=server.token_url,
            requests_per_30s=100_000,
        ).client()
        with psycopg.connect(url) as conn:
            outcome = enrich(conn, client, TRACKS)
        assert outcome.fetched == 150 - len(stored_by_killed) and outcome.pending == 0
        assert scalar(url, "SELECT count(*) FROM staging.spotify_track_data") == 150
        # Every answer the killed run stored was never asked for again; at most the one
        # request in flight at the kill was asked twice.
        assert all(sim.ids_requested[("tracks", i)] == 1 for i in stored_by_killed)
        asked_twice = [key for key, n in sim.ids_requested.items() if n > 1]
        assert len(asked_twice) <= 1 and requests_by_killed - len(stored_by_killed) <= 1
        assert sum(sim.ids_requested.values()) <= 151


# --- PostgreSQL restarted mid-run -----------------------------------------------------------


@pytest.fixture
def own_server() -> Iterator[Path]:
    """A server of this test's own, which it may restart without disturbing the others."""
    home = Path(tempfile.mkdtemp(prefix="spotify_etl_restart_"))
    start_embedded_server(home)
    yield home
    stop_embedded_server(home)
    # Stopped for good, restarts and all.
    pgdata = str((home / "pgdata").resolve())
    running = [p for p in psutil.process_iter(["cmdline"]) if pgdata in " ".join(p.info["cmdline"] or [])]
    assert running == []
    shutil.rmtree(home, ignore_errors=True)


def test_postgres_restarted_mid_run_fails_naming_the_step_then_reruns_clean(own_server, tmp_path, monkeypatch) -> None:
    server_url = start_embedded_server(own_server)
    raw_dir = tmp_path / "raw"
    write_export(raw_dir, 80_000, per_file=4_000, account_months=2)
    interrupted, clean = fresh_warehouse_url(server_url), fresh_warehouse_url(server_url)
    ingest_raw_dir(clean, raw_dir)

    def restart_when_three_files_are_in() -> None:
        wait_for(
            lambda: scalar(interrupted, "SELECT count(*) FROM etl_internal.source_files") >= 3, "three files loaded"
        )
        restart_embedded_server(own_server)

    # The whole pipeline as `spotify-etl run` runs it, and the one-line reason it prints.
    monkeypatch.setenv("SPOTIFY_ETL_DATABASE_URL", interrupted)
    instance = dg.DagsterInstance.from_config(str(ensure_dagster_home()))
    restarter = threading.Thread(target=restart_when_three_files_are_in)
    restarter.start()
    outcome = run_pipeline(raw_dir=raw_dir, enrich=False, instance=instance)
    restarter.join()
    assert not outcome.success
    assert re.match(
        r"step raw_plays: spotify_etl\.lib\.ingestion\.IngestionError: Spotify [^:]+\.json: "
        r"the warehouse failed while loading this file, which was rolled back",
        outcome.failure,
    ), outcome.failure
    assert "AdminShutdown" in outcome.failure or "OperationalError" in outcome.failure
    loaded = scalar(interrupted, "SELECT count(*) FROM etl_internal.source_files")
    assert 3 <= loaded < 20
    assert scalar(interrupted, "SELECT count(*) FROM staging.streaming_history") == scalar(
        interrupted, "SELECT sum(stored) FROM etl_internal.source_files"
    )

    again = run_pipeline(raw_dir=raw_dir, enrich=False, instance=instance)
    assert again.success, again.failure
    assert_same_warehouse(interrupted, clean, ("staging.streaming_history", "etl_internal.source_files"))
    instance.dispose()


# --- PostgreSQL out of disk -------------------------------------------------------------------


@contextmanager
def mounted(prefix: str, *commands: list[str]) -> Iterator[Path]:
    """A new directory (traversable by all) with each mount command run on it (the directory
    appended to it); unmounted and removed afterwards. Needs root."""
    target = Path(tempfile.mkdtemp(prefix=prefix))
    target.chmod(0o755)
    try:
        for command in commands:
            subprocess.run([*command, str(target)], check=True)
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=False)
        target.rmdir()


def tmpfs(size: str, mode: str = "0755") -> list[str]:
    return ["mount", "-t", "tmpfs", "-o", f"size={size},mode={mode}", "tmpfs"]


@contextmanager
def small_tablespace(admin_url: str, size: str) -> Iterator[tuple[str, Path]]:
    """A tablespace on a tmpfs of `size`, owned by the server's system user."""
    with mounted("spotify_etl_full_", tmpfs(size, mode="0700")) as mount:
        name = f"small_{mount.name[-8:].lower()}"
        try:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                data_dir = admin.execute("SHOW data_directory").fetchone()[0]
                owner = os.stat(data_dir)
                os.chown(mount, owner.st_uid, owner.st_gid)
                admin.execute(
                    sql.SQL("CREATE TABLESPACE {} LOCATION {}").format(sql.Identifier(name), sql.Literal(str(mount)))
                )
            yield name, mount
        finally:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                for (db,) in admin.execute(
                    "SELECT datname FROM pg_database d JOIN pg_tablespace t ON t.oid = d.dattablespace"
                    " WHERE t.spcname = %s",
                    (name,),
                ).fetchall():
                    admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(db)))
                admin.execute(sql.SQL("DROP TABLESPACE IF EXISTS {}").format(sql.Identifier(name)))


@needs_root
def test_warehouse_disk_full_fails_the_file_then_loads_everything_once_space_is_freed(server_url, tmp_path) -> None:
    raw_dir = tmp_path / "raw"
    write_export(raw_dir, 60_000, per_file=5_000, account_months=0)
    clean = fresh_warehouse_url(server_url)
    ingest_raw_dir(clean, raw_dir)
    with small_tablespace(server_url, "20m") as (tablespace, mount):
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE t_full TABLESPACE {}").format(sql.Identifier(tablespace)))
        full = WarehouseResource(database_url=_with_database(server_url, "t_full")).url()
        # Opened while there is room: a new session may need to write a cache file into the
        # full tablespace ("could not write init file") and be refused before it can look.
        observer = psycopg.connect(full, autocommit=True)

        with pytest.raises(IngestionError) as failure:
            ingest_raw_dir(full, raw_dir)
        message = str(failure.value)
        assert "Streaming_History_Audio_" in message and "No space left on device" in message, message
        files, staged, stored = observer.execute(
            "SELECT (SELECT count(*) FROM etl_internal.source_files), (SELECT count(*) FROM staging.streaming_history),"
            " (SELECT sum(stored) FROM etl_internal.source_files)"
        ).fetchone()
        observer.close()
        assert 1 <= files < 12
        assert staged == stored

        subprocess.run(["mount", "-o", "remount,size=400m", str(mount)], check=True)  # space freed
        report = ingest_raw_dir(full, raw_dir)
        assert not report.failed
        assert_same_warehouse(full, clean, ("staging.streaming_history", "etl_internal.source_files"))


# --- the Spotify API failing ------------------------------------------------------------------


def api_catalog(server: SimulatorServer, raw_dir: Path, tracks: int = 40) -> None:
    sim = server.sim
    plays = []
    for i in range(tracks):
        artist = sim.add("artists", artist_obj(f"A{i:021d}", f"Artist {i}"))
        track = sim.add("tracks", track_obj(f"T{i:021d}", f"Song {i}", [artist], f"L{i:021d}", f"Album {i}"))
        plays.append(play(f"2024-03-01T{i // 60:02d}:{i % 60:02d}:00Z", uri=track["uri"]))
    write_json(raw_dir / "Streaming_History_Audio_2024_0.json", plays)


def run_with_api(
    warehouse: WarehouseResource, raw_dir: Path, server: SimulatorServer, **options
) -> tuple[float, dg.ExecuteInProcessResult]:
    settings = {"backoff_s": 0.01, "max_wait_s": 2, "requests_per_30s": 100_000, **options}
    spotify = SpotifyResource(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, api_url=server.api_url, token_url=server.token_url, **settings
    )
    started = time.monotonic()
    result = materialize_all(warehouse, raw_dir, spotify=spotify)
    return time.monotonic() - started, result


def state(conn) -> tuple:
    tracks = conn.execute("SELECT count(*) FROM staging.spotify_track_data").fetchone()[0]
    artists = conn.execute("SELECT count(*) FROM staging.spotify_artist_data").fetchone()[0]
    failed = conn.execute("SELECT count(*) FROM etl_internal.failed_uris").fetchone()[0]
    resume = conn.execute("SELECT resume_at, reason FROM etl_internal.api_resume_state").fetchone()
    return tracks, artists, failed, resume


def test_api_answering_20_percent_5xx_fetches_everything(conn, warehouse, raw_dir) -> None:
    with SimulatorServer() as server:
        api_catalog(server, raw_dir)
        server.sim.fail_ratio = 0.2
        elapsed, _ = run_with_api(warehouse, raw_dir, server)
        tracks, artists, failed, resume = state(conn)
        assert (tracks, artists, failed, resume) == (40, 40, 0, None)
        answered_5xx = len(server.sim.requests) - 80
        assert 5 <= answered_5xx <= 40  # about a fifth of ~100 requests, all retried
        assert elapsed < 120


def test_429_storm_defers_the_rest_after_the_run_wait_budget(conn, warehouse, raw_dir) -> None:
    with SimulatorServer() as server:
        api_catalog(server, raw_dir)
        storm = (429, {"Retry-After": "1"}, {"error": {"status": 429, "message": "API rate limit exceeded"}})
        server.sim.script = [None] * 5 + [storm] * 1000  # five answers, then nothing but 429
        elapsed, _ = run_with_api(warehouse, raw_dir, server, max_total_wait_s=3)
        tracks, artists, failed, (resume_at, reason) = state(conn)
        assert (tracks, artists, failed) == (5, 0, 0)
        assert reason == "rate limited for 3 s in this run (429 storm)"
        assert resume_at > datetime.now(UTC) + timedelta(minutes=14)
        assert elapsed < 60


def test_retry_after_of_a_day_defers_until_then_and_asks_nothing_meanwhile(conn, warehouse, raw_dir) -> None:
    with SimulatorServer() as server:
        api_catalog(server, raw_dir)
        day = (429, {"Retry-After": "86400"}, {"error": {"status": 429, "message": "API rate limit exceeded"}})
        server.sim.script = [None] * 7 + [day]
        elapsed, result = run_with_api(warehouse, raw_dir, server)
        tracks, artists, failed, (resume_at, reason) = state(conn)
        assert (tracks, artists, failed) == (7, 0, 0)
        assert reason == "rate limited (429, Retry-After 86400 s)"
        assert timedelta(hours=23) < resume_at - datetime.now(UTC) <= timedelta(days=1)
        assert elapsed < 60
        asked = len(server.sim.requests)
        run_with_api(warehouse, raw_dir, server)  # the next run, before the day is over
        assert len(server.sim.requests) == asked


def test_token_endpoint_down_defers_without_failing_any_id(conn, warehouse, raw_dir) -> None:
    with SimulatorServer() as server:
        api_catalog(server, raw_dir)
        server.sim.token_down = True
        elapsed, result = run_with_api(warehouse, raw_dir, server)
        tracks, artists, failed, (resume_at, reason) = state(conn)
        assert (tracks, artists, failed) == (0, 0, 0)
        assert reason == "token endpoint unavailable (5 attempts)"
        assert server.sim.requests == []  # no API request without a token
        assert elapsed < 60

        server.sim.token_down = False
        conn.execute("UPDATE etl_internal.api_resume_state SET resume_at = now() - interval '1 second'")
        conn.commit()
        run_with_api(warehouse, raw_dir, server)
        assert state(conn) == (40, 40, 0, None)


def test_api_outage_defers_after_three_ids_instead_of_failing_them_all(conn, warehouse, raw_dir) -> None:
    with SimulatorServer() as server:
        api_catalog(server, raw_dir)
        server.sim.fail_ratio = 1.0
        elapsed, result = run_with_api(warehouse, raw_dir, server)
        tracks, artists, failed, (_, reason) = state(conn)
        assert (tracks, artists) == (0, 0)
        assert failed == 2  # transient, retried by a later run; the other 38 untouched
        assert reason == "Spotify unavailable: HTTP 503 on 3 requests in a row"
        assert len(server.sim.requests) == 3 * 5
        # The assets after the one that deferred say why, not "rate limit".
        statuses = {
            e.asset_key.to_user_string(): e.step_materialization_data.materialization.metadata["status"].value
            for e in result.get_asset_materialization_events()
            if "status" in e.step_materialization_data.materialization.metadata
        }
        deferred = {asset: status for asset, status in statuses.items() if status.startswith("deferred")}
        assert {"enriched_tracks", "enriched_artists"} <= set(deferred), statuses
        assert all("Spotify unavailable: HTTP 503 on 3 requests in a row" in status for status in deferred.values()), (
            deferred
        )
        assert elapsed < 60


# --- the raw directory read-only or full, files vanishing ------------------------------------


@contextmanager
def read_only(source: Path) -> Iterator[Path]:
    """`source` made read-only: as root through a read-only bind mount (chmod does not stop
    root), otherwise by taking away write permission."""
    if os.geteuid() != 0:
        paths = [source, *source.rglob("*")]
        for path in paths:
            path.chmod(path.stat().st_mode & ~0o222)
        try:
            yield source
        finally:
            for path in paths:
                path.chmod(path.stat().st_mode | 0o200)
        return
    with mounted("spotify_etl_ro_", ["mount", "--bind", str(source)], ["mount", "-o", "remount,bind,ro"]) as target:
        yield target


def test_read_only_raw_directory_loads_and_the_sensor_reads_it(conn, warehouse, tmp_path) -> None:
    source = tmp_path / "raw"
    write_export(source, 3_000, per_file=1_000, account_months=1)
    with read_only(source) as raw_dir:
        with pytest.raises(OSError):
            (raw_dir / "probe").write_text("x")
        result = materialize_all(warehouse, raw_dir)
        assert result.success
        stored = conn.execute(
            "SELECT sum(records_read), sum(stored + duplicates + rejected) FROM etl_internal.source_files"
        ).fetchone()
        assert stored[0] == stored[1] >= 3_000
        with dg.instance_for_test() as instance:
            context = dg.build_sensor_context(
                instance=instance,
                instance_ref=instance.get_ref(),
                definitions=defs,
                resources={"exports": ExportsResource(raw_dir=str(raw_dir))},
            )
            outcome = raw_files_sensor.evaluate_tick(context)
        assert outcome.run_requests  # a first look at the directory finds its files


@needs_root
def test_full_raw_directory_loads(conn, warehouse, tmp_path) -> None:
    with mounted("spotify_etl_rawfull_", tmpfs("8m")) as mount:
        write_export(mount, 3_000, per_file=1_000, account_months=1)
        with pytest.raises(OSError):  # fill what is left
            with open(mount / "filler.bin", "wb") as filler:
                while True:
                    filler.write(b"\0" * (1 << 20))
                    filler.flush()
        assert os.statvfs(mount).f_bavail == 0
        result = materialize_all(warehouse, mount)
        assert result.success
        read, accounted = conn.execute(
            "SELECT sum(records_read), sum(stored + duplicates + rejected) FROM etl_internal.source_files"
        ).fetchone()
        assert read == accounted >= 3_000


def test_file_vanishing_before_it_is_read_is_listed_and_the_rest_loads(conn, warehouse, raw_dir, monkeypatch) -> None:
    from spotify_etl.lib import ingestion

    for n in range(3):
        write_json(raw_dir / f"Streaming_History_Audio_2021_{n}.json", [play(f"2021-0{n + 1}-01T00:00:00Z")])
    real_discover = ingestion.discover

    def discover_then_lose_one(path: Path):
        found = real_discover(path)
        (raw_dir / "Streaming_History_Audio_2021_1.json").unlink()  # moved away mid-run
        return found

    monkeypatch.setattr(ingestion, "discover", discover_then_lose_one)
    report = ingest_raw_dir(warehouse.url(), raw_dir)
    assert [(i.path, i.reason) for i in report.ignored] == [
        ("Streaming_History_Audio_2021_1.json", "vanished before it was read: No such file or directory")
    ]
    assert report.stored == 2 and not report.failed
    assert conn.execute("SELECT count(*) FROM etl_internal.source_files").fetchone()[0] == 2


def test_file_deleted_while_being_read_is_read_to_its_end(conn, warehouse, raw_dir, monkeypatch) -> None:
    from spotify_etl.lib import ingestion

    path = write_json(
        raw_dir / "Streaming_History_Audio_2021_0.json", [play(f"2021-01-{d:02d}T00:00:00Z") for d in range(1, 29)]
    )
    real_records = ingestion._records

    def records_then_delete(*args):
        for n, record in enumerate(real_records(*args)):
            if n == 1:
                path.unlink()  # the open file stays readable, as POSIX promises
            yield record

    monkeypatch.setattr(ingestion, "_records", records_then_delete)
    report = ingest_raw_dir(warehouse.url(), raw_dir)
    assert not path.exists()
    assert (report.records_read, report.stored, len(report.failed)) == (28, 28, 0)
