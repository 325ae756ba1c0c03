"""What every asset that talks to the Spotify API shares: a client only when there are
credentials (without them the work is reported pending, never failed), a refusal (403) as the
one failure, and the outcome's status, pending items, requests and resume time as metadata."""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from spotify_etl.defs.resources import SpotifyResource
from spotify_etl.lib.spotify.client import SpotifyClient, SpotifyForbidden
from spotify_etl.lib.spotify.enrichment import ApiWorkOutcome


def client_if_configured(spotify: SpotifyResource) -> SpotifyClient | None:
    return spotify.client() if spotify.has_credentials else None


@contextmanager
def refusal_fails_the_step() -> Iterator[None]:
    """A 403 is a setting to fix (the app's access), not a rate limit to wait out: the step
    fails, saying so; everything fetched before it is kept (each answer is committed)."""
    try:
        yield
    except SpotifyForbidden as exc:
        raise dg.Failure(
            description=f"Spotify refused the request (403): {exc}. What was fetched so far is kept."
        ) from exc


def outcome_metadata(outcome: ApiWorkOutcome) -> dict:
    """Status (each kind of outcome words its own), pending, requests, and the resume time."""
    metadata = {"status": outcome.status, "pending": outcome.pending, "requests": outcome.requests}
    if outcome.deferred_until:
        metadata["deferred_until"] = outcome.deferred_until.isoformat()
    return metadata
