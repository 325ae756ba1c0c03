"""The Spotify Web API client: spotipy with the client-credentials flow, and rate limits
handled here rather than inside spotipy.

spotipy's default session retries 429s through urllib3, which sleeps the whole Retry-After
(up to a day) without a word. This client gives spotipy a plain `requests.Session` with no
retries and decides itself: wait a short Retry-After, defer a long one (or an exhausted daily
quota) to a later run, back off on 5xx and connection errors, renew the token once on 401.
Whatever the API does, a run ends in bounded time: an outage (several ids in a row failing
after their retries, or the token endpoint down) and a long 429 storm defer the rest of the
work to a later run instead of failing every id.
"""

from __future__ import annotations

import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from spotify_etl.errors import SpotifyEtlError
from spotify_etl.settings import ApiMode

if TYPE_CHECKING:
    import spotipy

# spotipy and requests are imported where a client is made and used, not with this module:
# the definitions import it, and every command without enrichment (--no-enrich, no
# credentials) would pay their 0.2 s of import.

log = logging.getLogger(__name__)
# spotipy logs request headers (the bearer token) at DEBUG: keep it above that.
logging.getLogger("spotipy").setLevel(logging.INFO)

# The batch endpoints' limits (extended-quota apps only since 2026-03-09).
BATCH_LIMITS = {"tracks": 50, "artists": 50, "albums": 20, "episodes": 50, "shows": 50}
_SINGLE = {"tracks": "track", "artists": "artist", "albums": "album", "episodes": "episode", "shows": "show"}
_WITH_MARKET = {"episodes", "shows"}
# This many ids in a row failing after all their retries means Spotify is down, not the ids.
OUTAGE_STREAK = 3
# How long an outage defers the work.
OUTAGE_PAUSE = timedelta(minutes=15)


class SpotifyDeferred(SpotifyEtlError):
    """The API asked us to wait longer than we will: come back at `resume_at`."""

    def __init__(self, resume_at: datetime, reason: str):
        super().__init__(f"deferred until {resume_at:%Y-%m-%d %H:%M:%S %Z}: {reason}")
        self.resume_at = resume_at
        self.reason = reason


class SpotifyForbidden(SpotifyEtlError):
    """403: a policy stops us (endpoint removed, app owner without Premium)."""


class SpotifyItemFailed(SpotifyEtlError):
    """This id cannot be fetched: permanently (404, 400 invalid id) or for now (5xx)."""

    def __init__(self, status: int | None, reason: str, permanent: bool):
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason
        self.permanent = permanent


@dataclass
class ApiStats:
    requests: int = 0
    retries: int = 0
    waited_s: float = 0.0


class ClientSettings(Protocol):
    """What the client needs to know; spotify_etl.defs.resources.spotify.SpotifyResource is
    the one source of these settings' defaults and descriptions."""

    client_id: str | None
    client_secret: str | None
    api_url: str
    token_url: str
    mode: ApiMode
    requests_per_30s: int
    max_wait_s: float
    max_total_wait_s: float
    max_retries: int
    backoff_s: float
    timeout_s: float


class SpotifyClient:
    """One run's API client: token, rate limiter, statistics."""

    def __init__(self, config: ClientSettings, sleep: Callable[[float], None] = time.sleep):
        if not (config.client_id and config.client_secret):
            raise SpotifyEtlError("no Spotify credentials: set SPOTIPY_CLIENT_ID and SPOTIPY_CLIENT_SECRET")
        self.config = config
        self.sleep = sleep
        self.stats = ApiStats()
        self._sent: deque[float] = deque()
        self.batch = config.mode in ("batch", "auto")
        self.outage_streak = 0  # requests in a row that failed after all their retries
        self.rate_limited_s = 0.0  # waited on 429s in this run
        import requests
        import spotipy
        from spotipy.cache_handler import MemoryCacheHandler

        self.auth = spotipy.SpotifyClientCredentials(
            client_id=config.client_id,
            client_secret=config.client_secret,
            cache_handler=MemoryCacheHandler(),
            requests_session=requests.Session(),
            requests_timeout=config.timeout_s,
        )
        self.auth.OAUTH_TOKEN_URL = config.token_url
        self.sp = spotipy.Spotify(
            auth_manager=self.auth,
            requests_session=requests.Session(),
            requests_timeout=config.timeout_s,
            retries=0,
            status_retries=0,
        )
        self.sp.prefix = config.api_url if config.api_url.endswith("/") else config.api_url + "/"

    # --- public -------------------------------------------------------------------

    def get_one(self, kind: str, item_id: str, market: str | None = None) -> dict:
        fetch = getattr(self.sp, _SINGLE[kind])
        args = {"market": market} if kind in _WITH_MARKET else {}
        return self._call(lambda: fetch(item_id, **args), batch=False)

    def get_many(self, kind: str, ids: list[str], market: str | None = None) -> list[dict | None]:
        """Positional results of a batch call (None for an unknown id). Raises
        SpotifyForbidden when the app may not use batch endpoints."""
        if len(ids) > BATCH_LIMITS[kind]:
            raise ValueError(f"at most {BATCH_LIMITS[kind]} ids per {kind} batch")
        fetch = getattr(self.sp, kind)
        args = {"market": market} if kind in _WITH_MARKET else {}
        return self._call(lambda: fetch(ids, **args), batch=True)[kind]

    def search(self, query: str, kind: str, *, limit: int, offset: int = 0, market: str | None = None) -> dict:
        """One page of `GET /v1/search` for one type: its paging object (items, next, total)."""
        answer = self._call(
            lambda: self.sp.search(query, limit=limit, offset=offset, type=kind, market=market), batch=False
        )
        return answer.get(f"{kind}s") or {}

    # --- the one place that talks to the API ---------------------------------------

    def _call(self, request: Callable[[], dict], *, batch: bool) -> dict:
        import requests
        import spotipy
        from spotipy.oauth2 import SpotifyOauthError

        renewed = False
        failures = 0
        while True:
            self._throttle()
            self.stats.requests += 1
            try:
                result = request()
                self.outage_streak = 0
                return result
            except spotipy.SpotifyException as exc:
                status = exc.http_status
                if status == 429:
                    self._on_rate_limit(exc)
                    continue
                if status == 401 and not renewed:
                    renewed = True
                    self.auth.get_access_token(as_dict=False, check_cache=False)
                    continue
                if status in (400, 404):
                    raise SpotifyItemFailed(status, _message(exc), permanent=True) from None
                if status == 403:
                    raise SpotifyForbidden(_message(exc)) from None
                if status is not None and 500 <= status < 600 or status == -1:
                    failures = self._backoff(failures, f"HTTP {status}", exc)
                    continue
                raise SpotifyItemFailed(status, _message(exc), permanent=False) from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                failures = self._backoff(failures, type(exc).__name__, exc)
            except SpotifyOauthError as exc:  # the token endpoint failed
                if exc.error in ("invalid_client", "unauthorized_client"):
                    raise SpotifyForbidden(f"the token endpoint refused the client credentials ({exc.error})") from None
                try:
                    failures = self._backoff(failures, "token endpoint", exc)
                except SpotifyItemFailed:
                    raise SpotifyDeferred(
                        datetime.now(UTC) + OUTAGE_PAUSE,
                        f"token endpoint unavailable ({self.config.max_retries + 1} attempts)",
                    ) from None

    def _on_rate_limit(self, exc: spotipy.SpotifyException) -> None:
        headers = exc.headers or {}
        try:
            wait = float(headers.get("Retry-After", 1))
        except ValueError:
            wait = 1.0
        text = f"{exc.reason or ''} {exc.msg or ''}"
        if "QUOTA_EXCEEDED" in text:
            raise SpotifyDeferred(
                datetime.now(UTC) + timedelta(seconds=max(wait, 3600)), "daily quota exceeded (429 QUOTA_EXCEEDED)"
            )
        if wait > self.config.max_wait_s:
            raise SpotifyDeferred(
                datetime.now(UTC) + timedelta(seconds=wait), f"rate limited (429, Retry-After {wait:.0f} s)"
            )
        if self.rate_limited_s + wait > self.config.max_total_wait_s:
            raise SpotifyDeferred(
                datetime.now(UTC) + max(timedelta(seconds=wait), OUTAGE_PAUSE),
                f"rate limited for {self.rate_limited_s:.0f} s in this run (429 storm)",
            )
        log.info("Spotify rate limit: waiting %.0f s (Retry-After)", wait)
        self.rate_limited_s += wait
        self.stats.waited_s += wait
        self.sleep(wait)

    def _backoff(self, failures: int, what: str, exc: Exception) -> int:
        failures += 1
        if failures > self.config.max_retries:
            self.outage_streak += 1
            if self.outage_streak >= OUTAGE_STREAK:
                raise SpotifyDeferred(
                    datetime.now(UTC) + OUTAGE_PAUSE,
                    f"Spotify unavailable: {what} on {self.outage_streak} requests in a row",
                )
            raise SpotifyItemFailed(
                getattr(exc, "http_status", None), f"{what} after {failures} attempts", permanent=False
            )
        delay = self.config.backoff_s * 2 ** (failures - 1) * (1 + random.random() / 2)
        log.warning("Spotify %s; retry %d/%d in %.1f s", what, failures, self.config.max_retries, delay)
        self.stats.retries += 1
        self.stats.waited_s += delay
        self.sleep(delay)
        return failures

    def _throttle(self) -> None:
        """At most `requests_per_30s` requests in any rolling 30 seconds."""
        window, limit = 30.0, self.config.requests_per_30s
        now = time.monotonic()
        while self._sent and now - self._sent[0] >= window:
            self._sent.popleft()
        if len(self._sent) >= limit:
            pause = window - (now - self._sent[0])
            self.stats.waited_s += pause
            self.sleep(pause)
            now = time.monotonic()
            while self._sent and now - self._sent[0] >= window:
                self._sent.popleft()
        self._sent.append(now)


def _message(exc: spotipy.SpotifyException) -> str:
    # spotipy's message is "<url>:\n <Spotify's message>"; the URL may hold colons of its own
    # (a port, a search query's field filters).
    text = str(exc.msg or "").rsplit(":\n", 1)[-1].strip()
    return text or f"HTTP {exc.http_status}"
