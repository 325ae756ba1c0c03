"""Fetch what the export does not say (durations, ISRCs, albums, all artists, shows) from
the Spotify Web API into the jsonb cache tables of `staging`.

One request per unknown id (or per 50 in batch mode), most-played first, each response
committed as it arrives, so a run stopped by a rate limit, or killed, loses nothing and the
next run carries on without asking for any stored id again. Ids the API does not know go to
`etl_internal.failed_uris`; transient failures are retried by later runs with a growing
delay, up to a limit.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
from psycopg.types.json import Jsonb

from spotify_etl.lib.spotify.client import (
    BATCH_LIMITS,
    SpotifyClient,
    SpotifyDeferred,
    SpotifyForbidden,
    SpotifyItemFailed,
)
from spotify_etl.lib.warehouse.sql_files import load_sql

log = logging.getLogger(__name__)

_ID = re.compile(r"^[0-9A-Za-z]{22}$")
# After this many transient failures an id counts as permanently failed.
MAX_TRANSIENT_ATTEMPTS = 5
# Progress is reported this often (seconds).
_PROGRESS_EVERY_S = 2.0
API = "spotify"
_API_LOCK = "spotify_etl.spotify_api"


@dataclass(frozen=True)
class Entity:
    """One kind of thing to enrich."""

    name: str  # track, artist, episode, podcast
    endpoint: str  # the API's plural: tracks, artists, episodes, shows
    table: str  # staging cache table
    uri_column: str
    uses_market: bool = False


TRACKS = Entity("track", "tracks", "spotify_track_data", "spotify_track_uri")
ARTISTS = Entity("artist", "artists", "spotify_artist_data", "spotify_artist_uri")
EPISODES = Entity("episode", "episodes", "spotify_episode_data", "spotify_episode_uri", uses_market=True)
PODCASTS = Entity("podcast", "shows", "spotify_podcast_data", "spotify_podcast_uri", uses_market=True)


@dataclass
class ApiWorkOutcome:
    """What a run of API work left: pending items, and why it stopped early, if it did."""

    pending: int = 0
    requests: int = 0
    deferred_until: datetime | None = None
    deferred_reason: str | None = None
    skipped_reason: str | None = None

    @property
    def status(self) -> str:
        """One line saying what the run did or why it stopped; each kind of work words its own."""
        raise NotImplementedError

    def stopped_early(self, items: str) -> str | None:
        """The status when the work was skipped or deferred, counting pending `items`."""
        if self.skipped_reason:
            return f"skipped: {self.skipped_reason}, {self.pending} {items} pending"
        if self.deferred_until:
            return (
                f"deferred until {self.deferred_until:%Y-%m-%d %H:%M:%S} UTC ({self.deferred_reason}),"
                f" {self.pending} {items} pending"
            )
        return None


@dataclass
class EnrichmentOutcome(ApiWorkOutcome):
    entity: str = ""
    fetched: int = 0
    failed: int = 0
    failures_by_reason: dict = field(default_factory=dict)

    @property
    def status(self) -> str:
        if stopped := self.stopped_early("ids"):
            return stopped
        return f"complete: {self.fetched} fetched, {self.failed} failed, {self.pending} pending"


def pending_ids(conn: psycopg.Connection, entity: Entity) -> list[str]:
    """URIs to fetch now, most played first: not cached, not failed for good, not waiting."""
    return [uri for (uri,) in conn.execute(load_sql(f"enrichment/pending_{entity.name}s.sql"))]


def resume_state(conn: psycopg.Connection) -> tuple[datetime, str] | None:
    """(when to ask the API again, why) while an earlier deferral still holds."""
    row = conn.execute(load_sql("enrichment/resume_state.sql"), (API,)).fetchone()
    return (row[0], row[1]) if row and row[0] > datetime.now(UTC) else None


def listener_market(conn: psycopg.Connection, configured: str | None) -> str:
    """SPOTIFY_MARKET, else the most frequent conn_country of all plays, else US."""
    if configured:
        return configured
    row = conn.execute(load_sql("enrichment/main_country.sql")).fetchone()
    return row[0] if row and row[0] else "US"


def enrich(
    conn: psycopg.Connection,
    client: SpotifyClient | None,
    entity: Entity,
    *,
    market: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> EnrichmentOutcome:
    """Fetch every pending id of `entity` (or as many as the API allows today)."""
    with exclusive_api_work(conn):
        return _enrich_locked(conn, client, entity, market, progress, EnrichmentOutcome(entity=entity.name))


@contextmanager
def exclusive_api_work(conn: psycopg.Connection) -> Iterator[None]:
    """One client talks to the API at a time, whichever step, run, process or machine it is in:
    nothing is asked twice by parallel runs, and the app's rate limit (the client's limiter) is
    never multiplied by steps running side by side on several workers. The rate limit is what
    bounds this work, so waiting for the lock costs nothing. Every answer is committed as it
    arrives."""
    conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (_API_LOCK,))
    # Not waiting for each commit's flush to disk risks only the last fraction of a second of
    # answers in a server crash, and keeps a commit per answer cheap.
    conn.execute("SET synchronous_commit = off")
    try:
        yield
    finally:
        conn.rollback()
        conn.execute("RESET synchronous_commit")
        conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (_API_LOCK,))
        conn.commit()


def record_deferral(conn: psycopg.Connection, deferred: SpotifyDeferred) -> None:
    """Keep when the API may be asked again (all API work of later runs waits for it)."""
    conn.execute(
        "INSERT INTO etl_internal.api_resume_state (api, resume_at, reason) VALUES (%s, %s, %s)"
        " ON CONFLICT (api) DO UPDATE"
        " SET resume_at = excluded.resume_at, reason = excluded.reason, updated_at = now()",
        (API, deferred.resume_at, deferred.reason),
    )


def _enrich_locked(
    conn: psycopg.Connection,
    client: SpotifyClient | None,
    entity: Entity,
    market: str | None,
    progress: Callable[[str], None] | None,
    outcome: EnrichmentOutcome,
) -> EnrichmentOutcome:
    pending = _without_malformed(conn, entity, pending_ids(conn, entity))
    conn.commit()
    outcome.pending = len(pending)
    if client is None:
        outcome.skipped_reason = "no Spotify credentials"
        return outcome
    if deferred := resume_state(conn):
        # The stored reason: a rate limit, an exhausted quota, or the API unreachable.
        outcome.deferred_until, outcome.deferred_reason = deferred[0], f"still deferred: {deferred[1]}"
        return outcome

    requests_before = client.stats.requests
    started = last_progress = time.monotonic()
    try:
        for done, (uri, obj, failure, last_of_answer) in enumerate(_fetch(client, entity, pending, market), start=1):
            if obj is not None:
                store_answer(conn, entity, uri, obj)
                outcome.fetched += 1
            else:
                log.warning("%s failed: %s", uri, failure.reason, extra={"uri": uri, "http_status": failure.status})
                record_failure(conn, entity.name, uri, failure)
                outcome.failed += 1
                outcome.failures_by_reason[failure.reason] = outcome.failures_by_reason.get(failure.reason, 0) + 1
            outcome.pending -= 1
            if last_of_answer:
                # Each answer is committed before the next request: an answer paid for with
                # a request (and rate-limit budget) is never lost to a kill.
                conn.commit()
            if time.monotonic() - last_progress >= _PROGRESS_EVERY_S:
                last_progress = time.monotonic()
                if progress:
                    rate = done / max(time.monotonic() - started, 1e-9)
                    progress(f"{entity.endpoint}: {done} done, {outcome.pending} pending, {rate:.1f} ids/s")
        conn.execute("DELETE FROM etl_internal.api_resume_state WHERE api = %s", (API,))
    except SpotifyDeferred as deferred:
        record_deferral(conn, deferred)
        outcome.deferred_until, outcome.deferred_reason = deferred.resume_at, deferred.reason
    finally:
        conn.commit()
        outcome.requests = client.stats.requests - requests_before
    return outcome


def _fetch(client: SpotifyClient, entity: Entity, uris: list[str], market: str | None):
    """(uri, object or None, failure or None, last of its answer?) for each uri, in order."""
    ids = [uri.rsplit(":", 1)[1] for uri in uris]
    position = 0
    while position < len(ids):
        if client.batch:
            chunk = ids[position : position + BATCH_LIMITS[entity.endpoint]]
            try:
                results = client.get_many(entity.endpoint, chunk, market)
            except SpotifyForbidden:
                log.warning("batch endpoints refused (403): one request per id from now on")
                client.batch = False
                continue
            for uri, obj in zip(uris[position : position + len(chunk)], results, strict=False):
                failure = None if obj else SpotifyItemFailed(None, "unknown id (null in batch)", permanent=True)
                yield uri, obj, failure, uri == uris[position + len(chunk) - 1]
            position += len(chunk)
            continue
        item_id = ids[position]
        try:
            yield uris[position], client.get_one(entity.endpoint, item_id, market), None, True
        except SpotifyItemFailed as failure:
            yield uris[position], None, failure, True
        position += 1


def store_answer(conn: psycopg.Connection, entity: Entity, uri: str, obj: dict) -> None:
    conn.execute(load_sql(f"enrichment/store_{entity.name}.sql"), {"uri": uri, "raw": Jsonb(obj)})


def record_failure(conn: psycopg.Connection, entity: str, uri: str, failure: SpotifyItemFailed) -> None:
    """A failed request for `uri` (or a name pair): permanent, or retried by later runs."""
    conn.execute(
        load_sql("enrichment/record_failure.sql"),
        {
            "uri": uri,
            "entity": entity,
            "reason": failure.reason,
            "status": failure.status,
            "permanent": failure.permanent,
            "max_attempts": MAX_TRANSIENT_ATTEMPTS,
        },
    )


def _without_malformed(conn: psycopg.Connection, entity: Entity, uris: list[str]) -> list[str]:
    """Ids that are not 22 base62 characters are never sent: they fail here, for good."""
    valid = []
    for uri in uris:
        if _ID.match(uri.rsplit(":", 1)[-1]):
            valid.append(uri)
        else:
            record_failure(conn, entity.name, uri, SpotifyItemFailed(None, "malformed id (not sent)", permanent=True))
    return valid
