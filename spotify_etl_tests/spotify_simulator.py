"""A local Spotify Web API for tests, on 127.0.0.1: the published JSON shapes (held to Spotify's
OpenAPI description by test_simulator_conformance.py), token flow, status codes and
`Retry-After`; tracks, artists, albums, episodes and shows singly and in batches, and search.
Behaviour is scripted per test through `SpotifySimulator`.

Answers come in development-mode form by default: the fields Spotify removed for such apps in
2026 are absent (DEV_MODE_REMOVED); `extended_quota=True` serves them. `vary_seed` varies the
optional and nullable fields of every answer (seeded per object) the way Spotify may: absent,
null, empty, relinked, restricted, an album type in upper case."""

from __future__ import annotations

import base64
import copy
import functools
import json
import random
import re
import secrets
import threading
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

CLIENT_ID = "test-client-id"
CLIENT_SECRET = "test-client-secret-do-not-log"
_ID = re.compile(r"^[0-9A-Za-z]{22}$")
_BATCH_LIMITS = {"tracks": 50, "artists": 50, "albums": 20, "episodes": 50, "shows": 50}
# A development-mode app's search pages hold at most this many items (an extended one's 50).
DEV_MODE_SEARCH_LIMIT = 10
# Fields Spotify removed from development-mode apps' answers in 2026, by object type.
DEV_MODE_REMOVED = {
    "track": ("popularity", "available_markets", "linked_from"),
    "album": ("label", "popularity"),
    "artist": ("followers", "popularity"),
    "show": ("publisher",),
}


@dataclass
class SpotifySimulator:
    """What the server knows and how it misbehaves. Mutate it from the test."""

    catalog: dict[str, dict[str, dict]] = field(default_factory=lambda: {k: {} for k in _BATCH_LIMITS})
    batch_allowed: bool = False  # development-mode apps lost the batch endpoints in 2026
    extended_quota: bool = False  # serve the fields development-mode apps lost (DEV_MODE_REMOVED)
    vary_seed: int | None = None  # vary optional and nullable fields of every answer, seeded
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
        if kind == "tracks":  # its album becomes fetchable, with the tracks known on it
            album = self.catalog["albums"].setdefault(obj["album"]["id"], album_obj(obj["album"], []))
            album["tracks"]["items"].append(simplified_track(obj))
            album["tracks"]["total"] = len(album["tracks"]["items"])
        return obj

    def answer(self, obj: dict | None, market: str | None = None) -> dict | None:
        """`obj` as this app would receive it: development-mode or extended, varied or not."""
        if obj is None:
            return None
        served = copy.deepcopy(obj)
        if self.vary_seed is not None:
            _vary(served, random.Random(f"{self.vary_seed}:{obj.get('id')}"))
        if market and served.get("type") == "track":
            served.setdefault("is_playable", True)  # track relinking applies with a market
        if not self.extended_quota:
            _strip(served, DEV_MODE_REMOVED)
        return served

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
        self._send(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600})

    def do_GET(self) -> None:
        sim = self.sim
        url = urlparse(self.path)
        with sim.lock:
            sim.requests.append(url.path + ("?" + url.query if url.query else ""))
            count = len(sim.requests)
            scripted = sim.script.pop(0) if sim.script else None
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        if token not in sim.valid_tokens:
            if token in sim.issued_tokens:
                return self._error(401, "The access token expired")
            return self._error(401, "Invalid access token")
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

        query = parse_qs(url.query)
        market = query.get("market", [None])[0]
        if url.path.rstrip("/") == "/v1/search":
            return self._search(query, market)
        match = re.match(r"^/v1/(tracks|artists|albums|episodes|shows)(?:/([^/]*))?/?$", url.path)
        if not match:
            return self._error(404, "Service not found")
        kind, item_id = match[1], match[2]
        if kind in ("episodes", "shows") and not market:
            # Without a market a client-credentials token sees no podcast content.
            return self._error(404, "Non existing id")
        if item_id:  # single item
            with sim.lock:
                sim.ids_requested[(kind, item_id)] += 1
            if not _ID.match(item_id):
                return self._error(400, "invalid id")
            obj = sim.catalog[kind].get(item_id)
            return self._send(200, sim.answer(obj, market)) if obj else self._error(404, "Resource not found")
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
        # Unknown ids are null items: what Spotify does, though its description types the items
        # as objects (a divergence test_simulator_conformance.py names).
        self._send(200, {kind: [sim.answer(sim.catalog[kind].get(i), market) for i in ids]})

    def _search(self, query: dict, market: str | None) -> None:
        """GET /v1/search: field filters (track:, artist:, album:, year:) and free words, matched
        as whole words without regard to case, accents or punctuation; one page of each type
        asked for, in catalog order (not ranked: the client must not rely on a first hit)."""
        sim = self.sim
        text = query.get("q", [""])[0]
        types = [t for t in query.get("type", [""])[0].split(",") if t]
        if not text or not types:
            return self._error(400, "No search query" if not text else "Missing parameter type")
        if any(t not in ("track", "episode", "artist", "album", "show") for t in types):
            return self._error(400, "Bad search type field")
        maximum = 50 if sim.extended_quota else DEV_MODE_SEARCH_LIMIT
        try:
            limit = int(query.get("limit", [str(min(20, maximum))])[0])
            offset = int(query.get("offset", ["0"])[0])
        except ValueError:
            return self._error(400, "Invalid limit")
        if not 0 < limit <= maximum or offset < 0:
            return self._error(400, "Invalid limit")
        filters, words = _parse_query(text)
        answer = {}
        for kind in types:
            found = [obj for obj in sim.catalog[f"{kind}s"].values() if _matches(kind, obj, filters, words)]
            found.sort(key=lambda obj: obj["id"])
            page = found[offset : offset + limit]
            if kind == "episode":
                # Without a market a client-credentials token sees no podcast content: null items.
                items = [simplified_episode(sim.answer(obj, market)) if market else None for obj in page]
            else:
                items = [sim.answer(obj, market) for obj in page]
            base = f"https://api.spotify.com/v1/search?query={text}&type={kind}"
            answer[f"{kind}s"] = {
                "href": f"{base}&offset={offset}&limit={limit}",
                "items": items,
                "limit": limit,
                "next": f"{base}&offset={offset + limit}&limit={limit}" if offset + limit < len(found) else None,
                "offset": offset,
                "previous": f"{base}&offset={max(0, offset - limit)}&limit={limit}" if offset else None,
                "total": len(found),
            }
        self._send(200, answer)


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


# --- search ------------------------------------------------------------------------------------

_FILTER = re.compile(r'(\w+):(?:"([^"]*)"|(\S+))')


@functools.cache  # every search folds the whole catalog's names
def _fold(text: str) -> str:
    """Case-, accent- and punctuation-insensitive form of a text, as Spotify's search matches
    (it matches words: quotes and apostrophes of any style, dashes and brackets do not count)."""
    decomposed = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    folded = re.sub(r"['’‘`´]", "", folded)
    return " ".join(re.sub(r"[^\w]+", " ", folded).split())


def _parse_query(text: str) -> tuple[dict[str, str], list[str]]:
    filters = {m[1].lower(): _fold(m[2] if m[2] is not None else m[3]) for m in _FILTER.finditer(text)}
    words = [_fold(w) for w in _FILTER.sub(" ", text).split()]
    return filters, words


def _matches(kind: str, obj: dict, filters: dict[str, str], words: list[str]) -> bool:
    fields = {
        "track": _fold(obj.get("name") or ""),
        "artist": " ".join(_fold(a.get("name") or "") for a in obj.get("artists") or [])
        if kind in ("track", "album")
        else _fold(obj.get("name") or ""),
        "album": _fold((obj.get("album") or {}).get("name") or "") if kind == "track" else _fold(obj.get("name") or ""),
        "year": ((obj.get("album") or obj).get("release_date") or "")[:4],
        "show": _fold((obj.get("show") or {}).get("name") or ""),
        "name": _fold(obj.get("name") or ""),
    }
    # Spotify matches words, not parts of words: a filter's phrase must stand as whole words.
    if any(name not in fields or f" {value} " not in f" {fields[name]} " for name, value in filters.items()):
        return False
    haystack = set(" ".join(fields.values()).split())
    return all(word in haystack for word in words)


# --- development mode and variation ---------------------------------------------------------------


def _strip(value, removed: dict[str, tuple[str, ...]]) -> None:
    """Drop, in place and at any depth, the fields `removed` names for an object's type."""
    if isinstance(value, dict):
        for name in removed.get(value.get("type"), ()):
            value.pop(name, None)
        for child in value.values():
            _strip(child, removed)
    elif isinstance(value, list):
        for child in value:
            _strip(child, removed)


def _vary(obj: dict, rng: random.Random) -> None:
    """Vary, in place, what Spotify may vary: optional fields absent, nullable ones null, lists
    empty, a track relinked or restricted, images without sizes, an album type in upper case
    (reported from real answers, though the description says lower)."""
    kind = obj.get("type")
    album = obj.get("album") if kind == "track" else None
    for holder in (obj, album, obj.get("show") if kind == "episode" else None):
        if holder and holder.get("images") is not None:
            roll = rng.random()
            if roll < 0.25:
                holder["images"] = []
            elif roll < 0.5:
                for image in holder["images"]:
                    image["height"] = image["width"] = None
    if kind == "track":
        for name in ("popularity", "external_ids", "preview_url", "disc_number", "explicit", "is_local"):
            if rng.random() < 0.2:
                obj.pop(name, None)
        if rng.random() < 0.3:
            obj["preview_url"] = None
        if rng.random() < 0.2:
            obj["is_playable"] = False
            obj["restrictions"] = {"reason": rng.choice(["market", "product", "explicit"])}
        if rng.random() < 0.2:
            obj["linked_from"] = {k: obj[k] for k in ("external_urls", "href", "id", "type", "uri")}
        if album and rng.random() < 0.3:
            album["album_type"] = album["album_type"].upper()
        if album and rng.random() < 0.3:
            album["release_date"], album["release_date_precision"] = rng.choice(
                [("1981", "year"), ("1981-06", "month"), ("0000", "year")]
            )
    elif kind == "artist":
        if rng.random() < 0.4:
            obj["genres"] = []
        if rng.random() < 0.2:
            obj["images"] = []
    elif kind == "episode":
        if rng.random() < 0.4:
            obj["audio_preview_url"] = None
        if rng.random() < 0.3:
            obj["release_date"], obj["release_date_precision"] = rng.choice([("2019", "year"), ("2019-03", "month")])
        if rng.random() < 0.2:
            obj["is_playable"] = False
            obj["restrictions"] = {"reason": "market"}
        if rng.random() < 0.2:
            obj["languages"] = []
    elif kind == "show":
        if rng.random() < 0.3:
            obj["copyrights"] = []
        if rng.random() < 0.3:
            obj["html_description"] = ""


# --- objects in Spotify's published shapes (fields a development-mode app loses included) -------


def _image(object_id: str) -> dict:
    return {"url": f"https://i.scdn.co/image/{object_id}", "height": 640, "width": 640}


def _links(kind: str, object_id: str) -> dict:
    return {
        "external_urls": {"spotify": f"https://open.spotify.com/{kind}/{object_id}"},
        "href": f"https://api.spotify.com/v1/{kind}s/{object_id}",
        "id": object_id,
        "type": kind,
        "uri": f"spotify:{kind}:{object_id}",
    }


def artist_obj(artist_id: str, name: str, genres: list[str] | None = None) -> dict:
    return {
        **_links("artist", artist_id),
        "followers": {"href": None, "total": 1000},
        "genres": genres or [],
        "images": [_image(artist_id)],
        "name": name,
        "popularity": 50,
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
        **_links("album", album_id),
        "album_type": album_type,
        "total_tracks": 10,
        "available_markets": ["DE", "SE", "US"],
        "images": [_image(album_id)],
        "name": album_name,
        "release_date": release_date,
        "release_date_precision": precision,
        "artists": [_simple_artist(a) for a in artists[:1]],
    }
    return {
        **_links("track", track_id),
        "album": album,
        "artists": [_simple_artist(a) for a in artists],
        "available_markets": ["DE", "SE", "US"],
        "disc_number": 1,
        "duration_ms": duration_ms,
        "explicit": explicit,
        "external_ids": {"isrc": isrc} if isrc else {},
        "is_local": False,
        "name": name,
        "popularity": 40,
        "preview_url": None,
        "track_number": 1,
    }


def simplified_track(track: dict) -> dict:
    """A track as an album lists it (no album, external ids or popularity)."""
    return {k: v for k, v in track.items() if k not in ("album", "external_ids", "popularity")}


def album_obj(album: dict, tracks: list[dict]) -> dict:
    """The full album of a track's simplified one, with `tracks` as its first page."""
    return {
        **album,
        "tracks": {
            "href": f"{album['href']}/tracks?offset=0&limit=50",
            "items": [simplified_track(t) for t in tracks],
            "limit": 50,
            "next": None,
            "offset": 0,
            "previous": None,
            "total": len(tracks),
        },
        "copyrights": [{"text": f"(P) {album['release_date'][:4]} {album['name']}", "type": "P"}],
        "external_ids": {"upc": "00602537000000"},
        "genres": [],
        "label": "Label",
        "popularity": 30,
    }


def show_obj(show_id: str, name: str, total_episodes: int = 10) -> dict:
    return {
        **_links("show", show_id),
        "available_markets": ["DE", "SE", "US"],
        "copyrights": [],
        "description": f"About {name}",
        "html_description": f"<p>About {name}</p>",
        "explicit": False,
        "images": [_image(show_id)],
        "is_externally_hosted": False,
        "languages": ["en"],
        "media_type": "audio",
        "name": name,
        "publisher": "Publisher",
        "total_episodes": total_episodes,
        "episodes": {
            "href": f"https://api.spotify.com/v1/shows/{show_id}/episodes?offset=0&limit=50",
            "items": [],
            "limit": 50,
            "next": None,
            "offset": 0,
            "previous": None,
            "total": 0,
        },
    }


def episode_obj(
    episode_id: str, name: str, show: dict, *, duration_ms: int = 1_800_000, release_date: str = "2024-01-10"
) -> dict:
    return {
        **_links("episode", episode_id),
        "audio_preview_url": f"https://podz-content.spotifycdn.com/audio/clips/{episode_id}.mp3",
        "description": f"Episode {name}",
        "html_description": f"<p>Episode {name}</p>",
        "duration_ms": duration_ms,
        "explicit": False,
        "images": [],
        "is_externally_hosted": False,
        "is_playable": True,
        "language": "en",
        "languages": ["en"],
        "name": name,
        "release_date": release_date,
        "release_date_precision": "day",
        "show": {k: v for k, v in show.items() if k != "episodes"},
    }


def simplified_episode(episode: dict) -> dict:
    """An episode as search and a show list it (without its show)."""
    return {k: v for k, v in episode.items() if k != "show"}
