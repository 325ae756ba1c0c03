"""Answers of every shape the Spotify API may send reach the dimensions: a field present,
absent, null, empty, of another type or case never stops a build; what cannot be used is read
as NULL (or converted) and listed by etl_internal.api_values and the api_values_usable check."""

from __future__ import annotations

import pytest

from spotify_etl_tests.export_factory import episode_play, play, write_json
from spotify_etl_tests.pipeline_helpers import check_results, materialize_all
from spotify_etl_tests.spotify_simulator import SimulatorServer, artist_obj, episode_obj, show_obj, track_obj
from spotify_etl_tests.test_enrichment import resource, sid


@pytest.fixture
def server():
    with SimulatorServer() as running:
        yield running


def _export(raw_dir, tracks: list[dict], episodes: list[dict]) -> None:
    records = [play(f"2024-01-{i + 1:02d}T10:00:00Z", uri=t["uri"]) for i, t in enumerate(tracks)]
    records += [episode_play(f"2024-02-{i + 1:02d}T08:00:00Z", uri=e["uri"]) for i, e in enumerate(episodes)]
    write_json(raw_dir / "Streaming_History_Audio_2024_0.json", records)


def _row(conn, query: str, *params):
    return conn.execute(query, params).fetchone()


def _problems(result) -> list[dict]:
    evaluation = next(c for c in result.get_asset_check_evaluations() if c.check_name == "api_values_usable")
    return evaluation.metadata["first_problems"].value


def test_null_genres_and_languages_build_as_unknown(conn, warehouse, raw_dir, server) -> None:
    sim = server.sim
    artist = sim.add("artists", artist_obj(sid(1, "A"), "Nulls") | {"genres": None, "images": None})
    empty = sim.add("artists", artist_obj(sid(2, "A"), "Empty", []))
    tracks = [
        sim.add("tracks", track_obj(sid(i), f"S{i}", [a], sid(i, "L"), "Al", isrc=f"USRC1{i:06d}"))
        for i, a in enumerate((artist, empty))
    ]
    show = sim.add("shows", show_obj(sid(1, "S"), "Show"))
    episode = sim.add("episodes", episode_obj(sid(1, "E"), "Ep", show) | {"languages": None})
    _export(raw_dir, tracks, [episode])

    result = materialize_all(warehouse, raw_dir, spotify=resource(server))

    assert _row(conn, "SELECT genres, image_url FROM core.dim_artist WHERE artist_name = 'Nulls'") == (None, None)
    assert _row(conn, "SELECT genres FROM core.dim_artist WHERE artist_name = 'Empty'") == ([],)
    assert _row(conn, "SELECT languages, duration_ms FROM core.dim_episode WHERE episode_name = 'Ep'") == (
        None,
        1_800_000,
    )
    assert check_results(result)["api_values_usable"] is True  # null is absent, not unusable


@pytest.mark.parametrize(
    ("date", "stated", "expected_date", "precision", "malformed"),
    [
        ("2019", "year", "2019-01-01", "year", False),
        ("2019-05", "month", "2019-05-01", "month", False),
        ("2019-05-03", "day", "2019-05-03", "day", False),
        ("2019-05-03", "DAY", "2019-05-03", "day", False),
        ("2019-05", None, "2019-05-01", "month", False),
        ("0000", "year", None, "year", True),
        ("May 2019", "day", None, "day", True),
    ],
)
def test_episode_release_dates_at_every_precision(
    conn, warehouse, raw_dir, server, date, stated, expected_date, precision, malformed
) -> None:
    show = server.sim.add("shows", show_obj(sid(1, "S"), "Show"))
    episode = episode_obj(sid(1, "E"), "Ep", show, release_date=date) | {"release_date_precision": stated}
    _export(raw_dir, [], [server.sim.add("episodes", episode)])

    materialize_all(warehouse, raw_dir, spotify=resource(server))

    found = _row(
        conn,
        "SELECT release_date::text, release_date_precision, release_date_malformed FROM core.dim_episode"
        " WHERE spotify_episode_uri IS NOT NULL",
    )
    assert found == (expected_date, precision, malformed)


def test_upper_case_album_type_and_odd_track_values_build(conn, warehouse, raw_dir, server) -> None:
    sim = server.sim
    artist = sim.add("artists", artist_obj(sid(1, "A"), "A"))
    upper = track_obj(sid(1), "Upper", [artist], sid(1, "L"), "Al", album_type="ALBUM")
    odd = track_obj(sid(2), "Odd", [artist], sid(2, "L"), "Al2", album_type="single_ep") | {
        "duration_ms": "200000",
        "explicit": "false",
        "external_ids": None,
        "linked_from": {"id": sid(9), "type": "track", "uri": f"spotify:track:{sid(9)}"},
        "restrictions": {"reason": "market"},
        "is_playable": False,
        "preview_url": None,
    }
    odd["album"] = odd["album"] | {"images": [], "release_date": "2020-13-45"}
    no_artists = track_obj(sid(3), "Lonely", [artist], sid(3, "L"), "Al3") | {"artists": None}
    _export(raw_dir, [sim.add("tracks", t) for t in (upper, odd, no_artists)], [])

    result = materialize_all(warehouse, raw_dir, spotify=resource(server))

    assert _row(conn, "SELECT album_type, duration_ms FROM core.dim_track WHERE track_name = 'Upper'") == (
        "album",
        200_000,
    )
    assert _row(
        conn,
        "SELECT album_type, duration_ms, explicit, isrc, cover_url, release_date, release_date_malformed"
        " FROM core.dim_track WHERE track_name = 'Odd'",
    ) == ("single_ep", None, None, None, None, None, True)
    assert _row(conn, "SELECT count(*) FROM core.bridge_track_artist b JOIN core.dim_track t USING (track_id)"
                      " WHERE t.track_name = 'Lonely'") == (0,)  # fmt: skip
    problems = {(p["entity"], p["field"], p["problem"]) for p in _problems(result)}
    assert {
        ("track", "duration_ms", "not a whole number in range"),
        ("track", "explicit", "not a boolean"),
        ("track", "album.album_type", "not album, single or compilation (kept, in lower case)"),
        ("track", "album.release_date", "not a date of day, month or year precision"),
    } <= problems
    assert ("track", "album.album_type", "not album, single or compilation (kept, in lower case)") in problems
    assert not any(p[2] == "usable in none of the answers" and p[1] == "album.album_type" for p in problems)
    assert check_results(result)["api_values_usable"] is False


def test_a_show_with_empty_images_and_odd_values_builds(conn, warehouse, raw_dir, server) -> None:
    sim = server.sim
    show = sim.add(
        "shows",
        show_obj(sid(1, "S"), "Bare") | {"images": [], "description": None, "total_episodes": 2.5, "copyrights": []},
    )
    episode = sim.add("episodes", episode_obj(sid(1, "E"), "Ep", show) | {"duration_ms": None, "languages": ["en", 7]})
    _export(raw_dir, [], [episode])

    result = materialize_all(warehouse, raw_dir, spotify=resource(server))

    assert _row(conn, "SELECT podcast_name, image_url, description, total_episodes FROM core.dim_podcast"
                      " WHERE spotify_podcast_uri IS NOT NULL") == ("Bare", None, None, None)  # fmt: skip
    assert _row(conn, "SELECT duration_ms, languages FROM core.dim_episode WHERE spotify_episode_uri IS NOT NULL") == (
        None,
        ["en"],
    )
    problems = {(p["entity"], p["field"], p["problem"]) for p in _problems(result)}
    assert ("podcast", "total_episodes", "not a whole number in range") in problems
    assert ("episode", "languages", "holds elements that are not strings (left out)") in problems
    # Every episode answer lacks a duration: the column is lost, and the check says so.
    assert ("episode", "duration_ms", "usable in none of the answers") in problems


def test_an_answer_that_is_not_even_an_object_is_read_as_nothing(conn, warehouse, raw_dir, server) -> None:
    """A cached answer of the wrong JSON type altogether (stored by an earlier version, or
    sent by a broken proxy) costs its own columns only."""
    sim = server.sim
    artist = sim.add("artists", artist_obj(sid(1, "A"), "A"))
    good = sim.add("tracks", track_obj(sid(1), "Good", [artist], sid(1, "L"), "Al"))
    _export(raw_dir, [good], [])
    materialize_all(warehouse, raw_dir, spotify=resource(server))
    conn.execute("UPDATE staging.spotify_artist_data SET raw_data = '[1, 2]'::jsonb")
    conn.execute('UPDATE staging.spotify_track_data SET raw_data = raw_data || \'{"artists": "A"}\'::jsonb')
    conn.execute("UPDATE core.dim_artist SET enriched_at = NULL; UPDATE core.dim_track SET enriched_at = NULL")
    conn.commit()

    result = materialize_all(warehouse, raw_dir, spotify=resource(server), selection=["dim_artist", "dim_track"])

    assert result.success
    assert _row(conn, "SELECT track_name, duration_ms FROM core.dim_track WHERE track_name = 'Good'") == (
        "Good",
        200_000,
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_variation_the_simulator_sends_builds(conn, warehouse, raw_dir, server, seed) -> None:
    """Answers varied the way Spotify may vary them (seeded): absent, null, empty, relinked,
    restricted, upper case, dates of every precision: the whole graph builds, every fetched
    item reaches its dimension, and nothing unusable is invented."""
    sim = server.sim
    sim.vary_seed = seed
    artists = [sim.add("artists", artist_obj(sid(i, "A"), f"Artist {i}", ["rock"])) for i in range(6)]
    tracks = [
        sim.add("tracks", track_obj(sid(i), f"Song {i}", artists[i % 6 : i % 6 + 2], sid(i % 7, "L"), f"Album {i % 7}",
                                    isrc=f"USRC1{i:06d}"))
        for i in range(30)
    ]  # fmt: skip
    shows = [sim.add("shows", show_obj(sid(i, "S"), f"Show {i}")) for i in range(3)]
    episodes = [sim.add("episodes", episode_obj(sid(i, "E"), f"Episode {i}", shows[i % 3])) for i in range(9)]
    _export(raw_dir, tracks, episodes)

    result = materialize_all(warehouse, raw_dir, spotify=resource(server))

    assert result.success
    assert _row(conn, "SELECT count(*) FROM core.dim_track WHERE enriched_at IS NOT NULL") == (30,)
    assert _row(conn, "SELECT count(*) FROM core.dim_episode WHERE enriched_at IS NOT NULL") == (9,)
    upper = "SELECT count(*) FROM staging.spotify_track_data WHERE raw_data #>> '{album,album_type}' ~ '[A-Z]'"
    assert _row(conn, upper)[0] > 0  # the variation was served ...
    assert _row(conn, "SELECT count(*) FROM core.dim_track WHERE album_type <> lower(album_type)") == (
        0,
    )  # ... and read
    unusable = conn.execute(
        "SELECT DISTINCT field, state FROM etl_internal.api_values WHERE state NOT IN ('usable', 'absent')"
    ).fetchall()
    # Every variation is a shape Spotify may send; only the 0000 placeholder is no usable date.
    assert set(unusable) <= {("album.release_date", "placeholder date 0000 (unknown)")}
    placeholders = _row(conn, "SELECT count(*) FROM core.dim_track WHERE release_date_malformed")[0]
    assert (
        placeholders
        == _row(
            conn,
            "SELECT count(*) FROM staging.spotify_track_data WHERE raw_data -> 'album' ->> 'release_date' = '0000'",
        )[0]
    )
