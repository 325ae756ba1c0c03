"""Load every play file under the raw directory into `staging.streaming_history`.

One file, one transaction: its plays are parsed incrementally (ijson), COPYed into a
temporary table, merged set-based into staging (a play already stored is a duplicate),
and its outcome is written to `etl_internal.source_files`. A killed run therefore leaves
whole files loaded or not at all, and the next run carries on. A file recorded with its
path, size and modification time is not opened (all are looked up in one query, and said in
one line); one whose content a file of its listener already had (same sha256) is read, and
nothing is stored.

Every record read ends up stored, counted as a duplicate, or in
`etl_internal.rejected_records` with its reason. Each count is observed, never derived from
the others: `records_read` by the parser, `rejected` from the rejections written,
`stored` and `duplicates` by the server (rows the merge inserted, rows of the load table it
did not). `records_read = stored + duplicates + rejected` is therefore a real test, made
per file by the `every_record_accounted_for` check. A file the parser could not read to its
end (truncated, damaged) is `failed`: the records after the break are not records anyone
can count, and the file fails `export_files_readable` until a good copy is loaded.

Files are read in any Unicode encoding JSON may use (UTF-8 with or without a byte-order mark,
UTF-16, UTF-32). An error in this package's own code while a record is handled is never
taken for bad input: the file is rolled back and the run fails naming file and record.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import ijson
import psycopg
from psycopg import sql

from spotify_etl.errors import SpotifyEtlError
from spotify_etl.lib.export.discover import (
    ACCOUNT_MUSIC,
    ACCOUNT_PODCAST,
    ZIP_ERRORS,
    ExportFile,
    IgnoredFile,
    Recognised,
    discover,
    recognise,
)
from spotify_etl.lib.export.records import (
    COLUMN_TYPES,
    COLUMNS,
    RecordError,
    normalise_account_music,
    normalise_account_podcast,
    normalise_extended,
    record_as_text,
)
from spotify_etl.lib.export.streams import (
    MAX_NESTING,
    DepthGuard,
    HashingReader,
    NestingTooDeep,
    TooDeep,
    Utf8Reader,
    bounded_records,
)
from spotify_etl.lib.warehouse.incremental import advance, new_plays, window_is_empty
from spotify_etl.lib.warehouse.sql_files import load_sql
from spotify_etl.lib.warehouse.statistics import analyze_if_changed

log = logging.getLogger(__name__)

_C_INTEGER_LIMIT = "integer overflow"  # what ijson's C parser says of an integer beyond 64 bits
_C_INVALID_UTF8 = "invalid bytes in UTF8"  # ... and of bytes that are not UTF-8
_PYTHON_PARSER = ijson.get_backend("python")
_COPY_PLAYS = sql.SQL("COPY load_plays ({}) FROM STDIN (FORMAT BINARY)").format(
    sql.SQL(", ").join(map(sql.Identifier, COLUMNS))
)
# A file's plays are sorted in memory by the merge, not spilled to disk.
_SESSION_SETTINGS = "SET work_mem = '64MB'"
_ACCOUNT_TWINS = "account_twins"  # the twin search's step in etl_internal.build_watermarks
_COPY_REJECTED = "COPY etl_internal.rejected_records (source_file_id, position, reason, record) FROM STDIN"


class IngestionError(SpotifyEtlError):
    """A file could not be loaded: the warehouse failed (connection lost, disk full, ...), or
    handling one of its records raised an error of this package's own. That file's
    transaction is rolled back; files loaded before it stay loaded."""


@dataclass
class FileOutcome:
    """What happened to one file."""

    path: str
    listener: str
    kind: str
    status: str  # loaded | failed | unchanged | vanished
    records_read: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejected_by_reason: Counter = field(default_factory=Counter)
    first_rejection: str | None = None  # "record <position>: <reason (value)>"
    error: str | None = None
    first_ts: datetime | None = None
    last_ts: datetime | None = None
    months: set[str] = field(default_factory=set)  # YYYY-MM (UTC) of the plays stored
    same_as: str | None = None  # for an unchanged file: the path it was loaded from


@dataclass
class IngestReport:
    files: list[FileOutcome]
    ignored: list[IgnoredFile]
    # Account rows found later to repeat extended history: moved from stored to duplicates.
    account_twins: int = 0
    account_twin_months: set[str] = field(default_factory=set)

    def _sum(self, attribute: str) -> int:
        return sum(getattr(f, attribute) for f in self.files if f.status != "unchanged")

    @property
    def records_read(self) -> int:
        return self._sum("records_read")

    @property
    def stored(self) -> int:
        return self._sum("stored") - self.account_twins

    @property
    def duplicates(self) -> int:
        return self._sum("duplicates") + self.account_twins

    @property
    def rejected(self) -> int:
        return self._sum("rejected")

    @property
    def failed(self) -> list[FileOutcome]:
        return [f for f in self.files if f.status == "failed"]

    @property
    def rejected_by_reason(self) -> Counter:
        total: Counter = Counter()
        for f in self.files:
            total.update(f.rejected_by_reason)
        return total

    @property
    def months(self) -> set[str]:
        """The months (YYYY-MM, UTC) whose staged plays changed: plays stored, or account
        plays dropped as twins of extended history."""
        stored = set().union(*(f.months for f in self.files if f.status != "unchanged"))
        return stored | self.account_twin_months


def sha256_of(export_file: ExportFile) -> str:
    with export_file.open() as stream:
        return HashingReader(stream).finish(ZIP_ERRORS)


def ingest_raw_dir(
    database_url: str,
    raw_dir: Path,
    *,
    keep_personal_data: bool = False,
    listeners: set[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> IngestReport:
    """Load every new play file under `raw_dir` (of `listeners` only, when given); return what
    happened to each file.

    Two connections take turns: while the server merges one file into staging (on a worker
    thread), the next file is parsed and COPYed on the other connection. Merges still run
    one at a time in file order, so the result is the same as loading file by file.
    """
    files, ignored = discover(raw_dir)
    if listeners is not None:
        files = [f for f in files if f.listener in listeners]
        ignored = [i for i in ignored if i.listener in listeners]
    ignored = list(ignored)
    outcomes: list[FileOutcome] = []
    seen: dict[tuple[str, str], str] = {}  # (listener, sha256) -> path, within this run
    with (
        psycopg.connect(database_url) as first,
        psycopg.connect(database_url) as second,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="merge") as merger,
    ):
        for conn in (first, second):
            conn.execute(_SESSION_SETTINGS)
            conn.commit()
        # One ingestion at a time per warehouse: a second run waits, then finds the files loaded.
        first.execute("SELECT pg_advisory_lock(hashtext('spotify_etl.lib.ingestion'))")
        first.commit()
        lanes: list[tuple[psycopg.Connection, Future | None]] = [(first, None), (second, None)]
        turn = 0
        # Not opened, not even to be recognised, and said in one line, not one each.
        recorded = _recorded_unchanged(first, files)
        first.commit()
        for index, export_file in enumerate(files, start=1):
            if (export_file.listener, export_file.path) in recorded:
                kind = recorded[export_file.listener, export_file.path]
                outcomes.append(
                    FileOutcome(export_file.path, export_file.listener, kind, "unchanged", same_as=export_file.path)
                )
                continue
            recognised = recognise(export_file)
            if recognised.kind is None:
                ignored.append(
                    IgnoredFile(export_file.path, recognised.reason or "not play data", export_file.listener)
                )
                continue
            conn, busy = lanes[turn]
            if busy is not None:
                busy.result()  # this connection's previous file is merged and committed
            try:
                staged = _stage_file(conn, export_file, recognised, keep_personal_data, seen)
            except psycopg.Error as exc:
                raise _warehouse_failed(export_file.path, exc) from exc
            if staged.outcome.status == "vanished":
                log.warning("%s: %s", export_file.path, staged.outcome.error, extra={"file": export_file.path})
                ignored.append(IgnoredFile(export_file.path, staged.outcome.error or "vanished", export_file.listener))
                continue
            if staged.outcome.status == "unchanged":
                outcomes.append(staged.outcome)
                if progress:
                    progress(_describe(index, len(files), staged.outcome))
                continue
            future = merger.submit(_merge_file, conn, staged)
            if progress:
                future.add_done_callback(
                    lambda done, i=index, o=staged.outcome: done.exception() or progress(_describe(i, len(files), o))
                )
            lanes[turn] = (conn, future)
            outcomes.append(staged.outcome)
            turn = 1 - turn
        for _, busy in lanes:
            if busy is not None:
                busy.result()
        if recorded and progress:
            progress(_describe_recorded(len(recorded), len(files)))
        report = IngestReport(outcomes, ignored)
        # The twin search and the transforms that follow join this table.
        if analyze_if_changed(first, "staging.streaming_history", report.stored + report.account_twins):
            first.commit()
        if report.stored:
            # A block-range index knows only the ranges summarized so far; pages filled since
            # would match every query on ts (a month's plays read the whole table) until a
            # vacuum summarizes them, so they are summarized now (only the new pages are read).
            first.execute("SELECT brin_summarize_new_values('staging.streaming_history_ts_brin')")
            first.commit()
        report.account_twins, report.account_twin_months = _drop_account_twins(first)
    for outcome in report.failed:
        log.error("%s: %s", outcome.path, outcome.error, extra={"file": outcome.path, "position": outcome.records_read})
    return report


def nothing_to_ingest(database_url: str, raw_dir: Path) -> bool:
    """Whether ingest_raw_dir would find nothing to do: every play file under `raw_dir`
    recorded with its path, size and modification time (so it would not be opened), and the
    account-twin pass caught up with every file committed (a run stopped before it would leave
    it to the next). Files not recorded are recognised (their first record read) to tell play
    data from the rest of an export; none is parsed."""
    files, _ = discover(raw_dir)
    with psycopg.connect(database_url) as conn:
        recorded = _recorded_unchanged(conn, files)
        for export_file in files:
            if (export_file.listener, export_file.path) not in recorded and recognise(export_file).kind is not None:
                return False
        return window_is_empty(conn, _ACCOUNT_TWINS)


def _warehouse_failed(path: str, exc: psycopg.Error) -> IngestionError:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return IngestionError(
        f"{path}: the warehouse failed while loading this file, which was rolled back "
        f"(files before it stay loaded; run again once the cause is fixed): {type(exc).__name__}: {detail}"
    )


def _describe_recorded(recorded: int, total: int) -> str:
    files = "file" if recorded == 1 else "files"
    return f"{recorded} of {total} {files} already loaded (recorded with this path, size and time): not read again"


def _describe(index: int, total: int, outcome: FileOutcome) -> str:
    head = f"[{index}/{total}] {outcome.path}: "
    if outcome.status == "unchanged":
        return head + f"already loaded (same content as {outcome.same_as})"
    body = (
        f"{outcome.records_read} read, {outcome.stored} stored, "
        f"{outcome.duplicates} duplicates, {outcome.rejected} rejected"
    )
    if outcome.first_rejection:
        body += f" (first rejected: {outcome.first_rejection}; all in etl_internal.rejected_records)"
    if outcome.status == "failed":
        body += f" -- FAILED: {outcome.error}"
    return head + body


@dataclass
class _StagedFile:
    """A file parsed into the load table of its connection, its transaction still open."""

    outcome: FileOutcome
    source_file_id: int = 0
    rejections: list[tuple[int, str, str]] = field(default_factory=list)  # position, reason, record


def _stage_file(
    conn: psycopg.Connection,
    export_file: ExportFile,
    recognised: Recognised,
    keep_personal_data: bool,
    seen: dict[tuple[str, str], str],
) -> _StagedFile:
    """Open the file's transaction and COPY its records into the load table, unless this
    listener already has its content. The file is hashed while it is parsed (one whose path,
    size and modification time are already recorded is not given to this)."""
    outcome = FileOutcome(export_file.path, export_file.listener, recognised.kind or "", "loaded")
    modified_at = datetime.fromtimestamp(export_file.mtime, UTC)
    try:
        staged, sha256 = _parse_into_load_table(conn, export_file, recognised, keep_personal_data)
    except FileNotFoundError as exc:  # deleted or moved since it was listed
        conn.rollback()
        outcome.status, outcome.error = "vanished", f"vanished before it was read: {exc.strerror}"
        return _StagedFile(outcome)
    outcome = staged.outcome

    key = (export_file.listener, sha256)
    previous = seen.get(key) or _loaded_path(conn, key)
    if previous:  # the same content under another name (a zip and its unpacked copy), or touched
        conn.rollback()
        if previous == export_file.path:
            # The same file with a new modification time (an export unpacked again): known by
            # it from now on, so the next run does not read it again.
            conn.execute(
                "UPDATE etl_internal.source_files SET modified_at = %s WHERE listener = %s AND sha256 = %s",
                (modified_at, export_file.listener, sha256),
            )
            conn.commit()
        return _StagedFile(
            FileOutcome(export_file.path, export_file.listener, outcome.kind, "unchanged", same_as=previous)
        )
    seen[key] = export_file.path
    staged.source_file_id = conn.execute(
        "INSERT INTO etl_internal.source_files (listener, path, sha256, size_bytes, modified_at, kind, status)"
        " VALUES (%s, %s, %s, %s, %s, %s, 'loaded') RETURNING source_file_id",
        (export_file.listener, export_file.path, sha256, export_file.size, modified_at, outcome.kind),
    ).fetchone()[0]
    return staged


def _recorded_unchanged(conn: psycopg.Connection, files: list[ExportFile]) -> dict[tuple[str, str], str]:
    """Those of `files` recorded as read with their path, size and modification time: their
    kind by (listener, path). One query for them all."""
    rows = conn.execute(
        load_sql("raw/files_unchanged.sql"),
        {
            "listeners": [f.listener for f in files],
            "paths": [f.path for f in files],
            "sizes": [f.size for f in files],
            "modified": [datetime.fromtimestamp(f.mtime, UTC) for f in files],
        },
    ).fetchall()
    return {(listener, path): kind for listener, path, kind in rows}


def _parse_into_load_table(
    conn: psycopg.Connection, export_file: ExportFile, recognised: Recognised, keep_personal_data: bool
) -> tuple[_StagedFile, str]:
    """The file's records in the load table (a fresh one per attempt) and its sha256. The fast
    C parser reads first; the rare files it cannot read to the end are read again by a slower
    reader that can."""

    def attempt(**reader) -> tuple[_StagedFile, str]:
        conn.execute(load_sql("raw/create_load_table.sql"))
        staged = _StagedFile(FileOutcome(export_file.path, export_file.listener, recognised.kind or "", "loaded"))
        if recognised.error:
            staged.outcome.status, staged.outcome.error = "failed", recognised.error
            return staged, sha256_of(export_file)
        return staged, _copy_records(conn, export_file, recognised, keep_personal_data, staged, **reader)

    staged, sha256 = attempt()
    # Each thing the fast reader cannot do switches on a slower reader that can, until the
    # file reads or fails for another cause (at most once each).
    reader: dict = {}
    while staged.outcome.status == "failed" and (switch := _slower_reader(staged.outcome.error or "", reader)):
        conn.rollback()
        reader.update(switch)
        staged, sha256 = attempt(**reader)
    return staged, sha256


def _slower_reader(error: str, reader: dict) -> dict | None:
    """The reader option that copes with what `error` says, unless it is on already."""
    if _C_INTEGER_LIMIT in error and not reader.get("exact_numbers"):
        # An integer beyond 64 bits (valid JSON the C parser cannot hold): ijson's exact
        # pure-Python parser.
        return {"exact_numbers": True}
    if (_C_INVALID_UTF8 in error or _NOT_DECODABLE in error) and not reader.get("repair_encoding"):
        # Bytes not valid in the file's encoding: replaced, and their records rejected.
        return {"repair_encoding": True}
    if _TOO_DEEP in error and not reader.get("bounded"):
        # Nesting the fast readers would need quadratic memory for: records built from the
        # flat event stream, those nested too deep rejected.
        return {"bounded": True}
    return None


def _loaded_path(conn: psycopg.Connection, key: tuple[str, str]) -> str | None:
    row = conn.execute("SELECT path FROM etl_internal.source_files WHERE listener = %s AND sha256 = %s", key).fetchone()
    return row[0] if row else None


def _merge_file(conn: psycopg.Connection, staged: _StagedFile) -> None:
    """Merge the staged plays into staging, keep the rejections, record the outcome, commit."""
    outcome = staged.outcome
    try:
        if outcome.records_read > len(staged.rejections):
            # Both counted by the server: rows inserted, and load-table rows not inserted.
            outcome.stored, outcome.duplicates, months = conn.execute(
                load_sql("raw/merge_plays.sql"), {"source_file_id": staged.source_file_id}
            ).fetchone()
            outcome.months = set(months)
            # Computed by the server while the next file is parsed, not per record in Python.
            outcome.first_ts, outcome.last_ts = conn.execute(load_sql("raw/load_table_span.sql")).fetchone()
        if staged.rejections:
            with conn.cursor().copy(_COPY_REJECTED) as copy:
                for row in staged.rejections:
                    copy.write_row((staged.source_file_id, *row))
                    outcome.rejected += 1
        conn.execute(
            "UPDATE etl_internal.source_files SET status = %s, error = %s, records_read = %s,"
            " stored = %s, duplicates = %s, rejected = %s, first_ts = %s, last_ts = %s"
            " WHERE source_file_id = %s",
            (
                outcome.status,
                outcome.error,
                outcome.records_read,
                outcome.stored,
                outcome.duplicates,
                outcome.rejected,
                outcome.first_ts,
                outcome.last_ts,
                staged.source_file_id,
            ),
        )
        conn.commit()
    except psycopg.Error as exc:
        _rollback_quietly(conn)
        raise _warehouse_failed(outcome.path, exc) from exc
    except BaseException:
        _rollback_quietly(conn)
        raise


def _rollback_quietly(conn: psycopg.Connection) -> None:
    """Roll back, unless the connection is already gone (then the server rolled back)."""
    try:
        conn.rollback()
    except psycopg.Error:
        pass


def _copy_records(
    conn: psycopg.Connection,
    export_file: ExportFile,
    recognised: Recognised,
    keep_personal_data: bool,
    staged: _StagedFile,
    exact_numbers: bool = False,
    repair_encoding: bool = False,
    bounded: bool = False,
) -> str:
    """Stream the file's records into the load table; note rejections and a parse error.
    Returns the file's sha256."""
    listener, outcome, rejections = export_file.listener, staged.outcome, staged.rejections
    if recognised.kind == ACCOUNT_MUSIC:
        normalise = partial(normalise_account_music, listener=listener)
    elif recognised.kind == ACCOUNT_PODCAST:
        normalise = partial(normalise_account_podcast, listener=listener)
    else:
        normalise = partial(
            normalise_extended,
            listener=listener,
            is_video=recognised.is_video,
            keep_personal_data=keep_personal_data,
        )
    if repair_encoding:
        normalise = partial(_reject_replaced_bytes, normalise)
    if bounded:
        normalise = partial(_reject_too_deep, normalise)
    backend = _PYTHON_PARSER if exact_numbers else ijson  # ijson: its fastest backend, C

    position = -1
    with conn.cursor().copy(_COPY_PLAYS) as copy, export_file.open() as raw_stream:
        copy.set_types(COLUMN_TYPES)
        write_row = copy.write_row
        stream = HashingReader(raw_stream)
        encoding = None
        try:
            text = Utf8Reader(stream, errors="replace" if repair_encoding else "strict")
            encoding = text.encoding.upper()
            for position, record in enumerate(_records(text, backend, bounded)):
                try:
                    row = normalise(record, position=position)
                except RecordError as exc:
                    rejections.append((position, str(exc), record_as_text(_as_kept(record))))
                    outcome.rejected_by_reason[exc.reason] += 1
                    if outcome.first_rejection is None:
                        outcome.first_rejection = f"record {position}: {str(exc)[:200]}"
                    continue
                except Exception as exc:
                    raise IngestionError(
                        f"{export_file.path}: record {position}: {type(exc).__name__} while handling it, an error "
                        f"in spotify_etl, not in the file; the file was rolled back ({_one_line(exc)})"
                    ) from exc
                write_row(row)
        except NestingTooDeep as exc:
            outcome.status, outcome.error = "failed", f"{_TOO_DEEP} after {position + 1} records: {exc}"
        except ijson.JSONError as exc:
            outcome.status, outcome.error = "failed", f"not valid JSON after {position + 1} records: {_one_line(exc)}"
        except UnicodeError as exc:
            outcome.status = "failed"
            outcome.error = f"{_NOT_DECODABLE} after {position + 1} records: {_one_line(exc)}"
        except ZIP_ERRORS as exc:
            outcome.status = "failed"
            outcome.error = f"damaged in its zip archive after {position + 1} records: {_one_line(exc)}"
        except OSError as exc:
            outcome.status, outcome.error = "failed", f"read failed after {position + 1} records: {_one_line(exc)}"
        sha256 = stream.finish(ZIP_ERRORS)
    outcome.records_read = position + 1
    if outcome.error and encoding not in (None, "UTF-8") and encoding not in outcome.error:
        outcome.error += f" (file written in {encoding})"
    return sha256


def _records(text, backend, bounded: bool = False) -> Iterator:
    """The file's records: ijson's fast reader behind the depth guard, or the bounded one."""
    if bounded:
        return bounded_records(text, backend)
    return backend.items(DepthGuard(text), "item", use_float=True)


_TOO_DEEP = "too deeply nested for the fast reader"
_NOT_DECODABLE = "bytes not valid in the file's encoding"


def _as_kept(record):
    return record.partial if type(record) is TooDeep else record


def _reject_too_deep(normalise: Callable[..., tuple], record, *, position: int) -> tuple:
    if type(record) is TooDeep:
        raise RecordError(f"nested deeper than {MAX_NESTING} levels (kept to that depth)")
    return normalise(record, position=position)


def _reject_replaced_bytes(normalise: Callable[..., tuple], record, *, position: int) -> tuple:
    """In a file read with its invalid UTF-8 replaced: a record holding a replacement
    character is rejected (its text, with the replacements, is kept with the rejection)."""
    if isinstance(record, dict):
        for name, value in record.items():
            if isinstance(value, str) and "\ufffd" in value or "\ufffd" in name:
                raise RecordError(f"field {name!r}: invalid UTF-8 bytes")
    return normalise(record, position=position)


def _one_line(exc: BaseException) -> str:
    """ijson's C parser reports lexical errors over several lines with a pointer."""
    return " ".join(str(exc).split()) or type(exc).__name__


def _drop_account_twins(conn: psycopg.Connection) -> tuple[int, set[str]]:
    """Drop account plays that repeat extended history, for every listener with plays stored
    since this last ran (also those of a run stopped before it got here); return how many
    plays were dropped, and their months."""
    moved, months = 0, set()
    with conn.transaction():
        window = new_plays(conn, _ACCOUNT_TWINS)
        listeners = [listener for (listener,) in conn.execute("SELECT DISTINCT listener FROM new_plays ORDER BY 1")]
        for listener in listeners:
            for _, n, file_months in conn.execute(load_sql("raw/drop_account_twins.sql"), {"listener": listener}):
                moved += n
                months.update(file_months)
        advance(conn, window)
    return moved, months
