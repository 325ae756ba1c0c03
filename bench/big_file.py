"""Benchmark: one very large play file is streamed, with flat memory.

    python bench/big_file.py [--gib 2] [--database-url URL]

Writes one extended-history file of the given size under bench/out/ (about 3.2M plays for
2 GiB; reused by later runs), then ingests it in a fresh process on a fresh database, and
for comparison a 16 MiB file. The ingesting process's resident memory is sampled every
half second: printed at each quarter of the run, with its peak. Without --database-url an
embedded server is started under bench/out/. Figures are written up in docs/reliability.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import psutil
from ingest import OUT, _drop_database, _fresh_database

_CHILD = """
import json, resource, sys, time
from pathlib import Path
from spotify_etl.lib.ingestion import ingest_raw_dir
started = time.perf_counter()
report = ingest_raw_dir(sys.argv[1], Path(sys.argv[2]))
print(json.dumps({"seconds": time.perf_counter() - started, "records": report.records_read,
                  "stored": report.stored, "failed": len(report.failed),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _file(size_bytes: int) -> tuple[Path, int]:
    from spotify_etl.lib.synthetic import write_large_history

    raw_dir = OUT / f"big_{size_bytes}"
    path = raw_dir / "Streaming_History_Audio_2010-2016_0.json"
    marker = raw_dir.parent / f"big_{size_bytes}.records"
    if not marker.exists():
        print(f"writing {size_bytes / 2**30:.2f} GiB to {path} ...", flush=True)
        marker.write_text(str(write_large_history(path, size_bytes)))
    return raw_dir, int(marker.read_text())


def _measure(server_url: str, raw_dir: Path) -> dict:
    from spotify_etl.defs.resources.warehouse import WarehouseResource

    url = _fresh_database(server_url)
    WarehouseResource(database_url=url).url()  # migrated
    try:
        child = subprocess.Popen([sys.executable, "-c", _CHILD, url, str(raw_dir)], stdout=subprocess.PIPE, text=True)
        process = psutil.Process(child.pid)
        samples: list[tuple[float, float]] = []
        started = time.monotonic()
        while child.poll() is None:
            try:
                samples.append((time.monotonic() - started, process.memory_info().rss / 2**20))
            except psutil.NoSuchProcess:
                break
            time.sleep(0.5)
        result = json.loads(child.stdout.read())
    finally:
        _drop_database(server_url, url)
    total = samples[-1][0] if samples else 0
    quarters = []
    for share in (0.25, 0.5, 0.75, 1.0):
        at = [rss for t, rss in samples if t <= total * share]
        quarters.append(round(at[-1], 1) if at else None)
    result["rss_mb_at_quarters"] = quarters
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gib", type=float, default=2.0)
    parser.add_argument("--database-url", help="a database on the server to measure (default: embedded)")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    if args.database_url:
        server_url = args.database_url
    else:
        from spotify_etl.lib.warehouse.embedded_postgres import start_embedded_server

        server_url = start_embedded_server(OUT / "embedded-home")

    rows = []
    for size in (16 * 2**20, int(args.gib * 2**30)):
        raw_dir, records = _file(size)
        result = _measure(server_url, raw_dir)
        assert result["records"] == records and result["failed"] == 0, result
        rows.append((size, records, result))
    print(
        f"{'file':>10} {'records':>10} {'stored':>10} {'seconds':>8} {'plays/s':>9} {'peak RSS':>9}"
        "  RSS at 25/50/75/100 %"
    )
    for size, records, r in rows:
        print(
            f"{size / 2**20:>8.0f}MB {records:>10,} {r['stored']:>10,} {r['seconds']:>8.1f} "
            f"{records / r['seconds']:>9,.0f} {r['peak_rss_mb']:>7.1f}MB  {r['rss_mb_at_quarters']}"
        )


if __name__ == "__main__":
    main()
