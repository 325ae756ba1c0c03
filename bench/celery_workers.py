"""Benchmark: the same load of many listeners' exports (ingestion, in one run or a run per
listener, then full_load), in one process and with its steps on Celery workers (dagster-celery,
`spotify-etl worker`, the machine's RabbitMQ), each on a fresh warehouse and a fresh
PostgreSQL-backed Dagster instance (deploy/dagster.yaml).

    python bench/celery_workers.py [--listeners 20] [--plays 20000] [--workers 2]
                                   [--ingestion one-run|per-listener]
                                   [--database-url postgresql://postgres@127.0.0.1:5432/test]

On a machine of 2 cores the figure to watch is not a speed-up but what a step costs on a
worker (the worker loads the code location for each step) and what a run costs, and each
worker's peak memory. Printed: wall time of each, steps, (celery - in-process) / steps (the
overhead per step on a small export; negative once parallel steps win more than they cost),
the workers' peak RSS, and whether both warehouses hold the same plays and facts.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psutil
import psycopg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import _drop_database, _fresh_database  # noqa: E402  (the same databases)

REPOSITORY = Path(__file__).resolve().parent.parent
BROKER = "pyamqp://guest:guest@127.0.0.1:5672//"
MODES = ("in_process", "celery")
# Run in a child process with the deployment's environment: the job as the settings make it.
_LAUNCH = """
import json, sys, time
import dagster as dg
from spotify_etl.definitions import full_load_from_environment, ingest_exports_from_environment
from spotify_etl.defs.partitions import add_listener_partitions
from spotify_etl.settings import load_settings
from spotify_etl_tests.pipeline_helpers import ALL_MONTHS
instance = dg.DagsterInstance.get()
listeners = add_listener_partitions(instance, load_settings().raw_dir)
ingest = dg.reconstructable(ingest_exports_from_environment)
started = time.perf_counter()
if sys.argv[1] == "per-listener":  # as the sensor asks: a run per listener
    tags = [{"dagster/partition": listener} for listener in listeners]
else:  # as spotify-etl run does: one run over every listener
    tags = [{"dagster/asset_partition_range_start": listeners[0], "dagster/asset_partition_range_end": listeners[-1]}]
results = [dg.execute_job(ingest, instance=instance, tags=run_tags) for run_tags in tags]
ingested = time.perf_counter()
tags = {"dagster/asset_partition_range_start": ALL_MONTHS[0], "dagster/asset_partition_range_end": ALL_MONTHS[1]}
results.append(dg.execute_job(dg.reconstructable(full_load_from_environment), instance=instance, tags=tags))
events = [e for result in results for e in result.all_events]
steps = len([e for e in events if e.is_step_success])
failures = [f"{e.step_key}: {e.step_failure_data.error.message.strip()}" for e in events if e.is_step_failure]
print(json.dumps({"success": all(r.success for r in results), "seconds": time.perf_counter() - started,
                  "ingestion_seconds": ingested - started, "runs": len(results), "steps": steps,
                  "failures": failures}))
"""

FINGERPRINT = (
    "SELECT (SELECT count(*) FROM staging.streaming_history), (SELECT sum(ms_played) FROM staging.streaming_history),"
    " (SELECT count(*) FROM core.fact_tracks_history), (SELECT sum(ms_played) FROM core.fact_tracks_history),"
    " (SELECT count(*) FROM core.fact_podcasts_history), (SELECT count(*) FROM core.fact_listening_sessions)"
)


def _exports(raw: Path, listeners: int, plays: int) -> None:
    from spotify_etl.lib.synthetic import write_export

    for n in range(listeners):
        write_export(raw / f"listener{n:03d}", plays, seed=n + 1, start=datetime(2023, 1, 1, tzinfo=UTC),
                     end=datetime(2025, 12, 31, tzinfo=UTC), account_months=0)  # fmt: skip


def _run(environment: dict, ingestion: str) -> dict:
    import json

    output = subprocess.run(
        [sys.executable, "-c", _LAUNCH, ingestion],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        cwd=REPOSITORY,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def _watch_rss(processes: list[subprocess.Popen], peaks: dict, stop: threading.Event) -> None:
    while not stop.is_set():
        for worker in processes:
            try:
                root = psutil.Process(worker.pid)
                rss = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
            except psutil.NoSuchProcess:
                continue
            peaks[worker.pid] = max(peaks.get(worker.pid, 0), rss)
        stop.wait(0.2)


def run(listeners: int, plays: int, workers: int, server_url: str, modes: tuple[str, ...], ingestion: str) -> dict:
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw"
        _exports(raw, listeners, plays)
        for mode in modes:
            warehouse, storage = _fresh_database(server_url), _fresh_database(server_url)
            home = Path(tmp) / f"dagster_{mode}"
            home.mkdir()
            shutil.copy(REPOSITORY / "deploy" / "dagster.yaml", home / "dagster.yaml")
            environment = {
                **os.environ,
                "PYTHONPATH": str(REPOSITORY),
                "DAGSTER_HOME": str(home),
                "DAGSTER_PG_URL": make_url(storage).set(drivername="postgresql+psycopg2").render_as_string(False),
                "SPOTIFY_ETL_HOME": str(Path(tmp) / f"home_{mode}"),
                "SPOTIFY_ETL_DATABASE_URL": warehouse,
                "SPOTIFY_ETL_RAW_DIR": str(raw),
            }
            started_workers: list[subprocess.Popen] = []
            peaks: dict = {}
            stop = threading.Event()
            if mode == "celery":
                environment |= {
                    "SPOTIFY_ETL_CELERY_BROKER": BROKER,
                    "SPOTIFY_ETL_CELERY_QUEUE": f"bench_{uuid.uuid4().hex[:8]}",
                }
                cli = str(Path(sys.executable).with_name("spotify-etl"))
                for n in range(workers):
                    started_workers.append(
                        subprocess.Popen(
                            [cli, "worker", "--name", f"bench{n}"],
                            env=environment,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                        )  # fmt: skip
                    )
                time.sleep(8)  # the workers connect and say hello
                threading.Thread(target=_watch_rss, args=(started_workers, peaks, stop), daemon=True).start()
            try:
                figures[mode] = _run(environment, ingestion)
            finally:
                stop.set()
                for worker in started_workers:
                    worker.terminate()
                    worker.wait(timeout=60)
            with psycopg.connect(warehouse) as conn:
                figures[mode]["fingerprint"] = conn.execute(FINGERPRINT).fetchone()
            figures[mode]["worker_peak_rss_mb"] = [round(v / 2**20) for v in peaks.values()]
            _drop_database(server_url, warehouse)
            _drop_database(server_url, storage)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listeners", type=int, default=20)
    parser.add_argument("--plays", type=int, default=20_000, help="plays per listener")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--only", choices=["in_process", "celery"], help="one of the two runs only")
    parser.add_argument(
        "--ingestion",
        choices=["one-run", "per-listener"],
        default="one-run",
        help="ingest every listener in one run (as spotify-etl run) or one run per listener (as the sensor)",
    )
    args = parser.parse_args()
    modes = (args.only,) if args.only else MODES
    f = run(args.listeners, args.plays, args.workers, args.database_url, modes, args.ingestion)
    for mode, figures in f.items():
        for failure in figures["failures"]:
            print(f"{mode} failed: {failure}")
    if args.only:
        print(f"{args.only}: {f[args.only]}")
        return
    one, many = f["in_process"], f["celery"]
    print(f"{args.listeners} listeners x {args.plays:,} plays = {args.listeners * args.plays:,} plays")
    print(f"ingestion: {args.ingestion}")
    for name, figures in (("in one process:      ", one), (f"on {args.workers} Celery workers: ", many)):
        print(
            f"{name}{figures['seconds']:7.1f} s (ingestion {figures['ingestion_seconds']:.1f} s), "
            f"{figures['runs']} runs, {figures['steps']} steps, success {figures['success']}"
        )
    print(f"(celery - one) / steps: {(many['seconds'] - one['seconds']) / max(many['steps'], 1):+6.2f} s")
    print(f"workers' peak RSS:   {', '.join(f'{mb} MB' for mb in many['worker_peak_rss_mb'])}")
    print(f"same warehouse:      {one['fingerprint'] == many['fingerprint']}  {many['fingerprint']}")


if __name__ == "__main__":
    main()
