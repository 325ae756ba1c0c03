"""Incremental builds: which plays a step has not read yet, and which months a change reaches.

A step that derives something from staging (a dimension, the sessions) reads only the plays
of source files committed since it last ran: `new_plays(conn, step, settings)` opens that
window as the temporary view `new_plays` and `advance()` records it read, in the same
transaction, so a step that fails reads the same plays again next time. Files are committed
in the order of their ids (one ingestion at a time, merges in file order), so the window is
exact. A step whose settings changed (the session gap, the home time zone) starts again from
the first file. A build holds its step's lock until it commits, so `files_read` by another
step waits for it. The months (YYYY-MM, UTC, the facts' partitions) that a change reaches are
what the facts must reload.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
from psycopg import sql

from spotify_etl.lib.warehouse.database import execute_sql_file
from spotify_etl.lib.warehouse.sql_files import load_sql


@dataclass(frozen=True)
class PlayWindow:
    """The plays of source files after `after_file` up to `through_file` (inclusive)."""

    step: str
    after_file: int
    through_file: int
    settings: str

    @property
    def is_empty(self) -> bool:
        return self.through_file <= self.after_file


@dataclass(frozen=True)
class IncrementalBuild:
    """What one incremental build read, and the months (YYYY-MM) whose facts it changed."""

    window: PlayWindow
    changed_months: set[str] = field(default_factory=set)


def build_from_new_plays(
    conn: psycopg.Connection, step: str, sql_file: str, params: dict | None = None, settings: str = ""
) -> IncrementalBuild:
    """Run a file of `sql/` over the plays `step` has not read, in the caller's transaction.
    The file reads the view `new_plays` and may add to the table `changed_months`."""
    window = new_plays(conn, step, settings)
    conn.execute("CREATE TEMP TABLE changed_months (month text) ON COMMIT DROP")
    execute_sql_file(conn, sql_file, params)
    months = {month for (month,) in conn.execute("SELECT DISTINCT month FROM changed_months")}
    conn.execute("DROP TABLE changed_months")
    advance(conn, window)
    return IncrementalBuild(window, months)


def new_plays(conn: psycopg.Connection, step: str, settings: str = "") -> PlayWindow:
    """Open the window of plays `step` has not read (with `settings`) as the temporary view
    `new_plays`, dropped at the end of the transaction."""
    window = _window(conn, step, settings, lock=True)
    conn.execute("DROP VIEW IF EXISTS pg_temp.new_plays")
    conn.execute(
        sql.SQL(
            "CREATE TEMP VIEW new_plays AS SELECT * FROM staging.streaming_history"
            " WHERE source_file_id > {} AND source_file_id <= {}"
        ).format(sql.Literal(window.after_file), sql.Literal(window.through_file))
    )
    return window


def window_is_empty(conn: psycopg.Connection, step: str, settings: str = "") -> bool:
    """Whether `step` (with `settings`) has read the plays of every file committed, as
    new_plays would find it, without opening the window."""
    return _window(conn, step, settings, lock=False).is_empty


def files_read(conn: psycopg.Connection, step: str) -> int:
    """The last source file whose plays `step` has read (0: none), once a build of it in
    progress has committed; until the caller's transaction ends, no build of `step` starts."""
    conn.execute("SELECT pg_advisory_xact_lock_shared(hashtext(%s))", (_lock_name(step),))
    row = conn.execute("SELECT source_file_id FROM etl_internal.build_watermarks WHERE step = %s", (step,)).fetchone()
    return row[0] if row else 0


def _window(conn: psycopg.Connection, step: str, settings: str, *, lock: bool) -> PlayWindow:
    """The files after the last one `step` read with `settings` (all, with other settings) up
    to the last committed; `lock` holds the step's lock (its first build has no watermark row
    to lock) and its watermark until the transaction ends."""
    if lock:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (_lock_name(step),))
    query = sql.SQL("SELECT source_file_id, settings FROM etl_internal.build_watermarks WHERE step = %s {}")
    row = conn.execute(query.format(sql.SQL("FOR UPDATE" if lock else "")), (step,)).fetchone()
    after = row[0] if row and row[1] == settings else 0
    (through,) = conn.execute("SELECT coalesce(max(source_file_id), 0) FROM etl_internal.source_files").fetchone()
    return PlayWindow(step, after, through, settings)


def _lock_name(step: str) -> str:
    return f"spotify_etl build of {step}"


def advance(conn: psycopg.Connection, window: PlayWindow) -> None:
    """Record the window read (in the caller's transaction) and drop its view."""
    conn.execute(
        "INSERT INTO etl_internal.build_watermarks (step, source_file_id, settings) VALUES (%s, %s, %s)"
        " ON CONFLICT (step) DO UPDATE SET source_file_id = excluded.source_file_id,"
        " settings = excluded.settings, built_at = now()",
        (window.step, window.through_file, window.settings),
    )
    conn.execute("DROP VIEW IF EXISTS pg_temp.new_plays")


def month_versions(conn: psycopg.Connection, months: set[str]) -> dict[str, str]:
    """A version of what the facts of each month (YYYY-MM) are built from
    (sql/core/plays_by_month_versions.sql); "empty" for a month with no plays."""
    if not months:
        return {}
    found = dict(conn.execute(load_sql("core/plays_by_month_versions.sql"), _months_params(months)).fetchall())
    return {month: found.get(month, "empty") for month in months}


def facts_digest(conn: psycopg.Connection, months: set[str]) -> str:
    """A digest of both facts' rows in `months` (YYYY-MM): equal digests, equal rows
    (sql/core/facts_digest.sql)."""
    if not months:
        return ""
    return conn.execute(load_sql("core/facts_digest.sql"), _months_params(months)).fetchone()[0]


def _months_params(months: set[str]) -> dict:
    """The months (YYYY-MM) as query parameters: the list, and the span [start, end) they lie in."""
    first, last = min(months), max(months)
    start = datetime(int(first[:4]), int(first[5:7]), 1, tzinfo=UTC)
    year, month = int(last[:4]) + (last[5:7] == "12"), int(last[5:7]) % 12 + 1
    return {"months": sorted(months), "start": start, "end": datetime(year, month, 1, tzinfo=UTC)}
