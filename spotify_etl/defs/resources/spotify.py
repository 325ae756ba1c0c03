"""The Spotify Web API as a Dagster resource: the settings of spotify_etl.lib.spotify.client,
shown and editable in the launchpad (the client secret only as the name of its variable)."""

from __future__ import annotations

import time
from collections.abc import Callable

import dagster as dg
from pydantic import Field

from spotify_etl.lib.spotify.client import SpotifyClient
from spotify_etl.settings import (
    DEFAULT_API_MODE,
    DEFAULT_API_URL,
    DEFAULT_REQUESTS_PER_30S,
    DEFAULT_TOKEN_URL,
    ApiMode,
    Settings,
)


class SpotifyResource(dg.ConfigurableResource):
    """Spotify Web API (client credentials) for enrichment. Without credentials the enrichment
    assets report the pending work and skip."""

    client_id: str | None = Field(default=None, description="App client id (SPOTIPY_CLIENT_ID).")
    client_secret: str | None = Field(default=None, description="App client secret (SPOTIPY_CLIENT_SECRET).")
    api_url: str = Field(default=DEFAULT_API_URL, description="Web API base URL (SPOTIFY_API_URL).")
    token_url: str = Field(default=DEFAULT_TOKEN_URL, description="Token endpoint (SPOTIFY_TOKEN_URL).")
    mode: ApiMode = Field(
        default=DEFAULT_API_MODE,
        description="single: one request per id, all a development-mode app may do since March 2026; batch: "
        "the multi-id endpoints of an extended-quota app; auto: batch until a batch call answers 403, then "
        "single (SPOTIFY_API_MODE).",
    )
    requests_per_30s: int = Field(
        default=DEFAULT_REQUESTS_PER_30S,
        description="Client-side limit on requests per rolling 30 s (SPOTIFY_API_REQUESTS_PER_30S).",
    )
    market: str | None = Field(
        default=None,
        description="Market (ISO country) for episode and show lookups (SPOTIFY_MARKET); unset: each "
        "listener's most frequent conn_country.",
    )
    max_wait_s: float = Field(default=60, description="Longest Retry-After to wait in the run; longer defers.")
    max_total_wait_s: float = Field(
        default=900, description="Longest total waiting on 429s in one run; beyond it the rest is deferred."
    )
    max_retries: int = Field(default=4, description="Retries of a 5xx or connection error per request.")
    backoff_s: float = Field(default=1.0, description="First backoff after a 5xx; doubles each retry.")
    timeout_s: float = Field(default=15, description="HTTP timeout per request.")

    @classmethod
    def from_settings(cls, settings: Settings) -> SpotifyResource:
        credentials = (
            {"client_id": dg.EnvVar("SPOTIPY_CLIENT_ID"), "client_secret": dg.EnvVar("SPOTIPY_CLIENT_SECRET")}
            if settings.spotify_credentials
            else {}
        )
        return cls(
            **credentials,
            api_url=settings.api_url,
            token_url=settings.token_url,
            mode=settings.api_mode,
            requests_per_30s=settings.requests_per_30s,
            market=settings.market,
        )

    @property
    def has_credentials(self) -> bool:
        return bool(self.client_id and self.client_secret)

    def client(self, sleep: Callable[[float], None] = time.sleep) -> SpotifyClient:
        return SpotifyClient(self, sleep)
