"""Benchmark: ingestion speed and memory, beside the floor measured in the same run.

    python bench/ingest.py [--plays 1000000] [--database-url URL]

Generates N plays as a realistic export (~16k records a file), then times, each in a fresh
process on a fresh database of the same server:
  floor   parse (ijson) + COPY of the same records into a narrow typed table, no dedup;
  ingest  spotify_etl's ingestion: recognise, hash, normalise, COPY, set-based dedup merge;
  reload  the same ingestion again on the loaded warehouse (every file unchanged).
and prints plays/s and peak RSS of each. The goal: ingest <= 2x the floor's time, peak RSS
<= 300 MB at 1M plays. Without --database-url an embedded server is started under
bench/out/. Figures are written up in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase_floor(url: str, raw_dir: Path) -> dict:
    import ijson

    files = sorted(raw_dir.rglob("Streaming_History_Audio_*.json"))
    started = time.perf_counter()
    records = 0
    with psycopg.connect(url) as conn:
        conn.execute(
            "CREATE TABLE floor_plays (ts timestamptz, ms_played bigint, uri text, track text,"
            " artist text, album text, platform text, country text, reason_start text,"
            " reason_end text, shuffle boolean, skipped boolean)"
        )
        for path in files:
            with path.open("rb") as stream, conn.cursor().copy("COPY floor_plays FROM STDIN") as copy:
                for r in ijson.items(stream, "item", use_float=True):
                    copy.write_row((
                        r["ts"], r["ms_played"], r["spotify_track_uri"] or r["spotify_episode_uri"],
                        r["master_metadata_track_name"], r["master_metadata_album_artist_name"],
                        r["master_metadata_album_album_name"], r["platform"], r["conn_country"],
                        r["reason_start"], r["reason_end"], r["shuffle"], r["skipped"],
                    ))  # fmt: skip
                    records += 1
            conn.commit()
    seconds = time.perf_counter() - started
    return {"records": records, "seconds": seconds, "peak_rss_mb": _peak_rss_mb()}


def phase_ingest(url: str, raw_dir: Path) -> dict:
    from spotify_etl.ingestion import ingest_raw_dir
    from spotify_etl.resources.migrations import apply_migrations

    with psycopg.connect(url) as conn:
        apply_migrations(conn)
    started = time.perf_counter()
    report = ingest_raw_dir(url, raw_dir)
    seconds = time.perf_counter() - started
    return {
        "records": report.records_read,
        "stored": report.stored,
        "duplicates": report.duplicates,
        "rejected": report.rejected,
        "seconds": seconds,
        "peak_rss_mb": _peak_rss_mb(),
    }


PHASES = {"floor": phase_floor, "ingest": phase_ingest, "reload": phase_ingest}


def _run_phase(name: str, url: str, raw_dir: Path) -> dict:
    """Each phase in a fresh process, so that its peak RSS is its own."""
    output = subprocess.run(
        [sys.executable, __file__, "--phase", name, "--database-url", url, "--raw-dir", str(raw_dir)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return json.loads(output.strip().splitlines()[-1])


def _fresh_database(server_url: str) -> str:
    from sqlalchemy.engine import make_url

    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _drop_database(server_url: str, url: str) -> None:
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _export(plays: int) -> Path:
    from spotify_etl.synthetic import write_export

    raw_dir = OUT / f"export_{plays}"
    marker = raw_dir / ".complete"
    if not marker.exists():
        print(f"generating {plays:,} plays under {raw_dir} ...", flush=True)
        started = time.perf_counter()
        write_export(raw_dir, plays, account_months=0)
        marker.write_text("ok")
        print(f"  generated in {time.perf_counter() - started:.0f}s", flush=True)
    return raw_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plays", type=int, default=1_000_000)
    parser.add_argument("--database-url", help="a database on the server to measure (default: embedded)")
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--raw-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase:
        print(json.dumps(PHASES[args.phase](args.database_url, args.raw_dir)))
        return

    OUT.mkdir(exist_ok=True)
    raw_dir = _export(args.plays)
    size_mb = sum(p.stat().st_size for p in raw_dir.rglob("*.json")) / 2**20
    if args.database_url:
        server_url = args.database_url
    else:
        from spotify_etl.resources.embedded_postgres import start_embedded_server

        server_url = start_embedded_server(OUT / "embedded-home")

    results = {}
    floor_db = _fresh_database(server_url)
    results["floor"] = _run_phase("floor", floor_db, raw_dir)
    _drop_database(server_url, floor_db)
    ingest_db = _fresh_database(server_url)
    results["ingest"] = _run_phase("ingest", ingest_db, raw_dir)
    results["reload"] = _run_phase("reload", ingest_db, raw_dir)
    _drop_database(server_url, ingest_db)

    with psycopg.connect(server_url) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
    print(f"\n{args.plays:,} plays in {size_mb:.0f} MB of JSON; PostgreSQL {version}")
    print(f"{'phase':<8} {'records':>10} {'seconds':>8} {'plays/s':>9} {'peak RSS MB':>12}")
    for name, r in results.items():
        rate = r["records"] / r["seconds"] if r["records"] else 0
        print(f"{name:<8} {r['records']:>10,} {r['seconds']:>8.1f} {rate:>9,.0f} {r['peak_rss_mb']:>12.0f}")
    ratio = results["ingest"]["seconds"] / results["floor"]["seconds"]
    print(f"\ningest / floor time: {ratio:.2f}x (goal <= 2x); "
          f"ingest stored {results['ingest']['stored']:,}, duplicates {results['ingest']['duplicates']:,}")  # fmt: skip


if __name__ == "__main__":
    main()
