"""Link the versions of a song (live, remastered, deluxe, extended, radio edit, single, mono,
acoustic, demo, a remix by the artist itself, `feat. …`) to one parent track.

Rules, strongest first; each link records the rule that made it:
  1. `override`   the manual file (data/parent_tracks.csv: child URI, parent URI) always wins;
  2. `isrc`       the same recording (ISRC) released on several albums, once enriched;
  3. `title:<marker>`  the same primary artist and the same title once version markers are
                  removed. A marker only counts after a dash or inside brackets ("Live Forever"
                  is a song, "Song - Live" a version), and a remix or cover by someone else
                  stays a song of its own.
The parent of a group is the version without a marker, else the earliest release, else the
most played (then the lowest id, so that re-runs are stable).

The markers are data: extend VERSION_MARKERS to teach it a new kind of version.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path

# (name, pattern) — matched against one dash suffix or one bracketed part of a title.
VERSION_MARKERS: list[tuple[str, re.Pattern]] = [
    (name, re.compile(pattern, re.I))
    for name, pattern in [
        ("live", r"^live\b.*$|^(recorded )?live (at|from|in|on)\b.*$|^.*\blive (version|recording|session)s?$"),
        ("remaster", r"^(\d{4} )?(digital(ly)? )?remaster(ed)?( version)?( \d{4})?$|^remaster(ed)? (in|for) .*$"),
        ("deluxe", r"^.*\bdeluxe( edition| version)?$"),
        ("extended", r"^extended( mix| version| edit| cut)?$"),
        ("radio edit", r"^radio (edit|version|mix)$"),
        ("single version", r"^single (version|edit|mix)$"),
        ("album version", r"^album version$"),
        ("mono/stereo", r"^(\d{4} )?(mono|stereo)( version| mix)?( \d{4})?$"),
        ("acoustic", r"^acoustic( version)?$"),
        ("demo", r"^(\d{4} )?demo( version)?$"),
        ("anniversary", r"^\d+(st|nd|rd|th) anniversary( edition)?.*$"),
        ("feat.", r"^(feat\.?|ft\.?|featuring|with) .+$"),
        ("remix", r"^(.+ )?(remix|mix)$"),
    ]
]
_BRACKET_SUFFIX = re.compile(r"\s*[(\[]([^()\[\]]+)[)\]]\s*$")
_DASH_SUFFIX = re.compile(r"\s+-\s+([^-]+)$")
_INLINE_FEAT = re.compile(r"\s+(feat\.?|ft\.?|featuring)\s+.+$", re.I)


@dataclass(frozen=True)
class TrackRow:
    track_id: int
    uri: str | None
    title: str
    artist: str | None
    isrc: str | None = None
    release_date: date | None = None
    plays: int = 0


@dataclass(frozen=True)
class Link:
    parent_track_id: int
    rule: str
    confidence: float


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"\s+", " ", text.replace("’", "'")).strip()


def song_title(title: str, artist: str | None = None) -> tuple[str, list[str]]:
    """The title with version markers removed, and the markers found (outermost last)."""
    current = _fold(title)
    own = _fold(artist) if artist else None
    markers: list[str] = []
    while True:
        match = _BRACKET_SUFFIX.search(current) or _DASH_SUFFIX.search(current)
        if not match:
            break
        part = match[1].strip()
        marker = _marker(part, own)
        if marker is None:
            break
        markers.append(marker)
        current = current[: match.start()].strip()
    inline = _INLINE_FEAT.search(current)
    if inline and inline.start() > 0:
        markers.append("feat.")
        current = current[: inline.start()].strip()
    return current, markers


def _marker(part: str, own_artist: str | None) -> str | None:
    for name, pattern in VERSION_MARKERS:
        if pattern.match(part):
            if name == "remix":
                remixer = re.sub(r"\s*(re)?mix$", "", part).strip()
                # Someone else's remix is a song of its own; the artist's own (or an unnamed) one is a version.
                if (
                    remixer
                    and remixer not in ("extended", "radio", "original", "club", "album")
                    and remixer != own_artist
                ):
                    return None
            return name
    return None


def link_versions(tracks: list[TrackRow], overrides: dict[str, str] | None = None) -> dict[int, Link]:
    """child track_id -> its parent, the rule and its confidence; every track gets a link
    (an original links to itself with rule 'original')."""
    links: dict[int, Link] = {}
    by_uri = {t.uri: t for t in tracks if t.uri}
    for child_uri, parent_uri in (overrides or {}).items():
        if child_uri in by_uri and parent_uri in by_uri:
            links[by_uri[child_uri].track_id] = Link(by_uri[parent_uri].track_id, "override", 1.0)

    def parent_of(group: list[TrackRow], marked: dict[int, list[str]]) -> TrackRow:
        return min(
            group,
            key=lambda t: (bool(marked.get(t.track_id)), t.release_date or date.max, -t.plays, t.track_id),
        )

    titles = {t.track_id: song_title(t.title, t.artist) for t in tracks}
    markers = {track_id: found for track_id, (_, found) in titles.items()}

    by_isrc: dict[str, list[TrackRow]] = defaultdict(list)
    for track in tracks:
        if track.isrc:
            by_isrc[track.isrc.upper()].append(track)
    for group in by_isrc.values():
        if len(group) > 1:
            parent = parent_of(group, markers)
            for track in group:
                if track.track_id not in links and track is not parent:
                    links[track.track_id] = Link(parent.track_id, "isrc", 0.95)

    by_song: dict[tuple[str, str], list[TrackRow]] = defaultdict(list)
    for track in tracks:
        if track.artist:
            by_song[(_fold(track.artist), titles[track.track_id][0])].append(track)
    for group in by_song.values():
        if len(group) > 1:
            parent = parent_of(group, markers)
            for track in group:
                if track.track_id not in links and track is not parent:
                    found = markers[track.track_id]
                    rule = f"title:{found[-1]}" if found else "title:same"
                    links[track.track_id] = Link(_root(links, parent.track_id), rule, 0.8)

    for track in tracks:
        links.setdefault(track.track_id, Link(track.track_id, "original", 1.0))
    return links


def _root(links: dict[int, Link], track_id: int) -> int:
    """Follow links up to the top, so that a group's parent that is itself a version (by an
    override or its ISRC) hands its children on to its own parent."""
    seen = {track_id}
    while track_id in links and links[track_id].parent_track_id not in seen:
        track_id = links[track_id].parent_track_id
        seen.add(track_id)
    return track_id


def read_overrides(path: Path) -> dict[str, str]:
    """data/parent_tracks.csv: a header `child_uri,parent_uri`, then one line per link."""
    if not path.exists():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(line for line in handle if not line.lstrip().startswith("#"))
        missing = {"child_uri", "parent_uri"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: expected columns child_uri,parent_uri (missing {', '.join(sorted(missing))})")
        return {row["child_uri"].strip(): row["parent_uri"].strip() for row in reader if row.get("child_uri")}
