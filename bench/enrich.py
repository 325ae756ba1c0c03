"""Benchmark: requests per distinct id and ids fetched per second, against the local Spotify
simulator of the test suite (no internet), in single and batch mode.

    python bench/enrich.py [--ids 2000] [--database-url URL]

Goal: exactly 1.0 request per id in single mode, ceil(n/50)/n in batch mode. The simulator
answers as fast as it can, so ids/s is the client's own ceiling (HTTP round trip, JSON,
one committed insert per id); against Spotify the rate limit decides.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import uuid
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from spotify_etl.defs.resources.spotify import SpotifyResource  # noqa: E402
from spotify_etl.lib.spotify.enrichment import TRACKS, enrich  # noqa: E402
from spotify_etl.lib.warehouse.database import migrate  # noqa: E402
from spotify_etl_tests.spotify_simulator import (  # noqa: E402
    CLIENT_ID,
    CLIENT_SECRET,
    SimulatorServer,
    artist_obj,
    track_obj,
)


def _database(server_url: str) -> str:
    name = f"bench_enrich_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def run(mode: str, ids: int, server_url: str) -> tuple[int, int, float]:
    url = _database(server_url)
    with SimulatorServer() as server, psycopg.connect(url) as conn:
        server.sim.batch_allowed = mode == "batch"
        migrate(conn)
        artist = server.sim.add("artists", artist_obj("A" * 22, "Artist"))
        conn.execute(
            "INSERT INTO etl_internal.source_files (listener, path, sha256, size_bytes, kind, status)"
            " VALUES ('default', 'bench', 'bench', 0, 'extended_audio', 'loaded')"
        )
        with conn.cursor().copy(
            "COPY staging.streaming_history (listener, ts, ms_played, content_kind, content_key,"
            " spotify_track_uri, source_format, ts_precision, source_file_id, source_position) FROM STDIN"
        ) as copy:
            for i in range(ids):
                track_id = f"{i:022d}"
                server.sim.add("tracks", track_obj(track_id, f"Song {i}", [artist], "L" * 22, "Album"))
                uri = f"spotify:track:{track_id}"
                copy.write_row(
                    ("default", f"2024-01-01 00:00:{i % 60:02d}+00", i, "track", uri, uri, "extended", "second", 1, i)
                )
        conn.commit()
        client = SpotifyResource(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            api_url=server.api_url,
            token_url=server.token_url,
            mode=mode,
            requests_per_30s=1_000_000,
        ).client()
        started = time.perf_counter()
        outcome = enrich(conn, client, TRACKS)
        seconds = time.perf_counter() - started
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(make_url(url).database)))
    return outcome.fetched, outcome.requests, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ids", type=int, default=2000)
    parser.add_argument("--database-url", help="a database on the server to use (default: embedded)")
    args = parser.parse_args()
    if args.database_url:
        server_url = args.database_url
    else:
        from spotify_etl.lib.warehouse.embedded_postgres import start_embedded_server

        server_url = start_embedded_server(Path(__file__).resolve().parent / "out" / "embedded-home")
    print(f"{'mode':<7} {'ids':>6} {'requests':>9} {'req/id':>8} {'goal':>8} {'seconds':>8} {'ids/s':>8}")
    for mode in ("single", "batch"):
        fetched, requests, seconds = run(mode, args.ids, server_url)
        goal = 1.0 if mode == "single" else math.ceil(args.ids / 50) / args.ids
        print(
            f"{mode:<7} {fetched:>6} {requests:>9} {requests / fetched:>8.3f} {goal:>8.3f} {seconds:>8.1f}"
            f" {fetched / seconds:>8.0f}"
        )


if __name__ == "__main__":
    main()
