"""Bad input: each kind gets a clear message naming its file (and record), and everything
else loads. After every load: records read = stored + duplicates + rejected, nothing lost."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from spotify_etl.lib.export.records import MAX_TEXT_BYTES
from spotify_etl.lib.ingestion import IngestReport
from spotify_etl_tests.export_factory import play, write_json, write_raw
from spotify_etl_tests.pipeline_helpers import materialize_all
from spotify_etl_tests.test_ingestion import assert_accounted, ledger, load, scalar

GOOD = "Streaming_History_Audio_2021_0.json"


def with_good_file(raw_dir: Path) -> list[dict]:
    """A well-formed file beside the bad input: it must load whatever the bad input does."""
    plays = [play(f"2021-03-0{d}T12:00:00Z") for d in range(1, 4)]
    write_json(raw_dir / GOOD, plays)
    return plays


def rejection(conn) -> tuple[str, int, str, str]:
    """(file, position, reason, record text) of the one rejected record."""
    return conn.execute(
        "SELECT f.path, r.position, r.reason, r.record FROM etl_internal.rejected_records r"
        " JOIN etl_internal.source_files f USING (source_file_id)"
    ).fetchone()


def failed(report: IngestReport) -> dict[str, str]:
    return {f.path: f.error for f in report.failed}


# --- damaged and hostile zips -----------------------------------------------------------


def make_zip(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def plays_bytes(n: int, month: str = "2022-01") -> bytes:
    return json.dumps([play(f"{month}-{d + 1:02d}T10:00:00Z") for d in range(n)]).encode()


def test_truncated_zip_is_a_failed_file_named_in_the_check(conn, warehouse, raw_dir) -> None:
    with_good_file(raw_dir)
    archive = make_zip(
        raw_dir / "my_spotify_data.zip",
        {"Spotify Extended Streaming History/Streaming_History_Audio_2022_0.json": plays_bytes(20)},
    )
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])  # a download cut off half-way

    report = load(warehouse, raw_dir)
    assert failed(report) == {"my_spotify_data.zip": "unreadable zip archive: File is not a zip file"}
    assert ledger(conn)[GOOD] == ("loaded", 3, 3, 0, 0)
    assert_accounted(conn, report, 3)
    result = materialize_all(warehouse, raw_dir, selection=["raw_plays"])
    check = {c.check_name: c for c in result.get_asset_check_evaluations()}["export_files_readable"]
    assert not check.passed and "my_spotify_data.zip: unreadable zip archive" in check.description


def test_corrupted_zip_member_fails_at_the_damage_and_keeps_the_records_before(conn, warehouse, raw_dir) -> None:
    with_good_file(raw_dir)
    member = "Streaming_History_Audio_2022_0.json"
    archive = make_zip(raw_dir / "export.zip", {member: plays_bytes(28)})
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(member)
    start = info.header_offset + 30 + len(member)  # the member's compressed data
    for offset in range(start + info.compress_size // 2, start + info.compress_size // 2 + 16):
        data[offset] ^= 0xFF
    archive.write_bytes(bytes(data))

    report = load(warehouse, raw_dir)
    ((path, error),) = failed(report).items()
    assert path == f"export.zip!{member}"
    assert error.startswith("damaged in its zip archive"), error
    (outcome,) = report.failed
    assert outcome.records_read < 28
    assert ledger(conn)[GOOD] == ("loaded", 3, 3, 0, 0)
    assert_accounted(conn, report, 3 + outcome.records_read)


def test_zip_bomb_member_is_refused_without_inflating_it(conn, warehouse, raw_dir) -> None:
    archive = raw_dir / "my_spotify_data.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("Streaming_History_Audio_2022_0.json", plays_bytes(4))
        with zf.open("Streaming_History_Audio_2022_1.json", "w", force_zip64=True) as bomb:
            bomb.write(b"[")
            block = b" " * (1 << 20)
            for _ in range(300):  # 300 MB of whitespace: about 1,000:1
                bomb.write(block)
            bomb.write(b"]")
    assert archive.stat().st_size < 2_000_000

    report = load(warehouse, raw_dir)
    error = failed(report)["my_spotify_data.zip!Streaming_History_Audio_2022_1.json"]
    assert error.startswith("refused, not inflated: declares 314,572,802 bytes from ") and "zip bomb" in error
    assert ledger(conn)["my_spotify_data.zip!Streaming_History_Audio_2022_0.json"] == ("loaded", 4, 4, 0, 0)
    assert_accounted(conn, report, 4)
    # Refused for good: a second load does not read it again, nor record it twice.
    again = load(warehouse, raw_dir)
    assert again.records_read == 0 and scalar(conn, "SELECT count(*) FROM etl_internal.source_files") == 2


def test_zip_member_paths_cannot_escape(conn, warehouse, raw_dir, tmp_path) -> None:
    unsafe = ["../../escaped.json", "/tmp/absolute/Streaming_History_Audio_2022_0.json", "a/../../../escaped2.json"]
    archive = raw_dir / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for n, name in enumerate([*unsafe, "Streaming_History_Audio_2022_9.json"]):
            info = zipfile.ZipInfo("placeholder")
            info.filename = name  # ZipInfo() and writestr would sanitise the name
            zf.writestr(info, plays_bytes(2, month=f"2022-0{n + 1}"))
    before = sorted(tmp_path.rglob("*"))

    report = load(warehouse, raw_dir)
    # Zips are read in place, never extracted; members with such names are not even read.
    assert {i.path: i.reason for i in report.ignored} == {
        f"evil.zip!{name}": "unsafe member path (absolute or with '..'): not read" for name in unsafe
    }
    assert list(ledger(conn)) == ["evil.zip!Streaming_History_Audio_2022_9.json"]
    assert report.stored == 2
    assert sorted(tmp_path.rglob("*")) == before
    assert not (tmp_path / "escaped.json").exists() and not Path("/tmp/absolute").exists()


# --- files that are not what they claim -------------------------------------------------


@pytest.mark.parametrize(
    "content, error",
    [
        (b'{"ts": "2022-01-01T00:00:00Z", "ms_played": 1}', "top level is an object, expected an array of plays"),
        (b'"just a string"', "top level is not an array, expected an array of plays"),
        (b"", "not valid JSON: parse error: premature EOF"),
        (
            b"[" + plays_bytes(3)[1:-1] + b",\x00]",
            "not valid JSON after 3 records: lexical error: invalid char in json text.",
        ),
    ],
    ids=["object", "scalar", "empty", "raw NUL byte"],
)
def test_file_that_is_not_an_array_of_plays_fails_with_its_reason(conn, warehouse, raw_dir, content, error) -> None:
    with_good_file(raw_dir)
    write_raw(raw_dir / "Streaming_History_Audio_2022_0.json", content)
    report = load(warehouse, raw_dir)
    (message,) = failed(report).values()
    assert message.startswith(error), message
    assert report.failed[0].path == "Streaming_History_Audio_2022_0.json"
    assert ledger(conn)[GOOD] == ("loaded", 3, 3, 0, 0)
    assert_accounted(conn, report, 3 + report.failed[0].records_read)


def test_invalid_utf8_costs_one_record_not_the_file(conn, warehouse, raw_dir) -> None:
    good = [play(f"2022-05-0{d}T10:00:00Z", track=f"Song {d}") for d in range(1, 6)]
    text = json.dumps(good, ensure_ascii=False).encode()
    text = text.replace(b'"Song 3"', b'"So\xff\xfeng 3"')  # Latin-1 debris in one name
    write_raw(raw_dir / "Streaming_History_Audio_2022_0.json", text)

    report = load(warehouse, raw_dir)
    assert not report.failed
    assert (report.stored, report.rejected) == (4, 1)
    path, position, reason, record = rejection(conn)
    assert (path, position, reason) == (
        "Streaming_History_Audio_2022_0.json",
        2,
        "field 'master_metadata_track_name': invalid UTF-8 bytes",
    )
    assert json.loads(record)["master_metadata_track_name"] == "So\ufffd\ufffdng 3"
    names = {n for (n,) in conn.execute("SELECT track_name FROM staging.streaming_history")}
    assert names == {"Song 1", "Song 2", "Song 4", "Song 5"}
    assert_accounted(conn, report, 5)
    # The file's identity is its bytes as they are on disk: a re-run does not load it again.
    assert load(warehouse, raw_dir).records_read == 0


# --- records: every field with a wrong type, extremes ------------------------------------

WRONG_TYPES = {
    "ts": (1_600_000_000, "field 'ts': expected a timestamp string"),
    "ms_played": ("12", "field 'ms_played': expected a whole number"),
    "offline_timestamp": ("noon", "field 'offline_timestamp': expected a number"),
    "platform": (["android"], "field 'platform': expected text"),
    "conn_country": (49, "field 'conn_country': expected text"),
    "ip_addr": ({"v4": "192.0.2.1"}, "field 'ip_addr': expected text"),
    "master_metadata_track_name": (5, "field 'master_metadata_track_name': expected text"),
    "master_metadata_album_artist_name": (True, "field 'master_metadata_album_artist_name': expected text"),
    "master_metadata_album_album_name": (1.5, "field 'master_metadata_album_album_name': expected text"),
    "spotify_track_uri": ({}, "field 'spotify_track_uri': expected text"),
    "episode_name": ([], "field 'episode_name': expected text"),
    "episode_show_name": (0, "field 'episode_show_name': expected text"),
    "spotify_episode_uri": (7, "field 'spotify_episode_uri': expected text"),
    "audiobook_title": (False, "field 'audiobook_title': expected text"),
    "audiobook_uri": (3, "field 'audiobook_uri': expected text"),
    "audiobook_chapter_uri": ([1], "field 'audiobook_chapter_uri': expected text"),
    "audiobook_chapter_title": (2, "field 'audiobook_chapter_title': expected text"),
    "reason_start": (1, "field 'reason_start': expected text"),
    "reason_end": ({"x": 1}, "field 'reason_end': expected text"),
    "shuffle": ("true", "field 'shuffle': expected true/false"),
    "skipped": (1, "field 'skipped': expected true/false"),
    "offline": ("no", "field 'offline': expected true/false"),
    "incognito_mode": (0, "field 'incognito_mode': expected true/false"),
}
ACCOUNT_WRONG_TYPES = {
    "endTime": (1_600_000_000, "field 'endTime': expected a time string"),
    "msPlayed": ("12", "field 'msPlayed': expected a whole number"),
    "artistName": (5, "field 'artistName': expected text"),
    "trackName": ([], "field 'trackName': expected text"),
}


def test_every_field_of_the_current_format_is_covered() -> None:
    assert set(WRONG_TYPES) == set(play("2021-01-01T00:00:00Z"))


@pytest.mark.parametrize(
    "field, value, reason", [(f, v, r) for f, (v, r) in WRONG_TYPES.items()], ids=list(WRONG_TYPES)
)
def test_wrong_type_in_any_field_rejects_the_record_naming_the_field(
    conn, warehouse, raw_dir, field, value, reason
) -> None:
    plays = with_good_file(raw_dir)
    bad = {**plays[0], "ts": "2021-04-01T00:00:00Z", field: value}
    write_json(raw_dir / "Streaming_History_Audio_2021_1.json", [play("2021-04-02T00:00:00Z"), bad])
    lines: list[str] = []
    report = load(warehouse, raw_dir, keep_personal_data=True, progress=lines.append)
    path, position, stored_reason, record = rejection(conn)
    assert (path, position) == ("Streaming_History_Audio_2021_1.json", 1)
    assert stored_reason.startswith(reason), stored_reason
    assert json.loads(record)[field] == value
    assert (report.stored, report.rejected) == (4, 1)
    # The run's log names the file and the record.
    (line,) = [line for line in lines if path in line]
    assert f"1 rejected (first rejected: record 1: {reason}" in line
    assert_accounted(conn, report, 5)


@pytest.mark.parametrize(
    "field, value, reason", [(f, v, r) for f, (v, r) in ACCOUNT_WRONG_TYPES.items()], ids=list(ACCOUNT_WRONG_TYPES)
)
def test_wrong_type_in_account_data_rejects_the_record(conn, warehouse, raw_dir, field, value, reason) -> None:
    good = {"endTime": "2021-04-01 10:00", "artistName": "A", "trackName": "T", "msPlayed": 1000}
    write_json(raw_dir / "StreamingHistory_music_0.json", [good, dict(good, **{field: value})])
    report = load(warehouse, raw_dir)
    path, position, stored_reason, _ = rejection(conn)
    assert (path, position) == ("StreamingHistory_music_0.json", 1) and stored_reason.startswith(reason)
    assert (report.stored, report.rejected) == (1, 1)


@pytest.mark.parametrize(
    "ts, reason",
    [
        ("0001-01-01T00:00:00Z", "field 'ts': outside 2008-10 .. now"),
        ("1970-01-01T00:00:00Z", "field 'ts': outside 2008-10 .. now"),
        ("2008-09-30T23:59:59Z", "field 'ts': outside 2008-10 .. now"),
        ("9999-12-31T23:59:59Z", "field 'ts': outside 2008-10 .. now"),
        ("2100-01-01T00:00:00+14:00", "field 'ts': outside 2008-10 .. now"),
        ("+275760-09-13T00:00:00Z", "field 'ts': unparseable timestamp"),
        ("2021-02-30T00:00:00Z", "field 'ts': unparseable timestamp"),
    ],
)
def test_timestamps_far_in_the_past_or_future_are_rejected(conn, warehouse, raw_dir, ts, reason) -> None:
    with_good_file(raw_dir)
    write_json(raw_dir / "Streaming_History_Audio_2021_1.json", [play(ts)])
    report = load(warehouse, raw_dir)
    assert rejection(conn)[2].startswith(reason)
    assert (report.stored, report.rejected) == (3, 1)


def test_far_offline_timestamp_is_kept_in_extra_not_lost(conn, warehouse, raw_dir) -> None:
    write_json(raw_dir / GOOD, [play("2021-03-01T00:00:00Z", offline_timestamp=10**30)])
    report = load(warehouse, raw_dir)
    assert report.stored == 1
    offline_at, extra = conn.execute("SELECT offline_at, extra FROM staging.streaming_history").fetchone()
    assert offline_at is None and extra == {"offline_timestamp": 10**30}


def test_ten_megabyte_strings(conn, warehouse, raw_dir) -> None:
    huge = "x" * 10_000_000
    write_json(
        raw_dir / GOOD,
        [
            play("2021-03-01T00:00:00Z", track=huge),  # a name: too long to be a key
            play("2021-03-02T00:00:00Z", lyrics=huge),  # an unknown field: kept whole
            play("2021-03-03T00:00:00Z", track="é" * 400),  # 800 bytes: long but fine
        ],
    )
    report = load(warehouse, raw_dir)
    assert (report.stored, report.rejected) == (2, 1)
    _, position, reason, record = rejection(conn)
    assert position == 0
    assert reason == f"field 'master_metadata_track_name': longer than {MAX_TEXT_BYTES:,} bytes (10,000,000 characters)"
    assert len(record) > 10_000_000  # the rejected record is kept whole
    assert (
        scalar(conn, "SELECT length(extra->>'lyrics') FROM staging.streaming_history WHERE extra IS NOT NULL")
        == 10_000_000
    )
    assert_accounted(conn, report, 3)


NASTY_NAMES = [
    "Robert'); DROP TABLE staging.streaming_history;--",
    "x' OR '1'='1",
    "$$; DELETE FROM core.dim_track; $$",
    "\\.\nCOPY",
    "%(start)s %s {} {0}",
    "<script>alert(1)</script>",
]


def test_names_holding_sql_survive_every_layer_verbatim(conn, warehouse, raw_dir) -> None:
    plays = [
        play(f"2021-06-0{i + 1}T10:00:00Z", track=name, artist=name, album=name) for i, name in enumerate(NASTY_NAMES)
    ]
    write_json(raw_dir / GOOD, plays)
    materialize_all(warehouse, raw_dir)
    assert {n for (n,) in conn.execute("SELECT track_name FROM core.dim_track WHERE track_id > 0")} == set(NASTY_NAMES)
    assert {n for (n,) in conn.execute("SELECT artist_name FROM core.dim_artist WHERE artist_id > 0")} == set(
        NASTY_NAMES
    )
    assert scalar(conn, "SELECT count(*) FROM core.fact_tracks_history") == len(NASTY_NAMES)
    assert scalar(conn, "SELECT count(*) FROM staging.streaming_history") == len(NASTY_NAMES)


@pytest.mark.parametrize(
    "fields, reason",
    [
        ({"master_metadata_track_name": "a\u0000b"}, "field 'master_metadata_track_name': contains a NUL character"),
        ({"platform": "\u0000"}, "field 'platform': contains a NUL character"),
        ({"brand_new_field": "nul\u0000here"}, "an unknown field contains a NUL character"),
    ],
    ids=["name", "platform", "unknown field"],
)
def test_escaped_nul_rejects_the_record(conn, warehouse, raw_dir, fields, reason) -> None:
    with_good_file(raw_dir)
    text = json.dumps([play("2021-04-01T00:00:00Z", **fields)])  # ASCII JSON: \u0000, \ud800 escapes
    write_raw(raw_dir / "Streaming_History_Audio_2021_1.json", text)
    report = load(warehouse, raw_dir)
    assert rejection(conn)[2] == reason
    assert (report.stored, report.rejected) == (3, 1)
    assert_accounted(conn, report, 4)


def test_escaped_lone_surrogate_becomes_a_question_mark(conn, warehouse, raw_dir) -> None:
    # "\ud800" names no character; ijson's C parser reads it as "?" (and a parser that kept
    # it would meet the record's lone-surrogate rejection). Either way nothing crashes.
    write_raw(raw_dir / GOOD, json.dumps([play("2021-04-01T00:00:00Z", track="\ud800 lone")]))
    report = load(warehouse, raw_dir)
    assert (report.stored, report.rejected) == (1, 0)
    assert scalar(conn, "SELECT track_name FROM staging.streaming_history") == "? lone"


def test_duplicated_keys_take_the_last_value_as_json_parsers_do(conn, warehouse, raw_dir) -> None:
    record = json.dumps(play("2021-04-01T00:00:00Z", track="First"))
    record = record[:-1] + ', "master_metadata_track_name": "Last", "ms_played": 42}'
    write_raw(raw_dir / GOOD, f"[{record}]")
    report = load(warehouse, raw_dir)
    assert report.stored == 1
    assert conn.execute("SELECT track_name, ms_played FROM staging.streaming_history").fetchone() == ("Last", 42)
    assert json.loads(record)["master_metadata_track_name"] == "Last"  # as Python's json reads it
