"""A synthetic Spotify export with the real shapes, for the bundled sample, tests and benchmarks.

Deterministic for a seed. Plays follow one another in listening sessions; fields follow the
eras the facts file describes (free-text platform strings before late 2023, `skipped` always
false between 2015-04 and 2022-10, `offline_timestamp` in milliseconds 2017-2022). Files are
written one at a time, so a million plays need no more memory than one file's worth.

    python -m spotify_etl.lib.synthetic --plays 3000 --out data/sample --zip
"""

from __future__ import annotations

import argparse
import json
import random
import string
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from spotify_etl.lib.export.records import CURRENT_EXTENDED_FIELDS

BASE62 = string.digits + string.ascii_letters
EXTENDED_DIR = "Spotify Extended Streaming History"
ACCOUNT_DIR = "Spotify Account Data"

_REASON_START = ["trackdone", "clickrow", "fwdbtn", "backbtn", "playbtn", "appload", "remote", "uriopen"]
_REASON_END = ["trackdone", "fwdbtn", "endplay", "logout", "backbtn", "remote", "unexpected-exit", "unknown"]
_OLD_PLATFORMS = [
    "Android OS 9 API 28 (samsung, SM-G960F)",
    "iOS 11.4 (iPhone6,1)",
    "Windows 10 (10.0.19041; x64)",
    "web_player windows 10;chrome 96.0.4664.110;desktop",
    "OS X 10.15.7 [x86 8]",
    "Partner google cast_tv;Chromecast;;",
    "Partner sonos_speaker;Sonos;One;;",
]
_NEW_PLATFORMS = ["android", "ios", "windows", "osx", "linux", "web_player", "not_applicable"]
_VERSION_SUFFIXES = [
    " - Live",
    " - Remastered 2011",
    " (Deluxe Edition)",
    " - Radio Edit",
    " - Acoustic",
    " (Live at Wembley)",
]
_SYLLABLES = ["la", "mo", "ri", "ka", "zen", "dor", "vi", "sol", "ne", "tra", "bel", "ox"]
_ODD_NAMES = [
    "Sigur Rós",
    "Beyoncé",
    "Motörhead",
    "坂本龍一",
    "Björk",
    "AC/DC",
    "Guns N' Roses",
    'The "Quoted" Band',
    "Back\\slash",
    "Tab\tName",
    "Café Tacvba",
]


def spotify_id(rng: random.Random) -> str:
    return "".join(rng.choice(BASE62) for _ in range(22))


@dataclass
class Track:
    uri: str
    name: str
    artist: str
    album: str
    duration_ms: int


@dataclass
class Episode:
    uri: str
    name: str
    show: str
    duration_ms: int


class Catalog:
    """Artists, albums, tracks, shows and episodes to draw plays from."""

    def __init__(self, rng: random.Random, artists: int = 120, shows: int = 8):
        self.rng = rng
        artist_names = [self._name(2) for _ in range(artists)]
        artist_names[: len(_ODD_NAMES)] = _ODD_NAMES[:artists]
        self.tracks: list[Track] = []
        for artist in artist_names:
            for _ in range(rng.randint(1, 3)):
                album = self._name(3)
                for _ in range(rng.randint(3, 10)):
                    self.tracks.append(
                        Track(
                            f"spotify:track:{spotify_id(rng)}",
                            self._name(rng.randint(1, 4)),
                            artist,
                            album,
                            rng.randint(90_000, 420_000),
                        )
                    )
        # Some songs come in several versions (live, remastered, ...), as real catalogues do.
        for original in rng.sample(self.tracks, k=max(1, len(self.tracks) // 25)):
            suffix = rng.choice(_VERSION_SUFFIXES)
            self.tracks.append(
                Track(
                    f"spotify:track:{spotify_id(rng)}",
                    original.name + suffix,
                    original.artist,
                    original.album + (" (Deluxe Edition)" if "Deluxe" in suffix else " (Live)"),
                    original.duration_ms + rng.randint(-20_000, 60_000),
                )
            )
        self.episodes: list[Episode] = []
        for _ in range(shows):
            show = self._name(2) + " Podcast"
            for number in range(1, rng.randint(10, 40)):
                self.episodes.append(
                    Episode(
                        f"spotify:episode:{spotify_id(rng)}",
                        f"#{number} {self._name(4)}",
                        show,
                        rng.randint(600_000, 5_400_000),
                    )
                )
        # Popularity is skewed, as real listening is.
        self.track_weights = [1 / (i + 1) ** 0.8 for i in range(len(self.tracks))]

    def _name(self, words: int) -> str:
        return " ".join(
            "".join(self.rng.choice(_SYLLABLES) for _ in range(self.rng.randint(1, 3))).capitalize()
            for _ in range(words)
        )

    def track(self) -> Track:
        return self.rng.choices(self.tracks, weights=self.track_weights)[0]

    def episode(self) -> Episode:
        return self.rng.choice(self.episodes)


def _platform(rng: random.Random, ts: datetime) -> str:
    return rng.choice(_OLD_PLATFORMS if ts < datetime(2023, 10, 1, tzinfo=UTC) else _NEW_PLATFORMS)


def _offline_timestamp(ts: datetime) -> int:
    seconds = int(ts.timestamp()) - 120
    # Milliseconds around 2017-2022, seconds otherwise.
    return seconds * 1000 if 2017 <= ts.year <= 2022 else seconds


def generate_plays(
    plays: int,
    *,
    seed: int = 7,
    start: datetime = datetime(2019, 3, 1, tzinfo=UTC),
    end: datetime | None = None,
    podcast_share: float = 0.12,
    home_country: str = "DE",
) -> Iterator[dict]:
    """Extended-history records in time order."""
    rng = random.Random(seed)
    catalog = Catalog(rng)
    end = end or datetime(2026, 10, 31, tzinfo=UTC)
    # Plays run back to back within a session; the breaks between sessions are sized, as we
    # go, so that the plays end near `end`. A history too dense for start..end starts earlier.
    start = min(start, end - timedelta(seconds=plays * 450))
    session_start_share = 0.08
    ts = start
    mean_play = 300.0
    for index in range(plays):
        if rng.random() < session_start_share:
            budget = (end - ts).total_seconds() / (plays - index)
            mean_break = max(budget - mean_play, 1.0) / session_start_share
            ts += timedelta(seconds=rng.expovariate(1 / mean_break))
        is_podcast = rng.random() < podcast_share
        item = catalog.episode() if is_podcast else catalog.track()
        roll = rng.random()
        ms = (
            item.duration_ms
            if roll < 0.6
            else int(item.duration_ms * rng.random())
            if roll < 0.85
            else rng.randint(0, 9000)
        )
        step_ms = ms + rng.randint(0, 4000)
        mean_play += (step_ms / 1000 - mean_play) / (index + 1)
        ts += timedelta(milliseconds=step_ms)
        country = home_country if rng.random() < 0.93 else rng.choice(["JP", "US", "GB", "FR", "BR"])
        offline = rng.random() < 0.05
        skipped_known = ts < datetime(2015, 4, 13, tzinfo=UTC) or ts > datetime(2022, 10, 16, tzinfo=UTC)
        record = dict.fromkeys(CURRENT_EXTENDED_FIELDS) | {
            "ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "platform": _platform(rng, ts),
            "ms_played": ms,
            "conn_country": country,
            "ip_addr": f"192.0.2.{rng.randint(1, 254)}",
            "reason_start": rng.choice(_REASON_START),
            "reason_end": "trackdone" if ms == item.duration_ms else rng.choice(_REASON_END),
            "shuffle": rng.random() < 0.4,
            "skipped": (ms < 30_000) if skipped_known else False,
            "offline": offline,
            "offline_timestamp": _offline_timestamp(ts) if offline else 0,
            "incognito_mode": rng.random() < 0.01,
        }
        if is_podcast:
            record.update(episode_name=item.name, episode_show_name=item.show, spotify_episode_uri=item.uri)
        else:
            record.update(
                master_metadata_track_name=item.name,
                master_metadata_album_artist_name=item.artist,
                master_metadata_album_album_name=item.album,
                spotify_track_uri=item.uri,
            )
        yield record


def account_records(record: dict) -> tuple[str, dict] | None:
    """The account-data twin of an extended record: ('music'|'podcast', record), or None."""
    end_time = record["ts"][:16].replace("T", " ")
    if record.get("spotify_track_uri"):
        return "music", {
            "endTime": end_time,
            "artistName": record["master_metadata_album_artist_name"],
            "trackName": record["master_metadata_track_name"],
            "msPlayed": record["ms_played"],
        }
    if record.get("spotify_episode_uri"):
        return "podcast", {
            "endTime": end_time,
            "podcastName": record["episode_show_name"],
            "episodeName": record["episode_name"],
            "msPlayed": record["ms_played"],
        }
    return None


def write_json_array(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        json.dump(records, out, ensure_ascii=False, indent=1)


_LARGE_RECORD = (
    '{{"ts": "{ts}", "platform": "android", "ms_played": {ms}, "conn_country": "DE", '
    '"ip_addr": null, "master_metadata_track_name": "Song {n}", '
    '"master_metadata_album_artist_name": "Artist {a}", "master_metadata_album_album_name": "Album {a}", '
    '"spotify_track_uri": "spotify:track:{uri}", "episode_name": null, "episode_show_name": null, '
    '"spotify_episode_uri": null, "audiobook_title": null, "audiobook_uri": null, '
    '"audiobook_chapter_uri": null, "audiobook_chapter_title": null, "reason_start": "trackdone", '
    '"reason_end": "trackdone", "shuffle": false, "skipped": false, "offline": false, '
    '"offline_timestamp": 0, "incognito_mode": false}}'
)


def write_large_history(path: Path, target_bytes: int, *, start: datetime = datetime(2010, 1, 1, tzinfo=UTC)) -> int:
    """One extended-history file of about `target_bytes`, written as it is generated (never
    held in memory), one play a minute from `start`. Returns the number of records."""
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with path.open("w", encoding="ascii", buffering=1 << 20) as out:
        out.write("[\n")
        size = 2
        while size < target_bytes:
            ts = start + timedelta(minutes=written)
            n = written % 20_000
            record = _LARGE_RECORD.format(
                ts=ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
                ms=30_000 + written % 200_000,
                n=n,
                a=n % 900,
                uri=f"{n:022d}".replace("0", "Q"),
            )
            if written:
                out.write(",\n")
                size += 2
            out.write(record)
            size += len(record)
            written += 1
        out.write("\n]\n")
    return written


def write_export(
    out_dir: Path,
    plays: int,
    *,
    seed: int = 7,
    per_file: int = 16_000,
    account_months: int = 12,
    zip_name: str | None = None,
    start: datetime = datetime(2019, 3, 1, tzinfo=UTC),
    end: datetime | None = None,
) -> list[Path]:
    """Write an export as Spotify ships it: extended history in files of `per_file` plays,
    an empty video file, the read-me PDF, and account data for the last `account_months`
    months (which repeats extended history to the minute). Returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    end = end or datetime(2026, 10, 31, tzinfo=UTC)
    account_since = end - timedelta(days=30 * account_months)
    account = {"music": [], "podcast": []}
    chunk: list[dict] = []
    number = 0

    def flush() -> None:
        nonlocal chunk, number
        if not chunk:
            return
        first, last = chunk[0]["ts"][:4], chunk[-1]["ts"][:4]
        years = first if first == last else f"{first}-{last}"
        path = out_dir / EXTENDED_DIR / f"Streaming_History_Audio_{years}_{number}.json"
        write_json_array(path, chunk)
        written.append(path)
        number += 1
        chunk = []

    for record in generate_plays(plays, seed=seed, start=start, end=end):
        chunk.append(record)
        if account_months and record["ts"] >= account_since.strftime("%Y-%m-%dT%H:%M:%SZ"):
            twin = account_records(record)
            if twin:
                account[twin[0]].append(twin[1])
        if len(chunk) >= per_file:
            flush()
    flush()

    video = out_dir / EXTENDED_DIR / "Streaming_History_Video_2019-2026.json"
    write_json_array(video, [])
    readme = out_dir / EXTENDED_DIR / "ReadMeFirst_ExtendedStreamingHistory.pdf"
    readme.write_bytes(b"%PDF-1.4\n% synthetic read-me\n%%EOF\n")
    written += [video, readme]
    if account_months:
        for kind in ("music", "podcast"):
            path = out_dir / ACCOUNT_DIR / f"StreamingHistory_{kind}_0.json"
            write_json_array(path, account[kind])
            written.append(path)
        library = out_dir / ACCOUNT_DIR / "YourLibrary.json"
        library.write_text(json.dumps({"tracks": [], "albums": [], "shows": []}), encoding="utf-8")
        written.append(library)

    if zip_name:
        archive = out_dir / zip_name
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for path in written:
                zf.write(path, path.relative_to(out_dir).as_posix())
        for path in written:
            path.unlink()
        for folder in (out_dir / EXTENDED_DIR, out_dir / ACCOUNT_DIR):
            if folder.exists():
                folder.rmdir()
        return [archive]
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plays", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--per-file", type=int, default=16_000)
    parser.add_argument("--out", type=Path, default=Path("data/sample"))
    parser.add_argument("--zip", action="store_true", help="pack as my_spotify_data.zip")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2022, 1, 1), help="first day of plays")
    args = parser.parse_args()
    start = datetime.combine(args.start, datetime.min.time(), UTC)
    written = write_export(
        args.out,
        args.plays,
        seed=args.seed,
        per_file=args.per_file,
        start=start,
        zip_name="my_spotify_data.zip" if args.zip else None,
    )
    for path in written:
        print(path)


if __name__ == "__main__":
    main()
