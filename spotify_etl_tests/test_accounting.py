"""Accounting that cannot lie: each count observed on its own, every zip entry read, any
encoding, any nesting, one time range, and every failure in the exit code."""

from __future__ import annotations

import json
import resource
import shutil
import signal
import socket
import subprocess
import warnings
import zipfile
from functools import partial
from pathlib import Path

import psutil
import psycopg
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spotify_etl.defs.resources import WarehouseResource
from spotify_etl.errors import WarehouseUnavailable
from spotify_etl.lib.export.streams import MAX_NESTING
from spotify_etl.lib.report.build import write_report
from spotify_etl.lib.warehouse import database as database_module
from spotify_etl.lib.warehouse.database import prepare_warehouse
from spotify_etl.lib.warehouse.migrations import MIGRATIONS_DIR, apply_migrations
from spotify_etl.lib.warehouse.sql_files import load_sql
from spotify_etl_tests.conftest import CLI, cli_environment, fresh_warehouse_url, wait_for
from spotify_etl_tests.export_factory import play, track_uri, write_json, write_raw
from spotify_etl_tests.pipeline_helpers import check_results, materialize_all
from spotify_etl_tests.test_ingestion import assert_accounted, ledger, load, scalar

AUDIO = "Streaming_History_Audio_2022_0.json"


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# --- deep nesting -------------------------------------------------------------------------


def test_a_deeply_nested_record_is_rejected_and_the_next_one_stored(conn, warehouse, raw_dir) -> None:
    first, second = play("2022-01-01T10:00:00Z"), play("2022-01-02T10:00:00Z")
    text = "[" + json.dumps(first)[:-1] + f', "x": {_nested(5000)}}}, ' + json.dumps(second) + "]"
    write_raw(raw_dir / AUDIO, text)

    report = load(warehouse, raw_dir)
    assert not report.failed
    assert ledger(conn)[AUDIO] == ("loaded", 2, 1, 0, 1)
    assert_accounted(conn, report, 2)
    reason, record = conn.execute("SELECT reason, record FROM etl_internal.rejected_records").fetchone()
    assert reason == f"nested deeper than {MAX_NESTING} levels (kept to that depth)"
    kept = json.loads(record)
    assert kept["ts"] == first["ts"] and kept["spotify_track_uri"] == first["spotify_track_uri"]
    assert "not kept" in json.dumps(kept["x"])
    assert scalar(conn, "SELECT ts::text FROM staging.streaming_history") == "2022-01-02 10:00:00+00"


def test_a_million_levels_of_nesting_take_flat_memory(conn, warehouse, raw_dir) -> None:
    # ijson's fast readers would need terabytes for this (memory quadratic in depth).
    text = "[" + json.dumps(play("2022-01-01T10:00:00Z"))[:-1] + f', "x": {_nested(1_000_000)}}}, '
    text += json.dumps(play("2022-01-02T10:00:00Z")) + "]"
    write_raw(raw_dir / AUDIO, text)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = load(warehouse, raw_dir)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert (report.stored, report.rejected, len(report.failed)) == (1, 1, 0)
    assert grown_mb < 150, grown_mb


def test_nesting_inside_a_string_is_no_nesting(conn, warehouse, raw_dir) -> None:
    brackets = "[{" * 400 + '\\"' + "}]" * 3
    write_json(raw_dir / AUDIO, [play("2022-01-01T10:00:00Z", track=brackets), play("2022-01-02T10:00:00Z")])
    report = load(warehouse, raw_dir)
    assert (report.stored, report.rejected) == (2, 0)
    assert scalar(conn, "SELECT count(*) FROM staging.streaming_history WHERE track_name = %s", brackets) == 1


# --- errors of our own code are not bad input -----------------------------------------------


def test_an_error_in_our_own_code_fails_the_run_naming_file_and_record(conn, warehouse, raw_dir, monkeypatch) -> None:
    from spotify_etl.lib import ingestion

    write_json(raw_dir / AUDIO, [play("2022-01-01T10:00:00Z"), play("2022-01-02T10:00:00Z")])

    def broken(record, **_options):
        raise RuntimeError("a bug")

    monkeypatch.setattr(ingestion, "normalise_extended", broken)
    with pytest.raises(ingestion.IngestionError, match=rf"{AUDIO}: record 0: RuntimeError .* not in the file"):
        load(warehouse, raw_dir)
    assert scalar(conn, "SELECT count(*) FROM etl_internal.source_files") == 0  # rolled back, retried next run


# --- zips ---------------------------------------------------------------------------------


def test_every_entry_of_a_zip_is_read_even_two_of_one_name(conn, warehouse, raw_dir) -> None:
    name = f"Spotify Extended Streaming History/{AUDIO}"
    three = json.dumps([play(f"2022-01-0{d}T10:00:00Z") for d in range(1, 4)])
    four = json.dumps([play(f"2022-02-0{d}T10:00:00Z") for d in range(1, 5)])
    with warnings.catch_warnings(), zipfile.ZipFile(raw_dir / "my_spotify_data.zip", "w") as zf:
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns of the duplicate name
        zf.writestr(name, three)
        zf.writestr(name, four)

    report = load(warehouse, raw_dir)
    assert ledger(conn) == {
        f"my_spotify_data.zip!{name}": ("loaded", 3, 3, 0, 0),
        f"my_spotify_data.zip!{name} (entry 2)": ("loaded", 4, 4, 0, 0),
    }
    assert_accounted(conn, report, 7)
    assert [f.status for f in load(warehouse, raw_dir).files] == ["unchanged", "unchanged"]


def test_a_zip_is_opened_once_whatever_its_number_of_members(conn, warehouse, raw_dir, monkeypatch) -> None:
    with zipfile.ZipFile(raw_dir / "many.zip", "w") as zf:
        for n in range(60):
            zf.writestr(f"Streaming_History_Audio_2022_{n}.json", json.dumps([play(f"2022-03-01T10:{n:02d}:00Z")]))
    opened = []
    real = zipfile.ZipFile

    def counting(*args, **kwargs):
        opened.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(zipfile, "ZipFile", counting)
    report = load(warehouse, raw_dir)
    assert report.stored == 60
    assert len(opened) == 2  # the listing, then one handle for all members' reads


# --- encodings ----------------------------------------------------------------------------

_NAMES = [("Björk", "Jóga"), ("東京事変", "群青日和"), ("Кино", "Группа крови"), ("فيروز", "كيفك إنت"), ("🎵", "😀")]


@pytest.mark.parametrize(
    "encoding, bom",
    [
        ("utf-8", b"\xef\xbb\xbf"),
        ("utf-16-le", b"\xff\xfe"),
        ("utf-16-be", b"\xfe\xff"),
        ("utf-16-le", b""),
        ("utf-16-be", b""),
        ("utf-32-le", b"\xff\xfe\x00\x00"),
        ("utf-32-be", b""),
    ],
    ids=["utf-8 bom", "utf-16-le bom", "utf-16-be bom", "utf-16-le", "utf-16-be", "utf-32-le bom", "utf-32-be"],
)
def test_every_unicode_encoding_json_may_use_is_read(conn, warehouse, raw_dir, encoding, bom) -> None:
    plays = [play(f"2022-04-0{n + 1}T10:00:00Z", artist=a, track=t) for n, (a, t) in enumerate(_NAMES)]
    write_raw(raw_dir / AUDIO, bom + json.dumps(plays, ensure_ascii=False).encode(encoding))
    report = load(warehouse, raw_dir)
    assert not report.failed, report.failed[0].error
    assert_accounted(conn, report, len(plays))
    stored = conn.execute("SELECT artist_name, track_name FROM staging.streaming_history ORDER BY ts").fetchall()
    assert stored == _NAMES


def test_bytes_invalid_in_utf16_cost_their_record_and_name_the_encoding(conn, warehouse, raw_dir) -> None:
    plays = [play(f"2022-04-0{n}T10:00:00Z", track=f"Song {n}") for n in range(1, 4)]
    data = b"\xff\xfe" + json.dumps(plays).encode("utf-16-le")
    broken = data.replace("Song 2".encode("utf-16-le"), "Song ".encode("utf-16-le") + b"\x00\xdc")  # lone surrogate
    write_raw(raw_dir / AUDIO, broken)
    report = load(warehouse, raw_dir)
    assert not report.failed
    assert (report.stored, report.rejected) == (2, 1)
    assert_accounted(conn, report, 3)


def test_a_file_cut_inside_a_utf16_character_fails_naming_the_encoding(conn, warehouse, raw_dir) -> None:
    plays = [play(f"2022-04-0{n}T10:00:00Z") for n in range(1, 4)]
    data = b"\xff\xfe" + json.dumps(plays).encode("utf-16-le")
    write_raw(raw_dir / AUDIO, data[:-1])
    report = load(warehouse, raw_dir)
    (outcome,) = report.failed
    assert outcome.records_read == 3
    assert "UTF-16-LE" in outcome.error, outcome.error


# --- one time range -----------------------------------------------------------------------


def test_a_play_before_the_partitions_is_rejected_and_the_facts_reconcile(warehouse, raw_dir) -> None:
    write_json(
        raw_dir / AUDIO, [play("2007-05-01T10:00:00Z"), play("2008-10-01T00:00:00Z"), play("2022-01-01T10:00:00Z")]
    )
    result = materialize_all(warehouse, raw_dir)
    checks = check_results(result)
    assert checks["reconciles_with_staging"] and checks["every_record_accounted_for"], checks
    with warehouse.connect() as conn:
        assert ledger(conn)[AUDIO] == ("loaded", 3, 2, 0, 1)
        assert (
            scalar(conn, "SELECT reason FROM etl_internal.rejected_records")
            == "field 'ts': outside 2008-10 .. now (2007-05-01T10:00:00+00:00)"
        )
        assert scalar(conn, "SELECT count(*) FROM core.fact_tracks_history") == 2


def test_migration_moves_plays_staged_before_the_range_to_rejected_records(database_url, tmp_path, raw_dir) -> None:
    earlier = tmp_path / "migrations"
    earlier.mkdir()
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        if int(path.name[:4]) < 11:
            shutil.copy(path, earlier / path.name)
    write_json(raw_dir / AUDIO, [play("2022-01-01T10:00:00Z"), play("2022-01-02T10:00:00Z")])
    with psycopg.connect(database_url) as conn:
        apply_migrations(conn, earlier)
    load(WarehouseResource(database_url=database_url), raw_dir)  # migrates the rest too
    with psycopg.connect(database_url) as conn:
        # As an earlier version would have staged it: a 2007 play, counted as stored.
        conn.execute(
            "UPDATE staging.streaming_history SET ts = '2007-01-01T10:00:00Z' WHERE ts = '2022-01-01T10:00:00Z'"
        )
        conn.execute("DELETE FROM etl_internal.schema_migrations WHERE version = 11")
        conn.commit()
        assert apply_migrations(conn) == ["0011_observed_counts_and_one_time_range"]
        assert ledger(conn)[AUDIO] == ("loaded", 2, 1, 0, 1)
        reason, record = conn.execute("SELECT reason, record FROM etl_internal.rejected_records").fetchone()
        assert reason.startswith("field 'ts': outside 2008-10 .. now")
        assert json.loads(record)["ts"].startswith("2007-01-01")
        assert scalar(conn, "SELECT count(*) FROM staging.streaming_history WHERE ts < '2008-10-01'") == 0


# --- the re-export policy: append-only ------------------------------------------------------


def test_a_re_exported_file_adds_plays_and_never_removes_or_rewrites_one(conn, warehouse, raw_dir) -> None:
    plays = [play(f"2022-05-0{d}T10:00:00Z") for d in range(1, 5)]
    path = write_json(raw_dir / AUDIO, plays)
    load(warehouse, raw_dir)
    changed = [dict(plays[0], ms_played=plays[0]["ms_played"] + 1), *plays[1:3]]  # one changed, one gone
    write_json(path, changed)
    report = load(warehouse, raw_dir)
    assert (report.stored, report.duplicates) == (1, 2)
    assert scalar(conn, "SELECT count(*) FROM staging.streaming_history") == 5  # 4 first seen + the changed one
    assert scalar(conn, "SELECT count(*) FROM etl_internal.source_files WHERE path = %s", AUDIO) == 2


# --- the accounting check -----------------------------------------------------------------


def test_the_check_names_a_file_whose_counts_do_not_add_up(warehouse, raw_dir) -> None:
    write_json(raw_dir / AUDIO, [play("2022-01-01T10:00:00Z"), play("2022-01-02T10:00:00Z")])
    materialize_all(warehouse, raw_dir, selection=["raw_plays"])
    with warehouse.connect() as conn:  # a record read but neither stored, duplicate nor rejected
        conn.execute("UPDATE etl_internal.source_files SET records_read = records_read + 1")
    result = materialize_all(warehouse, raw_dir, selection=["raw_plays"])
    (evaluation,) = [c for c in result.get_asset_check_evaluations() if c.check_name == "every_record_accounted_for"]
    assert not evaluation.passed
    assert evaluation.description == f"1 files do not add up: {AUDIO}"
    assert evaluation.metadata["first_problems"].value[0]["records_read"] == "3"


# --- failures in the exit code, in one line -------------------------------------------------


def _cli(*args: str, cwd: Path, timeout: float = 600, **env: str) -> subprocess.CompletedProcess:
    env.setdefault("SPOTIFY_ETL_HOME", str(cwd / "home"))
    return subprocess.run(
        [CLI, *args], env=cli_environment(**env), cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def _reason(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("spotify-etl:")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_a_failing_error_check_fails_the_command(database_url, tmp_path, raw_dir) -> None:
    write_json(raw_dir / "Streaming_History_Audio_2022_1.json", [play("2022-01-01T10:00:00Z")])
    write_raw(raw_dir / AUDIO, json.dumps([play("2022-02-01T10:00:00Z"), play("2022-02-02T10:00:00Z")])[:-30])
    result = _cli("run", "--raw-dir", str(raw_dir), "--no-enrich", cwd=tmp_path, SPOTIFY_ETL_DATABASE_URL=database_url)
    assert result.returncode == 1
    assert "FAILED" in result.stdout
    reason = _reason(result)
    assert reason.startswith("spotify-etl: run failed: check export_files_readable failed (ERROR): ")
    assert AUDIO in reason


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_or_missing_database_is_one_line_for_every_command(server_url, tmp_path) -> None:
    unreachable = f"postgresql://postgres@127.0.0.1:{_free_port()}/warehouse"
    missing = fresh_warehouse_url(server_url).rsplit("/", 1)[0] + "/no_such_database"
    for url, said in ((unreachable, "Connection refused"), (missing, 'database "no_such_database" does not exist')):
        for command in (["run", "--sample", "--no-enrich"], ["status"], ["report"]):
            result = _cli(*command, cwd=tmp_path, SPOTIFY_ETL_DATABASE_URL=url, timeout=120)
            assert result.returncode == 1, (command, result.stdout)
            reason = _reason(result)
            assert reason.startswith(f"spotify-etl: {command[0]} failed: cannot connect to the warehouse, database ")
            assert said in reason, reason


def test_a_connection_lost_while_migrating_is_said_as_such(database_url, tmp_path, monkeypatch) -> None:
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    shutil.copy(MIGRATIONS_DIR / "0001_schemas.sql", migrations)
    (migrations / "0002_cut.sql").write_text("SELECT pg_terminate_backend(pg_backend_pid());")
    monkeypatch.setattr(database_module, "apply_migrations", partial(apply_migrations, directory=migrations))
    with pytest.raises(
        WarehouseUnavailable, match=r"lost the warehouse, database '\w+' at .* while applying migrations"
    ):
        prepare_warehouse(database_url)
    with psycopg.connect(database_url) as conn:  # nothing half-applied
        assert scalar(conn, "SELECT count(*) FROM pg_namespace WHERE nspname = 'etl_internal'") == 0


# --- spotify-etl ui stops what it started -----------------------------------------------------


@pytest.mark.parametrize("stop_with", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_ui_stops_everything_it_started(server_url, tmp_path, stop_with) -> None:
    port = _free_port()
    env = cli_environment(
        SPOTIFY_ETL_DATABASE_URL=fresh_warehouse_url(server_url), SPOTIFY_ETL_HOME=str(tmp_path / "home")
    )
    ui = subprocess.Popen(
        [CLI, "ui", "--port", str(port)], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        wait_for(lambda: _answers(port), "the UI to answer", timeout=240)
        started = psutil.Process(ui.pid).children(recursive=True)
        assert len(started) >= 3  # dagster dev, its webserver and daemon (and code servers)
        ui.send_signal(stop_with)
        assert ui.wait(timeout=30) == 0
        gone, alive = psutil.wait_procs(started, timeout=15)
        assert not alive, [p.cmdline() for p in alive]
        assert not _answers(port)
    finally:
        ui.kill()
        for process in psutil.Process().children(recursive=True):
            process.kill()


def _answers(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/server_info", timeout=2).ok
    except requests.RequestException:
        return False


# --- the report's file name -----------------------------------------------------------------


@pytest.mark.parametrize("listener", ["../../escaped", "/tmp/absolute", "a/../../b", "..", "Zoë 東京"])
def test_a_listener_never_names_a_path_outside_the_reports_directory(conn, tmp_path, listener) -> None:
    out_dir = tmp_path / "reports"
    path, _ = write_report(conn, out_dir, listener=listener)
    assert path.parent == out_dir and path.is_file()
    assert path.name.startswith("listening_report_") and path.name.endswith(".html")
    assert sorted(p.name for p in tmp_path.rglob("*.html")) == [path.name]


# --- the property: read = stored + duplicates + rejected + not read, each counted on its own ---

_ENCODINGS = [
    ("utf-8", b""),
    ("utf-8", b"\xef\xbb\xbf"),
    ("utf-16-le", b"\xff\xfe"),
    ("utf-16-be", b""),
    ("utf-32-le", b""),
]
_VALID = st.builds(
    lambda month, day, uri, ms: ("valid", play(f"{month}-0{day}T10:00:00Z", uri=track_uri(uri), ms=ms)),
    st.sampled_from(["2021-01", "2021-02", "2022-06"]),
    st.integers(1, 3),
    st.integers(0, 2),
    st.sampled_from([1000, 2000]),
)
_BAD = st.builds(lambda day: ("rejected", play(f"2021-03-0{day}T10:00:00Z", ms_played="x")), st.integers(1, 3))
_DEEP = st.builds(
    lambda depth: ("rejected", play("2021-04-01T10:00:00Z", x=json.loads(_nested(depth)))),
    st.integers(MAX_NESTING, MAX_NESTING + 60),
)
_FILE = st.tuples(
    st.lists(st.one_of(_VALID, _VALID, _BAD, _DEEP), max_size=8),
    st.sampled_from(_ENCODINGS),
    st.none() | st.floats(0, 0.999),  # where the file is cut off, as a share of its bytes
    st.booleans(),  # inside the zip?
    st.integers(0, 1),  # which of two member names: two entries of one name happen
)


def _written(index: int, records: list, encoding: str, bom: bytes, cut: float | None) -> tuple[bytes, list[int]]:
    """The file's bytes, cut off at `cut` of them after its leading blanks, and the byte offset
    at which each record ends. The blanks, one more per file, make every file's content unique
    however it is cut (identical content is read once by design)."""
    blanks = bom + (" " * (index + 1)).encode(encoding)
    text, ends = "[", []
    for n, (_, record) in enumerate(records):
        text += (", " if n else "") + json.dumps(record, ensure_ascii=False)
        ends.append(len(blanks) + len(text.encode(encoding)))
    data = (text + "]").encode(encoding)
    return blanks + (data if cut is None else data[: int(len(data) * cut)]), ends


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(st.lists(_FILE, min_size=1, max_size=5))
def test_every_record_written_is_stored_a_duplicate_rejected_or_not_read(tmp_path_factory, warehouse, files) -> None:
    with warehouse.connect() as conn:  # each example starts from an empty warehouse
        conn.execute("TRUNCATE staging.streaming_history, etl_internal.source_files CASCADE")
    raw_dir = tmp_path_factory.mktemp("raw")
    expected: dict[str, tuple[int, int, bool]] = {}  # path -> (read, rejected, failed)
    valid_keys, not_read, written = [], 0, 0
    members: list[tuple[str, bytes]] = []
    for index, (records, (encoding, bom), cut, in_zip, name_index) in enumerate(files):
        data, ends = _written(index, records, encoding, bom, cut)
        complete = [kind_record for kind_record, end in zip(records, ends, strict=False) if end <= len(data)]
        written += len(records)
        not_read += len(records) - len(complete)
        valid_keys += [(r["ts"], r["spotify_track_uri"], r["ms_played"]) for kind, r in complete if kind == "valid"]
        counts = (len(complete), sum(kind == "rejected" for kind, _ in complete), cut is not None)
        if in_zip:
            members.append((f"Streaming_History_Audio_2021_{name_index}.json", data))
            entry = sum(name == members[-1][0] for name, _ in members)
            expected[f"export.zip!{members[-1][0]}" + (f" (entry {entry})" if entry > 1 else "")] = counts
        else:
            write_raw(raw_dir / f"Streaming_History_Audio_2020_{index}.json", data)
            expected[f"Streaming_History_Audio_2020_{index}.json"] = counts
    if members:
        with warnings.catch_warnings(), zipfile.ZipFile(raw_dir / "export.zip", "w") as zf:
            warnings.simplefilter("ignore", UserWarning)  # duplicate member names, on purpose
            for name, data in sorted(members, key=lambda member: member[0]):
                zf.writestr(name, data)

    report = load(warehouse, raw_dir)
    with warehouse.connect() as conn:
        rows = conn.execute(
            "SELECT f.path, f.status, f.records_read, f.stored, f.duplicates, f.rejected,"
            " (SELECT count(*) FROM staging.streaming_history s WHERE s.source_file_id = f.source_file_id),"
            " (SELECT count(*) FROM etl_internal.rejected_records r WHERE r.source_file_id = f.source_file_id)"
            " FROM etl_internal.source_files f"
        ).fetchall()
        staged_in_all = scalar(conn, "SELECT count(*) FROM staging.streaming_history")
        assert conn.execute(load_sql("raw/record_accounting.sql")).fetchall() == []
    ledger_of = {path: rest for path, *rest in rows}
    assert set(ledger_of) == set(expected)
    for path, (status, read, stored, duplicates, rejected, staged_rows, rejected_rows) in ledger_of.items():
        expected_read, expected_rejected, cut_off = expected[path]
        assert read == expected_read, path  # the parser's count against the writer's
        assert rejected == expected_rejected == rejected_rows, path  # the ledger against the rows
        assert stored == staged_rows, path
        assert (status == "failed") == cut_off, path
        assert read == stored + duplicates + rejected, path
    # Duplicates against the writer's own count of distinct plays.
    assert staged_in_all == sum(row[3] for row in rows) == len(set(valid_keys))
    assert sum(row[4] for row in rows) == len(valid_keys) - len(set(valid_keys))
    assert written == staged_in_all + sum(row[4] for row in rows) + sum(row[5] for row in rows) + not_read
    assert report.records_read + not_read == written
