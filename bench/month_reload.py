"""Benchmark: a month's reload with the facts partitioned by month, against the flat tables
they were before (delete + insert), on the same warehouse in one run.

    python bench/month_reload.py [--plays 1000000] [--listeners L] [--rounds 5] [--database-url URL]

Loads N synthetic plays of one listener, or with --listeners L, L listeners of N plays each over
2023-2025 (bench/celery_workers.py's exports: many plays a month, as a community has), builds
ingestion, dimensions, sessions and both facts over every month as bench/ingest.py does, then
copies both facts into flat tables laid out as before migration 0016 (one table, primary key
play_id, an index on ts) and measures, alternating the two layouts each round:

  reload month   the busiest month of both facts loaded again: the statements of
                 sql/core/fact_*.sql, on the partitions (empty the month's partition, insert)
                 and on the flat tables (DELETE the month, insert, as before)
  read month     count and sum of that month's plays
  load all       every month loaded again in one statement, once per layout

and the size of each layout before and after the reloads (dead rows a DELETE leaves behind
stay in the flat table until vacuum). Prints medians of --rounds and the ratio
flat / partitioned. Without --database-url an embedded server is started under bench/out/.
Figures are written up in docs/benchmarks.md and docs/scale.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

import psycopg

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))

from celery_workers import _exports  # noqa: E402  (the same exports of many listeners)
from ingest import _drop_database, _export, _fresh_database, phase_ingest, phase_transform  # noqa: E402

FACTS = ("fact_tracks_history", "fact_podcasts_history")


def _flat_copies(conn: psycopg.Connection) -> None:
    """Each fact as it was before migration 0016, with the same rows."""
    conn.execute("CREATE SCHEMA flat")
    for fact in FACTS:
        content = "track_id" if fact == "fact_tracks_history" else "episode_id"
        conn.execute(f"CREATE TABLE flat.{fact} (LIKE core.{fact} INCLUDING DEFAULTS)")
        conn.execute(f"ALTER TABLE flat.{fact} ADD PRIMARY KEY (play_id)")
        conn.execute(f"ALTER TABLE flat.{fact} ADD UNIQUE NULLS NOT DISTINCT (listener, ts, {content}, ms_played)")
        conn.execute(f"CREATE INDEX ON flat.{fact} (ts)")
        conn.execute(f"INSERT INTO flat.{fact} SELECT * FROM core.{fact}")
    conn.commit()
    conn.autocommit = True
    conn.execute("VACUUM ANALYZE flat.fact_tracks_history, flat.fact_podcasts_history, core.fact_tracks_history,"
                 " core.fact_podcasts_history")  # fmt: skip
    conn.autocommit = False


def _load_statements() -> dict[str, dict[str, str]]:
    """The facts' load files as they run now (partitioned) and as they ran before (flat)."""
    from spotify_etl.lib.warehouse.sql_files import load_sql

    statements: dict[str, dict[str, str]] = {"partitioned": {}, "flat": {}}
    for fact in FACTS:
        now = load_sql(f"core/{fact}.sql")
        prepare = f"SELECT core.begin_fact_load('core.{fact}', %(start)s, %(end)s, %(piece)s);"
        insert = f"INSERT INTO core.{fact} ("
        if prepare not in now or insert not in now:
            raise SystemExit(f"sql/core/{fact}.sql changed: adapt this benchmark's flat variant of it")
        before = now.replace(prepare, f"DELETE FROM flat.{fact} WHERE ts >= %(start)s AND ts < %(end)s;")
        statements["partitioned"][fact] = now
        statements["flat"][fact] = before.replace(insert, f"INSERT INTO flat.{fact} (")
    return statements


def _reload(conn: psycopg.Connection, statements: dict[str, str], start: datetime, end: datetime) -> float:
    from spotify_etl.defs.core.facts import FULL_FROM_SHARE, SKIP_BELOW_MS

    params = {
        "start": start,
        "end": end,
        "piece": False,
        "skip_below_ms": SKIP_BELOW_MS,
        "full_from_share": FULL_FROM_SHARE,
    }
    started = time.perf_counter()
    with psycopg.ClientCursor(conn) as cursor:
        for fact in FACTS:
            cursor.execute(statements[fact], params)
    conn.commit()
    return time.perf_counter() - started


def _read(conn: psycopg.Connection, schema: str, start: datetime, end: datetime) -> float:
    started = time.perf_counter()
    for fact in FACTS:
        conn.execute(
            f"SELECT count(*), sum(ms_played) FROM {schema}.{fact} WHERE ts >= %s AND ts < %s", (start, end)
        ).fetchone()
    conn.commit()
    return time.perf_counter() - started


def _size_mb(conn: psycopg.Connection, schema: str) -> float:
    total = 0
    for fact in FACTS:
        total += conn.execute(
            "SELECT sum(pg_total_relation_size(r)) FROM (SELECT %(t)s::regclass AS r"
            " UNION ALL SELECT inhrelid FROM pg_inherits WHERE inhparent = %(t)s::regclass) AS tree",
            {"t": f"{schema}.{fact}"},
        ).fetchone()[0]
    return total / 2**20


def _fingerprint(conn: psycopg.Connection, schema: str) -> tuple:
    return tuple(
        conn.execute(f"SELECT count(*), sum(ms_played), sum(play_id), sum(session_id) FROM {schema}.{fact}").fetchone()
        for fact in FACTS
    )


def _listeners_export(listeners: int, plays: int) -> Path:
    raw_dir = OUT / f"listeners_{listeners}x{plays}"
    marker = raw_dir / ".complete"
    if not marker.exists():
        print(f"generating {listeners} listeners x {plays:,} plays under {raw_dir} ...", flush=True)
        _exports(raw_dir, listeners, plays)
        marker.write_text("ok")
    return raw_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plays", type=int, default=1_000_000)
    parser.add_argument("--listeners", type=int, help="listeners of --plays plays each (default: one)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url", help="a database on the server to measure (default: embedded)")
    args = parser.parse_args()

    OUT.mkdir(exist_ok=True)
    raw_dir = _listeners_export(args.listeners, args.plays) if args.listeners else _export(args.plays)
    total = args.plays * (args.listeners or 1)
    if args.database_url:
        server_url = args.database_url
    else:
        from spotify_etl.lib.warehouse.embedded_postgres import start_embedded_server

        server_url = start_embedded_server(OUT / "embedded-home")
    url = _fresh_database(server_url)
    try:
        print(f"loading {total:,} plays ...", flush=True)
        phase_ingest(url, raw_dir)
        phase_transform(url, raw_dir)
        statements = _load_statements()
        with psycopg.connect(url) as conn:
            _flat_copies(conn)
            start, end, month_plays = conn.execute(
                "SELECT m, m + interval '1 month', n FROM (SELECT date_trunc('month', ts, 'UTC') AS m, count(*) AS n"
                " FROM staging.streaming_history GROUP BY 1 ORDER BY 2 DESC LIMIT 1) AS busiest"
            ).fetchone()
            first, last = conn.execute(
                "SELECT date_trunc('month', min(ts), 'UTC'), date_trunc('month', max(ts), 'UTC') + interval '1 month'"
                " FROM staging.streaming_history"
            ).fetchone()
            partitions = conn.execute(
                "SELECT count(*) FROM pg_inherits WHERE inhparent = 'core.fact_tracks_history'::regclass"
            ).fetchone()[0]
            sizes = {layout: [_size_mb(conn, schema)] for layout, schema in (("flat", "flat"), ("partitioned", "core"))}
            timings: dict[str, dict[str, list[float]]] = {"flat": {}, "partitioned": {}}
            for round_number in range(args.rounds):
                order = ("flat", "partitioned") if round_number % 2 == 0 else ("partitioned", "flat")
                for layout in order:
                    schema = "flat" if layout == "flat" else "core"
                    timings[layout].setdefault("reload month", []).append(_reload(conn, statements[layout], start, end))
                    timings[layout].setdefault("read month", []).append(_read(conn, schema, start, end))
            for layout, schema in (("flat", "flat"), ("partitioned", "core")):
                sizes[layout].append(_size_mb(conn, schema))
            same_after_reloads = _fingerprint(conn, "flat") == _fingerprint(conn, "core")
            for layout in ("flat", "partitioned"):
                timings[layout]["load all"] = [_reload(conn, statements[layout], first, last)]
            same_after_all = _fingerprint(conn, "flat") == _fingerprint(conn, "core")
            version = conn.execute("SHOW server_version").fetchone()[0]
    finally:
        _drop_database(server_url, url)

    print(
        f"\n{total:,} plays ({args.listeners or 1} listeners); busiest month {start:%Y-%m} ({month_plays:,} plays);"
        f" {partitions} monthly partitions of fact_tracks_history; PostgreSQL {version}; {os.cpu_count()} cores;"
        f" median of {args.rounds} rounds"
    )
    print(f"{'':<14} {'flat (before)':>14} {'partitioned':>12} {'flat / part.':>13}")
    for measure in ("reload month", "read month", "load all"):
        flat = statistics.median(timings["flat"][measure])
        part = statistics.median(timings["partitioned"][measure])
        print(f"{measure:<14} {flat:>12.3f} s {part:>10.3f} s {flat / part:>12.2f}x")
    print(
        f"{'size, MB':<14} {sizes['flat'][0]:>6.0f} → {sizes['flat'][1]:<5.0f} "
        f"{sizes['partitioned'][0]:>5.0f} → {sizes['partitioned'][1]:<5.0f}  (before → after {args.rounds} reloads)"
    )
    print(f"same rows in both layouts: after the reloads {same_after_reloads}, after loading all {same_after_all}")
    if not (same_after_reloads and same_after_all):
        raise SystemExit("the two layouts hold different rows")


if __name__ == "__main__":
    main()
