"""Find the play files of Spotify exports under the raw directory, at any depth.

Input can be zips (`my_spotify_data.zip`), unpacked folders, or loose JSON files. A file is
recognised by its content (an array of objects with `ts` + `ms_played`, or `endTime` +
`msPlayed`), with its name as a fallback for empty arrays and to flag video history.
Everything else is listed as ignored, with the reason.

Zips are read in place, never extracted, so a member's path cannot escape anywhere. Every
entry of a zip is a file of its own, even two entries under one name (each is read from its
own header); one open archive serves all its members, so a zip of 10,000 members is read at
the speed of 10,000 files.
"""

from __future__ import annotations

import io
import re
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

import ijson

from spotify_etl.lib.export.streams import NestingTooDeep, Utf8Reader

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


class UnreadableMember(OSError):
    """A zip member that cannot be opened: encrypted, or compressed with a method zipfile
    lacks (deflate64, ...)."""


# Errors of reading a zip member's data: a bad CRC or header, damaged deflate data, data
# ending early, or a member that cannot be opened at all.
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, UnreadableMember)
# What reading a file as JSON may raise because of the file itself (never a bug of ours).
UNREADABLE = (ijson.JSONError, UnicodeError, NestingTooDeep, OSError, *ZIP_ERRORS)

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

    # Relative to the raw directory; `archive.zip!member` inside a zip, and for the second and
    # later entries of one name in a zip `archive.zip!member (entry N)`.
    path: str
    listener: str
    size: int
    opener: Callable[[], IO[bytes]] = field(repr=False, compare=False)
    # Seconds since the epoch: the file's, or for a zip member the archive's.
    mtime: float = 0.0
    # Why the file cannot be read as plays, known before opening it (a damaged archive, a
    # refused member); such a file is recorded as failed.
    problem: str | None = None
    # The file's own name (a zip member's without its folders), which tells its kind.
    name: str = ""

    def open(self) -> IO[bytes]:
        return self.opener()


@dataclass(frozen=True)
class IgnoredFile:
    path: str
    reason: str
    listener: str = DEFAULT_LISTENER


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
            files.append(
                ExportFile(str(relative), listener, stat.st_size, _file_opener(path), stat.st_mtime, name=path.name)
            )
        elif suffix == ".zip":
            found, skipped = _zip_members(path, relative, listener)
            files.extend(found)
            ignored.extend(skipped)
        else:
            ignored.append(IgnoredFile(str(relative), _not_json_reason(suffix), listener))
    return files, ignored


def listeners_of(raw_dir: Path) -> list[str]:
    """The listeners with any file under `raw_dir`, sorted: the partitions of raw_plays it holds."""
    files, ignored = discover(raw_dir)
    return sorted({f.listener for f in files} | {i.listener for i in ignored})


def _file_opener(path: Path) -> Callable[[], IO[bytes]]:
    return lambda: path.open("rb")


class _Archive:
    """One zip, opened once for all its members: opening a member is then a seek to its
    header, where a fresh ZipFile would read the whole central directory (10,000 entries)
    again. zipfile serialises reads of one archive, so members may be open at once."""

    def __init__(self, path: Path):
        self._path = path
        self._zipfile: zipfile.ZipFile | None = None
        self._lock = threading.Lock()

    def opener(self, info: zipfile.ZipInfo) -> Callable[[], IO[bytes]]:
        return lambda: self._open(info)

    def _open(self, info: zipfile.ZipInfo) -> IO[bytes]:
        with self._lock:
            if self._zipfile is None:
                self._zipfile = zipfile.ZipFile(self._path)
        try:
            # By its entry, not its name: ZipFile.open(name) finds the last entry of a name.
            return self._zipfile.open(info)
        except (RuntimeError, NotImplementedError) as exc:  # encrypted; unknown compression
            raise UnreadableMember(str(exc)) from exc


def _zip_members(archive: Path, relative: PurePosixPath, listener: str) -> tuple[list[ExportFile], list[IgnoredFile]]:
    files: list[ExportFile] = []
    ignored: list[IgnoredFile] = []
    try:
        archive_mtime = archive.stat().st_mtime
        with zipfile.ZipFile(archive) as zf:
            infos = sorted(zf.infolist(), key=lambda info: info.filename)
    except FileNotFoundError as exc:
        return [], [IgnoredFile(str(relative), f"vanished before it was read: {exc.strerror}", listener)]
    except (zipfile.BadZipFile, OSError) as exc:
        # A truncated or damaged download: a failed file, so the check reports it.
        problem = f"unreadable zip archive: {exc}"
        size = archive.stat().st_size
        return [
            ExportFile(str(relative), listener, size, _file_opener(archive), archive_mtime, problem, archive.name)
        ], []
    shared = _Archive(archive)
    entries_of_name: dict[str, int] = {}
    for info in infos:
        if info.is_dir():
            continue
        member = PurePosixPath(info.filename)
        entry = entries_of_name[info.filename] = entries_of_name.get(info.filename, 0) + 1
        display = f"{relative}!{info.filename}" + (f" (entry {entry})" if entry > 1 else "")
        if member.is_absolute() or ".." in member.parts:
            # Never extracted, so harmless here, but no export has such names: say so.
            ignored.append(IgnoredFile(display, "unsafe member path (absolute or with '..'): not read", listener))
            continue
        if any(part.startswith(".") or part == "__MACOSX" for part in member.parts):
            continue
        if member.suffix.lower() == ".json":
            problem = _refusal(info)
            # A refused member is never inflated: it is known (and hashed) by its header alone.
            opener = _header_opener(info) if problem else shared.opener(info)
            files.append(ExportFile(display, listener, info.file_size, opener, archive_mtime, problem, member.name))
        else:
            ignored.append(IgnoredFile(display, _not_json_reason(member.suffix.lower()), listener))
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
            top, keys = _first_record_keys(Utf8Reader(stream, errors="replace"))
    except (ijson.JSONError, UnicodeError) as exc:
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
            return Recognised(
                by_name, by_name == EXTENDED_VIDEO, error=f"top level is {what}, expected an array of plays"
            )
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


def _first_record_keys(stream) -> tuple[str | None, set[str] | None]:
    """The top-level event and the keys of the first array element (None if not an object).
    Read with `basic_parse`, whose memory does not grow with the nesting (see streams)."""
    events: Iterator[tuple[str, object]] = ijson.basic_parse(stream)
    top = next(events)[0]
    if top != "start_array":
        return top, None
    if next(events)[0] != "start_map":
        return top, None  # an empty array, or a first element that is a scalar or array
    keys: set[str] = set()
    depth = 1
    for event, value in events:
        if event == "map_key" and depth == 1:
            keys.add(str(value))
        elif event in ("start_map", "start_array"):
            depth += 1
        elif event in ("end_map", "end_array"):
            depth -= 1
            if depth == 0:
                break
    return top, keys
