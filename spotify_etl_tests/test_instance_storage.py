"""spotify_etl/instance_storage.py: the default instance's SQLite storages keep their
connections, and their files stay Dagster's own."""

from __future__ import annotations

import multiprocessing
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.event_log import SqliteEventLogStorage
from sqlalchemy import event
from sqlalchemy.pool import Pool

from spotify_etl.instance_storage import ENGINES_KEPT, PooledSqliteEventLogStorage, PooledSqliteRunStorage
from spotify_etl.settings import ensure_dagster_home

MONTHS = dg.MonthlyPartitionsDefinition(start_date="2024-01-01", end_date="2025-07-01")


@dg.asset(partitions_def=MONTHS, backfill_policy=dg.BackfillPolicy.single_run())
def monthly() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"plays_loaded": 1})


def _materialize_every_month(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    keys = MONTHS.get_partition_keys()
    return dg.materialize(
        [monthly],
        instance=instance,
        tags={"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]},
    )


def _dagster_own_yaml(home: Path) -> None:
    """The same instance without this package's storages: Dagster's default SQLite classes."""
    text = (home / "dagster.yaml").read_text(encoding="utf-8")
    lines, skipping = [], False
    for line in text.splitlines():
        if line.startswith(("run_storage:", "event_log_storage:")):
            skipping = True
            continue
        if skipping and line.startswith(" "):
            continue
        skipping = False
        lines.append(line)
    (home / "dagster.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def connects() -> Iterator[list[object]]:
    """Every new database connection any SQLAlchemy pool opens, while the test runs."""
    opened: list[object] = []

    def count(dbapi_connection, record) -> None:
        opened.append(dbapi_connection)

    event.listen(Pool, "connect", count)
    yield opened
    event.remove(Pool, "connect", count)


def test_the_written_instance_uses_them_and_reuses_its_connections(connects) -> None:
    home = ensure_dagster_home()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage) is PooledSqliteRunStorage
        assert type(instance.event_log_storage) is PooledSqliteEventLogStorage
        before = len(connects)
        result = _materialize_every_month(instance)
        assert result.success
        # 18 partitions (Dagster's own classes open four connections for each): each file this
        # run wrote (the run's, the index, runs.db) is opened about once.
        assert len(connects) - before <= 6
        assert instance.get_materialized_partitions(monthly.key) == set(MONTHS.get_partition_keys())


def test_the_files_are_dagsters_own() -> None:
    home = ensure_dagster_home()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        run_id = _materialize_every_month(instance).run_id
    _dagster_own_yaml(home)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.event_log_storage) is SqliteEventLogStorage
        assert instance.get_run_by_id(run_id).is_success
        assert instance.get_materialized_partitions(monthly.key) == set(MONTHS.get_partition_keys())
        # ... and Dagster's classes write what the pooled ones then read.
        second = _materialize_every_month(instance).run_id
    (home / "dagster.yaml").unlink()
    home = ensure_dagster_home()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.event_log_storage) is PooledSqliteEventLogStorage
        assert {run.run_id for run in instance.get_runs()} == {run_id, second}
        materialized = instance.fetch_materializations(monthly.key, limit=100).records
        assert len(materialized) == 2 * len(MONTHS.get_partition_keys())


def _schema(path: Path) -> tuple[list, list, list]:
    """A SQLite file's tables and indexes, alembic revision and journal mode."""
    with closing(sqlite3.connect(path)) as conn:
        return (
            sorted(conn.execute("SELECT type, name, sql FROM sqlite_master").fetchall()),
            conn.execute("SELECT version_num FROM alembic_version").fetchall(),
            conn.execute("PRAGMA journal_mode").fetchall(),
        )


def test_a_runs_new_file_is_a_copy_of_the_one_dagster_makes(tmp_path: Path) -> None:
    home = ensure_dagster_home()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        first, second = (_materialize_every_month(instance).run_id for _ in range(2))
        runs_dir = Path(instance.event_log_storage._base_dir)  # noqa: SLF001  (where the files are)
        # Not a run to Dagster, which lists the runs' files as *.db.
        assert set(instance.event_log_storage.get_all_run_ids()) == {first, second}
    (empty,) = runs_dir.glob(".empty_run-*.db")
    assert empty.name == f".empty_run-{dg.__version__}.db"
    dagster_own = SqliteEventLogStorage(str(tmp_path))
    with dagster_own.run_connection("made_by_dagster"):
        pass
    made_by_dagster = _schema(tmp_path / "made_by_dagster.db")
    assert made_by_dagster[1] and made_by_dagster[2] == [("wal",)]
    assert _schema(empty) == made_by_dagster
    # The runs' files hold their events beside the same schema; nothing half-made is left.
    for run_id in (first, second):
        schema = _schema(runs_dir / f"{run_id}.db")
        assert schema[1:] == made_by_dagster[1:]
        assert {entry[1] for entry in schema[0]} == {entry[1] for entry in made_by_dagster[0]}
    assert not list(runs_dir.glob("*.part"))


def test_many_runs_keep_few_files_open() -> None:
    home = ensure_dagster_home()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        run_ids = [_materialize_every_month(instance).run_id for _ in range(ENGINES_KEPT + 3)]
        kept = instance.event_log_storage._pooled._engines  # noqa: SLF001  (what this test is about)
        assert len(kept) == ENGINES_KEPT + 1
        # The runs whose files were closed read as before (their files opened again).
        assert all(len(instance.all_logs(run_id)) > 20 for run_id in run_ids)


def test_a_forked_process_opens_its_own_connections() -> None:
    home = ensure_dagster_home()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        _materialize_every_month(instance)
        index = instance.event_log_storage.conn_string_for_shard("index")
        engine = instance.event_log_storage._pooled.get(index)  # noqa: SLF001
        context = multiprocessing.get_context("fork")
        done = context.Queue()
        # The instance itself crosses the fork: its engines must not.
        child = context.Process(target=_fork_and_materialize, args=(instance, done))
        child.start()
        child.join(60)
        assert child.exitcode == 0
        assert done.get(timeout=5) == (True, False)
        # The parent's connection still works after the child used the same files.
        assert _materialize_every_month(instance).success
        assert len(instance.get_runs()) == 3
        assert instance.event_log_storage._pooled.get(index) is engine  # noqa: SLF001


def _fork_and_materialize(instance: dg.DagsterInstance, done) -> None:
    storage = instance.event_log_storage
    url = storage.conn_string_for_shard("index")
    parent_engine = storage._pooled._engines.get(url)  # noqa: SLF001
    success = _materialize_every_month(instance).success
    done.put((success, storage._pooled.get(url) is parent_engine))  # noqa: SLF001


def test_wipe_leaves_a_working_instance() -> None:
    home = ensure_dagster_home()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        _materialize_every_month(instance)
        instance.wipe()
        assert instance.get_runs() == []
        assert _materialize_every_month(instance).success
        assert instance.get_materialized_partitions(monthly.key) == set(MONTHS.get_partition_keys())


def test_a_copied_home_keeps_its_runs_to_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = ensure_dagster_home()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        first = _materialize_every_month(instance).run_id
    copy, edited = tmp_path / "copy", tmp_path / "edited"
    shutil.copytree(home, copy)
    shutil.copytree(home, edited)
    monkeypatch.setenv("DAGSTER_HOME", str(copy))
    assert ensure_dagster_home() == copy
    with dg.DagsterInstance.from_config(str(copy)) as instance:
        assert [run.run_id for run in instance.get_runs()] == [first]
        second = _materialize_every_month(instance).run_id
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert [run.run_id for run in instance.get_runs()] == [first]
    assert (copy / "history" / "runs" / f"{second}.db").exists()
    # A dagster.yaml someone edited is theirs: it stays as it is, wherever it points.
    text = (edited / "dagster.yaml").read_text(encoding="utf-8") + "# mine\n"
    (edited / "dagster.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("DAGSTER_HOME", str(edited))
    ensure_dagster_home()
    assert (edited / "dagster.yaml").read_text(encoding="utf-8") == text
