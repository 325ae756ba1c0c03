"""The Dagster instance's default storage: Dagster's SQLite run and event log storages (the same
files, the same schema), keeping their database connections open between transactions.

Dagster's own classes create a SQLAlchemy engine, and with it a new SQLite connection, for
every transaction: four for each partition a run materializes, and each engine's cache of
compiled statements is dropped with it. bench/partition_events.py measured, per monthly
partition of a run and per observation of a month: 10.1 and 10.8 ms with Dagster's classes,
2.4 and 2.9 ms with these (docs/benchmarks.md). These keep one engine per database file, whose
pool keeps its connections open.

- The files are Dagster's: an instance switches between these classes and Dagster's at any
  time (removing `run_storage` and `event_log_storage` from dagster.yaml goes back).
- The event log makes one transaction at a time, as Dagster's (which holds a lock over each);
  the run storage's threads each take a connection of their own, as with Dagster's. SQLite's
  own settings (WAL, synchronous FULL) are untouched: nothing committed is less durable.
- Engines belong to the process that made them: a forked child makes its own.
- At most ENGINES_KEPT files keep a connection open (the UI reads many runs' files).
- A run's new file is a copy of an empty one Dagster's `_initdb` made once per Dagster version
  (`.empty_run-<version>.db` beside the runs' files, which Dagster's listing of `*.db` does not
  see): `_initdb` took ~60 ms a file, mostly reading Dagster's 178 alembic scripts twice, the
  copy well under 1 ms; a command of two runs saves ~0.12 s.

They override the hooks Dagster's SQL storages take connections from (`connect`,
`run_connection`, `index_connection`, and `has_table`, which opened one of its own) and call
Dagster's `_initdb` to create a file, the one private method used: setup.cfg pins Dagster
exactly, and test_instance_storage fails if an upgrade changes what these rely on.
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from functools import partial
from typing import Any

import sqlalchemy as db
from dagster import __version__ as dagster_version
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

# Run files with an open connection, at most (the index and the runs' file come on top).
ENGINES_KEPT = 8


class _Engines:
    """One engine per SQLite URL, for this process; the least recently used beyond `kept` are
    closed."""

    def __init__(self, kept: int) -> None:
        self._kept = kept
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def get(self, url: str, prepare: Callable[[Engine], None] | None = None) -> Engine:
        with self._lock:
            if self._pid != os.getpid():
                # Forked: the parent's connections are not this process's to use or close.
                for engine in self._engines.values():
                    engine.dispose(close=False)
                self._engines.clear()
                self._pid = os.getpid()
            engine = self._engines.get(url)
            if engine is not None:
                self._engines.move_to_end(url)
                return engine
            engine = db.create_engine(
                url,
                # Two: Dagster asks has_table while it holds a transaction on the same file.
                pool_size=2,
                # A connection may serve another thread (the UI's) in its next transaction.
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            )
            if prepare is not None:
                prepare(engine)
            self._engines[url] = engine
            while len(self._engines) > self._kept:
                _, oldest = self._engines.popitem(last=False)
                oldest.dispose()
            return engine

    def dispose(self) -> None:
        with self._lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    @contextmanager
    def transaction(self, url: str, prepare: Callable[[Engine], None] | None = None) -> Iterator[Connection]:
        with self.get(url, prepare).connect() as conn, conn.begin():
            yield conn


class PooledSqliteRunStorage(SqliteRunStorage):
    """Dagster's SqliteRunStorage on one engine (`base_dir` as Dagster's: the runs.db folder)."""

    def __init__(self, conn_string: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._pooled = _Engines(kept=1)
        super().__init__(conn_string, inst_data)

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> PooledSqliteRunStorage:
        return cls.from_local(inst_data=inst_data, **config_value)

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self._pooled.transaction(self._conn_string) as conn:
            yield conn

    def dispose(self) -> None:
        self._pooled.dispose()
        super().dispose()


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SqliteEventLogStorage (one file per run, and the index) on one engine per
    file (`base_dir` as Dagster's: the folder of the runs' files)."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        # Before Dagster's __init__, which may use the index.
        self._pooled = _Engines(kept=ENGINES_KEPT + 1)
        # One transaction at a time, as Dagster's class (its watcher threads read while runs write).
        self._one_at_a_time = threading.RLock()
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> PooledSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def _transaction(self, shard: str) -> Iterator[Connection]:
        # A file is created (tables, alembic stamp) when its engine is, as Dagster's does on a
        # shard's first connection; again after its engine was closed, which finds it done.
        prepare = self._initdb if shard == INDEX_SHARD_NAME else partial(self._prepare_run_file, shard)
        with self._one_at_a_time, self._pooled.transaction(self.conn_string_for_shard(shard), prepare) as conn:
            yield conn

    def _prepare_run_file(self, run_id: str, engine: Engine) -> None:
        """A run's file: a copy of the empty one, if there is none yet; else Dagster's check."""
        path = self.path_for_shard(run_id)
        if not os.path.exists(path) and (empty := self._empty_run_file()) is not None:
            partial_copy = f"{path}.{uuid.uuid4().hex}.part"
            shutil.copyfile(empty, partial_copy)
            try:
                # Never over a file another process made meanwhile (a link does not replace);
                # where links are not to be had, Dagster makes the file as before.
                os.link(partial_copy, path)
                return
            except OSError:
                pass
            finally:
                os.unlink(partial_copy)
        self._initdb(engine)

    def _empty_run_file(self) -> str | None:
        """The empty run file of this Dagster version, made by Dagster's `_initdb` if missing;
        None if what it wrote is not all in the file (left in a WAL beside it)."""
        path = os.path.join(self._base_dir, f".empty_run-{dagster_version}.db")
        if os.path.exists(path):
            return path
        making = f"{path}.{uuid.uuid4().hex}.part"
        engine = db.create_engine(f"sqlite:///{making}", poolclass=NullPool)
        try:
            self._initdb(engine)
            engine.dispose()
            # Its last connection closed, SQLite moved the WAL into the file and removed it.
            if os.path.exists(f"{making}-wal"):
                return None
            os.replace(making, path)
            return path
        finally:
            for leftover in (making, f"{making}-wal", f"{making}-shm"):
                with suppress(FileNotFoundError):
                    os.unlink(leftover)

    def run_connection(self, run_id: str | None = None) -> Iterator[Connection]:
        return self._transaction(run_id)

    def index_connection(self) -> Iterator[Connection]:
        return self._transaction(INDEX_SHARD_NAME)

    def has_table(self, table_name: str) -> bool:
        # Asked for each materialization stored (Dagster's opens an engine for the question).
        with self._transaction(INDEX_SHARD_NAME) as conn:
            return bool(conn.dialect.has_table(conn, table_name))

    def wipe(self) -> None:
        # Run files are deleted: no connection may stay open on them.
        self._pooled.dispose()
        super().wipe()

    def dispose(self) -> None:
        self._pooled.dispose()
        super().dispose()
