"""Turn one export record into one typed play row, or say precisely why it cannot be.

Every field is optional and nullable except `ts` (a play with no time is no play). Old and
new field names are mapped to one column; keys this code does not know are kept in `extra`
so a format change loses nothing. Personal data (IP address, user agent, username) is
dropped unless the user asks to keep it.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb

# Column order of the rows produced here; the load table (sql/raw/create_load_table.sql)
# has the same columns.
COLUMNS = (
    "listener",
    "ts",
    "ms_played",
    "content_kind",
    "content_key",
    "name_key",
    "spotify_track_uri",
    "spotify_episode_uri",
    "audiobook_uri",
    "audiobook_chapter_uri",
    "track_name",
    "artist_name",
    "album_name",
    "episode_name",
    "show_name",
    "audiobook_title",
    "audiobook_chapter_title",
    "platform",
    "conn_country",
    "reason_start",
    "reason_end",
    "shuffle",
    "skipped",
    "offline",
    "offline_at",
    "incognito_mode",
    "is_video",
    "ip_addr",
    "user_agent",
    "username",
    "source_format",
    "ts_precision",
    "source_position",
    "extra",
)
# Their PostgreSQL types, for binary COPY.
COLUMN_TYPES = (
    "text",
    "timestamptz",
    "int8",
    "text",
    "text",
    "text",
    *["text"] * 15,
    "bool",
    "bool",
    "bool",
    "timestamptz",
    "bool",
    "bool",
    "text",
    "text",
    "text",
    "text",
    "text",
    "int8",
    "jsonb",
)

# The time range of a play, and of the facts' monthly partitions (spotify_etl.defs.partitions):
# one range, so no stored play lies outside every partition. Spotify's streaming began in
# October 2008. A play from the future is a broken clock: a little skew is allowed, but never
# past the current month, whose partition is the last one.
EARLIEST_PLAY = datetime(2008, 10, 1, tzinfo=UTC)
CLOCK_SKEW = timedelta(days=2)
_OUTSIDE = f"outside {EARLIEST_PLAY:%Y-%m} .. now"

# Milliseconds since the epoch are > 1e11 for any date after 1973; seconds are not until 5138.
_MS_EPOCH_THRESHOLD = 1e11

NAME_SEPARATOR = "\x1f"  # separates names inside a key; never part of a real name

# Names and URIs are keys of unique indexes, whose entries PostgreSQL caps at 2,704 bytes;
# Spotify's longest names are a few hundred characters. A record whose text fields are all
# shorter than _FAST_TEXT_CHARS together cannot exceed the cap and skips the exact check.
MAX_TEXT_BYTES = 1000
_FAST_TEXT_CHARS = 600


class RecordError(ValueError):
    """The record cannot be stored as a play.

    `reason` names the field and the problem and is the same for every record with that
    problem, so rejections can be counted by it; `detail` shows the offending value.
    """

    def __init__(self, reason: str, detail: str | None = None):
        super().__init__(f"{reason} ({detail})" if detail else reason)
        self.reason = reason


# A play of the current extended history (2023 on): its 23 fields, in the order Spotify writes
# them. The generator of synthetic exports and the tests' record factory build on this.
CURRENT_EXTENDED_FIELDS = (
    "ts",
    "platform",
    "ms_played",
    "conn_country",
    "ip_addr",
    "master_metadata_track_name",
    "master_metadata_album_artist_name",
    "master_metadata_album_album_name",
    "spotify_track_uri",
    "episode_name",
    "episode_show_name",
    "spotify_episode_uri",
    "audiobook_title",
    "audiobook_uri",
    "audiobook_chapter_uri",
    "audiobook_chapter_title",
    "reason_start",
    "reason_end",
    "shuffle",
    "skipped",
    "offline",
    "offline_timestamp",
    "incognito_mode",
)

# Extended history: the source field of each text column, in the row's column order
# (spotify_track_uri .. reason_end).
_EXTENDED_TEXT = (
    "spotify_track_uri",
    "spotify_episode_uri",
    "audiobook_uri",
    "audiobook_chapter_uri",
    "master_metadata_track_name",
    "master_metadata_album_artist_name",
    "master_metadata_album_album_name",
    "episode_name",
    "episode_show_name",
    "audiobook_title",
    "audiobook_chapter_title",
    "platform",
    "conn_country",
    "reason_start",
    "reason_end",
)
_EXTENDED_BOOL = ("shuffle", "skipped", "offline", "incognito_mode")
# Personal fields: column -> source fields, newest name first.
_PERSONAL = {
    "ip_addr": ("ip_addr", "ip_addr_decrypted"),
    "user_agent": ("user_agent_decrypted", "user_agent"),
    "username": ("username",),
}
_EXTENDED_KNOWN = frozenset(
    {"ts", "ms_played", "offline_timestamp", *_EXTENDED_TEXT, *_EXTENDED_BOOL}
    | {name for names in _PERSONAL.values() for name in names}
)

_TEXT_TYPES = frozenset({str, type(None)})
_BOOL_TYPES = frozenset({bool, type(None)})
_MAX_MS = 2**62


def normalise_extended(record: Any, *, listener: str, position: int, is_video: bool, keep_personal_data: bool) -> tuple:
    """A record of extended streaming history (`Streaming_History_*`, `endsong_*`).

    Most records are well-formed, so they are checked in bulk first (type sets, one joined
    string); only a record failing that is examined field by field for the precise reason.
    """
    if type(record) is not dict:
        raise RecordError("not an object", _type_name(record))
    get = record.get
    text = tuple(map(get, _EXTENDED_TEXT))
    flags = tuple(map(get, _EXTENDED_BOOL))
    ms_played = get("ms_played")
    if not (
        _TEXT_TYPES.issuperset(map(type, text))
        and _BOOL_TYPES.issuperset(map(type, flags))
        and (ms_played is None or (type(ms_played) is int and 0 <= ms_played <= _MAX_MS))
        and _clean(joined := "".join(filter(None, text)))
        and len(joined) <= _FAST_TEXT_CHARS
    ):
        text = tuple(_checked_text(get(name), name) for name in _EXTENDED_TEXT)
        flags = tuple(_bool(get(name), name) for name in _EXTENDED_BOOL)
        ms_played = _ms_played(ms_played, "ms_played")
    ts = _parse_ts(get("ts"), "ts")

    extra = {} if _EXTENDED_KNOWN.issuperset(record) else {k: v for k, v in record.items() if k not in _EXTENDED_KNOWN}
    offline_timestamp = get("offline_timestamp")
    offline_at = (
        None
        if offline_timestamp is None or (type(offline_timestamp) is int and offline_timestamp == 0)
        else _offline_at(offline_timestamp, extra)
    )
    if keep_personal_data:
        personal = tuple(_text(record, names) for names in _PERSONAL.values())
    else:
        personal = (None, None, None)

    kind, content_key, name_key = _classify(text, has_uri_fields="spotify_track_uri" in record)
    return (
        listener,
        ts,
        ms_played,
        kind,
        content_key,
        name_key,
        *text,
        *flags[:3],
        offline_at,
        flags[3],
        is_video,
        *personal,
        "extended",
        "second",
        position,
        _extra_json(extra),
    )


def normalise_account_music(record: Any, *, listener: str, position: int) -> tuple:
    """A record of account data music history (`StreamingHistory_music_*`)."""
    return _normalise_account(record, listener, position, "artistName", "trackName", _music_key, "track")


def normalise_account_podcast(record: Any, *, listener: str, position: int) -> tuple:
    """A record of account data podcast history (`StreamingHistory_podcast_*`)."""
    return _normalise_account(record, listener, position, "podcastName", "episodeName", _episode_key, "episode")


def _normalise_account(
    record: Any,
    listener: str,
    position: int,
    owner_field: str,
    item_field: str,
    key: Callable[[str | None, str | None], str],
    kind: str,
) -> tuple:
    """Account data has names only: (artist, track) for music, (show, episode) for podcasts."""
    if not isinstance(record, dict):
        raise RecordError("not an object", _type_name(record))
    ts = _parse_account_time(record.get("endTime"))
    ms_played = _ms_played(record.get("msPlayed"), "msPlayed")
    owner = _text(record, (owner_field,))
    item = _text(record, (item_field,))
    name_key = key(owner, item) if (owner or item) else None
    known = {"endTime", "msPlayed", owner_field, item_field}
    extra = {k: v for k, v in record.items() if k not in known}
    music = kind == "track"
    return (
        listener,
        ts,
        ms_played,
        kind if name_key else "unknown",
        name_key or "",
        name_key,
        None,
        None,
        None,
        None,
        item if music else None,
        owner if music else None,
        None,
        None if music else item,
        None if music else owner,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        False,
        None,
        None,
        None,
        "account",
        "minute",
        position,
        _extra_json(extra),
    )


def record_as_text(record: Any) -> str:
    """The record as JSON text that PostgreSQL can store (control characters escaped)."""
    text = json.dumps(record, ensure_ascii=False, default=str)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: keep them as escapes
        text = json.dumps(record, ensure_ascii=True, default=str)
    return text


# --- classification ---------------------------------------------------------------


def _music_key(artist: str | None, track: str | None) -> str:
    return f"track:{artist or ''}{NAME_SEPARATOR}{track or ''}"


def _episode_key(show: str | None, episode: str | None) -> str:
    return f"episode:{show or ''}{NAME_SEPARATOR}{episode or ''}"


def _classify(text: tuple, has_uri_fields: bool) -> tuple[str, str, str | None]:
    """(content_kind, content_key, name_key) of an extended record's text fields.

    Music with names and no URI is a local file when the record has URI fields (Spotify left
    them empty), but a track known by its names, like account data, when the file has no URI
    fields at all (the 2020 vintage of endsong_*.json): those are resolved by name."""
    (track_uri, episode_uri, audiobook_uri, chapter_uri, track, artist, _album, episode, show, audiobook, chapter) = (
        text[:11]
    )
    if track or artist:
        name_key = _music_key(artist, track)
    elif episode or show:
        name_key = _episode_key(show, episode)
    elif audiobook or chapter:
        name_key = f"audiobook:{audiobook or ''}{NAME_SEPARATOR}{chapter or ''}"
    else:
        name_key = None

    if track_uri:
        return ("local" if track_uri.startswith("spotify:local:") else "track"), track_uri, name_key
    if episode_uri:
        return "episode", episode_uri, name_key
    if chapter_uri or audiobook_uri:
        return "audiobook", chapter_uri or audiobook_uri, name_key
    if name_key is None:
        return "unknown", "", None
    # Names without a URI: a local file (or a track of a file without URI fields), or
    # podcast/audiobook content with no id.
    music = "local" if has_uri_fields else "track"
    kind = {"track": music, "episode": "episode", "audiobook": "audiobook"}[name_key.split(":", 1)[0]]
    return kind, name_key, name_key


# --- typed fields -------------------------------------------------------------------


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__
    )


def _checked_text(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecordError(f"field {field!r}: expected text", f"got {_type_name(value)}")
    if "\x00" in value:
        raise RecordError(f"field {field!r}: contains a NUL character")
    if not _clean(value):
        raise RecordError(f"field {field!r}: invalid Unicode (lone surrogate)")
    if len(value) > MAX_TEXT_BYTES // 4 and len(value.encode("utf-8")) > MAX_TEXT_BYTES:
        raise RecordError(f"field {field!r}: longer than {MAX_TEXT_BYTES:,} bytes", f"{len(value):,} characters")
    # Empty strings stay; the merge into staging turns them into NULL (sql/raw/merge_plays.sql).
    return value


def _clean(value: str) -> bool:
    """No NUL (PostgreSQL text cannot hold it) and encodable as UTF-8 (no lone surrogates)."""
    if "\x00" in value:
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text(record: dict, names: tuple[str, ...]) -> str | None:
    for name in names:
        value = _checked_text(record.get(name), name)
        if value:
            return value
    return None


def _bool(value: Any, field: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise RecordError(f"field {field!r}: expected true/false", f"got {_type_name(value)}")


def _ms_played(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RecordError(f"field {field!r}: expected a whole number", f"got {_type_name(value)}")
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise RecordError(f"field {field!r}: expected a whole number", repr(value))
        value = int(value)
    if value < 0:
        raise RecordError(f"field {field!r}: negative", str(value))
    if value > 2**62:
        raise RecordError(f"field {field!r}: implausibly large", str(value))
    return value


def _latest_plausible(_cache: list = [0.0, EARLIEST_PLAY]) -> datetime:  # noqa: B006
    """Now plus clock skew, but before next month; recomputed at most once a minute (this
    runs once per record)."""
    tick = time.monotonic()
    if tick - _cache[0] > 60:
        now = datetime.now(UTC)
        next_month = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
        _cache[:] = [tick, min(now + CLOCK_SKEW, next_month - timedelta(microseconds=1))]
    return _cache[1]


def _in_range(ts: datetime, field: str) -> datetime:
    if ts < EARLIEST_PLAY or ts > _latest_plausible():
        raise RecordError(f"field {field!r}: {_OUTSIDE}", ts.isoformat())
    return ts


def _parse_ts(value: Any, field: str) -> datetime:
    if value is None:
        raise RecordError(f"field {field!r}: missing")
    if not isinstance(value, str):
        raise RecordError(f"field {field!r}: expected a timestamp string", f"got {_type_name(value)}")
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(f"field {field!r}: unparseable timestamp", repr(value[:40])) from None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)  # Spotify's times are UTC
    elif ts.tzinfo is not UTC:
        ts = ts.astimezone(UTC)
    if not EARLIEST_PLAY <= ts <= _latest_plausible():
        raise RecordError(f"field {field!r}: {_OUTSIDE}", ts.isoformat())
    return ts


def _parse_account_time(value: Any) -> datetime:
    if value is None:
        raise RecordError("field 'endTime': missing")
    if not isinstance(value, str):
        raise RecordError("field 'endTime': expected a time string", f"got {_type_name(value)}")
    try:
        ts = datetime.strptime(value, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    except ValueError:
        raise RecordError("field 'endTime': unparseable time", repr(value[:40])) from None
    return _in_range(ts, "endTime")


def _offline_at(value: Any, extra: dict) -> datetime | None:
    """`offline_timestamp` is in seconds or milliseconds depending on the era; 0 means none.
    A value that makes no sense as a time is kept in `extra` rather than rejected."""
    if value is None or value == 0:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RecordError("field 'offline_timestamp': expected a number", f"got {_type_name(value)}")
    seconds = value / 1000 if abs(value) > _MS_EPOCH_THRESHOLD else value
    try:
        at = datetime.fromtimestamp(seconds, UTC)
        return _in_range(at, "offline_timestamp")
    except (OverflowError, OSError, ValueError, RecordError):
        extra["offline_timestamp"] = value
        return None


def _extra_json(extra: dict) -> Jsonb | None:
    if not extra:
        return None
    text = record_as_text(extra)
    if "\\u0000" in text:  # jsonb cannot hold NUL
        raise RecordError("an unknown field contains a NUL character")
    return Jsonb(extra, dumps=lambda _: text)
