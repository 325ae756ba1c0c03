"""Benchmark: ingestion speed and memory, beside the floor measured in the same run.

    python bench/ingest.py [--plays 1000000] [--database-url URL]

Generates N plays as a realistic export (~16k records a file), then times, each in a fresh
process on a fresh database of the same server:
  floor   parse (ijson) + COPY of the same records into a narrow typed table, no dedup;
  ingest  spotify_etl's ingestion: recognise, hash, normalise, COPY, set-based dedup merge;
  reload  the same ingestion again on the loaded warehouse (every file unchanged);
  transform  every dimension, the sessions and both facts over all months, through Dagster;
  reload_month  the busiest month of both facts again (its partitions emptied and filled), through Dagster.
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
                    copy.write_row(
                        (
                            r["ts"],
                            r["ms_played"],
                            r["spotify_track_uri"] or r["spotify_episode_uri"],
                            r["master_metadata_track_name"],
                            r["master_metadata_album_artist_name"],
                            r["master_metadata_album_album_name"],
                            r["platform"],
                            r["conn_country"],
                            r["reason_start"],
                            r["reason_end"],
                            r["shuffle"],
                            r["skipped"],
                        )
                    )
                    records += 1
            conn.commit()
    seconds = time.perf_counter() - started
    return {"records": records, "seconds": seconds, "peak_rss_mb": _peak_rss_mb()}


def phase_ingest(url: str, raw_dir: Path) -> dict:
    from spotify_etl.lib.ingestion import ingest_raw_dir
    from spotify_etl.lib.warehouse.database import migrate

    with psycopg.connect(url) as conn:
        migrate(conn)
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


def _materialize(url: str, selection: list[str], months: tuple[str, str]):
    import dagster as dg

    from spotify_etl.definitions import all_asset_checks, all_assets
    from spotify_etl.defs.resources import WarehouseResource, resources_from_settings
    from spotify_etl.settings import load_settings

    resources = resources_from_settings(load_settings()) | {"warehouse": WarehouseResource(database_url=url)}
    result = dg.materialize(
        [*all_assets, *all_asset_checks],
        selection=selection,
        resources=resources,
        tags={"dagster/asset_partition_range_start": months[0], "dagster/asset_partition_range_end": months[1]},
    )
    assert result.success


def phase_transform(url: str, raw_dir: Path) -> dict:
    """Every dimension, the sessions and both facts over all months, from staging."""
    from spotify_etl.defs.partitions import monthly_partitions

    keys = monthly_partitions.get_partition_keys()
    core = [
        "dim_date",
        "dim_time",
        "dim_reason",
        "dim_platform",
        "dim_listener",
        "dim_artist",
        "dim_track",
        "dim_podcast",
        "dim_episode",
        "fact_listening_sessions",
        "fact_tracks_history",
        "fact_podcasts_history",
    ]
    started = time.perf_counter()
    _materialize(url, core, (keys[0], keys[-1]))
    seconds = time.perf_counter() - started
    with psycopg.connect(url) as conn:
        facts = conn.execute(
            "SELECT (SELECT count(*) FROM core.fact_tracks_history) + (SELECT count(*) FROM core.fact_podcasts_history)"
        ).fetchone()[0]
    return {"records": facts, "seconds": seconds, "peak_rss_mb": _peak_rss_mb()}


def phase_reload_month(url: str, raw_dir: Path) -> dict:
    """Reload the busiest month of both facts (their partitions emptied and filled from staging)."""
    with psycopg.connect(url) as conn:
        month, plays = conn.execute(
            "SELECT to_char(date_trunc('month', ts AT TIME ZONE 'UTC'), 'YYYY-MM-DD'), count(*)"
            " FROM staging.streaming_history GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
        ).fetchone()
    started = time.perf_counter()
    _materialize(url, ["fact_tracks_history", "fact_podcasts_history"], (month, month))
    seconds = time.perf_counter() - started
    return {"records": plays, "seconds": seconds, "peak_rss_mb": _peak_rss_mb(), "month": month[:7]}


PHASES = {
    "floor": phase_floor,
    "ingest": phase_ingest,
    "reload": phase_ingest,
    "transform": phase_transform,
    "reload_month": phase_reload_month,
}


def _run_phase(name: str, url: str, raw_dir: Path) -> dict:
    """Each phase in a fresh process, so that its peak RSS is its own."""
    output = subprocess.run(
        [sys.executable, __file__, "--phase", name, "--database-url", url, "--raw-dir", str(raw_dir)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
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
    from spotify_etl.lib.synthetic import write_export

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
        from spotify_etl.lib.warehouse.embedded_postgres import start_embedded_server

        server_url = start_embedded_server(OUT / "embedded-home")

    results = {}
    floor_db = _fresh_database(server_url)
    results["floor"] = _run_phase("floor", floor_db, raw_dir)
    _drop_database(server_url, floor_db)
    ingest_db = _fresh_database(server_url)
    results["ingest"] = _run_phase("ingest", ingest_db, raw_dir)
    results["reload"] = _run_phase("reload", ingest_db, raw_dir)
    results["transform"] = _run_phase("transform", ingest_db, raw_dir)
    results["reload_month"] = _run_phase("reload_month", ingest_db, raw_dir)
    _drop_database(server_url, ingest_db)

    with psycopg.connect(server_url) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
    print(f"\n{args.plays:,} plays in {size_mb:.0f} MB of JSON; PostgreSQL {version}")
    print(f"{'phase':<13} {'records':>10} {'seconds':>8} {'plays/s':>9} {'peak RSS MB':>12}")
    for name, r in results.items():
        rate = r["records"] / r["seconds"] if r["records"] else 0
        label = f"{name} {r['month']}" if "month" in r else name
        print(f"{label:<13} {r['records']:>10,} {r['seconds']:>8.1f} {rate:>9,.0f} {r['peak_rss_mb']:>12.0f}")
    ratio = results["ingest"]["seconds"] / results["floor"]["seconds"]
    print(
        f"\ningest / floor time: {ratio:.2f}x (goal <= 2x); "
        f"ingest stored {results['ingest']['stored']:,}, duplicates {results['ingest']['duplicates']:,}"
    )


if __name__ == "__main__":
    main()
