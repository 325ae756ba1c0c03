"""The simulator's answers held to Spotify's published API description, so it cannot drift from
the documented shapes unnoticed.

The description is the OpenAPI document sonallux/spotify-web-api maintains from Spotify's
reference, as the Pydantic models of the `spotipy-types` package (generated from its 2025.5.18
version; a registry package, so the suite needs nothing fetched). Every answer is validated as
JSON, strictly, with fields the description does not know forbidden. Where Spotify's real
answers differ from that description, or the simulator differs on purpose, DIVERGENCES names
the difference and why, and each test expects exactly those errors and no other.
"""

from __future__ import annotations

import json

import pydantic
import pytest
import requests
from spotipy_types import models

from spotify_etl_tests.spotify_simulator import (
    CLIENT_ID,
    CLIENT_SECRET,
    DEV_MODE_REMOVED,
    SimulatorServer,
    artist_obj,
    episode_obj,
    show_obj,
    track_obj,
)
from spotify_etl_tests.test_enrichment import sid

# Known differences between the answers and the description: (where, pydantic's error type).
# `where` matches the end of an error's location; `*` stands for any one step of it.
DIVERGENCES = {
    # Spotify sends null for the next/previous page at either end of a list; the 2026.5.31
    # description marks them nullable, the 2025.5.18 one these models come from does not.
    "paging ends are null": {("next", "string_type"), ("previous", "string_type")},
    # Image sizes are null for some images (nullable in the 2026.5.31 description).
    "image sizes are null": {("images.*.height", "int_type"), ("images.*.width", "int_type")},
    # Episodes without a preview have a null audio_preview_url (nullable in 2026.5.31).
    "no preview": {("audio_preview_url", "string_type")},
    # Reported from real answers: album_type in upper case, where the description lists lower.
    "upper-case album type": {("album.album_type", "enum")},
    # Not Spotify's: the models type EpisodeObject.type as the literal 'EpisodeObject' (their
    # generator took the description's discriminator name); Spotify and the description say 'episode'.
    "the models' episode type": {("type", "literal_error")},
}
# A development-mode app's answers lack what Spotify removed for it in 2026 (DEV_MODE_REMOVED);
# where the description requires such a field, that is a missing-field error.
DEV_MODE_MISSING = {
    "album": {("label", "missing"), ("popularity", "missing")},
    "show": {("publisher", "missing")},
    "episode": {("show.publisher", "missing")},
}


@pytest.fixture(scope="module", autouse=True)
def strict_models():
    """The description's models with unknown fields forbidden (the package allows them)."""
    classes = [
        c
        for c in vars(models).values()
        if isinstance(c, type) and issubclass(c, pydantic.BaseModel) and c.__module__ == models.__name__
    ]
    saved = {c: c.model_config.get("extra") for c in classes}
    for c in classes:
        c.model_config["extra"] = "forbid"
    for c in classes:
        c.model_rebuild(force=True)
    yield
    for c, extra in saved.items():
        c.model_config.pop("extra", None) if extra is None else c.model_config.update(extra=extra)
        c.model_rebuild(force=True)


@pytest.fixture
def server():
    with SimulatorServer() as running:
        sim = running.sim
        main = sim.add("artists", artist_obj(sid(1, "A"), "Beyoncé", ["pop"]))
        guest = sim.add("artists", artist_obj(sid(2, "A"), "Guest"))
        for i in range(12):
            sim.add("tracks", track_obj(sid(i), f"Halo {i}", [main, guest], sid(i % 3, "L"), f"Album {i % 3}"))
        show = sim.add("shows", show_obj(sid(1, "S"), "The Show"))
        for i in range(3):
            sim.add("episodes", episode_obj(sid(i, "E"), f"Episode {i}", show))
        yield running


def _get(server: SimulatorServer, path: str) -> requests.Response:
    token = requests.post(
        server.token_url, data={"grant_type": "client_credentials"}, auth=(CLIENT_ID, CLIENT_SECRET), timeout=5
    ).json()
    return requests.get(server.api_url + path, headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=5)


def _errors(model: type[pydantic.BaseModel], body: bytes | str) -> set[tuple[str, str]]:
    """(where, error type) of every way `body` departs from the description's `model`."""
    try:
        model.model_validate_json(body, strict=True)
    except pydantic.ValidationError as exc:
        return {(".".join("*" if isinstance(p, int) else str(p) for p in e["loc"]), e["type"]) for e in exc.errors()}
    return set()


def _unexplained(found: set[tuple[str, str]], *allowed: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The errors in `found` that no known divergence in `allowed` explains."""

    def explains(pattern: str, where: str) -> bool:
        steps, tail = pattern.split("."), where.split(".")
        return len(tail) >= len(steps) and all(s in ("*", t) for s, t in zip(steps, tail[-len(steps) :], strict=True))

    return {
        (where, kind)
        for where, kind in found
        if not any(explains(pattern, where) and kind == k for group in allowed for pattern, k in group)
    }


ENDPOINTS = [
    ("tracks", models.TrackObject, sid(1), "?market=DE"),
    ("artists", models.ArtistObject, sid(1, "A"), ""),
    ("albums", models.AlbumObject, sid(1, "L"), ""),
    ("episodes", models.EpisodeObject, sid(1, "E"), "?market=DE"),
    ("shows", models.ShowObject, sid(1, "S"), "?market=DE"),
]


@pytest.mark.parametrize(("kind", "model", "item", "query"), ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
def test_extended_quota_answers_follow_the_description(server, kind, model, item, query) -> None:
    server.sim.extended_quota = True
    answer = _get(server, f"{kind}/{item}{query}")
    assert answer.status_code == 200
    found = _errors(model, answer.content)
    assert _unexplained(found, DIVERGENCES["paging ends are null"], DIVERGENCES["the models' episode type"]) == set()


@pytest.mark.parametrize(("kind", "model", "item", "query"), ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
def test_development_mode_answers_lack_exactly_what_spotify_removed(server, kind, model, item, query) -> None:
    answer = _get(server, f"{kind}/{item}{query}").json()
    for removed in DEV_MODE_REMOVED.get(kind[:-1], ()):
        assert removed not in answer
    found = _errors(model, json.dumps(answer))
    known = (DIVERGENCES["paging ends are null"], DIVERGENCES["the models' episode type"])
    assert _unexplained(found, *known) == DEV_MODE_MISSING.get(kind[:-1], set())


def test_batch_answers_hold_null_for_unknown_ids_though_the_description_says_objects(server) -> None:
    server.sim.batch_allowed = server.sim.extended_quota = True
    answer = _get(server, f"tracks?ids={sid(1)},{sid(99)},{sid(2)}&market=DE").json()
    first, unknown, second = answer["tracks"]
    assert unknown is None  # Spotify's real behaviour: positional, null for an unknown id
    for track in (first, second):
        assert _errors(models.TrackObject, json.dumps(track)) == set()


def test_search_answers_follow_the_description_with_null_paging_ends(server) -> None:
    answer = _get(server, 'search?q=track:"halo" artist:"beyonce"&type=track&limit=5&market=DE')
    assert answer.status_code == 200
    page = answer.json()["tracks"]
    assert (page["total"], len(page["items"]), page["previous"]) == (12, 5, None)
    assert (
        _unexplained(_errors(models.PagingTrackObject, json.dumps(page)), DIVERGENCES["paging ends are null"]) == set()
    )
    last = _get(server, 'search?q=track:"halo"&type=track&limit=10&offset=10&market=DE').json()["tracks"]
    assert (len(last["items"]), last["next"]) == (2, None)


def test_search_limits_and_its_quirks(server) -> None:
    assert _get(server, "search?q=halo&type=track&limit=11").status_code == 400  # development mode: 10 at most
    server.sim.extended_quota = True
    assert _get(server, "search?q=halo&type=track&limit=50").status_code == 200
    assert _get(server, "search?q=HALÓ&type=track").json()["tracks"]["total"] == 12  # case and accents ignored
    assert _get(server, 'search?q=track:"halo" artist:"nobody"&type=track').json()["tracks"]["total"] == 0
    without_market = _get(server, "search?q=episode&type=episode").json()["episodes"]
    assert without_market["total"] == 3 and without_market["items"] == [None, None, None]  # Spotify's quirk
    with_market = _get(server, "search?q=episode&type=episode&market=DE").json()["episodes"]
    found = _errors(models.PagingSimplifiedEpisodeObject, json.dumps(with_market))
    assert _unexplained(found, DIVERGENCES["paging ends are null"]) == set()


def test_errors_and_tokens_are_shaped_as_spotify_sends_them(server) -> None:
    missing = _get(server, f"tracks/{sid(404)}")
    assert missing.status_code == 404
    assert _errors(models.ErrorObject, json.dumps(missing.json()["error"])) == set()
    token = requests.post(
        server.token_url, data={"grant_type": "client_credentials"}, auth=(CLIENT_ID, CLIENT_SECRET), timeout=5
    ).json()
    assert (token["token_type"], token["expires_in"]) == ("Bearer", 3600)
    bogus = requests.get(server.api_url + f"tracks/{sid(1)}", headers={"Authorization": "Bearer nope"}, timeout=5)
    assert (bogus.status_code, bogus.json()["error"]["message"]) == (401, "Invalid access token")
    server.sim.expire_tokens()
    expired = requests.get(
        server.api_url + f"tracks/{sid(1)}", headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=5
    )
    assert (expired.status_code, expired.json()["error"]["message"]) == (401, "The access token expired")


@pytest.mark.parametrize("seed", range(8))
def test_varied_answers_stay_within_the_description_and_its_known_divergences(server, seed) -> None:
    server.sim.vary_seed = seed
    server.sim.extended_quota = True
    allowed = set().union(*DIVERGENCES.values())
    for kind, model, _item, query in ENDPOINTS:
        for item in server.sim.catalog[kind]:
            answer = _get(server, f"{kind}/{item}{query}")
            assert _unexplained(_errors(model, answer.content), allowed) == set(), (kind, item)
