"""Resolve plays without a Spotify id (account data, the 2020 vintage of extended history) by
name: each distinct (artist, title) or (show, episode) pair once, ever, for every listener.

In order, cheapest first:
  1. the manual file (data/name_matches.csv) pins a pair to an item or forbids any;
  2. names the export itself played with an id (extended history) take that id: no request;
  3. placeholder names (`Unknown Track`, an empty artist) are not searched;
  4. the rest are searched (`GET /v1/search`, field filters, development mode's page of 10),
     most played first; the answer is kept (staging.spotify_search_data) and the choice made
     from it by spotify_etl.lib.spotify.name_matching, kept with its rule and score
     (etl_internal.name_matches). A chosen track is cached from the search answer (a full
     track object: no second request); an episode's show is read from its own answer, which
     the episode cache keeps.
Each pair's answers and decision are committed together before the next request; rate limits,
quotas and outages defer the rest exactly as id enrichment does (the same stored resume time).
"""

from __future__ import annotations

import csv
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from spotify_etl.lib.export.records import NAME_SEPARATOR
from spotify_etl.lib.spotify.client import SpotifyClient, SpotifyDeferred, SpotifyItemFailed
from spotify_etl.lib.spotify.enrichment import (
    API,
    EPISODES,
    TRACKS,
    ApiWorkOutcome,
    exclusive_api_work,
    listener_market,
    record_deferral,
    record_failure,
    resume_state,
    store_answer,
)
from spotify_etl.lib.spotify.name_matching import (
    Decision,
    choose_episode,
    choose_track,
    episodes_to_check,
    search_query,
)
from spotify_etl.lib.warehouse.sql_files import load_sql

log = logging.getLogger(__name__)

# Development-mode apps get at most 10 items a page since February 2026 (a larger limit is a 400).
PAGE_SIZE = 10
# A pair whose first page holds no fitting candidate may look at this many pages in all.
MAX_PAGES = 2
# Episodes named like the one sought whose show is looked up, at most.
MAX_EPISODES_CHECKED = 3
PLACEHOLDERS = {"", "unknown artist", "unknown track", "unknown podcast", "unknown episode"}
# The rule of a pair whose override was taken back: decided again from its kept answer, or
# searched if it never was.
TAKEN_BACK = "override taken back; to be decided again"
_PROGRESS_EVERY_S = 2.0


@dataclass(frozen=True)
class NamePair:
    name_key: str
    kind: str  # track or episode
    owner: str  # artist or show
    item: str  # title or episode name

    @classmethod
    def from_key(cls, name_key: str) -> NamePair:
        kind, names = name_key.split(":", 1)
        owner, _, item = names.partition(NAME_SEPARATOR)
        return cls(name_key, kind, owner, item)

    @classmethod
    def of(cls, kind: str, owner: str, item: str) -> NamePair:
        return cls(f"{kind}:{owner}{NAME_SEPARATOR}{item}", kind, owner, item)


@dataclass
class ResolutionOutcome(ApiWorkOutcome):
    searched: int = 0
    matched: int = 0
    from_export: int = 0
    unresolved: int = 0
    overrides: int = 0
    market: str | None = None
    by_status: dict = field(default_factory=dict)

    @property
    def status(self) -> str:
        if stopped := self.stopped_early("pairs"):
            return stopped
        return (
            f"complete: {self.searched} searched, {self.matched} matched, {self.from_export} from the export's ids,"
            f" {self.unresolved} unresolved, {self.pending} pending"
        )


def read_overrides(path: Path) -> dict[str, str | None]:
    """data/name_matches.csv: `kind,owner,name,spotify_uri` (kind track or episode; owner the
    artist or show as the export names it); an empty spotify_uri forbids any match."""
    if not path.exists():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(line for line in handle if not line.lstrip().startswith("#"))
        missing = {"kind", "owner", "name", "spotify_uri"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(
                f"{path}: expected columns kind,owner,name,spotify_uri (missing {', '.join(sorted(missing))})"
            )
        overrides = {}
        for line, row in enumerate(reader, start=2):
            kind = (row["kind"] or "").strip()
            if kind not in ("track", "episode"):
                raise ValueError(f"{path}, line {line}: kind must be track or episode, not {kind!r}")
            uri = (row["spotify_uri"] or "").strip() or None
            if uri and not uri.startswith(f"spotify:{kind}:"):
                raise ValueError(f"{path}, line {line}: {uri!r} is no spotify:{kind}: URI")
            overrides[NamePair.of(kind, row["owner"], row["name"]).name_key] = uri
        return overrides


def resolve_names(
    conn: psycopg.Connection,
    client: SpotifyClient | None,
    *,
    overrides: dict[str, str | None] | None = None,
    market: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> ResolutionOutcome:
    """Decide every pending name pair (or as many as the API allows today). Episodes are
    searched in `market`, else the listeners' most frequent country (found only when there is
    something to search)."""
    with exclusive_api_work(conn):
        outcome = ResolutionOutcome()
        outcome.overrides = _apply_overrides(conn, overrides or {})
        pending = conn.execute(load_sql("enrichment/pending_names.sql"), {"taken_back": TAKEN_BACK}).fetchall()
        if pending:
            from_export = conn.execute(
                load_sql("enrichment/names_from_export.sql"), {"name_keys": [key for key, _, _ in pending]}
            ).fetchall()
            outcome.from_export = len(from_export)
            resolved = {key for (key,) in from_export}
            pending = [row for row in pending if row[0] not in resolved]
        kept = dict(
            conn.execute(
                "SELECT name_key, raw_data FROM staging.spotify_search_data WHERE name_key = ANY(%s)",
                ([key for key, _, _ in pending],),
            )
        )
        to_search = []
        for key, plays, longest_ms in pending:
            pair = NamePair.from_key(key)
            if _placeholder(pair):
                decision = Decision(None, "not_found", "placeholder names", None, 0)
            elif key in kept:  # an override taken back: decided again from the kept answer
                decision = _decide_kept(conn, pair, kept[key], longest_ms)
            else:
                to_search.append((key, plays, longest_ms))
                continue
            _decide(conn, pair, decision)
            outcome.matched += decision.spotify_uri is not None
            outcome.unresolved += decision.spotify_uri is None
        pending = to_search
        conn.commit()
        outcome.pending = len(pending)
        if pending and client is None:
            outcome.skipped_reason = "no Spotify credentials"
        elif pending and (deferred := resume_state(conn)):
            outcome.deferred_until, outcome.deferred_reason = deferred[0], f"still deferred: {deferred[1]}"
        elif pending:
            outcome.market = listener_market(conn, market)
            _search_all(conn, client, pending, outcome.market, progress, outcome)
        outcome.by_status = dict(conn.execute("SELECT status, count(*) FROM etl_internal.name_matches GROUP BY 1"))
        conn.commit()
        return outcome


def _search_all(
    conn: psycopg.Connection,
    client: SpotifyClient,
    pending: list[tuple[str, int, int | None]],
    market: str,
    progress: Callable[[str], None] | None,
    outcome: ResolutionOutcome,
) -> None:
    requests_before = client.stats.requests
    started = last_progress = time.monotonic()
    try:
        for done, (name_key, _plays, longest_ms) in enumerate(pending, start=1):
            pair = NamePair.from_key(name_key)
            try:
                decision = _search(conn, client, pair, longest_ms, market)
            except SpotifyItemFailed as failure:
                log.warning("search for %r failed: %s", pair.name_key, failure.reason)
                if failure.permanent:  # the query itself was refused: recorded, never asked again
                    _decide(conn, pair, Decision(None, "not_found", f"search refused ({failure})", None, 0))
                    outcome.unresolved += 1
                else:  # asked again by a later run, after a growing delay
                    record_failure(conn, "search", name_key, failure)
            else:
                _decide(conn, pair, decision)
                outcome.searched += 1
                if decision.spotify_uri:
                    outcome.matched += 1
                else:
                    outcome.unresolved += 1
            outcome.pending -= 1
            conn.commit()
            if progress and time.monotonic() - last_progress >= _PROGRESS_EVERY_S:
                last_progress = time.monotonic()
                rate = done / max(time.monotonic() - started, 1e-9)
                progress(f"search: {done} pairs done, {outcome.pending} pending, {rate:.1f} pairs/s")
        conn.execute("DELETE FROM etl_internal.api_resume_state WHERE api = %s", (API,))
    except SpotifyDeferred as deferred:
        conn.rollback()
        record_deferral(conn, deferred)
        outcome.deferred_until, outcome.deferred_reason = deferred.resume_at, deferred.reason
    finally:
        conn.commit()
        outcome.requests = client.stats.requests - requests_before


def _search(
    conn: psycopg.Connection, client: SpotifyClient, pair: NamePair, longest_ms: int | None, market: str | None
) -> Decision:
    """Search for a pair (a second page only when the first holds nothing that fits), keep the
    answers, and decide."""
    query = search_query(pair.kind, pair.owner, pair.item)
    pages: list[dict] = []
    shows: dict[str, str] = {}
    decision = None
    while len(pages) < MAX_PAGES:
        page = client.search(query, pair.kind, limit=PAGE_SIZE, offset=len(pages) * PAGE_SIZE, market=market)
        pages.append(page)
        items = [item for answer in pages for item in (answer.get("items") or [])]
        if pair.kind == "track":
            decision = choose_track(pair.owner, pair.item, items, longest_ms)
        else:
            for uri in episodes_to_check(pair.item, items)[:MAX_EPISODES_CHECKED]:
                if uri not in shows:
                    shows[uri] = _episode_show(conn, client, uri, market)
            decision = choose_episode(pair.owner, pair.item, items, shows)
        if decision.spotify_uri or not page.get("next"):
            break
    conn.execute(
        load_sql("enrichment/store_search.sql"),
        {"name_key": pair.name_key, "query": query, "raw": Jsonb({"pages": pages}), "requests": len(pages)},
    )
    if pair.kind == "track" and decision.spotify_uri:
        chosen = next(item for item in items if isinstance(item, dict) and item.get("uri") == decision.spotify_uri)
        store_answer(conn, TRACKS, decision.spotify_uri, chosen)
    return decision


def _decide_kept(conn: psycopg.Connection, pair: NamePair, raw: dict, longest_ms: int | None) -> Decision:
    """Decide again from a kept answer: no request."""
    items = [item for answer in raw.get("pages") or [] for item in (answer.get("items") or [])]
    if pair.kind == "track":
        return choose_track(pair.owner, pair.item, items, longest_ms)
    shows = {
        uri: show or ""
        for uri, show in conn.execute(
            "SELECT spotify_episode_uri, raw_data -> 'show' ->> 'name' FROM staging.spotify_episode_data"
            " WHERE spotify_episode_uri = ANY(%s)",
            (episodes_to_check(pair.item, items),),
        )
    }
    return choose_episode(pair.owner, pair.item, items, shows)


def _episode_show(conn: psycopg.Connection, client: SpotifyClient, uri: str, market: str | None) -> str:
    """The show of an episode, from its cached answer or by asking for it (and caching it, so
    that id enrichment does not ask again)."""
    row = conn.execute(
        "SELECT raw_data -> 'show' ->> 'name' FROM staging.spotify_episode_data WHERE spotify_episode_uri = %s", (uri,)
    ).fetchone()
    if row:
        return row[0] or ""
    try:
        answer = client.get_one(EPISODES.endpoint, uri.rsplit(":", 1)[-1], market)
    except SpotifyItemFailed:
        return ""
    store_answer(conn, EPISODES, uri, answer)
    show = answer.get("show") if isinstance(answer, dict) else None
    return str(show.get("name") or "") if isinstance(show, dict) else ""


def _decide(conn: psycopg.Connection, pair: NamePair, decision: Decision) -> None:
    conn.execute(
        load_sql("enrichment/store_name_match.sql"),
        {
            "name_key": pair.name_key,
            "kind": pair.kind,
            "uri": decision.spotify_uri,
            "status": decision.status,
            "rule": decision.rule,
            "score": decision.score,
            "candidates": decision.candidates,
        },
    )


def _apply_overrides(conn: psycopg.Connection, overrides: dict[str, str | None]) -> int:
    """Pin or forbid what the file says; a pair taken out of the file is decided again from its
    kept answer by the search loop (or searched, if it never was)."""
    for name_key, uri in overrides.items():
        pair = NamePair.from_key(name_key)
        status = "pinned" if uri else "forbidden"
        _decide(conn, pair, Decision(uri, status, "override", 1.0 if uri else None, 0))
    conn.execute(
        "UPDATE etl_internal.name_matches SET spotify_uri = NULL, status = 'not_found', rule = %s, score = NULL,"
        " decided_at = now(), applied = false"
        " WHERE rule = 'override' AND NOT (name_key = ANY(%s))",
        (TAKEN_BACK, list(overrides)),
    )
    return len(overrides)


def _placeholder(pair: NamePair) -> bool:
    return pair.owner.strip().casefold() in PLACEHOLDERS or pair.item.strip().casefold() in PLACEHOLDERS
