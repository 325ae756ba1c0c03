"""Plays without a Spotify id resolved by name through the simulator's Search API: matching on a
catalog full of traps, one search per pair ever, overrides, deferral, and the warehouse counting
a song's plays from account data and extended history together."""

from __future__ import annotations

import base64

import dagster as dg
import psycopg
import pytest

from spotify_etl.cli.run import run_pipeline
from spotify_etl.cli.status import warehouse_status
from spotify_etl.lib.ingestion import ingest_raw_dir
from spotify_etl.lib.report.build import build_report
from spotify_etl.lib.spotify.name_resolution import NamePair, read_overrides, resolve_names
from spotify_etl_tests.export_factory import play, write_json
from spotify_etl_tests.spotify_simulator import (
    CLIENT_ID,
    CLIENT_SECRET,
    SimulatorServer,
    artist_obj,
    episode_obj,
    show_obj,
    track_obj,
)
from spotify_etl_tests.test_enrichment import resource, sid


@pytest.fixture
def server():
    with SimulatorServer() as running:
        yield running


def traps(server: SimulatorServer) -> dict[NamePair, str | None]:
    """A catalog full of traps, and what each name pair of the export must resolve to (None:
    recorded as unresolved, never guessed)."""
    sim = server.sim
    artists = {
        name: sim.add("artists", artist_obj(sid(i, "A"), name))
        for i, name in enumerate(
            [
                "Main Artist",
                "Cover Band",
                "Other DJ",
                "Guest",
                "The Beatniks",
                "坂本龍一",
                "Кино",
                "Fleetwood",
                "New Name",
                "Twins",
            ]  # fmt: skip
        )
    }

    def track(n: int, name: str, by: list[str], **options) -> str:
        options.setdefault("isrc", f"QZ{n:010d}")
        sim.add("tracks", track_obj(sid(n), name, [artists[a] for a in by], sid(n, "L"), f"Album {n}", **options))
        return f"spotify:track:{sid(n)}"

    # Same recording as album track and as single: the album version, deterministically.
    album_song = track(11, "Song", ["Main Artist"], album_type="album", isrc="QZSAME00001", release_date="2019-01-01")
    track(10, "Song", ["Main Artist"], album_type="single", isrc="QZSAME00001", release_date="2018-06-01")
    track(1, "Song", ["Cover Band"])  # a cover: other artist
    track(2, "Song - Other DJ Remix", ["Other DJ", "Main Artist"])  # someone else's remix
    live = track(3, "Song - Live", ["Main Artist"], duration_ms=260_000)
    remaster = track(4, "Song - 2011 Remaster", ["Main Artist"], duration_ms=201_000)
    duet = track(12, "Duet", ["Main Artist", "Guest"])  # credited, not in the title
    feat_in_title = track(13, "Anthem (feat. Guest)", ["Main Artist", "Guest"])
    road = track(14, "Road", ["The Beatniks"])
    cjk = track(15, "戦場のメリークリスマス", ["坂本龍一"])
    cyrillic = track(16, "Группа крови", ["Кино"])
    quoted = track(17, "Don't Stop", ["Fleetwood"])
    track(18, "Renamed Song", ["New Name"])  # its artist was renamed since the play
    track(19, "Gone Song", ["Cover Band"])  # the export's song is no longer available
    track(20, "Twin", ["Twins"], duration_ms=180_000, isrc="QZTWIN00001")  # different recordings,
    track(21, "Twin", ["Twins"], duration_ms=240_000, isrc="QZTWIN00002")  # same title and artist
    # Paging: ten other versions of "Hit" sort before the plain one, which is on page 2.
    for n, marker in enumerate(["Live", "Demo", "Acoustic", "Radio Edit", "Extended Mix", "Mono", "Remastered",
                                "Single Version", "Live at Home", "Deluxe Edition"]):  # fmt: skip
        track(30 + n, f"Hit - {marker}", ["Main Artist"])
    hit = track(90, "Hit", ["Main Artist"])

    show = sim.add("shows", show_obj(sid(1, "S"), "The Show"))
    other_show = sim.add("shows", show_obj(sid(2, "S"), "Other Show"))
    sim.add("episodes", episode_obj(sid(1, "E"), "Episode 1", other_show))  # same name, other show
    sim.add("episodes", episode_obj(sid(2, "E"), "Episode 1", show))

    music = {
        ("Main Artist", "Song"): album_song,
        ("Main Artist", "Song - Live"): live,
        ("Main Artist", "Song - Remastered 2011"): remaster,
        ("Main Artist", "Duet (feat. Guest)"): duet,
        ("Main Artist", "Anthem"): feat_in_title,
        ("Beatniks", "Road"): road,
        ("坂本龍一", "戦場のメリークリスマス"): cjk,
        ("КИНО", "группа крови"): cyrillic,
        ("Fleetwood", "Don’t Stop"): quoted,
        ("Old Name", "Renamed Song"): None,
        ("Main Artist", "Gone Song"): None,
        ("Twins", "Twin"): None,
        ("Main Artist", "Hit"): hit,
        ("Unknown Artist", "Unknown Track"): None,
    }
    expected = {NamePair.of("track", artist, title): uri for (artist, title), uri in music.items()}
    expected[NamePair.of("episode", "The Show", "Episode 1")] = f"spotify:episode:{sid(2, 'E')}"
    return expected


def write_account_data(raw_dir, expected: dict[NamePair, str | None], repeat: int = 2) -> None:
    """Account data alone: each pair played `repeat` times, none in full (the durations must
    not decide the traps)."""
    music, podcast = [], []
    for i, pair in enumerate(expected):
        for r in range(repeat):
            end = f"2025-0{1 + r}-{1 + i % 28:02d} {10 + i % 12:02d}:{i % 60:02d}"
            if pair.kind == "track":
                music.append({"endTime": end, "artistName": pair.owner, "trackName": pair.item, "msPlayed": 30_000})
            else:
                podcast.append(
                    {"endTime": end, "podcastName": pair.owner, "episodeName": pair.item, "msPlayed": 60_000}
                )
    write_json(raw_dir / "Spotify Account Data" / "StreamingHistory_music_0.json", music)
    write_json(raw_dir / "Spotify Account Data" / "StreamingHistory_podcast_0.json", podcast)


def decisions(conn) -> dict[str, tuple]:
    return {key: (uri, status, rule) for key, uri, status, rule in conn.execute(
        "SELECT name_key, spotify_uri, status, rule FROM etl_internal.name_matches")}  # fmt: skip


def searches(server: SimulatorServer) -> int:
    return sum(path.startswith("/v1/search") for path in server.sim.requests)


def test_every_trap_resolves_right_or_not_at_all_and_no_pair_is_searched_twice(conn, warehouse, raw_dir, server):
    expected = traps(server)
    write_account_data(raw_dir, expected)
    ingest_raw_dir(warehouse.url(), raw_dir)
    outcome = resolve_names(conn, resource(server).client(), market="DE")

    found = decisions(conn)
    assert {pair.name_key: found[pair.name_key][0] for pair in expected} == {
        pair.name_key: uri for pair, uri in expected.items()
    }
    assert found[NamePair.of("track", "Main Artist", "Song").name_key][2].endswith(
        "(1 of 2 equal: album version first)"
    )
    assert found[NamePair.of("track", "Twins", "Twin").name_key][1] == "ambiguous"
    assert found[NamePair.of("track", "Old Name", "Renamed Song").name_key][1:] == (
        "not_found",
        "none fits (no candidate)",
    )
    assert found[NamePair.of("track", "Unknown Artist", "Unknown Track").name_key][2] == "placeholder names"
    # One search per searchable pair; the pair whose answer is on page 2 needs one more.
    searchable = len(expected) - 1
    assert outcome.searched == searchable
    assert searches(server) == searchable + 1
    # The chosen tracks are cached from the search answers: enrichment has nothing to fetch.
    chosen = {uri for uri in expected.values() if uri and ":track:" in uri}
    cached = {uri for (uri,) in conn.execute("SELECT spotify_track_uri FROM staging.spotify_track_data")}
    assert chosen <= cached

    before = len(server.sim.requests)
    again = resolve_names(conn, resource(server).client(), market="DE")
    assert (again.requests, again.pending, len(server.sim.requests)) == (0, 0, before)


def test_names_played_with_an_id_resolve_without_a_request(conn, warehouse, raw_dir, server):
    uri = "spotify:track:" + sid(5)
    write_json(
        raw_dir / "Streaming_History_Audio_2024_0.json",
        [play("2024-03-01T10:00:00Z", uri=uri, track="Known Song", artist="Known Artist")],
    )
    write_json(
        raw_dir / "Spotify Account Data" / "StreamingHistory_music_0.json",
        [{"endTime": "2025-01-01 10:00", "artistName": "Known Artist", "trackName": "Known Song", "msPlayed": 1000}],
    )
    ingest_raw_dir(warehouse.url(), raw_dir)
    outcome = resolve_names(conn, resource(server).client(), market="DE")
    assert outcome.from_export == 1 and searches(server) == 0
    assert decisions(conn)[NamePair.of("track", "Known Artist", "Known Song").name_key][:2] == (uri, "matched")


def test_without_credentials_pairs_wait_and_say_how_many(conn, warehouse, raw_dir, server):
    write_account_data(raw_dir, traps(server))
    ingest_raw_dir(warehouse.url(), raw_dir)
    outcome = resolve_names(conn, None)
    assert outcome.status == "skipped: no Spotify credentials, 14 pairs pending"
    assert searches(server) == 0


def test_a_long_rate_limit_defers_the_rest_and_keeps_what_was_answered(conn, warehouse, raw_dir, server):
    write_account_data(raw_dir, traps(server))
    ingest_raw_dir(warehouse.url(), raw_dir)
    client = resource(server).client()
    resolve_names(conn, client, market="DE")  # warm: every pair decided
    conn.execute("TRUNCATE etl_internal.name_matches, staging.spotify_search_data")
    conn.commit()
    server.sim.script = [None, None, (429, {"Retry-After": "86400"}, {"error": {"status": 429, "message": "x"}})]
    outcome = resolve_names(conn, client, market="DE")
    assert outcome.deferred_until is not None and "Retry-After 86400" in outcome.deferred_reason
    kept = conn.execute("SELECT count(*) FROM staging.spotify_search_data").fetchone()[0]
    assert kept == 2  # the two answers before the 429, each committed as it arrived
    requests = len(server.sim.requests)
    still = resolve_names(conn, client, market="DE")
    assert still.deferred_reason.startswith("still deferred") and len(server.sim.requests) == requests


def test_a_refused_search_is_recorded_and_a_failing_one_asked_again_later(conn, warehouse, raw_dir, server):
    expected = traps(server)
    pairs = [NamePair.of("track", "Fleetwood", "Don’t Stop"), NamePair.of("track", "Main Artist", "Song")]
    write_account_data(raw_dir, {pair: expected[pair] for pair in pairs})
    ingest_raw_dir(warehouse.url(), raw_dir)
    refused = (400, {}, {"error": {"status": 400, "message": "Bad search query"}})
    unavailable = (503, {}, {"error": {"status": 503, "message": "Service unavailable"}})
    server.sim.script = [refused] + [unavailable] * 5  # the second pair fails all its retries
    resolve_names(conn, resource(server).client(), market="DE")
    assert decisions(conn) == {pairs[0].name_key: (None, "not_found", "search refused (400: Bad search query)")}
    waiting = conn.execute("SELECT entity_type, permanent, next_attempt_at > now() FROM etl_internal.failed_uris")
    assert waiting.fetchall() == [("search", False, True)]
    requests = len(server.sim.requests)
    assert resolve_names(conn, resource(server).client(), market="DE").requests == 0  # not before its time
    conn.execute("UPDATE etl_internal.failed_uris SET next_attempt_at = now() - interval '1 second'")
    conn.commit()
    resolve_names(conn, resource(server).client(), market="DE")
    assert decisions(conn)[pairs[1].name_key][0] == expected[pairs[1]]
    assert len(server.sim.requests) == requests + 1
    assert conn.execute("SELECT count(*) FROM etl_internal.failed_uris").fetchone() == (0,)


def test_the_override_file_pins_and_forbids_and_taking_it_back_asks_nothing(conn, warehouse, raw_dir, server, tmp_path):
    expected = traps(server)
    write_account_data(raw_dir, expected)
    ingest_raw_dir(warehouse.url(), raw_dir)
    client = resource(server).client()
    resolve_names(conn, client, market="DE")
    overrides_file = tmp_path / "name_matches.csv"
    overrides_file.write_text(
        f"kind,owner,name,spotify_uri\ntrack,Old Name,Renamed Song,spotify:track:{sid(18)}\ntrack,Main Artist,Song,\n",
        encoding="utf-8",
    )
    requests = len(server.sim.requests)
    resolve_names(conn, client, overrides=read_overrides(overrides_file), market="DE")
    found = decisions(conn)
    assert found[NamePair.of("track", "Old Name", "Renamed Song").name_key][:2] == (
        f"spotify:track:{sid(18)}",
        "pinned",
    )
    assert found[NamePair.of("track", "Main Artist", "Song").name_key][:2] == (None, "forbidden")

    taken_back = resolve_names(conn, None, overrides={})  # no client: nothing needs asking
    found = decisions(conn)
    song = NamePair.of("track", "Main Artist", "Song")
    assert found[song.name_key][0] == expected[song]  # decided again from the kept answer
    assert found[NamePair.of("track", "Old Name", "Renamed Song").name_key][1:] == (
        "not_found",
        "none fits (no candidate)",
    )
    assert len(server.sim.requests) == requests and taken_back.pending == 0 and taken_back.matched == 1


def test_a_file_without_uri_fields_is_resolved_not_local(conn, warehouse, raw_dir):
    """The 2020 vintage of endsong_*.json has no URI keys: its music is a track known by names;
    a record whose URI field is there but empty stays a local file."""
    vintage = {"ts": "2020-01-01T10:00:00Z", "ms_played": 1000, "master_metadata_track_name": "Song",
               "master_metadata_album_artist_name": "Artist", "master_metadata_album_album_name": "Album"}  # fmt: skip
    write_json(raw_dir / "endsong_0.json", [vintage])
    write_json(raw_dir / "endsong_1.json", [vintage | {"ts": "2020-01-01T11:00:00Z", "spotify_track_uri": None}])
    ingest_raw_dir(warehouse.url(), raw_dir)
    kinds = conn.execute("SELECT content_kind FROM staging.streaming_history ORDER BY ts").fetchall()
    assert kinds == [("track",), ("local",)]


def test_account_data_alone_reaches_the_report_with_albums_durations_and_years(
    database_url, raw_dir, server, monkeypatch
):
    """Through `spotify-etl run`: plays of account data and of extended history of one song
    count together, with the album, duration and release year the API gives; a second run asks
    the API nothing."""
    expected = traps(server)
    write_account_data(raw_dir, expected)
    write_json(
        raw_dir / "Streaming_History_Audio_2024_0.json",
        [
            play(
                "2024-03-01T10:00:00Z",
                uri=expected[NamePair.of("track", "Main Artist", "Hit")],
                track="Hit",
                artist="Main Artist",
            )
        ],  # fmt: skip
    )
    for name, value in (("SPOTIPY_CLIENT_ID", CLIENT_ID), ("SPOTIPY_CLIENT_SECRET", CLIENT_SECRET),
                        ("SPOTIFY_API_URL", server.api_url), ("SPOTIFY_TOKEN_URL", server.token_url),
                        ("SPOTIFY_ETL_DATABASE_URL", database_url)):  # fmt: skip
        monkeypatch.setenv(name, value)
    with dg.instance_for_test() as instance:
        outcome = run_pipeline(raw_dir=raw_dir, requests_per_30s=10_000, instance=instance)
        assert outcome.success, outcome.failure
        requests = len(server.sim.requests)
        again = run_pipeline(raw_dir=raw_dir, requests_per_30s=10_000, instance=instance)
        assert again.success, again.failure
    assert len(server.sim.requests) == requests

    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT t.spotify_track_uri, t.album_name, t.duration_ms, extract(year FROM t.release_date), count(*)"
            " FROM core.fact_tracks_history AS f JOIN core.dim_track AS t ON t.track_id = f.track_id"
            " WHERE t.spotify_track_uri IS NOT NULL GROUP BY 1, 2, 3, 4"
        ).fetchall()
        resolved = {uri for uri in expected.values() if uri and ":track:" in uri}
        assert {row[0] for row in rows} == resolved
        assert all(album and duration and year for _, album, duration, year, _ in rows)
        plays = {row[0]: row[4] for row in rows}
        assert plays[expected[NamePair.of("track", "Main Artist", "Hit")]] == 3  # 2 by name + 1 by id
        songs = conn.execute("SELECT plays FROM mart.top_songs_by_year WHERE song = 'Hit' AND year = 2025").fetchone()
        assert songs == (2,)
        episode = conn.execute(
            "SELECT e.spotify_episode_uri, e.duration_ms FROM core.fact_podcasts_history AS f"
            " JOIN core.dim_episode AS e ON e.episode_id = f.episode_id GROUP BY 1, 2"
        ).fetchall()
        assert episode == [(f"spotify:episode:{sid(2, 'E')}", 1_800_000)]
        unresolved = conn.execute("SELECT count(*) FROM etl_internal.name_matches WHERE spotify_uri IS NULL").fetchone()
        assert unresolved == (4,)
        report = build_report(conn, year=2025)  # the year of the account data alone
    albums = base64.b64decode(report.section("top_albums").chart).decode()
    assert "Album 90" in albums and "Album 11" in albums  # the API's album names, none from the export
    # 18 of the 28 plays (30 s each) are of tracks of 2020, 2 of 2019; the 8 of unresolved pairs have no date.
    assert report.section("release_decades").reading == (
        "Most of it from the 2020s (64 % of the minutes); a track played lasts 3:26 on average;"
        " release date unknown for 4 minutes."
    )
    status = warehouse_status()
    by_status = {
        line.split()[0]: line.split()[1:]
        for line in status.split("Plays without ids, by name pair", 1)[1].splitlines()[3:]
        if line.strip()
    }
    assert by_status["matched"] == ["11", "22"] and by_status["not_found"] == ["3", "6"], status


def test_a_pin_in_the_override_file_moves_the_plays_and_taking_it_out_moves_them_back(
    database_url, tmp_path, server, monkeypatch
):
    """Through `spotify-etl run`: the facts of an unresolved pair count on its names; pinned in
    data/name_matches.csv they count on the pinned track (fetched by id enrichment), and the
    file's line taken out, on the names again — each time only the months of its plays reload."""
    expected = traps(server)
    renamed = NamePair.of("track", "Old Name", "Renamed Song")
    raw_dir = tmp_path / "raw"
    write_account_data(
        raw_dir,
        {renamed: None, NamePair.of("track", "Beatniks", "Road"): expected[NamePair.of("track", "Beatniks", "Road")]},
    )
    monkeypatch.chdir(tmp_path)
    for name, value in (("SPOTIPY_CLIENT_ID", CLIENT_ID), ("SPOTIPY_CLIENT_SECRET", CLIENT_SECRET),
                        ("SPOTIFY_API_URL", server.api_url), ("SPOTIFY_TOKEN_URL", server.token_url),
                        ("SPOTIFY_ETL_DATABASE_URL", database_url)):  # fmt: skip
        monkeypatch.setenv(name, value)

    def counted_on() -> set[tuple]:
        with psycopg.connect(database_url) as conn:
            return set(
                conn.execute(
                    "SELECT t.track_key, t.album_name, count(*) FROM core.fact_tracks_history AS f"
                    " JOIN core.dim_track AS t ON t.track_id = f.track_id GROUP BY 1, 2"
                )
            )

    with dg.instance_for_test() as instance:
        assert run_pipeline(raw_dir=raw_dir, requests_per_30s=10_000, instance=instance).success
        road = expected[NamePair.of("track", "Beatniks", "Road")]
        assert counted_on() == {(renamed.name_key, None, 2), (road, "Album 14", 2)}

        (tmp_path / "data").mkdir()
        (tmp_path / "data" / "name_matches.csv").write_text(
            f"kind,owner,name,spotify_uri\ntrack,Old Name,Renamed Song,spotify:track:{sid(18)}\n", encoding="utf-8"
        )
        pinned = run_pipeline(raw_dir=raw_dir, requests_per_30s=10_000, instance=instance)
        assert pinned.success, pinned.failure
        assert counted_on() == {(f"spotify:track:{sid(18)}", "Album 18", 2), (road, "Album 14", 2)}
        assert sum(path.startswith(f"/v1/tracks/{sid(18)}") for path in server.sim.requests) == 1
        assert pinned.months_loaded == [("2025-01-01", "2025-02-01")]  # the first and last partition

        (tmp_path / "data" / "name_matches.csv").write_text("kind,owner,name,spotify_uri\n", encoding="utf-8")
        assert run_pipeline(raw_dir=raw_dir, requests_per_30s=10_000, instance=instance).success
        assert counted_on() == {(renamed.name_key, None, 2), (road, "Album 14", 2)}
