"""Reliability: arbitrary records never crash ingestion, and a killed ingestion resumes to the
same warehouse as an uninterrupted one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from spotify_etl.lib.export.records import COLUMNS, CURRENT_EXTENDED_FIELDS, RecordError, normalise_extended
from spotify_etl.lib.ingestion import ingest_raw_dir
from spotify_etl.lib.synthetic import write_export
from spotify_etl_tests.conftest import fresh_warehouse_url, wait_for

# Every field of the current format, and one Spotify may add.
_FIELDS = [*CURRENT_EXTENDED_FIELDS, "brand_new_field"]
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.sampled_from(["2021-05-01T10:00:00Z", "2021-05-01 10:00", "0", "", "\x00"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
_RECORDS = st.one_of(st.dictionaries(st.sampled_from(_FIELDS), _VALUES, max_size=len(_FIELDS)), _VALUES)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_RECORDS)
def test_any_record_is_either_a_row_or_a_clear_rejection(record) -> None:
    try:
        row = normalise_extended(record, listener="x", position=0, is_video=False, keep_personal_data=True)
    except RecordError as rejection:
        assert rejection.reason and str(rejection).startswith(rejection.reason)
        return
    assert len(row) == len(COLUMNS)
    assert row[1] is not None  # a stored play always has its time


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(st.lists(_RECORDS, max_size=20))
def test_arbitrary_files_load_with_every_record_accounted_for(tmp_path_factory, warehouse, records) -> None:
    try:
        text = json.dumps(records, default=str, allow_nan=False)
    except ValueError:
        assume(False)  # NaN is no JSON: a file holding it is a failed file (tested elsewhere)
    with warehouse.connect() as conn:  # each example starts from an empty warehouse
        conn.execute("TRUNCATE staging.streaming_history, etl_internal.source_files CASCADE")
    raw_dir = tmp_path_factory.mktemp("raw")
    (raw_dir / "Streaming_History_Audio_2021_0.json").write_text(text, encoding="utf-8")
    report = ingest_raw_dir(warehouse.url(), raw_dir)
    assert report.records_read == len(records)
    assert report.stored + report.duplicates + report.rejected == len(records)
    assert not report.failed


# Ingestion in a process of its own, reporting what it stored and its peak memory.
_INGEST = """
import json, resource, sys
from pathlib import Path
from spotify_etl.lib.ingestion import ingest_raw_dir
report = ingest_raw_dir(sys.argv[1], Path(sys.argv[2]))
print(json.dumps({"stored": report.stored, "failed": len(report.failed),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _snapshot(url: str) -> tuple:
    with psycopg.connect(url) as conn:
        plays = conn.execute(
            "SELECT listener, ts, content_key, ms_played, track_name, extra FROM staging.streaming_history"
            " ORDER BY listener, ts, content_key, ms_played"
        ).fetchall()
        files = conn.execute(
            "SELECT path, sha256, records_read, stored, duplicates, rejected"
            " FROM etl_internal.source_files ORDER BY path"
        ).fetchall()
    return plays, files


def test_ingestion_killed_midway_resumes_to_the_same_warehouse(server_url, tmp_path) -> None:
    raw_dir = tmp_path / "raw"
    write_export(raw_dir, 60_000, per_file=5_000, account_months=3)
    killed, clean = fresh_warehouse_url(server_url), fresh_warehouse_url(server_url)
    ingest_raw_dir(clean, raw_dir)  # uninterrupted

    process = subprocess.Popen([sys.executable, "-c", _INGEST, killed, str(raw_dir)], stdout=subprocess.DEVNULL)

    def files_loaded() -> int:
        with psycopg.connect(killed) as conn:
            return conn.execute("SELECT count(*) FROM etl_internal.source_files").fetchone()[0]

    def three_files_in() -> bool:
        assert process.poll() is None, "the load ended before it was killed"
        return files_loaded() >= 3

    wait_for(three_files_in, "three files loaded")
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    loaded = files_loaded()
    assert 3 <= loaded < 15, "killed in the middle of the load"

    with psycopg.connect(killed) as conn:
        half = conn.execute("SELECT count(*) FROM staging.streaming_history").fetchone()[0]
        # Whole files only: what is stored is exactly what the recorded files say.
        assert half == conn.execute("SELECT sum(stored) FROM etl_internal.source_files").fetchone()[0]
    ingest_raw_dir(killed, raw_dir)
    assert _snapshot(killed) == _snapshot(clean)


def _ingest_in_new_process(url: str, raw_dir: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _INGEST, url, str(raw_dir)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def test_a_large_file_is_streamed_with_flat_memory(server_url, tmp_path) -> None:
    """16 times the file, the same memory: nothing grows with the file. (2 GiB: bench/big_file.py.)"""
    from spotify_etl.lib.synthetic import write_large_history

    small = write_large_history(tmp_path / "small" / "Streaming_History_Audio_0.json", 16 * 2**20)
    large = write_large_history(tmp_path / "large" / "Streaming_History_Audio_0.json", 256 * 2**20)
    measured = {}
    for name, records in (("small", small), ("large", large)):
        url = fresh_warehouse_url(server_url)
        measured[name] = _ingest_in_new_process(url, tmp_path / name)
        assert (measured[name]["stored"], measured[name]["failed"]) == (records, 0)
    assert large > 15 * small
    assert measured["large"]["peak_rss_mb"] < measured["small"]["peak_rss_mb"] + 16, measured
