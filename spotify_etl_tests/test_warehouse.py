"""The warehouse resource: embedded server lifecycle, external URL, migrations."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import psycopg
import pytest

from spotify_etl.defs.resources.warehouse import WarehouseResource, redact_url
from spotify_etl.lib.warehouse.embedded_postgres import HANDLES_FILE, pgdata_dir
from spotify_etl.lib.warehouse.migrations import MIGRATIONS_DIR, apply_migrations, discover_migrations

# A child process that joins the embedded server under HOME, prints the postmaster's pid and
# its own, then waits for a line on stdin (or is killed) before exiting.
_JOINER = textwrap.dedent(
    """
    import sys, psycopg
    from spotify_etl.defs.resources.warehouse import WarehouseResource
    url = WarehouseResource(home=sys.argv[1]).url()
    with psycopg.connect(url) as conn:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()
        started = conn.execute("SELECT pg_postmaster_start_time()").fetchone()[0]
    print(started.isoformat(), flush=True)
    if len(sys.argv) > 2:
        sys.stdin.readline()
    """
)


def _join(home: Path, wait: bool = False) -> subprocess.Popen:
    args = [sys.executable, "-c", _JOINER, str(home)] + (["wait"] if wait else [])
    return subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def _postmaster_pid(home: Path) -> int | None:
    pidfile = pgdata_dir(home) / "postmaster.pid"
    if not pidfile.exists():
        return None
    pid = int(pidfile.read_text().splitlines()[0])
    return pid if psutil.pid_exists(pid) else None


def _wait_until(condition, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_embedded_server_starts_and_migrates(tmp_path: Path) -> None:
    warehouse = WarehouseResource(home=str(tmp_path / "home"))
    assert warehouse.is_embedded
    with warehouse.connect() as conn:
        versions = [v for (v,) in conn.execute("SELECT version FROM etl_internal.schema_migrations ORDER BY 1")]
        schemas = {s for (s,) in conn.execute("SELECT nspname FROM pg_namespace")}
        server_version = conn.execute("SHOW server_version_num").fetchone()[0]
    assert versions == [m.version for m in discover_migrations()]
    assert {"staging", "core", "etl_internal", "mart"} <= schemas
    assert int(server_version) >= 180000
    assert (pgdata_dir(tmp_path / "home") / "PG_VERSION").exists()


def test_second_process_reuses_the_server_and_last_one_stops_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = _join(home, wait=True)
    first_start = first.stdout.readline().strip()
    second = _join(home)
    second_start = second.stdout.readline().strip()
    assert second.wait(timeout=60) == 0
    # Same postmaster: the second process joined rather than starting its own.
    assert first_start and first_start == second_start
    assert _postmaster_pid(home) is not None, "the first process still holds the server"
    first.communicate("done\n", timeout=60)
    assert first.returncode == 0
    assert _wait_until(lambda: _postmaster_pid(home) is None), "last handle gone, server must stop"


def test_server_is_stopped_after_its_owner_was_killed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    owner = _join(home, wait=True)
    assert owner.stdout.readline().strip()
    os.kill(owner.pid, signal.SIGKILL)
    owner.wait(timeout=30)
    handles = json.loads((pgdata_dir(home) / HANDLES_FILE).read_text())
    assert owner.pid in handles, "the killed process left its handle behind"
    assert _postmaster_pid(home) is not None, "the server outlives its killed owner"

    # A later process prunes the dead handle, uses the server, and as the last handle stops it.
    later = _join(home)
    assert later.stdout.readline().strip()
    assert later.wait(timeout=60) == 0
    assert _wait_until(lambda: _postmaster_pid(home) is None), "server left running forever"
    assert owner.pid not in json.loads((pgdata_dir(home) / HANDLES_FILE).read_text())


def test_the_command_lets_go_of_the_server_when_it_exits(tmp_path: Path) -> None:
    """`spotify-etl` exits without Python's teardown (spotify_etl.cli.main.console), but only
    after the exit handlers ran: the embedded server's handle is let go, and the server, held
    by no one else, stops."""
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPOTIFY_", "DAGSTER_"))}
    env["SPOTIFY_ETL_HOME"] = str(home)
    command = Path(sys.executable).with_name("spotify-etl")
    done = subprocess.run([str(command), "status"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Warehouse: embedded server under {home}")
    assert json.loads((pgdata_dir(home) / HANDLES_FILE).read_text()) == []
    assert _wait_until(lambda: _postmaster_pid(home) is None), "the command exited holding the server"


def test_external_url_is_used_and_no_server_is_started(database_url: str, tmp_path: Path) -> None:
    home = tmp_path / "unused-home"
    warehouse = WarehouseResource(database_url=database_url, home=str(home))
    assert not warehouse.is_embedded
    with warehouse.connect() as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == database_url.rsplit("/", 1)[1].split("?")[0]
        assert conn.execute("SELECT count(*) FROM etl_internal.schema_migrations").fetchone()[0] == len(
            discover_migrations()
        )
    assert not home.exists()


def test_migrations_apply_exactly_once_even_concurrently(database_url: str) -> None:
    def migrate() -> list[str]:
        with psycopg.connect(database_url) as conn:
            return apply_migrations(conn)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: migrate(), range(4)))
    applied = sorted(name for result in results for name in result)
    assert applied == [f"{m.version:04d}_{m.name}" for m in discover_migrations(MIGRATIONS_DIR)]
    assert migrate() == []
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM etl_internal.schema_migrations").fetchone()[0] == len(applied)


def test_new_migration_file_is_applied_on_next_start(database_url: str, tmp_path: Path) -> None:
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    for migration in discover_migrations():
        (migrations / migration.path.name).write_text(migration.sql)
    with psycopg.connect(database_url) as conn:
        apply_migrations(conn, migrations)
        (migrations / "9001_extra_table.sql").write_text("CREATE TABLE etl_internal.extra (x int);")
        assert apply_migrations(conn, migrations) == ["9001_extra_table"]
        assert apply_migrations(conn, migrations) == []
        assert conn.execute("SELECT to_regclass('etl_internal.extra')").fetchone()[0] == "etl_internal.extra"


def test_badly_named_migration_is_refused(tmp_path: Path) -> None:
    (tmp_path / "add table.sql").write_text("SELECT 1")
    with pytest.raises(ValueError, match="0001_name.sql"):
        discover_migrations(tmp_path)


def test_warehouse_connections_run_without_jit_and_keep_the_urls_options(database_url: str) -> None:
    """JIT compiles each monthly partition's scan (see lib.warehouse.database.connect); a URL's
    own server options still apply."""
    separator = "&" if "?" in database_url else "?"
    warehouse = WarehouseResource(database_url=f"{database_url}{separator}options=-c%20statement_timeout%3D54321")
    with warehouse.connect() as conn:
        assert conn.execute("SHOW jit").fetchone()[0] == "off"
        assert conn.execute("SHOW statement_timeout").fetchone()[0] == "54321ms"
    with psycopg.connect(database_url) as conn:  # the server's default is left alone
        assert conn.execute("SHOW jit").fetchone()[0] == "on"


def test_redact_url_hides_the_password() -> None:
    redacted = redact_url("postgresql://etl:s3cret-pw@db.example:5432/warehouse")
    assert "s3cret-pw" not in redacted
    assert "db.example" in redacted


def test_a_missing_sql_folder_or_empty_migrations_are_errors_not_an_empty_schema(tmp_path: Path) -> None:
    from spotify_etl.errors import SpotifyEtlError
    from spotify_etl.lib import package_data

    with pytest.raises(SpotifyEtlError, match=r"the package's nowhere/ folder is missing \(looked in .*nowhere"):
        package_data._shipped("nowhere", "nowhere")
    (tmp_path / "migrations").mkdir()
    with pytest.raises(SpotifyEtlError, match="no migrations found in .*migrations: the package is incomplete"):
        discover_migrations(tmp_path / "migrations")
    assert package_data.sql_dir().joinpath("migrations", "0001_schemas.sql").is_file()


def test_views_are_created_from_their_files_and_again_only_when_one_changes(database_url: str, tmp_path: Path) -> None:
    from spotify_etl.lib.warehouse.database import migrate
    from spotify_etl.lib.warehouse.views import apply_views, view_files

    with psycopg.connect(database_url) as conn:
        assert "views" in migrate(conn)
        conn.commit()
        views = {name for (name,) in conn.execute(
            "SELECT schemaname || '.' || viewname FROM pg_views WHERE schemaname IN ('etl_internal', 'core', 'mart')"
        )}  # fmt: skip
        assert views == {name for name, _ in view_files()}
        assert migrate(conn) == []  # nothing changed: nothing re-created

        # A changed file re-creates the set; a view gone from the files is dropped.
        copy = tmp_path / "views"
        for name, path in view_files():
            schema, view = name.split(".")
            (copy / schema).mkdir(parents=True, exist_ok=True)
            if name != "mart.coverage":
                (copy / schema / f"{view}.sql").write_text(path.read_text())
        (copy / "mart" / "minutes_by_month.sql").write_text("CREATE VIEW mart.minutes_by_month AS SELECT 1 AS changed;")
        assert apply_views(conn, copy)
        assert conn.execute("SELECT to_regclass('mart.coverage')").fetchone()[0] is None
        assert conn.execute("SELECT changed FROM mart.minutes_by_month").fetchone()[0] == 1
        assert not apply_views(conn, copy)


def test_facts_loaded_before_partitioning_keep_their_rows_in_monthly_partitions(
    database_url: str, tmp_path: Path
) -> None:
    """Migration 0016 moves each fact's rows into one partition per month (UTC) holding rows,
    keeps the keys, and the views on the facts come back."""
    from spotify_etl.lib.warehouse.database import migrate
    from spotify_etl.lib.warehouse.views import view_files

    before = tmp_path / "migrations"
    before.mkdir()
    for migration in discover_migrations():
        if migration.version < 16:
            (before / migration.path.name).write_text(migration.sql)
    columns = "(play_id, listener, ts, ts_local, time_zone, date_id, time_id, {}, reason_start_id, reason_end_id,"
    columns += " platform_id, ms_played, play_category, is_skip, is_video{})"
    plays = [(1, "2023-12-31T23:59:00Z"), (2, "2024-01-01T00:00:00Z"), (3, "2024-03-15T12:00:00Z")]
    with psycopg.connect(database_url) as conn:
        apply_migrations(conn, before)
        for play_id, ts in plays:
            conn.execute(
                "INSERT INTO core.fact_tracks_history " + columns.format("track_id, artist_id", ", is_local")
                + " VALUES (%s, 'me', %s, %s, 'UTC', 0, 0, 7, 8, 0, 0, 0, 1000, 'skip', true, false, false)",
                (play_id, ts, ts[:19]),
            )  # fmt: skip
        conn.execute(
            "INSERT INTO core.fact_podcasts_history " + columns.format("episode_id, podcast_id", "")
            + " VALUES (9, 'me', '2024-02-02T10:00:00Z', '2024-02-02T10:00:00', 'UTC', 0, 0, 5, 6, 0, 0, 0, 60000,"
            " 'full', false, false)"
        )  # fmt: skip
        conn.commit()

        migrate(conn)
        conn.commit()
        conn.execute("SET TIME ZONE 'UTC'")
        bounds = dict(
            conn.execute(
                "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c"
                " ON c.oid = i.inhrelid WHERE i.inhparent IN ('core.fact_tracks_history'::regclass,"
                " 'core.fact_podcasts_history'::regclass)"
            ).fetchall()
        )
        assert bounds["fact_tracks_history_y2024m01"] == (
            "FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2024-02-01 00:00:00+00')"
        )
        placed = conn.execute(
            "SELECT tableoid::regclass::text, play_id FROM core.fact_tracks_history UNION ALL"
            " SELECT tableoid::regclass::text, play_id FROM core.fact_podcasts_history ORDER BY 2"
        ).fetchall()
        assert placed == [
            ("core.fact_tracks_history_y2023m12", 1),
            ("core.fact_tracks_history_y2024m01", 2),
            ("core.fact_tracks_history_y2024m03", 3),
            ("core.fact_podcasts_history_y2024m02", 9),
        ]
        assert sorted(bounds) == sorted(name.removeprefix("core.") for name, _ in placed)
        primary_key = conn.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'core.fact_tracks_history'::regclass"
            " AND contype = 'p'"
        ).fetchone()[0]  # fmt: skip
        assert primary_key == "PRIMARY KEY (play_id, ts)"
        views = conn.execute("SELECT count(*) FROM pg_views WHERE schemaname IN ('etl_internal', 'core', 'mart')")
        assert views.fetchone()[0] == len(view_files())
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(
                "INSERT INTO core.fact_tracks_history SELECT * FROM core.fact_tracks_history WHERE play_id = 3"
            )


def test_a_month_held_by_a_reader_is_emptied_by_delete_and_a_new_month_is_attached_beside_it(warehouse) -> None:
    """Emptying a month's partition (TRUNCATE) would wait for a client idle in a transaction
    that read it, and block every reader after it: the reload deletes the rows instead. A new
    month's partition is attached without waiting for readers."""
    url = warehouse.url()
    fact = "core.fact_tracks_history"
    files = "SELECT pg_relation_filenode(%s)"
    with psycopg.connect(url) as writer:
        partition = writer.execute("SELECT core.month_partition(%s, '2024-03-10T00:00:00Z')::text", (fact,)).fetchone()[
            0
        ]
        writer.execute(
            f"INSERT INTO {fact} (play_id, listener, ts, ts_local, time_zone, date_id, time_id, track_id, artist_id,"
            " reason_start_id, reason_end_id, platform_id, play_category, is_skip, is_local, is_video)"
            " VALUES (1, 'me', '2024-03-10T12:00:00Z', '2024-03-10T12:00:00', 'UTC', 0, 0, 0, 0, 0, 0, 0, 'full',"
            " false, false, false)"
        )  # fmt: skip
        writer.commit()
        untouched = writer.execute(files, (partition,)).fetchone()[0]

        with psycopg.connect(url) as reader:
            assert reader.execute(f"SELECT count(*) FROM {fact}").fetchone()[0] == 1  # now idle in transaction
            writer.execute("SET statement_timeout = '30s'")
            writer.execute(
                "SELECT core.prepare_fact_months(%s, '2024-03-01T00:00:00Z', '2024-04-01T00:00:00Z')", (fact,)
            )
            assert writer.execute(f"SELECT count(*) FROM {fact}").fetchone()[0] == 0
            assert writer.execute(files, (partition,)).fetchone()[0] == untouched  # deleted, not truncated
            assert writer.execute("SHOW lock_timeout").fetchone()[0] == "0"
            may = writer.execute("SELECT core.month_partition(%s, '2024-05-01T00:00:00Z')::text", (fact,)).fetchone()[0]
            writer.commit()
            assert may == "core.fact_tracks_history_y2024m05"

        # Nobody reading: the month's partition is emptied into a new file.
        writer.execute("SELECT core.prepare_fact_months(%s, '2024-03-01T00:00:00Z', '2024-04-01T00:00:00Z')", (fact,))
        writer.commit()
        assert writer.execute(files, (partition,)).fetchone()[0] != untouched
