"""Benchmark: a zip of many small members against the same files loose on disk.

    python bench/zip_members.py [--members 10000] [--database-url URL]

Writes N play files of one record each, once loose in a folder and once as the members of
one zip, and ingests each into a fresh database of the same server (each in a process of its
own), printing files/s for both and their ratio. Goal: zip members at the speed of files.
Without --database-url an embedded server is started under bench/out/.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import psycopg
from psycopg import sql

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "zip_members"

_INGEST = """
import json, sys, time
from pathlib import Path
from spotify_etl.lib.ingestion import ingest_raw_dir
started = time.perf_counter()
report = ingest_raw_dir(sys.argv[1], Path(sys.argv[2]))
print(json.dumps({"seconds": time.perf_counter() - started, "files": len(report.files), "stored": report.stored}))
"""


def _record(n: int) -> bytes:
    ts = f"2022-{n % 12 + 1:02d}-{n % 28 + 1:02d}T{n % 24:02d}:{n % 60:02d}:{n // 60 % 60:02d}Z"
    uri = "spotify:track:" + f"{n:022d}".replace("0", "A")
    return json.dumps(
        [{"ts": ts, "ms_played": 1000 + n, "spotify_track_uri": uri, "master_metadata_track_name": f"Song {n}"}]
    ).encode()


def _fresh_database(server_url: str) -> str:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = psycopg.conninfo.conninfo_to_dict(server_url)
    url["dbname"] = name
    from spotify_etl.defs.resources.warehouse import WarehouseResource

    return WarehouseResource(database_url=psycopg.conninfo.make_conninfo(**url)).url()


def _ingest(url: str, raw_dir: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", _INGEST, url, str(raw_dir)], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    shutil.rmtree(OUT, ignore_errors=True)
    loose, zipped = OUT / "loose", OUT / "zipped"
    loose.mkdir(parents=True)
    zipped.mkdir()
    with zipfile.ZipFile(zipped / "my_spotify_data.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for n in range(args.members):
            name = f"Streaming_History_Audio_2022_{n}.json"
            data = _record(n)
            (loose / name).write_bytes(data)
            zf.writestr(f"Spotify Extended Streaming History/{name}", data)

    if args.database_url:
        server_url = args.database_url
    else:
        from spotify_etl.lib.warehouse.embedded_postgres import start_embedded_server

        server_url = start_embedded_server(HERE / "out" / "server")
    figures = {}
    for label, raw_dir in (("loose files", loose), ("zip members", zipped)):
        result = _ingest(_fresh_database(server_url), raw_dir)
        assert result["stored"] == args.members, result
        figures[label] = result["seconds"]
        print(
            f"{label:12s} {args.members:>7,} files  {result['seconds']:7.1f} s"
            f"  {args.members / result['seconds']:8.0f} files/s"
        )
    print(f"zip / loose: {figures['zip members'] / figures['loose files']:.2f}x")


if __name__ == "__main__":
    main()
