"""Find the play files of Spotify exports under the raw directory, at any depth.

Input can be zips (`my_spotify_data.zip`), unpacked folders, or loose JSON files. A file is
recognised by its content (an array of objects with `ts` + `ms_played`, or `endTime` +
`msPlayed`), with its name as a fallback for empty arrays and to flag video history.
Everything else is listed as ignored, with the reason.

Zips are read in place, never extracted, so a member's path cannot escape anywhere.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

import ijson

# The kinds of play file.
EXTENDED_AUDIO = "extended_audio"
EXTENDED_VIDEO = "extended_video"
ACCOUNT_MUSIC = "account_music"
ACCOUNT_PODCAST = "account_podcast"
PLAY_KINDS = (EXTENDED_AUDIO, EXTENDED_VIDEO, ACCOUNT_MUSIC, ACCOUNT_PODCAST)

DEFAULT_LISTENER = "default"

_NAME_KINDS = [
    (re.compile(r"^streaming_history_video.*\.json$", re.I), EXTENDED_VIDEO),
    (re.compile(r"^endvideo.*\.json$", re.I), EXTENDED_VIDEO),
    (re.compile(r"^streaming_history_audio.*\.json$", re.I), EXTENDED_AUDIO),
    (re.compile(r"^endsong.*\.json$", re.I), EXTENDED_AUDIO),
    (re.compile(r"^streaminghistory_podcast.*\.json$", re.I), ACCOUNT_PODCAST),
    (re.compile(r"^streaminghistory(_music_)?\d*\.json$", re.I), ACCOUNT_MUSIC),
]

# A zip member is refused unread when it declares more than this many bytes at more than
# this compression ratio: real play files compress about 10:1, a zip bomb thousands to one.
# (zipfile never inflates past the declared size, so the declaration is a real bound.)
ZIP_BOMB_FLOOR_BYTES = 256 * 2**20
ZIP_BOMB_RATIO = 200

# Errors of reading a zip member: damaged data, or a feature zipfile lacks (encryption,
# compression methods such as deflate64).
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError)

# Folder names that are part of an export rather than a listener's name.
_EXPORT_FOLDER = re.compile(r"^(spotify[ _].*|my_spotify_data.*|mydata.*)$", re.I)


def kind_from_name(name: str) -> str | None:
    base = PurePosixPath(name).name
    for pattern, kind in _NAME_KINDS:
        if pattern.match(base):
            return kind
    return None


@dataclass(frozen=True)
class ExportFile:
    """One JSON file of an export, on disk or inside a zip."""

    path: str  # relative to the raw directory; `archive.zip!member` inside a zip
    listener: str
    size: int
    opener: Callable[[], IO[bytes]] = field(repr=False, compare=False)
    # Seconds since the epoch: the file's, or for a zip member the archive's and its own.
    mtime: float = 0.0
    # Why the file cannot be read as plays, known before opening it (a damaged archive, a
    # refused member); such a file is recorded as failed.
    problem: str | None = None

    @property
    def name(self) -> str:
        return PurePosixPath(self.path.split("!")[-1]).name

    def open(self) -> IO[bytes]:
        return self.opener()


@dataclass(frozen=True)
class IgnoredFile:
    path: str
    reason: str


@dataclass(frozen=True)
class Recognised:
    """What a file's first bytes say it is: a play kind, or why it is not a play file."""

    kind: str | None
    is_video: bool = False
    reason: str | None = None  # why it is ignored, when kind is None
    error: str | None = None  # the file claims to be plays but cannot be parsed


def listener_for(relative: PurePosixPath) -> str:
    """The first folder below the raw directory names the listener, unless it is an
    export's own folder (`Spotify Extended Streaming History`, `my_spotify_data`, ...)."""
    parts = relative.parts[:-1]
    if parts and not _EXPORT_FOLDER.match(parts[0]):
        return parts[0]
    return DEFAULT_LISTENER


def discover(raw_dir: Path) -> tuple[list[ExportFile], list[IgnoredFile]]:
    """Every JSON file under `raw_dir` (zips included), and every other file with why it
    is ignored. Ordered by path, so loads are repeatable."""
    files: list[ExportFile] = []
    ignored: list[IgnoredFile] = []
    if not raw_dir.is_dir():
        raise FileNotFoundError(f"raw directory not found: {raw_dir}")
    for path in sorted(p for p in raw_dir.rglob("*") if p.is_file()):
        relative = PurePosixPath(path.relative_to(raw_dir).as_posix())
        if any(part.startswith(".") for part in relative.parts):
            continue  # hidden files: .gitkeep, .DS_Store
        listener = listener_for(relative)
        suffix = path.suffix.lower()
        if suffix == ".json":
            stat = path.stat()
            files.append(ExportFile(str(relative), listener, stat.st_size, _file_opener(path), stat.st_mtime))
        elif suffix == ".zip":
            found, skipped = _zip_members(path, relative, listener)
            files.extend(found)
            ignored.extend(skipped)
        else:
            ignored.append(IgnoredFile(str(relative), _not_json_reason(suffix)))
    return files, ignored


def _file_opener(path: Path) -> Callable[[], IO[bytes]]:
    return lambda: path.open("rb")


def _zip_opener(archive: Path, member: str) -> Callable[[], IO[bytes]]:
    def open_member() -> IO[bytes]:
        zf = zipfile.ZipFile(archive)
        stream = zf.open(member)
        # Closing the member must close the archive too.
        original_close = stream.close

        def close() -> None:
            original_close()
            zf.close()

        stream.close = close  # type: ignore[method-assign]
        return stream

    return open_member


def _zip_members(
    archive: Path, relative: PurePosixPath, listener: str
) -> tuple[list[ExportFile], list[IgnoredFile]]:
    files: list[ExportFile] = []
    ignored: list[IgnoredFile] = []
    try:
        archive_mtime = archive.stat().st_mtime
        with zipfile.ZipFile(archive) as zf:
            infos = sorted(zf.infolist(), key=lambda info: info.filename)
    except FileNotFoundError as exc:
        return [], [IgnoredFile(str(relative), f"vanished before it was read: {exc.strerror}")]
    except (zipfile.BadZipFile, OSError) as exc:
        # A truncated or damaged download: a failed file, so the check reports it.
        problem = f"unreadable zip archive: {exc}"
        size = archive.stat().st_size
        return [ExportFile(str(relative), listener, size, _file_opener(archive), archive_mtime, problem)], []
    for info in infos:
        if info.is_dir():
            continue
        member = PurePosixPath(info.filename)
        display = f"{relative}!{info.filename}"
        if member.is_absolute() or ".." in member.parts:
            # Never extracted, so harmless here, but no export has such names: say so.
            ignored.append(IgnoredFile(display, "unsafe member path (absolute or with '..'): not read"))
            continue
        if any(part.startswith(".") or part == "__MACOSX" for part in member.parts):
            continue
        if member.suffix.lower() == ".json":
            problem = _refusal(info)
            # A refused member is never inflated: it is known (and hashed) by its header alone.
            opener = _header_opener(info) if problem else _zip_opener(archive, info.filename)
            files.append(ExportFile(display, listener, info.file_size, opener, archive_mtime, problem))
        else:
            ignored.append(IgnoredFile(display, _not_json_reason(member.suffix.lower())))
    return files, ignored


def _refusal(info: zipfile.ZipInfo) -> str | None:
    if info.file_size > ZIP_BOMB_FLOOR_BYTES and info.file_size > ZIP_BOMB_RATIO * max(info.compress_size, 1):
        return (
            f"refused, not inflated: declares {info.file_size:,} bytes from {info.compress_size:,} compressed "
            f"(over {ZIP_BOMB_RATIO}:1, a zip bomb?)"
        )
    return None


def _header_opener(info: zipfile.ZipInfo) -> Callable[[], IO[bytes]]:
    header = f"{info.filename}\0{info.CRC}\0{info.file_size}\0{info.compress_size}".encode()
    return lambda: io.BytesIO(header)


def _not_json_reason(suffix: str) -> str:
    if suffix == ".pdf":
        return "not play data: PDF (the export's read-me)"
    return f"not play data: not a JSON file ({suffix or 'no extension'})"


def recognise(export_file: ExportFile) -> Recognised:
    """Read just enough of the file to tell what it holds."""
    by_name = kind_from_name(export_file.name)
    if export_file.problem:
        kind = by_name or ("zip_archive" if export_file.path.lower().endswith(".zip") else "unknown")
        return Recognised(kind, kind == EXTENDED_VIDEO, error=export_file.problem)
    try:
        with export_file.open() as stream:
            top, keys = _first_record_keys(stream)
    except (ijson.JSONError, UnicodeDecodeError, ValueError) as exc:
        if by_name:
            return Recognised(by_name, by_name == EXTENDED_VIDEO, error=f"not valid JSON: {exc}")
        return Recognised(None, reason=f"not play data: not valid JSON ({exc})")
    except FileNotFoundError as exc:
        return Recognised(None, reason=f"vanished before it was read: {exc.strerror}")
    except (OSError, *ZIP_ERRORS) as exc:
        what = "cannot be read" if isinstance(exc, OSError) else "damaged in its zip archive"
        if by_name:
            return Recognised(by_name, by_name == EXTENDED_VIDEO, error=f"{what}: {exc}")
        return Recognised(None, reason=f"{what}: {exc}")

    if top != "start_array":
        what = {"start_map": "an object"}.get(top or "", "not an array")
        if by_name:
            return Recognised(by_name, by_name == EXTENDED_VIDEO, error=f"top level is {what}, expected an array of plays")
        return Recognised(None, reason=f"not play data: top level is {what}")
    is_video = by_name == EXTENDED_VIDEO
    if keys is None:  # an empty array, or an array whose first element is not an object
        if by_name:
            return Recognised(by_name, is_video)
        return Recognised(None, reason="not play data: an array with no play records")
    if "ts" in keys or "ms_played" in keys:
        return Recognised(EXTENDED_VIDEO if is_video else EXTENDED_AUDIO, is_video)
    if "endTime" in keys or "msPlayed" in keys:
        if {"episodeName", "podcastName"} & keys:
            return Recognised(ACCOUNT_PODCAST)
        return Recognised(ACCOUNT_MUSIC)
    if by_name:
        return Recognised(by_name, is_video)
    shown = ", ".join(sorted(keys)[:6])
    return Recognised(None, reason=f"not play data: records have no play fields ({shown})")


def _first_record_keys(stream: IO[bytes]) -> tuple[str | None, set[str] | None]:
    """The top-level event and the keys of the first array element (None if not an object)."""
    events: Iterator[tuple[str, str, object]] = ijson.parse(stream)
    top = None
    keys: set[str] = set()
    for prefix, event, value in events:
        if top is None:
            top = event
            if event != "start_array":
                return top, None
            continue
        if prefix == "item" and event == "start_map":
            continue
        if prefix == "item" and event == "map_key":
            keys.add(str(value))
            continue
        if prefix == "item" and event == "end_map":
            return top, keys
        if prefix == "" and event == "end_array":
            return top, None
        if prefix == "item" and event not in ("start_map",):
            return top, None  # first element is a scalar or array
        # nested values of the first record: skip
    return top, keys or None


def months_of(export_file: ExportFile) -> set[str]:
    """The months (YYYY-MM, UTC) of the plays in a file, read incrementally: only the time
    fields are looked at. Raises ijson.JSONError (or ValueError) for a file that is not JSON."""
    months: set[str] = set()
    with export_file.open() as stream:
        for prefix, event, value in ijson.parse(stream):
            if event == "string" and prefix in ("item.ts", "item.endTime") and len(value) >= 7:
                months.add(value[:7])
    return {m for m in months if re.match(r"^\d{4}-(0[1-9]|1[0-2])$", m)}
