"""Benchmark: the warehouse's set-based work with PostgreSQL's JIT compilation on (the server's
default) and off (spotify_etl.lib.warehouse.database.connect), on the same warehouse in one run.

    python bench/jit.py [--plays 1000000] [--rounds 3] [--database-url URL]

Loads N synthetic plays as bench/month_reload.py does (ingestion, dimensions, sessions, both
facts over every month), then measures, alternating JIT on and off each round:

  report     the HTML report (spotify_etl.lib.report.build.write_report)
  load all   every month of both facts loaded again (the statements of sql/core/fact_*.sql)

Prints medians of --rounds and the ratio on / off. The facts are partitioned by month, and JIT
compiles each partition's scan, which is why the warehouse's connections turn it off.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ingest import _drop_database, _export, _fresh_database, phase_ingest, phase_transform  # noqa: E402
from month_reload import _load_statements, _reload  # noqa: E402  (the same fact loads)


def _connect(url: str, jit: bool) -> psycopg.Connection:
    from spotify_etl.lib.warehouse.database import connect

    return connect(url) if not jit else psycopg.connect(url, options="-c jit=on")


def _report(url: str, jit: bool) -> float:
    from spotify_etl.lib.report.build import write_report

    with _connect(url, jit) as conn, tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        write_report(conn, Path(out))
        return time.perf_counter() - started


def _load_all(url: str, jit: bool) -> float:
    statements = _load_statements()["partitioned"]
    with _connect(url, jit) as conn:
        first, last = conn.execute(
            "SELECT date_trunc('month', min(ts), 'UTC'), date_trunc('month', max(ts), 'UTC') + interval '1 month'"
            " FROM staging.streaming_history"
        ).fetchone()
        return _reload(conn, statements, first, last)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plays", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", help="a database on the server to measure (default: embedded)")
    args = parser.parse_args()

    raw_dir = _export(args.plays)
    if args.database_url:
        server_url = args.database_url
    else:
        from spotify_etl.lib.warehouse.embedded_postgres import start_embedded_server

        server_url = start_embedded_server(HERE / "out" / "embedded-home")
    url = _fresh_database(server_url)
    timings: dict[str, dict[bool, list[float]]] = {"report": {True: [], False: []}, "load all": {True: [], False: []}}
    try:
        print(f"loading {args.plays:,} plays ...", flush=True)
        phase_ingest(url, raw_dir)
        phase_transform(url, raw_dir)
        for round_number in range(args.rounds):
            for jit in (True, False) if round_number % 2 == 0 else (False, True):
                timings["report"][jit].append(_report(url, jit))
                timings["load all"][jit].append(_load_all(url, jit))
        with psycopg.connect(url) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
            partitions = conn.execute(
                "SELECT count(*) FROM pg_inherits WHERE inhparent = 'core.fact_tracks_history'::regclass"
            ).fetchone()[0]
    finally:
        _drop_database(server_url, url)

    print(
        f"\n{args.plays:,} plays; {partitions} monthly partitions of fact_tracks_history; PostgreSQL {version};"
        f" median of {args.rounds} rounds"
    )
    print(f"{'':<10} {'JIT on':>9} {'JIT off':>9} {'on / off':>9}")
    for measure, by_jit in timings.items():
        on, off = statistics.median(by_jit[True]), statistics.median(by_jit[False])
        print(f"{measure:<10} {on:>7.2f} s {off:>7.2f} s {on / off:>8.2f}x")


if __name__ == "__main__":
    main()
