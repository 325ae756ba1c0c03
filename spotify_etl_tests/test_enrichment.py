"""Enrichment against a local Spotify simulator: modes, rate limits, failures, resumption."""

from __future__ import annotations

import math
import threading
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from spotify_etl.cli.run import run_pipeline
from spotify_etl.defs.resources.spotify import SpotifyResource
from spotify_etl.lib.ingestion import ingest_raw_dir
from spotify_etl.lib.spotify.client import SpotifyForbidden
from spotify_etl.lib.spotify.enrichment import ARTISTS, EPISODES, PODCASTS, TRACKS, enrich, exclusive_api_work
from spotify_etl_tests.export_factory import episode_play, play, write_json
from spotify_etl_tests.pipeline_helpers import check_results, materialize_all
from spotify_etl_tests.spotify_simulator import (
    CLIENT_ID,
    CLIENT_SECRET,
    SimulatorServer,
    artist_obj,
    episode_obj,
    show_obj,
    track_obj,
)


def sid(n: int, prefix: str = "T") -> str:
    return f"{prefix}{n:021d}"


@pytest.fixture
def server():
    with SimulatorServer() as running:
        yield running


def resource(server: SimulatorServer, **options) -> SpotifyResource:
    settings = {"max_wait_s": 5, "backoff_s": 0.001, "requests_per_30s": 10_000}
    settings.update(options)
    return SpotifyResource(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, api_url=server.api_url, token_url=server.token_url, **settings
    )


def catalog_with_plays(server: SimulatorServer, raw_dir, tracks: int = 6, episodes: int = 2) -> None:
    """`tracks` known tracks (two artists each, the first shared), played i+1 times each, and
    podcast episodes of one show; all written as an export."""
    sim = server.sim
    main = sim.add("artists", artist_obj(sid(1, "A"), "Main Artist", ["indie"]))
    records = []
    for i in range(tracks):
        guest = sim.add("artists", artist_obj(sid(100 + i, "A"), f"Guest {i}"))
        track = sim.add(
            "tracks",
            track_obj(
                sid(i),
                f"Song {i}",
                [main, guest],
                sid(i, "L"),
                f"Album {i}",
                isrc=f"USRC1700{i:04d}",
                duration_ms=200_000 + i,
                release_date=["2019-05-03", "2018-07", "1999", "0000"][i % 4],
                precision=["day", "month", "year", "year"][i % 4],
            ),
        )
        records += [
            play(f"2024-01-{d + 1:02d}T1{i}:00:00Z", uri=track["uri"], track=f"Song {i}", artist="Main Artist")
            for d in range(i + 1)
        ]
    show = sim.add("shows", show_obj(sid(1, "S"), "The Show"))
    for i in range(episodes):
        episode = sim.add("episodes", episode_obj(sid(i, "E"), f"Episode {i}", show))
        records.append(
            episode_play(f"2024-02-0{i + 1}T08:00:00Z", uri=episode["uri"], show="The Show", episode=f"Episode {i}")
        )
    write_json(raw_dir / "Streaming_History_Audio_2024_0.json", records)


def test_single_mode_one_request_per_id_most_played_first(conn, warehouse, raw_dir, server) -> None:
    catalog_with_plays(server, raw_dir)
    ingest_raw_dir(warehouse.url(), raw_dir)
    client = resource(server).client()
    outcome = enrich(conn, client, TRACKS)
    assert (outcome.fetched, outcome.failed, outcome.pending, outcome.requests) == (6, 0, 0, 6)
    track_requests = [p for p in server.sim.requests if p.startswith("/v1/tracks/")]
    # Most played first: Song 5 (6 plays) ... Song 0 (1 play).
    assert track_requests == [f"/v1/tracks/{sid(i)}" for i in reversed(range(6))]
    assert all(n == 1 for n in server.sim.ids_requested.values())
    albums = conn.execute("SELECT count(*) FROM staging.spotify_album_data").fetchone()[0]
    assert albums == 6  # from the track responses, without a request
    artists = enrich(conn, client, ARTISTS)
    assert (artists.fetched, artists.requests) == (7, 7)  # the shared artist once
    assert enrich(conn, client, TRACKS).requests == 0  # cached: never asked again


def test_episodes_and_shows_are_asked_with_a_market(conn, warehouse, raw_dir, server) -> None:
    catalog_with_plays(server, raw_dir)
    ingest_raw_dir(warehouse.url(), raw_dir)
    client = resource(server).client()
    assert enrich(conn, client, EPISODES, market="DE").fetched == 2
    assert enrich(conn, client, PODCASTS, market="DE").fetched == 1
    podcast_requests = [p for p in server.sim.requests if "/episodes/" in p or "/shows/" in p]
    assert podcast_requests and all("market=DE" in p for p in podcast_requests)


def test_batch_mode_uses_the_fifty_id_endpoints(conn, warehouse, raw_dir, server) -> None:
    server.sim.batch_allowed = True
    catalog_with_plays(server, raw_dir, tracks=0, episodes=0)
    main = server.sim.add("artists", artist_obj(sid(1, "A"), "Main"))
    n = 120
    records = []
    for i in range(n):
        track = server.sim.add("tracks", track_obj(sid(i), f"S{i}", [main], sid(1, "L"), "Album"))
        records.append(play(f"2024-03-01T00:{i // 60:02d}:{i % 60:02d}Z", uri=track["uri"]))
    write_json(raw_dir / "Streaming_History_Audio_2024_1.json", records)
    ingest_raw_dir(warehouse.url(), raw_dir)
    outcome = enrich(conn, resource(server, mode="batch").client(), TRACKS)
    assert outcome.fetched == n
    assert outcome.requests == math.ceil(n / 50)
    assert all(p.startswith("/v1/tracks/?ids=") or p.startswith("/v1/tracks?ids=") for p in server.sim.requests)


@pytest.mark.parametrize("api_mode", ["batch", "single"])
def test_the_command_lines_api_mode_reaches_the_requests(database_url, raw_dir, server, monkeypatch, api_mode) -> None:
    """`spotify-etl run --api-mode batch` (run_pipeline's api_mode) lets an extended-quota app use
    the multi-id endpoints; the environment alone says single."""
    server.sim.batch_allowed = True
    catalog_with_plays(server, raw_dir)
    for name, value in (("SPOTIPY_CLIENT_ID", CLIENT_ID), ("SPOTIPY_CLIENT_SECRET", CLIENT_SECRET),
                        ("SPOTIFY_API_URL", server.api_url), ("SPOTIFY_TOKEN_URL", server.token_url),
                        ("SPOTIFY_ETL_DATABASE_URL", database_url)):  # fmt: skip
        monkeypatch.setenv(name, value)
    with dg.instance_for_test() as instance:
        outcome = run_pipeline(raw_dir=raw_dir, api_mode=api_mode, requests_per_30s=10_000, instance=instance)
    assert outcome.success, outcome.failure
    track_requests = [p for p in server.sim.requests if p.startswith("/v1/tracks")]
    batch = [p for p in track_requests if "ids=" in p]
    assert (len(batch), len(track_requests)) == ((1, 1) if api_mode == "batch" else (0, 6))


def test_auto_mode_falls_back_to_single_on_403_and_remembers(conn, warehouse, raw_dir, server) -> None:
    catalog_with_plays(server, raw_dir)
    ingest_raw_dir(warehouse.url(), raw_dir)
    client = resource(server, mode="auto").client()
    assert enrich(conn, client, TRACKS).fetched == 6
    assert enrich(conn, client, ARTISTS).fetched == 7
    batch_calls = [p for p in server.sim.requests if "ids=" in p]
    assert len(batch_calls) == 1  # tried once, then single for the rest of the run


def test_expired_token_is_renewed_once_mid_run(conn, warehouse, raw_dir, server) -> None:
    catalog_with_plays(server, raw_dir)
    ingest_raw_dir(warehouse.url(), raw_dir)
    client = resource(server).client()
    client.get_one("tracks", sid(0))
    server.sim.expire_tokens()
    outcome = enrich(conn, client, TRACKS)
    assert outcome.fetched == 6 and outcome.failed == 0
    assert server.sim.tokens_issued == 2


def test_short_retry_after_is_waited_for(conn, warehouse, raw_dir, server) -> None:
    catalog_with_plays(server, raw_dir)
    ingest_raw_dir(warehouse.url(), raw_dir)
    server.sim.script = [(429, {"Retry-After": "2"}, {"error": {"status": 429, "message": "API rate limit exceeded"}})]
    slept: list[float] = []
    client = resource(server).client(sleep=slept.append)
    outcome = enrich(conn, client, TRACKS)
    assert outcome.fetched == 6 and outcome.deferred_until is None
    assert slept == [2.0]
    assert len(server.sim.requests) == 7  # one id asked twice: before and after the wait


@pytest.mark.parametrize(
    "answer",
    [
        (429, {"Retry-After": "86400"}, {"error": {"status": 429, "message": "API rate limit exceeded"}}),
        (
            429,
            {"Retry-After": "30"},
            {"error": {"status": 429, "message": "Quota exceeded", "reason": "QUOTA_EXCEEDED"}},
        ),
    ],
    ids=["retry-after-a-day", "quota-exceeded"],
)
def test_long_rate_limit_defers_and_the_next_run_resumes(conn, warehouse, raw_dir, server, answer) -> None:
    catalog_with_plays(server, raw_dir)
    ingest_raw_dir(warehouse.url(), raw_dir)
    client = resource(server).client()
    client.get_one("tracks", sid(5))  # the token and a first success
    server.sim.ids_requested.clear()
    server.sim.script = [answer]
    enrich_first = enrich(conn, client, TRACKS)
    assert enrich_first.deferred_until is not None and enrich_first.deferred_until > datetime.now(UTC) + timedelta(
        minutes=10
    )
    assert enrich_first.pending == 6 and enrich_first.fetched == 0
    stored = conn.execute("SELECT resume_at FROM etl_internal.api_resume_state").fetchone()[0]
    assert stored == enrich_first.deferred_until

    # The next run before the resume time asks nothing.
    before = len(server.sim.requests)
    again = enrich(conn, client, TRACKS)
    assert again.deferred_until == stored and len(server.sim.requests) == before
    assert "deferred until" in again.status and "6 ids pending" in again.status

    # Time passes: the run after it carries on; no id is asked twice.
    conn.execute("UPDATE etl_internal.api_resume_state SET resume_at = now() - interval '1 second'")
    conn.commit()
    server.sim.ids_requested.clear()
    resumed = enrich(conn, client, TRACKS)
    assert (resumed.fetched, resumed.pending) == (6, 0)
    assert all(n == 1 for n in server.sim.ids_requested.values())
    assert conn.execute("SELECT count(*) FROM etl_internal.api_resume_state").fetchone()[0] == 0


def test_deferral_mid_run_keeps_what_was_fetched(conn, warehouse, raw_dir, server) -> None:
    catalog_with_plays(server, raw_dir)
    ingest_raw_dir(warehouse.url(), raw_dir)
    limit = (429, {"Retry-After": "7200"}, {"error": {"status": 429, "message": "rate limited"}})
    server.sim.script = [None, None, None, limit]  # three normal answers, then the long limit
    outcome = enrich(conn, resource(server).client(), TRACKS)
    assert (outcome.fetched, outcome.pending) == (3, 3)
    assert conn.execute("SELECT count(*) FROM staging.spotify_track_data").fetchone()[0] == 3


def test_5xx_storm_is_survived_with_bounded_retries(conn, warehouse, raw_dir, server) -> None:
    catalog_with_plays(server, raw_dir)
    ingest_raw_dir(warehouse.url(), raw_dir)
    server.sim.fail_every = 2  # every second request answers 502
    outcome = enrich(conn, resource(server).client(), TRACKS)
    assert (outcome.fetched, outcome.failed) == (6, 0)
    # Request 1 succeeds; each later id fails once (even-numbered request) and then succeeds.
    assert outcome.requests == 1 + 5 * 2


def test_unknown_invalid_and_malformed_ids_go_to_failed_uris(conn, warehouse, raw_dir, server) -> None:
    catalog_with_plays(server, raw_dir, tracks=2, episodes=0)
    write_json(
        raw_dir / "Streaming_History_Audio_2024_9.json",
        [
            play("2024-05-01T00:00:00Z", uri="spotify:track:" + sid(77)),  # unknown: 404
            play("2024-05-01T00:05:00Z", uri="spotify:track:short"),  # malformed: never sent
            play("2024-05-01T00:10:00Z", uri="spotify:local:A:B:C:120"),  # local: never sent
            play("2024-05-01T00:15:00Z", spotify_track_uri=None, track="Mine"),  # local without URI
        ],
    )
    ingest_raw_dir(warehouse.url(), raw_dir)
    client = resource(server).client()
    outcome = enrich(conn, client, TRACKS)
    assert (outcome.fetched, outcome.failed) == (2, 1)
    failed = dict(conn.execute("SELECT uri, permanent FROM etl_internal.failed_uris").fetchall())
    assert failed == {"spotify:track:" + sid(77): True, "spotify:track:short": True}
    sent = {item for _, item in server.sim.ids_requested}
    assert "short" not in sent and not any("local" in p for p in server.sim.requests)
    # Permanent failures are not asked again.
    assert enrich(conn, client, TRACKS).requests == 0


def test_nulls_in_a_batch_are_failures(conn, warehouse, raw_dir, server) -> None:
    server.sim.batch_allowed = True
    catalog_with_plays(server, raw_dir, tracks=2, episodes=0)
    write_json(
        raw_dir / "Streaming_History_Audio_2024_9.json", [play("2024-05-01T00:00:00Z", uri="spotify:track:" + sid(78))]
    )
    ingest_raw_dir(warehouse.url(), raw_dir)
    outcome = enrich(conn, resource(server, mode="batch").client(), TRACKS)
    assert (outcome.fetched, outcome.failed, outcome.requests) == (2, 1, 1)
    assert conn.execute("SELECT reason FROM etl_internal.failed_uris").fetchone()[0] == "unknown id (null in batch)"


def test_owner_without_premium_stops_with_the_message(conn, warehouse, raw_dir, server) -> None:
    catalog_with_plays(server, raw_dir)
    ingest_raw_dir(warehouse.url(), raw_dir)
    server.sim.owner_premium = False
    with pytest.raises(SpotifyForbidden, match="premium subscription required"):
        enrich(conn, resource(server).client(), TRACKS)


def test_without_credentials_the_pipeline_runs_and_reports_pending(conn, warehouse, raw_dir, server) -> None:
    catalog_with_plays(server, raw_dir)
    result = materialize_all(warehouse, raw_dir)
    materializations = [e.step_materialization_data.materialization for e in result.get_asset_materialization_events()]
    metadata = {m.asset_key.to_user_string(): m.metadata for m in materializations}
    assert metadata["enriched_tracks"]["status"].value == "skipped: no Spotify credentials, 6 ids pending"
    assert metadata["fact_tracks_history"]["dagster/row_count"].value == 21
    assert server.sim.requests == []


def test_full_pipeline_enriches_the_dimensions(conn, warehouse, raw_dir, server) -> None:
    catalog_with_plays(server, raw_dir)
    write_json(
        raw_dir / "Streaming_History_Audio_2024_9.json", [play("2024-05-01T00:00:00Z", uri="spotify:track:" + sid(77))]
    )
    result = materialize_all(warehouse, raw_dir, spotify=resource(server))
    checks = check_results(result)
    assert checks["failed_uris"] is False
    evaluation = next(c for c in result.get_asset_check_evaluations() if c.check_name == "failed_uris")
    assert evaluation.severity.value == "WARN"
    assert sid(77) in evaluation.metadata["most_played"].value
    assert result.success

    track = conn.execute(
        "SELECT duration_ms, isrc, album_name, release_date::text, release_date_precision, release_date_malformed,"
        " cover_url IS NOT NULL FROM core.dim_track WHERE spotify_track_uri = %s",
        ("spotify:track:" + sid(1),),
    ).fetchone()
    assert track == (200_001, "USRC17000001", "Album 1", "2018-07-01", "month", False, True)
    year_zero = conn.execute(
        "SELECT release_date, release_date_malformed FROM core.dim_track WHERE spotify_track_uri = %s",
        ("spotify:track:" + sid(3),),
    ).fetchone()
    assert year_zero == (None, True)
    credits = conn.execute(
        "SELECT a.artist_name FROM core.bridge_track_artist b JOIN core.dim_track t USING (track_id)"
        " JOIN core.dim_artist a ON a.artist_id = b.artist_id WHERE t.spotify_track_uri = %s ORDER BY b.position",
        ("spotify:track:" + sid(2),),
    ).fetchall()
    assert credits == [("Main Artist",), ("Guest 2",)]
    assert conn.execute(
        "SELECT genres FROM core.dim_artist WHERE spotify_artist_uri = %s", ("spotify:artist:" + sid(1, "A"),)
    ).fetchone()[0] == ["indie"]
    episode = conn.execute(
        "SELECT e.duration_ms, p.podcast_name, p.total_episodes"
        " FROM core.dim_episode e JOIN core.dim_podcast p USING (podcast_id)"
        " WHERE e.spotify_episode_uri = %s",
        ("spotify:episode:" + sid(0, "E"),),
    ).fetchone()
    assert episode == (1_800_000, "The Show", 10)
    unprocessed = conn.execute(
        "SELECT (SELECT count(*) FROM staging.spotify_track_data WHERE NOT is_processed)"
        " + (SELECT count(*) FROM staging.spotify_episode_data WHERE NOT is_processed)"
    ).fetchone()[0]
    assert unprocessed == 0
    # Percent played uses the enriched duration.
    assert (
        conn.execute("SELECT count(*) FROM core.fact_tracks_history WHERE percent_played IS NOT NULL").fetchone()[0]
        == 21
    )


def test_token_is_cached_in_memory_only(conn, warehouse, raw_dir, server, tmp_path, monkeypatch) -> None:
    catalog_with_plays(server, raw_dir, tracks=2, episodes=0)
    ingest_raw_dir(warehouse.url(), raw_dir)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    client = resource(server).client()
    assert enrich(conn, client, TRACKS).fetched == 2
    assert server.sim.tokens_issued == 1  # one token for the whole run
    assert list(workdir.iterdir()) == []  # spotipy's default would write a .cache file here


def test_one_client_talks_to_the_api_at_a_time_whatever_the_process(warehouse, raw_dir, server) -> None:
    """Enrichment of tracks waits while any other API work (search, episodes, another worker's
    step) holds the API: steps side by side on several Celery workers never multiply the
    app's rate limit."""
    catalog_with_plays(server, raw_dir)
    ingest_raw_dir(warehouse.url(), raw_dir)
    done = threading.Event()

    def enrich_tracks() -> None:
        with warehouse.connect() as other:
            enrich(other, resource(server).client(), TRACKS)
        done.set()

    with warehouse.connect() as holder, exclusive_api_work(holder):
        worker = threading.Thread(target=enrich_tracks)
        worker.start()
        assert not done.wait(1.0)  # waiting for the API, not asking it
        assert server.sim.requests == []
    worker.join(timeout=60)
    assert done.is_set() and len(server.sim.requests) == 6
