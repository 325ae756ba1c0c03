"""Benchmark: what a run costs when it does only what new data changes.

    python bench/incremental.py [--plays 1000000] [--database-url URL]

Generates N plays as an export (~16k records a file), then measures, in one run of this
script, each step a fresh `spotify-etl run --no-enrich` process on a fresh database and a
fresh Dagster instance (wall time from start to exit, peak RSS of the process):

  floor        parse (ijson) + COPY of the same records into a narrow typed table, before
               and after the first run: their mean (this machine's speed drifts by a third
               within an hour; both are printed)
  first        the first run: ingestion and every asset, Dagster included
  no_op        the same command again, nothing new
  new_file     after one new file of ~3k plays over 5 months is dropped in
  month        `--from M --to M` of the busiest month (a reload asked for)
  report       building the HTML report alone, from the loaded warehouse (in-process)

and a run's fixed cost: the first run and a no-op run of a 3-play export. It prints each with
its ratio to the floor or to the first run, measured here. Each step after the first starts
once the server is done with the step before: what autovacuum would have done by its
thresholds, and a checkpoint (the wait is printed). The steps that change nothing (no_op,
month, and the fixed cost's, each on a fresh database) run three times; the median is shown.
Goals (issue 14): first <= 3x the floor, no-op <= 5 % and new file <= 10 % of the first run,
month <= 2 s, report <= 3 s, peak RSS <= 300 MB, fixed cost <= 5 s. Without --database-url an
embedded server is started under bench/out/. Figures are written up in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))

from ingest import _drop_database, _fresh_database, phase_floor  # noqa: E402  (the same floor and databases)


def _timed(command: list[str], env: dict) -> dict:
    """Run a command to its end: wall seconds and the peak RSS of its process tree's largest."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{output[-3000:]}")
    return {"seconds": seconds, "peak_rss_mb": usage.ru_maxrss / 1024, "output": output}


def _cli_run(env: dict, raw_dir: Path, *extra: str) -> dict:
    spotify_etl = Path(sys.executable).with_name("spotify-etl")
    result = _timed([str(spotify_etl), "run", "--raw-dir", str(raw_dir), "--no-enrich", *extra], env)
    reloaded = [line for line in result["output"].splitlines() if line.startswith("facts reloaded for:")]
    result["months"] = reloaded[0].removeprefix("facts reloaded for: ") if reloaded else "none"
    return result


def _export(plays: int) -> Path:
    from spotify_etl.lib.synthetic import write_export

    raw_dir = OUT / f"incremental_{plays}"
    marker = raw_dir / ".complete"
    if not marker.exists():
        print(f"generating {plays:,} plays under {raw_dir} ...", flush=True)
        write_export(raw_dir / "export", plays, account_months=0)
        marker.write_text("ok")
    return raw_dir


def _new_file(raw_dir: Path) -> Path:
    """~3k plays over five months (another seed: other sessions), as a file of its own."""
    from spotify_etl.lib.synthetic import generate_plays, write_json_array

    path = raw_dir / "export" / "Spotify Extended Streaming History" / "Streaming_History_Audio_new.json"
    plays = list(
        generate_plays(3_000, seed=99, start=datetime(2025, 3, 1, tzinfo=UTC), end=datetime(2025, 8, 1, tzinfo=UTC))
    )
    write_json_array(path, plays)
    return path


# What autovacuum does to a table, by its default thresholds (PostgreSQL's defaults: a scale
# factor of the table's rows plus a base), read from pg_stat_user_tables.
_AUTOVACUUM_DUE = """
SELECT format('%I.%I', s.schemaname, s.relname),
       s.n_dead_tup > 50 + 0.2 * greatest(c.reltuples, 0)
           OR s.n_ins_since_vacuum > 1000 + 0.2 * greatest(c.reltuples, 0) AS vacuum,
       s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0) AS analyze
FROM pg_stat_user_tables AS s
JOIN pg_class AS c ON c.oid = s.relid
WHERE c.relkind = 'r'
"""


def _settle(url: str, timeout_s: float = 600) -> float:
    """Wait until the server is done with the step before, as a new export finds it days after
    the last: no autovacuum worker runs on the database, every table autovacuum would vacuum or
    analyze by its thresholds is (done here with VACUUM and ANALYZE, rather than waiting up to a
    minute for autovacuum's next round: after a load of a million plays none had started yet,
    and a new file's run then took 3.72 s where it takes 3.51 s once they have run, the
    accounting check's count of staging per file 0.15 s instead of 0.06 s), and the writes are
    on disk (CHECKPOINT: otherwise the checkpointer spreads gigabytes of them over the next
    minutes, and every fsync of the next step, Dagster's SQLite ones included, waits behind
    them). Returns the seconds waited."""
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        while time.perf_counter() - started < timeout_s:
            busy = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
                " AND datname = current_database()"
            ).fetchone()[0]
            if not busy:
                break
            time.sleep(0.5)
        for table, vacuum, analyze in conn.execute(_AUTOVACUUM_DUE).fetchall():
            if vacuum:
                conn.execute(f"VACUUM {'(ANALYZE) ' if analyze else ''}{table}")
            elif analyze:
                conn.execute(f"ANALYZE {table}")
        conn.execute("CHECKPOINT")
    return time.perf_counter() - started


def _report_seconds(url: str) -> dict:
    code = (
        "import time, tempfile, resource, json, pathlib;"
        "from spotify_etl.lib.report.build import write_report;"
        "from spotify_etl.lib.warehouse.database import connect;"
        f"conn = connect({url!r});"
        "t = time.perf_counter(); write_report(conn, pathlib.Path(tempfile.mkdtemp()));"
        "print(json.dumps({'seconds': time.perf_counter() - t,"
        " 'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))"
    )
    output = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def _busiest_month(url: str) -> str:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM') FROM staging.streaming_history"
            " GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
        ).fetchone()[0]


def _tiny_export(root: Path) -> Path:
    from spotify_etl.lib.synthetic import generate_plays, write_json_array

    raw_dir = root / "tiny"
    path = raw_dir / "export" / "Spotify Extended Streaming History" / "Streaming_History_Audio_2024.json"
    write_json_array(
        path, list(generate_plays(3, start=datetime(2024, 1, 1, tzinfo=UTC), end=datetime(2024, 2, 1, tzinfo=UTC)))
    )
    return raw_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plays", type=int, default=1_000_000)
    parser.add_argument("--database-url", help="a database on the server to measure (default: embedded)")
    args = parser.parse_args()

    OUT.mkdir(exist_ok=True)
    raw_dir = _export(args.plays)
    new_file = raw_dir / "export" / "Spotify Extended Streaming History" / "Streaming_History_Audio_new.json"
    new_file.unlink(missing_ok=True)
    if args.database_url:
        server_url = args.database_url
    else:
        from spotify_etl.lib.warehouse.embedded_postgres import start_embedded_server

        server_url = start_embedded_server(OUT / "embedded-home")

    def environment(url: str) -> dict:
        home = OUT / f"home_{uuid.uuid4().hex[:8]}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SPOTIFY_", "DAGSTER_"))}
        return env | {"SPOTIFY_ETL_HOME": str(home), "SPOTIFY_ETL_DATABASE_URL": url}

    def median(runs: list[dict]) -> dict:
        """The run of median wall time."""
        return sorted(runs, key=lambda run: run["seconds"])[len(runs) // 2]

    def fixed_cost() -> dict:
        """A 3-play export's first run and no-op run, on a fresh database and instance."""
        url = _fresh_database(server_url)
        env = environment(url)
        _settle(url)
        runs = {"fixed_first": _cli_run(env, tiny), "fixed_no_op": _cli_run(env, tiny)}
        _drop_database(server_url, url)
        return runs

    results: dict[str, dict] = {}
    # The fixed cost first (each of its figures the median of three), on a quiet server.
    tiny = _tiny_export(OUT / f"tiny_{uuid.uuid4().hex[:8]}")
    fixed_runs = [fixed_cost() for _ in range(3)]
    fixed = {step: median([run[step] for run in fixed_runs]) for step in ("fixed_first", "fixed_no_op")}

    def floor() -> dict:
        url = _fresh_database(server_url)
        measured = phase_floor(url, raw_dir)
        _drop_database(server_url, url)
        return measured

    floors = [floor()]
    url = _fresh_database(server_url)
    env = environment(url)
    waited = {"first": _settle(url)}
    first_run = _cli_run(env, raw_dir)
    _settle(url)
    floors.append(floor())
    results["floor"] = {
        "seconds": sum(f["seconds"] for f in floors) / len(floors),
        "peak_rss_mb": max(f["peak_rss_mb"] for f in floors),
    }
    results["first"] = first_run
    waited["no_op"] = _settle(url)
    results["no_op"] = median([_cli_run(env, raw_dir) for _ in range(3)])
    _new_file(raw_dir)
    waited["new_file"] = _settle(url)
    results["new_file"] = _cli_run(env, raw_dir)
    month = _busiest_month(url)
    waited["month"] = _settle(url)
    results["month"] = median([_cli_run(env, raw_dir, "--from", month, "--to", month) for _ in range(3)])
    waited["report"] = _settle(url)
    results["report"] = _report_seconds(url)
    _drop_database(server_url, url)
    new_file.unlink()
    results |= fixed

    with psycopg.connect(server_url) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
    first = results["first"]["seconds"]
    floor_s = results["floor"]["seconds"]
    print(f"\n{args.plays:,} plays; PostgreSQL {version}; {os.cpu_count()} cores")
    print(f"{'step':<12} {'seconds':>8} {'ratio':>16} {'peak RSS MB':>12}  months reloaded")
    ratios = {
        "first": f"{first / floor_s:.2f}x floor",
        "no_op": f"{results['no_op']['seconds'] / first:.1%} of first",
        "new_file": f"{results['new_file']['seconds'] / first:.1%} of first",
    }
    for name, r in results.items():
        print(
            f"{name:<12} {r['seconds']:>8.2f} {ratios.get(name, ''):>16} {r['peak_rss_mb']:>12.0f}"
            f"  {r.get('months', '')}"
        )
    before, after = (f["seconds"] for f in floors)
    print(
        f"\nfloor before the first run {before:.2f} s, after it {after:.2f} s ({after / before - 1:+.0%}):"
        " ratios to the floor use their mean"
    )
    print(
        "\nwaited for autovacuum's work and a checkpoint before each step: "
        + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in waited.items())
    )
    print(
        f"\ngoals: first <= 3x floor ({first / floor_s:.2f}x), no-op <= 5% "
        f"({results['no_op']['seconds'] / first:.1%}), new file <= 10% ({results['new_file']['seconds'] / first:.1%}), "
        f"month <= 2 s ({results['month']['seconds']:.2f} s), report <= 3 s ({results['report']['seconds']:.2f} s), "
        f"peak RSS <= 300 MB ({max(r['peak_rss_mb'] for r in results.values()):.0f} MB), "
        f"fixed cost <= 5 s ({results['fixed_first']['seconds']:.2f} s first, "
        f"{results['fixed_no_op']['seconds']:.2f} s no-op)"
    )


if __name__ == "__main__":
    main()
