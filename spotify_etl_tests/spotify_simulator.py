"""A local Spotify Web API for tests: the real JSON shapes, token flow, status codes and
`Retry-After`, on 127.0.0.1. Behaviour is scripted per test through `SpotifySimulator`."""

from __future__ import annotations

import base64
import json
import random
import re
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

CLIENT_ID = "test-client-id"
CLIENT_SECRET = "test-client-secret-do-not-log"
_ID = re.compile(r"^[0-9A-Za-z]{22}$")
_BATCH_LIMITS = {"tracks": 50, "artists": 50, "albums": 20, "episodes": 50, "shows": 50}


@dataclass
class SpotifySimulator:
    """What the server knows and how it misbehaves. Mutate it from the test."""

    catalog: dict[str, dict[str, dict]] = field(default_factory=lambda: {k: {} for k in _BATCH_LIMITS})
    batch_allowed: bool = False  # development-mode apps lost the batch endpoints in 2026
    owner_premium: bool = True
    # Scripted answers, consumed one per request to /v1: (status, headers, body) or None.
    script: list = field(default_factory=list)
    # Answer 5xx to every n-th API request (0 = never).
    fail_every: int = 0
    # Answer 503 to this share of API requests, drawn from a seeded generator (0 = never).
    fail_ratio: float = 0.0
    rng: random.Random = field(default_factory=lambda: random.Random(8))
    # Seconds each API answer takes, as over a real network.
    delay_s: float = 0.0
    token_down: bool = False
    requests: list[str] = field(default_factory=list)  # paths of API requests, in order
    ids_requested: Counter = field(default_factory=Counter)
    tokens_issued: int = 0
    # Every token handed out, valid or expired since.
    issued_tokens: list = field(default_factory=list)
    valid_tokens: set = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, obj: dict) -> dict:
        self.catalog[kind][obj["id"]] = obj
        return obj

    def expire_tokens(self) -> None:
        self.valid_tokens.clear()


class _Handler(BaseHTTPRequestHandler):
    sim: SpotifySimulator

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, body: object, headers: dict | None = None) -> None:
        payload = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            self.send_header(key, str(value))
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, status: int, message: str, headers: dict | None = None, reason: str | None = None) -> None:
        error = {"status": status, "message": message}
        if reason:
            error["reason"] = reason
        self._send(status, {"error": error}, headers)

    def do_POST(self) -> None:
        sim = self.sim
        if urlparse(self.path).path != "/api/token":
            return self._error(404, "not found")
        if sim.token_down:
            return self._error(503, "Service unavailable")
        length = int(self.headers.get("Content-Length", 0))
        body = parse_qs(self.rfile.read(length).decode())
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            return self._send(400, {"error": "invalid_client", "error_description": "Invalid client"})
        if body.get("grant_type") != ["client_credentials"]:
            return self._send(400, {"error": "unsupported_grant_type"})
        with sim.lock:
            sim.tokens_issued += 1
            # Shaped like Spotify's (they start "BQ"), and unique, so a leak can be searched for.
            token = f"BQ{sim.tokens_issued:03d}{secrets.token_hex(20)}"
            sim.valid_tokens.add(token)
            sim.issued_tokens.append(token)
        self._send(200, {"access_token": token, "token_type": "bearer", "expires_in": 3600})

    def do_GET(self) -> None:
        sim = self.sim
        url = urlparse(self.path)
        with sim.lock:
            sim.requests.append(url.path + ("?" + url.query if url.query else ""))
            count = len(sim.requests)
            scripted = sim.script.pop(0) if sim.script else None
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        if token not in sim.valid_tokens:
            return self._error(401, "The access token expired")
        if scripted is not None:
            status, headers, body = scripted
            return self._send(status, body, headers)
        if sim.delay_s:
            time.sleep(sim.delay_s)
        if sim.fail_every and count % sim.fail_every == 0:
            return self._error(502, "Bad gateway")
        if sim.fail_ratio:
            with sim.lock:
                unlucky = sim.rng.random() < sim.fail_ratio
            if unlucky:
                return self._error(503, "Service unavailable")
        if not sim.owner_premium:
            return self._error(403, "Active premium subscription required for the owner of the app.")

        match = re.match(r"^/v1/(tracks|artists|albums|episodes|shows)(?:/([^/]*))?/?$", url.path)
        if not match:
            return self._error(404, "Service not found")
        kind, item_id = match[1], match[2]
        query = parse_qs(url.query)
        if kind in ("episodes", "shows") and "market" not in query:
            # Without a market a client-credentials token sees no podcast content.
            return self._error(404, "Non existing id")
        if item_id:  # single item
            with sim.lock:
                sim.ids_requested[(kind, item_id)] += 1
            if not _ID.match(item_id):
                return self._error(400, "invalid id")
            obj = sim.catalog[kind].get(item_id)
            return self._send(200, obj) if obj else self._error(404, "Resource not found")
        ids = query.get("ids", [""])[0].split(",")
        if not sim.batch_allowed:
            return self._error(403, "Forbidden")
        if len(ids) > _BATCH_LIMITS[kind]:
            return self._error(400, "Too many ids requested")
        with sim.lock:
            for item_id in ids:
                sim.ids_requested[(kind, item_id)] += 1
        if any(not _ID.match(i) for i in ids):
            return self._error(400, "invalid id")
        self._send(200, {kind: [sim.catalog[kind].get(i) for i in ids]})


class SimulatorServer:
    """The simulator served on 127.0.0.1 in a thread."""

    def __init__(self, sim: SpotifySimulator | None = None):
        self.sim = sim or SpotifySimulator()
        handler = type("Handler", (_Handler,), {"sim": self.sim})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1/"

    @property
    def token_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/api/token"

    def __enter__(self) -> SimulatorServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --- objects in Spotify's shapes (development-mode apps: no popularity, followers, ...) ---


def artist_obj(artist_id: str, name: str, genres: list[str] | None = None) -> dict:
    return {
        "external_urls": {"spotify": f"https://open.spotify.com/artist/{artist_id}"},
        "genres": genres or [],
        "href": f"https://api.spotify.com/v1/artists/{artist_id}",
        "id": artist_id,
        "images": [{"url": f"https://i.scdn.co/image/{artist_id}", "height": 640, "width": 640}],
        "name": name,
        "type": "artist",
        "uri": f"spotify:artist:{artist_id}",
    }


def _simple_artist(artist: dict) -> dict:
    return {k: artist[k] for k in ("external_urls", "href", "id", "name", "type", "uri")}


def track_obj(
    track_id: str,
    name: str,
    artists: list[dict],
    album_id: str,
    album_name: str,
    *,
    duration_ms: int = 200_000,
    isrc: str | None = None,
    release_date: str = "2020-05-01",
    precision: str = "day",
    explicit: bool = False,
    album_type: str = "album",
) -> dict:
    album = {
        "album_type": album_type,
        "total_tracks": 10,
        "external_urls": {"spotify": f"https://open.spotify.com/album/{album_id}"},
        "href": f"https://api.spotify.com/v1/albums/{album_id}",
        "id": album_id,
        "images": [{"url": f"https://i.scdn.co/image/{album_id}", "height": 640, "width": 640}],
        "name": album_name,
        "release_date": release_date,
        "release_date_precision": precision,
        "type": "album",
        "uri": f"spotify:album:{album_id}",
        "artists": [_simple_artist(a) for a in artists[:1]],
    }
    return {
        "album": album,
        "artists": [_simple_artist(a) for a in artists],
        "disc_number": 1,
        "duration_ms": duration_ms,
        "explicit": explicit,
        "external_ids": {"isrc": isrc} if isrc else {},
        "external_urls": {"spotify": f"https://open.spotify.com/track/{track_id}"},
        "href": f"https://api.spotify.com/v1/tracks/{track_id}",
        "id": track_id,
        "is_local": False,
        "name": name,
        "track_number": 1,
        "type": "track",
        "uri": f"spotify:track:{track_id}",
    }


def show_obj(show_id: str, name: str, total_episodes: int = 10) -> dict:
    return {
        "description": f"About {name}",
        "explicit": False,
        "external_urls": {"spotify": f"https://open.spotify.com/show/{show_id}"},
        "href": f"https://api.spotify.com/v1/shows/{show_id}",
        "id": show_id,
        "images": [{"url": f"https://i.scdn.co/image/{show_id}", "height": 640, "width": 640}],
        "languages": ["en"],
        "media_type": "audio",
        "name": name,
        "total_episodes": total_episodes,
        "type": "show",
        "uri": f"spotify:show:{show_id}",
    }


def episode_obj(
    episode_id: str, name: str, show: dict, *, duration_ms: int = 1_800_000, release_date: str = "2024-01-10"
) -> dict:
    return {
        "description": f"Episode {name}",
        "duration_ms": duration_ms,
        "explicit": False,
        "external_urls": {"spotify": f"https://open.spotify.com/episode/{episode_id}"},
        "href": f"https://api.spotify.com/v1/episodes/{episode_id}",
        "id": episode_id,
        "images": [],
        "languages": ["en"],
        "name": name,
        "release_date": release_date,
        "release_date_precision": "day",
        "type": "episode",
        "uri": f"spotify:episode:{episode_id}",
        "show": {
            k: show[k]
            for k in ("description", "external_urls", "href", "id", "images", "name", "type", "uri", "total_episodes")
        },
    }
