"""Choose the Spotify item a name pair of the export means, from the Search API's candidates.

Right rather than merely found: a candidate is taken only when its title equals the export's
(compared without case, accents, punctuation, quote styles, a leading "The", and `feat.`
credits) and one of its credited artists is the export's artist. A version marker (live,
remaster, deluxe, ... from spotify_etl.lib.track_versions) must be the same on both sides:
"Song" never becomes "Song - Live", a remix or a cover by someone else never matches (other
title or other artist). The longest play of the pair speaks for a candidate of its length and
against one shorter than it. Among equally good
candidates (the single and the album version of a recording) the choice is deterministic
and says so; candidates of different recordings (other ISRCs, durations apart) that nothing
tells apart are `ambiguous`: recorded, never guessed.

Pure functions over JSON answers: no database, no API, no Dagster.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from spotify_etl.lib.track_versions import song_title

# A play longer than the candidate by more than this is not a play of it.
PLAYED_LONGER_SLACK_MS = 5_000
# A play this close to a candidate's duration is a full play of it.
FULL_PLAY_MS = 3_000
# Equal-best candidates whose durations differ by more than this are different recordings.
SAME_RECORDING_MS = 5_000
_ALBUM_TYPE_ORDER = {"album": 0, "single": 1, "compilation": 2}
_QUOTES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "“": '"', "”": '"', "„": '"', "″": '"'})


@dataclass(frozen=True)
class Decision:
    """The outcome for one name pair: the chosen URI (or None), status, rule and score."""

    spotify_uri: str | None
    status: str  # matched, not_found, ambiguous
    rule: str
    score: float | None
    candidates: int


def fold(text: str) -> str:
    """Compare form: no case, accents, punctuation or quote styles; "&" as "and"."""
    text = unicodedata.normalize("NFKD", text.translate(_QUOTES))
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = text.replace("&", " and ").replace("'", "")
    text = re.sub(r"[^\w]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def artist_form(name: str) -> str:
    folded = fold(name)
    return folded[4:] if folded.startswith("the ") else folded


def title_parts(title: str, artist: str | None = None) -> tuple[str, tuple[str, ...]]:
    """(the song's title, its version markers but `feat.`), both in compare form."""
    core, markers = song_title(title.translate(_QUOTES), artist)
    return fold(core), tuple(sorted({m for m in markers if m != "feat."}))


def search_query(kind: str, owner: str, item: str) -> str:
    """q= for a pair: field filters on the song's title (all versions come back, the matching
    picks one) and the artist; for episodes the episode's name. Double quotes would end a
    filter early, so they go."""
    clean = lambda text: " ".join(text.replace('"', " ").split())  # noqa: E731
    if kind == "track":
        core, _ = song_title(item.translate(_QUOTES), owner)
        return f'track:"{clean(core) or clean(item)}" artist:"{clean(owner)}"'
    return clean(item)


def choose_track(artist: str, title: str, items: list[dict | None], longest_play_ms: int | None) -> Decision:
    """The track among search `items` that (artist, title) of the export names."""
    want_title, want_markers = title_parts(title, artist)
    want_artist = artist_form(artist)
    candidates = _candidates(items)
    fitting: list[tuple[float, str, dict]] = []
    by_reason: dict[str, int] = {}
    for item in candidates:
        artists = [a.get("name") for a in item.get("artists") or [] if isinstance(a, dict)]
        if want_artist not in {artist_form(a) for a in artists if isinstance(a, str)}:
            by_reason["other artist"] = by_reason.get("other artist", 0) + 1
            continue
        name = item.get("name") if isinstance(item.get("name"), str) else ""
        exact = fold(name) == fold(title)
        core, markers = title_parts(name, artist)
        if not exact and core != want_title:
            by_reason["other title"] = by_reason.get("other title", 0) + 1
            continue
        if not exact and markers != want_markers:
            by_reason["other version"] = by_reason.get("other version", 0) + 1
            continue
        score, rule = (0.95, "title+artist") if exact else (0.85, "same song and version+artist")
        duration = item.get("duration_ms") if isinstance(item.get("duration_ms"), int) else None
        if longest_play_ms is not None and duration:
            # Plays can run a little over (seeking back): a longer play weighs against a
            # candidate rather than ruling it out; a full play of its length speaks for it.
            if longest_play_ms > duration + PLAYED_LONGER_SLACK_MS:
                score, rule = score - 0.2, rule + "-played longer"
            elif abs(longest_play_ms - duration) <= FULL_PLAY_MS:
                score, rule = score + 0.05, rule + "+duration"
        fitting.append((round(score, 3), rule, item))

    if not fitting:
        reason = ", ".join(f"{n} {why}" for why, n in sorted(by_reason.items())) or "no candidate"
        return Decision(None, "not_found", f"none fits ({reason})", None, len(candidates))
    best = max(score for score, _, _ in fitting)
    top = [(rule, item) for score, rule, item in fitting if score == best]
    if len(top) == 1:
        return Decision(top[0][1]["uri"], "matched", top[0][0], best, len(candidates))
    if _different_recordings([item for _, item in top]):
        return Decision(
            None,
            "ambiguous",
            f"{len(top)} different recordings fit equally (other ISRCs and durations)",
            None,
            len(candidates),
        )
    rule, item = min(top, key=lambda pair: _preference(pair[1]))
    return Decision(
        item["uri"], "matched", f"{rule} (1 of {len(top)} equal: album version first)", best, len(candidates)
    )


def choose_episode(show: str, episode: str, items: list[dict | None], shows: dict[str, str]) -> Decision:
    """The episode among search `items` (simplified episodes, without their show) named
    `episode` whose show, looked up in `shows` (episode URI -> show name, from the episode's
    own answer), is `show`."""
    candidates = _candidates(items)
    named = _named(episode, candidates)
    if not named:
        return Decision(None, "not_found", "none fits (no episode of that name)", None, len(candidates))
    fitting = [item for item in named if fold(shows.get(item["uri"], "")) == fold(show)]
    if not fitting:
        return Decision(
            None, "not_found", "none fits (episodes of that name are of other shows)", None, len(candidates)
        )
    if len(fitting) > 1:
        return Decision(
            None, "ambiguous", f"{len(fitting)} episodes of that show have that name", None, len(candidates)
        )
    return Decision(fitting[0]["uri"], "matched", "episode name+show", 1.0, len(candidates))


def episodes_to_check(episode: str, items: list[dict | None]) -> list[str]:
    """URIs of the candidates named like the episode: their show must be looked up."""
    return [item["uri"] for item in _named(episode, _candidates(items))]


def _candidates(items: list[dict | None]) -> list[dict]:
    """The items of an answer that are objects with a URI (pages may hold nulls)."""
    return [item for item in items if isinstance(item, dict) and isinstance(item.get("uri"), str)]


def _named(name: str, candidates: list[dict]) -> list[dict]:
    return [item for item in candidates if fold(str(item.get("name") or "")) == fold(name)]


def _different_recordings(items: list[dict]) -> bool:
    isrcs = {str((item.get("external_ids") or {}).get("isrc") or "").upper() for item in items} - {""}
    durations = [item.get("duration_ms") for item in items if isinstance(item.get("duration_ms"), int)]
    spread = max(durations) - min(durations) if durations else 0
    return len(isrcs) > 1 and spread > SAME_RECORDING_MS


def _preference(item: dict) -> tuple:
    album = item.get("album") if isinstance(item.get("album"), dict) else {}
    album_type = str(album.get("album_type") or "").lower()
    released = str(album.get("release_date") or "9999")
    return (_ALBUM_TYPE_ORDER.get(album_type, 3), released, item["uri"])
