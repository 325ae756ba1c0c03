"""Build export files with the shapes and quirks of real Spotify exports, for tests."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from spotify_etl.lib.export.records import CURRENT_EXTENDED_FIELDS

EXTENDED_DIR = "Spotify Extended Streaming History"
ACCOUNT_DIR = "Spotify Account Data"

_COUNTER = iter(range(10**9))


def track_uri(n: int) -> str:
    return "spotify:track:" + f"{n:022d}".replace("0", "A")


def episode_uri(n: int) -> str:
    return "spotify:episode:" + f"{n:022d}".replace("0", "B")


def play(
    ts: str,
    *,
    ms: int | None = 200_000,
    track: str | None = "Song",
    artist: str | None = "Artist",
    album: str | None = "Album",
    uri: str | None = None,
    **fields,
) -> dict:
    """A music play as the current extended history has it (every field present)."""
    record = dict.fromkeys(CURRENT_EXTENDED_FIELDS) | {
        "ts": ts,
        "platform": "android",
        "ms_played": ms,
        "conn_country": "DE",
        "ip_addr": "192.0.2.10",
        "master_metadata_track_name": track,
        "master_metadata_album_artist_name": artist,
        "master_metadata_album_album_name": album,
        "spotify_track_uri": uri if uri is not None else (track_uri(next(_COUNTER)) if track else None),
        "reason_start": "trackdone",
        "reason_end": "trackdone",
        "shuffle": False,
        "skipped": False,
        "offline": False,
        "offline_timestamp": 0,
        "incognito_mode": False,
    }
    record.update(fields)
    return record


def episode_play(
    ts: str, *, ms: int = 1_200_000, show: str = "Show", episode: str = "Ep 1", uri: str | None = None, **fields
) -> dict:
    record = play(ts, ms=ms, track=None, artist=None, album=None, uri=None)
    record.update(
        spotify_track_uri=None,
        episode_name=episode,
        episode_show_name=show,
        spotify_episode_uri=uri or episode_uri(next(_COUNTER)),
    )
    record.update(fields)
    return record


def old_vintage(record: dict) -> dict:
    """The same play as an `endsong_N.json` of before late 2023 has it: other field names,
    personal fields, no audiobook fields, a free-text platform."""
    old = {key: value for key, value in record.items() if not key.startswith("audiobook") and key != "ip_addr"}
    old["username"] = "someuser"
    old["ip_addr_decrypted"] = record.get("ip_addr")
    old["user_agent_decrypted"] = "unknown"
    old["platform"] = "Android OS 9 API 28 (samsung, SM-G960F)"
    return old


def account_music(record: dict) -> dict:
    """The account-data twin of a music play: minute-truncated, names only."""
    return {
        "endTime": record["ts"][:16].replace("T", " "),
        "artistName": record["master_metadata_album_artist_name"],
        "trackName": record["master_metadata_track_name"],
        "msPlayed": record["ms_played"],
    }


def account_podcast(record: dict) -> dict:
    return {
        "endTime": record["ts"][:16].replace("T", " "),
        "podcastName": record["episode_show_name"],
        "episodeName": record["episode_name"],
        "msPlayed": record["ms_played"],
    }


def write_json(path: Path, content) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, ensure_ascii=False), encoding="utf-8")
    return path


def write_raw(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return path


def zip_folder(folder: Path, archive: Path) -> Path:
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    return archive
