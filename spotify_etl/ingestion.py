"""Load every play file under the raw directory into `staging.streaming_history`.

One file, one transaction: its plays are parsed incrementally (ijson), COPYed into a
temporary table, merged set-based into staging (a play already stored is a duplicate),
and its outcome is written to `etl_internal.source_files`. A killed run therefore leaves
whole files loaded or not at all, and the next run carries on. A file already loaded
(same listener and sha256) is not read again.

Every record read ends up stored, counted as a duplicate, or in
`etl_internal.rejected_records` with its reason: `records_read = stored + duplicates +
rejected` is a constraint of the table.
"""

from __future__ import annotations

import hashlib
import logging
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import ijson
import psycopg

from spotify_etl.export.discover import (
    ACCOUNT_MUSIC,
    ACCOUNT_PODCAST,
    ExportFile,
    IgnoredFile,
    discover,
    recognise,
)
from spotify_etl.export.records import (
    COLUMNS,
    RecordError,
    normalise_account_music,
    normalise_account_podcast,
    normalise_extended,
    record_as_text,
)
from spotify_etl.sql_files import load_sql

log = logging.getLogger(__name__)

_HASH_CHUNK = 1 << 20
_COPY_PLAYS = "COPY load_plays ({}) FROM STDIN".format(", ".join(COLUMNS))
_COPY_REJECTED = (
    "COPY etl_internal.rejected_records (source_file_id, position, reason, record) FROM STDIN"
)


@dataclass
class FileOutcome:
    """What happened to one file."""

    path: str
    listener: str
    kind: str
    status: str  # loaded | failed | unchanged
    records_read: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejected_by_reason: Counter = field(default_factory=Counter)
    error: str | None = None
    first_ts: datetime | None = None
    last_ts: datetime | None = None
    months: set[str] = field(default_factory=set)
    same_as: str | None = None  # for an unchanged file: the path it was loaded from


@dataclass
class IngestReport:
    files: list[FileOutcome]
    ignored: list[IgnoredFile]
    # Account rows found later to repeat extended history: moved from stored to duplicates.
    account_twins: int = 0

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
        return set().union(*(f.months for f in self.files if f.status != "unchanged"))


def sha256_of(export_file: ExportFile) -> str:
    digest = hashlib.sha256()
    with export_file.open() as stream:
        while chunk := stream.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def ingest_raw_dir(
    conn: psycopg.Connection,
    raw_dir: Path,
    *,
    keep_personal_data: bool = False,
    progress: Callable[[str], None] | None = None,
) -> IngestReport:
    """Load every new play file under `raw_dir`; return what happened to each file."""
    files, ignored = discover(raw_dir)
    outcomes: list[FileOutcome] = []
    ignored = list(ignored)
    for index, export_file in enumerate(files, start=1):
        recognised = recognise(export_file)
        if recognised.kind is None:
            ignored.append(IgnoredFile(export_file.path, recognised.reason or "not play data"))
            continue
        outcome = ingest_file(
            conn,
            export_file,
            kind=recognised.kind,
            is_video=recognised.is_video,
            early_error=recognised.error,
            keep_personal_data=keep_personal_data,
        )
        outcomes.append(outcome)
        if progress:
            progress(_describe(index, len(files), outcome))
    report = IngestReport(outcomes, ignored)
    report.account_twins = _drop_account_twins(conn, {o.listener for o in outcomes if o.status != "unchanged"})
    return report


def _describe(index: int, total: int, outcome: FileOutcome) -> str:
    head = f"[{index}/{total}] {outcome.path}: "
    if outcome.status == "unchanged":
        return head + f"already loaded (same content as {outcome.same_as})"
    body = (
        f"{outcome.records_read} read, {outcome.stored} stored, "
        f"{outcome.duplicates} duplicates, {outcome.rejected} rejected"
    )
    if outcome.status == "failed":
        body += f" -- FAILED: {outcome.error}"
    return head + body


def ingest_file(
    conn: psycopg.Connection,
    export_file: ExportFile,
    *,
    kind: str,
    is_video: bool = False,
    early_error: str | None = None,
    keep_personal_data: bool = False,
) -> FileOutcome:
    """Load one file in one transaction, unless this listener already has its content."""
    sha256 = sha256_of(export_file)
    previous = conn.execute(
        "SELECT path FROM etl_internal.source_files WHERE listener = %s AND sha256 = %s",
        (export_file.listener, sha256),
    ).fetchone()
    conn.commit()
    if previous:
        return FileOutcome(export_file.path, export_file.listener, kind, "unchanged", same_as=previous[0])

    outcome = FileOutcome(export_file.path, export_file.listener, kind, "loaded")
    with conn.transaction():
        conn.execute(load_sql("raw/create_load_table.sql"))
        source_file_id = conn.execute(
            "INSERT INTO etl_internal.source_files (listener, path, sha256, size_bytes, kind, status)"
            " VALUES (%s, %s, %s, %s, %s, 'loaded') RETURNING source_file_id",
            (export_file.listener, export_file.path, sha256, export_file.size, kind),
        ).fetchone()[0]

        rejections: list[tuple[int, int, str, str]] = []
        if early_error:
            outcome.status, outcome.error = "failed", early_error
        else:
            _copy_records(conn, export_file, kind, is_video, keep_personal_data, outcome, rejections, source_file_id)

        if outcome.records_read - len(rejections) > 0:
            outcome.stored = conn.execute(load_sql("raw/merge_plays.sql"), {"source_file_id": source_file_id}).rowcount
        outcome.rejected = len(rejections)
        outcome.duplicates = outcome.records_read - outcome.rejected - outcome.stored
        if rejections:
            with conn.cursor().copy(_COPY_REJECTED) as copy:
                for row in rejections:
                    copy.write_row(row)
        conn.execute(
            "UPDATE etl_internal.source_files SET status = %s, error = %s, records_read = %s,"
            " stored = %s, duplicates = %s, rejected = %s, first_ts = %s, last_ts = %s"
            " WHERE source_file_id = %s",
            (
                outcome.status, outcome.error, outcome.records_read, outcome.stored,
                outcome.duplicates, outcome.rejected, outcome.first_ts, outcome.last_ts,
                source_file_id,
            ),
        )  # fmt: skip
    if outcome.status == "failed":
        log.error("%s: %s", export_file.path, outcome.error)
    return outcome


def _copy_records(
    conn: psycopg.Connection,
    export_file: ExportFile,
    kind: str,
    is_video: bool,
    keep_personal_data: bool,
    outcome: FileOutcome,
    rejections: list[tuple[int, int, str, str]],
    source_file_id: int,
) -> None:
    """Stream the file's records into the load table; note rejections and a parse error."""
    listener = export_file.listener
    if kind == ACCOUNT_MUSIC:
        def normalise(record, position):  # noqa: E306
            return normalise_account_music(record, listener=listener, position=position)
    elif kind == ACCOUNT_PODCAST:
        def normalise(record, position):  # noqa: E306
            return normalise_account_podcast(record, listener=listener, position=position)
    else:
        def normalise(record, position):  # noqa: E306
            return normalise_extended(
                record, listener=listener, position=position,
                is_video=is_video, keep_personal_data=keep_personal_data,
            )  # fmt: skip

    first_ts = last_ts = None
    months: set[str] = set()
    position = -1
    with conn.cursor().copy(_COPY_PLAYS) as copy, export_file.open() as stream:
        try:
            for position, record in enumerate(_records(stream)):
                try:
                    row = normalise(record, position)
                except RecordError as exc:
                    rejections.append((source_file_id, position, str(exc), record_as_text(record)))
                    outcome.rejected_by_reason[exc.reason] += 1
                    continue
                copy.write_row(row)
                ts = row[1]
                months.add(f"{ts.year:04d}-{ts.month:02d}")
                if first_ts is None or ts < first_ts:
                    first_ts = ts
                if last_ts is None or ts > last_ts:
                    last_ts = ts
        except (ijson.JSONError, ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            outcome.status = "failed"
            outcome.error = f"not valid JSON after record {position + 1}: {exc}"
    outcome.records_read = position + 1
    outcome.first_ts, outcome.last_ts, outcome.months = first_ts, last_ts, months


def _records(stream) -> Iterable:
    return ijson.items(stream, "item", use_float=True)


def _drop_account_twins(conn: psycopg.Connection, listeners: set[str]) -> int:
    moved = 0
    with conn.transaction():
        for listener in sorted(listeners):
            rows = conn.execute(load_sql("raw/drop_account_twins.sql"), {"listener": listener}).fetchall()
            moved += sum(n for _, n in rows)
    return moved
