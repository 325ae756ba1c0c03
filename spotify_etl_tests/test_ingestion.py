"""Ingestion: every form of export, every quirk, and every record accounted for."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from spotify_etl.defs.resources.warehouse import WarehouseResource
from spotify_etl.lib.ingestion import IngestReport, ingest_raw_dir
from spotify_etl_tests.export_factory import (
    ACCOUNT_DIR,
    EXTENDED_DIR,
    account_music,
    account_podcast,
    episode_play,
    old_vintage,
    play,
    track_uri,
    write_json,
    write_raw,
    zip_folder,
)


def load(warehouse: WarehouseResource, raw_dir: Path, **options) -> IngestReport:
    return ingest_raw_dir(warehouse.url(), raw_dir, **options)


def scalar(conn: psycopg.Connection, query: str, *params):
    return conn.execute(query, params).fetchone()[0]


def ledger(conn: psycopg.Connection) -> dict[str, tuple]:
    """path -> (status, read, stored, duplicates, rejected) of every file loaded."""
    rows = conn.execute(
        "SELECT path, status, records_read, stored, duplicates, rejected FROM etl_internal.source_files"
    ).fetchall()
    return {path: tuple(rest) for path, *rest in rows}


def assert_accounted(conn: psycopg.Connection, report: IngestReport, records_written: int) -> None:
    """Every record written to the files is stored, a duplicate, or rejected: none lost."""
    assert report.records_read == records_written
    assert report.stored + report.duplicates + report.rejected == records_written
    assert scalar(conn, "SELECT count(*) FROM etl_internal.rejected_records") == report.rejected
    read, stored, dupes, rejected = conn.execute(
        "SELECT sum(records_read), sum(stored), sum(duplicates), sum(rejected) FROM etl_internal.source_files"
    ).fetchone()
    assert read == stored + dupes + rejected
    assert stored == scalar(conn, "SELECT count(*) FROM staging.streaming_history")


def test_both_vintages_of_the_same_play_are_stored_once(conn, warehouse, raw_dir) -> None:
    plays = [play(f"2021-05-0{d}T10:00:00Z") for d in range(1, 6)]
    write_json(raw_dir / "Streaming_History_Audio_2021_0.json", plays)
    # The old export has the same five plays (other field names) and two more.
    older = [old_vintage(p) for p in plays]
    older += [old_vintage(play("2020-01-01T08:00:00Z")), old_vintage(play("2020-01-02T08:00:00Z"))]
    write_json(raw_dir / "endsong_0.json", older)

    report = load(warehouse, raw_dir)
    assert_accounted(conn, report, 12)
    assert (report.stored, report.duplicates, report.rejected) == (7, 5, 0)


def test_overlapping_exports_of_one_listener_dedup_across_vintages(conn, warehouse, raw_dir) -> None:
    plays = [play(f"2021-05-0{d}T10:00:00Z") for d in range(1, 6)]
    write_json(raw_dir / "me" / "export2024" / "Streaming_History_Audio_2021_0.json", plays)
    older = [old_vintage(p) for p in plays] + [old_vintage(play("2020-01-01T08:00:00Z"))]
    write_json(raw_dir / "me" / "export2022" / "endsong_0.json", older)

    report = load(warehouse, raw_dir)
    assert_accounted(conn, report, 11)
    assert (report.stored, report.duplicates) == (6, 5)
    assert scalar(conn, "SELECT count(DISTINCT listener) FROM staging.streaming_history") == 1


def test_duplicates_within_a_file_and_across_files(conn, warehouse, raw_dir) -> None:
    a = play("2022-03-01T12:00:00Z")
    b = play("2022-03-01T12:04:00Z")
    write_json(raw_dir / "Streaming_History_Audio_2022_0.json", [a, b, a, dict(a)])
    write_json(raw_dir / "Streaming_History_Audio_2022_1.json", [b, play("2022-03-02T09:00:00Z")])

    report = load(warehouse, raw_dir)
    assert_accounted(conn, report, 6)
    assert (report.stored, report.duplicates) == (3, 3)
    files = ledger(conn)
    assert files["Streaming_History_Audio_2022_0.json"] == ("loaded", 4, 2, 2, 0)
    assert files["Streaming_History_Audio_2022_1.json"] == ("loaded", 2, 1, 1, 0)


def test_same_track_at_same_time_with_other_ms_played_is_another_play(conn, warehouse, raw_dir) -> None:
    a = play("2022-03-01T12:00:00Z", ms=1000)
    write_json(raw_dir / "Streaming_History_Audio_2022_0.json", [a, {**a, "ms_played": 2000}])
    report = load(warehouse, raw_dir)
    assert (report.stored, report.duplicates) == (2, 0)


def test_account_data_overlapping_extended_history_is_stored_once(conn, warehouse, raw_dir) -> None:
    music = [play(f"2024-02-1{d}T20:1{d}:4{d}Z", ms=100_000 + d) for d in range(5)]
    podcasts = [episode_play(f"2024-02-1{d}T07:00:1{d}Z", episode=f"Ep {d}") for d in range(3)]
    write_json(raw_dir / EXTENDED_DIR / "Streaming_History_Audio_2024_0.json", music + podcasts)
    # Account data repeats all of them, and has two plays of its own (after the export).
    only_account = [
        {"endTime": "2024-03-01 10:00", "artistName": "New", "trackName": "Thing", "msPlayed": 5000},
        {"endTime": "2024-03-01 11:00", "podcastName": "Show", "episodeName": "Late", "msPlayed": 6000},
    ]
    write_json(
        raw_dir / ACCOUNT_DIR / "StreamingHistory_music_0.json", [account_music(p) for p in music] + [only_account[0]]
    )
    write_json(
        raw_dir / ACCOUNT_DIR / "StreamingHistory_podcast_0.json",
        [account_podcast(p) for p in podcasts] + [only_account[1]],
    )

    report = load(warehouse, raw_dir)
    assert_accounted(conn, report, 8 + 6 + 4)
    assert (report.stored, report.duplicates) == (10, 8)
    assert scalar(conn, "SELECT count(*) FROM staging.streaming_history WHERE source_format = 'account'") == 2
    files = ledger(conn)
    assert files[f"{ACCOUNT_DIR}/StreamingHistory_music_0.json"] == ("loaded", 6, 1, 5, 0)
    assert files[f"{ACCOUNT_DIR}/StreamingHistory_podcast_0.json"] == ("loaded", 4, 1, 3, 0)


def test_account_data_loaded_before_extended_history_gives_way_to_it(conn, warehouse, raw_dir) -> None:
    music = [play(f"2024-02-1{d}T20:1{d}:4{d}Z") for d in range(4)]
    write_json(raw_dir / ACCOUNT_DIR / "StreamingHistory_music_0.json", [account_music(p) for p in music])
    first = load(warehouse, raw_dir)
    assert first.stored == 4
    write_json(raw_dir / EXTENDED_DIR / "Streaming_History_Audio_2024_0.json", music)
    second = load(warehouse, raw_dir)
    assert second.account_twins == 4
    # The richer extended rows replaced the account rows; the account file now counts duplicates.
    assert scalar(conn, "SELECT count(*) FROM staging.streaming_history") == 4
    assert scalar(conn, "SELECT count(*) FROM staging.streaming_history WHERE spotify_track_uri IS NOT NULL") == 4
    assert ledger(conn)[f"{ACCOUNT_DIR}/StreamingHistory_music_0.json"] == ("loaded", 4, 0, 4, 0)


def test_video_history_is_flagged(conn, warehouse, raw_dir) -> None:
    write_json(raw_dir / "Streaming_History_Video_2020-2023.json", [play("2021-01-01T00:00:00Z")])
    write_json(raw_dir / "endvideo.json", [])
    write_json(raw_dir / "Streaming_History_Audio_2021.json", [play("2021-01-02T00:00:00Z")])
    report = load(warehouse, raw_dir)
    assert report.stored == 2
    flagged = conn.execute("SELECT ts FROM staging.streaming_history WHERE is_video").fetchall()
    assert flagged == [(datetime(2021, 1, 1, tzinfo=UTC),)]
    assert {f.kind for f in report.files} == {"extended_video", "extended_audio"}


def test_zip_and_unpacked_folder_of_one_export(conn, warehouse, raw_dir, tmp_path) -> None:
    export = tmp_path / "export"
    write_json(
        export / EXTENDED_DIR / "Streaming_History_Audio_2023_0.json",
        [play(f"2023-01-0{d}T01:00:00Z") for d in range(1, 8)],
    )
    write_raw(export / EXTENDED_DIR / "ReadMeFirst_ExtendedStreamingHistory.pdf", b"%PDF-1.4")
    write_json(export / ACCOUNT_DIR / "YourLibrary.json", {"tracks": []})
    write_json(export / ACCOUNT_DIR / "Playlist1.json", {"playlists": []})
    zip_folder(export, raw_dir / "my_spotify_data.zip")
    # The same export unpacked next to it: identical content is read once.
    zip_folder(export, tmp_path / "copy.zip")
    import zipfile

    with zipfile.ZipFile(tmp_path / "copy.zip") as zf:
        zf.extractall(raw_dir / "my_spotify_data")
    write_raw(raw_dir / "notes.txt", "my notes")

    said: list[str] = []
    report = load(warehouse, raw_dir, progress=said.append)
    assert report.stored == 7
    statuses = sorted(f.status for f in report.files)
    assert statuses == ["loaded", "unchanged"]
    assert sum("already loaded (same content as " in line for line in said) == 1
    reasons = {i.path: i.reason for i in report.ignored}
    assert "PDF" in reasons[f"my_spotify_data.zip!{EXTENDED_DIR}/ReadMeFirst_ExtendedStreamingHistory.pdf"]
    assert "top level is an object" in reasons[f"my_spotify_data.zip!{ACCOUNT_DIR}/YourLibrary.json"]
    assert "not a JSON file" in reasons["notes.txt"]
    assert scalar(conn, "SELECT path FROM etl_internal.source_files").startswith("my_spotify_data")


def test_files_are_recognised_by_content_whatever_their_name(conn, warehouse, raw_dir) -> None:
    write_json(raw_dir / "history-backup.json", [play("2023-05-01T10:00:00Z")])
    write_json(
        raw_dir / "old-account.json",
        [{"endTime": "2023-05-02 10:00", "artistName": "A", "trackName": "T", "msPlayed": 1}],
    )
    write_json(raw_dir / "Userdata.json", {"username": "x"})
    write_json(raw_dir / "SearchQueries.json", [{"platform": "ANDROID", "searchTime": "2023"}])
    report = load(warehouse, raw_dir)
    assert sorted(f.kind for f in report.files) == ["account_music", "extended_audio"]
    assert report.stored == 2
    assert {i.path for i in report.ignored} == {"Userdata.json", "SearchQueries.json"}


def test_field_quirks_are_normalised(conn, warehouse, raw_dir) -> None:
    base = "2020-06-01T10:00:0{}Z"
    records = [
        play(base.format(0), skipped=None, offline=True, offline_timestamp=1591005600),  # seconds
        play(base.format(1), offline=True, offline_timestamp=1591005600123),  # milliseconds
        play(base.format(2), offline_timestamp=0, reason_start="", reason_end="some-new-reason"),
        play(base.format(3), track=None, artist=None, album=None, uri=None),  # unknown content
        play(base.format(4), uri="spotify:local:Artist:Album:Title:215", track="Title"),
        play(base.format(5), track="Home Recording", artist="Me", spotify_track_uri=None),  # local, no URI
        play(
            base.format(6),
            track=None,
            artist=None,
            album=None,
            uri=None,
            audiobook_title="Book",
            audiobook_uri="spotify:audiobook:" + "C" * 22,
            audiobook_chapter_uri="spotify:chapter:" + "D" * 22,
            audiobook_chapter_title="Ch 1",
        ),
        episode_play(base.format(7)),
    ]
    write_json(raw_dir / "Streaming_History_Audio_2020_0.json", records)
    report = load(warehouse, raw_dir)
    assert_accounted(conn, report, 8)
    rows = conn.execute(
        "SELECT content_kind, skipped, offline_at, reason_start, reason_end FROM staging.streaming_history ORDER BY ts"
    ).fetchall()
    assert [r[0] for r in rows] == ["track", "track", "track", "unknown", "local", "local", "audiobook", "episode"]
    assert rows[0][1] is None
    assert rows[0][2] == datetime(2020, 6, 1, 10, 0, tzinfo=UTC)
    assert rows[1][2] == datetime(2020, 6, 1, 10, 0, 0, 123000, tzinfo=UTC)
    assert rows[2][2] is None
    assert rows[2][3] is None and rows[2][4] == "some-new-reason"


def test_names_survive_exactly(conn, warehouse, raw_dir) -> None:
    names = [
        "Sigur Rós — Hoppípolla",
        'She said "hi"',
        "back\\slash",
        "tab\there",
        "new\nline",
        "坂本龍一",
        "emoji 🎧",
        "x" * 400,
        "semi;colon, 'quote'",
    ]
    write_json(
        raw_dir / "Streaming_History_Audio_2020_0.json",
        [play(f"2020-01-01T00:0{i}:00Z", track=name, artist=name) for i, name in enumerate(names)],
    )
    load(warehouse, raw_dir)
    stored = [r[0] for r in conn.execute("SELECT track_name FROM staging.streaming_history ORDER BY ts")]
    assert stored == names


def test_unknown_keys_are_kept_in_extra(conn, warehouse, raw_dir) -> None:
    write_json(
        raw_dir / "Streaming_History_Audio_2026_0.json",
        [play("2026-01-01T00:00:00Z", new_field={"a": 1}, another="x"), play("2026-01-01T00:05:00Z")],
    )
    load(warehouse, raw_dir)
    extras = [r[0] for r in conn.execute("SELECT extra FROM staging.streaming_history ORDER BY ts")]
    assert extras == [{"new_field": {"a": 1}, "another": "x"}, None]


def test_personal_data_is_dropped_unless_kept(conn, warehouse, raw_dir) -> None:
    write_json(raw_dir / "endsong_0.json", [old_vintage(play("2019-01-01T00:00:00Z"))])
    load(warehouse, raw_dir)
    row = conn.execute("SELECT ip_addr, user_agent, username, extra FROM staging.streaming_history").fetchone()
    assert row == (None, None, None, None)

    conn.execute("TRUNCATE staging.streaming_history, etl_internal.source_files CASCADE")
    conn.commit()
    load(warehouse, raw_dir, keep_personal_data=True)
    kept = conn.execute("SELECT ip_addr, user_agent, username FROM staging.streaming_history").fetchone()
    assert kept == ("192.0.2.10", "unknown", "someuser")


BAD_RECORDS = [
    ("not an object", "just a string"),
    ("not an object", [1, 2]),
    ("field 'ts': missing", {"ms_played": 5}),
    ("field 'ts': unparseable timestamp", {"ts": "yesterday", "ms_played": 5}),
    ("field 'ts': expected a timestamp string", {"ts": 1600000000, "ms_played": 5}),
    ("field 'ts': outside 2008-10 .. now", {"ts": "1970-01-01T00:00:00Z", "ms_played": 5}),
    ("field 'ts': outside 2008-10 .. now", {"ts": "2999-01-01T00:00:00Z", "ms_played": 5}),
    ("field 'ms_played': negative", {"ts": "2020-01-01T00:00:00Z", "ms_played": -1}),
    ("field 'ms_played': expected a whole number", {"ts": "2020-01-01T00:00:00Z", "ms_played": "12"}),
    ("field 'shuffle': expected true/false", {"ts": "2020-01-01T00:00:00Z", "ms_played": 1, "shuffle": "yes"}),
    (
        "field 'master_metadata_track_name': expected text",
        {"ts": "2020-01-01T00:00:00Z", "master_metadata_track_name": 5},
    ),
    (
        "field 'master_metadata_track_name': contains a NUL character",
        {"ts": "2020-01-01T00:00:00Z", "master_metadata_track_name": "a\u0000b"},
    ),
]


@pytest.mark.parametrize("reason, record", BAD_RECORDS, ids=[r for r, _ in BAD_RECORDS])
def test_bad_record_is_rejected_with_its_reason_and_the_rest_loads(conn, warehouse, raw_dir, reason, record) -> None:
    good = [play("2021-01-01T00:00:00Z"), play("2021-01-01T00:05:00Z")]
    write_json(raw_dir / "Streaming_History_Audio_2021_0.json", [good[0], record, good[1]])
    report = load(warehouse, raw_dir)
    assert_accounted(conn, report, 3)
    assert (report.stored, report.rejected) == (2, 1)
    position, stored_reason, text = conn.execute(
        "SELECT position, reason, record FROM etl_internal.rejected_records"
    ).fetchone()
    assert position == 1
    assert stored_reason.startswith(reason)
    assert report.rejected_by_reason == {reason: 1}
    import json

    assert json.loads(text) == record


def test_truncated_file_keeps_what_was_read_and_fails_loudly(conn, warehouse, raw_dir) -> None:
    import json

    plays = [play(f"2022-01-0{d}T00:00:00Z") for d in range(1, 6)]
    text = json.dumps(plays)
    write_raw(raw_dir / "Streaming_History_Audio_2022_0.json", text[: len(text) * 2 // 3])
    write_json(raw_dir / "Streaming_History_Audio_2022_1.json", [play("2022-02-01T00:00:00Z")])
    write_raw(raw_dir / "Streaming_History_Audio_2022_2.json", "not json at all")

    report = load(warehouse, raw_dir)
    failed = {f.path: f for f in report.failed}
    assert set(failed) == {"Streaming_History_Audio_2022_0.json", "Streaming_History_Audio_2022_2.json"}
    truncated = failed["Streaming_History_Audio_2022_0.json"]
    assert 0 < truncated.stored < 5 and "not valid JSON" in truncated.error
    assert "not valid JSON" in failed["Streaming_History_Audio_2022_2.json"].error
    assert ledger(conn)["Streaming_History_Audio_2022_1.json"] == ("loaded", 1, 1, 0, 0)
    assert_accounted(conn, report, truncated.records_read + 1)

    # The good copy arrives: it loads, its overlap with the partial file counts as duplicates.
    write_json(raw_dir / "Streaming_History_Audio_2022_0.json", plays)
    again = load(warehouse, raw_dir)
    assert again.stored == 5 - truncated.stored and again.duplicates == truncated.stored


def test_object_instead_of_array_in_a_play_file_is_a_failed_file(conn, warehouse, raw_dir) -> None:
    write_json(raw_dir / "Streaming_History_Audio_2022_0.json", {"ts": "2022-01-01T00:00:00Z"})
    report = load(warehouse, raw_dir)
    assert [f.error for f in report.failed] == ["top level is an object, expected an array of plays"]


def test_loading_the_same_export_twice_changes_nothing(conn, warehouse, raw_dir) -> None:
    write_json(raw_dir / "Streaming_History_Audio_2022_0.json", [play(f"2022-01-0{d}T00:00:00Z") for d in range(1, 9)])
    write_json(raw_dir / "Streaming_History_Audio_2022_1.json", ["bad", play("2022-02-01T00:00:00Z")])

    def snapshot():
        return (
            conn.execute("SELECT * FROM staging.streaming_history ORDER BY play_id").fetchall(),
            conn.execute(
                "SELECT source_file_id, path, sha256, records_read, stored, duplicates, rejected"
                " FROM etl_internal.source_files ORDER BY 1"
            ).fetchall(),
            conn.execute(
                "SELECT source_file_id, position, reason FROM etl_internal.rejected_records ORDER BY 1, 2"
            ).fetchall(),
        )

    load(warehouse, raw_dir)
    before = snapshot()
    second = load(warehouse, raw_dir)
    assert snapshot() == before
    assert {f.status for f in second.files} == {"unchanged"}
    assert (second.records_read, second.stored) == (0, 0)


def test_each_listener_has_their_own_plays(conn, warehouse, raw_dir) -> None:
    shared = play("2023-01-01T00:00:00Z")
    write_json(raw_dir / "alice" / "my_spotify_data" / EXTENDED_DIR / "Streaming_History_Audio_2023_0.json", [shared])
    write_json(raw_dir / "bob" / "Streaming_History_Audio_2023_0.json", [shared, play("2023-01-02T00:00:00Z")])
    write_json(raw_dir / "my_spotify_data" / "Streaming_History_Audio_2023_0.json", [play("2023-01-03T00:00:00Z")])
    report = load(warehouse, raw_dir)
    assert report.stored == 4  # the same play by two people is two plays
    by_listener = dict(conn.execute("SELECT listener, count(*) FROM staging.streaming_history GROUP BY 1").fetchall())
    assert by_listener == {"alice": 1, "bob": 2, "default": 1}


def test_report_lists_the_months_of_new_plays(conn, warehouse, raw_dir) -> None:
    write_json(
        raw_dir / "Streaming_History_Audio_2023_0.json",
        [play("2023-01-31T23:59:59Z"), play("2023-02-01T00:00:00Z"), play("2023-04-15T12:00:00Z")],
    )
    report = load(warehouse, raw_dir)
    assert report.months == {"2023-01", "2023-02", "2023-04"}


@pytest.mark.parametrize(
    "month", ["to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM')", "date_trunc('month', ts, 'UTC')"], ids=["text", "start"]
)
def test_the_planner_expects_as_many_groups_as_months_not_plays(conn, warehouse, raw_dir, month) -> None:
    # 400 plays in 4 months. Without statistics on the expression (migration 0021) the planner
    # expects a group per play (400 here) and sorts every play rather than hashing a few months.
    plays = [play(f"2023-0{1 + n % 4}-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:00Z") for n in range(400)]
    write_json(raw_dir / "Streaming_History_Audio_2023_0.json", plays)
    assert load(warehouse, raw_dir).stored == 400
    plan = scalar(conn, f"EXPLAIN (FORMAT JSON) SELECT {month}, count(*) FROM staging.streaming_history GROUP BY 1")
    assert plan[0]["Plan"]["Plan Rows"] <= 8


def test_track_uri_helper_is_valid_shape() -> None:
    assert len(track_uri(5).split(":")[2]) == 22


def test_files_already_loaded_are_said_in_one_line_and_a_new_one_beside_them_as_before(warehouse, raw_dir) -> None:
    names = [f"Streaming_History_Audio_2023_{i}.json" for i in range(3)]
    for i, name in enumerate(names):
        write_json(raw_dir / name, [play(f"2023-0{i + 1}-01T00:00:00Z")])
    load(warehouse, raw_dir)
    new = write_json(raw_dir / "Streaming_History_Audio_2024_3.json", [play("2024-01-01T00:00:00Z")])
    said: list[str] = []
    report = load(warehouse, raw_dir, progress=said.append)
    assert [(f.path, f.status) for f in report.files] == [
        *((name, "unchanged") for name in names),
        (new.name, "loaded"),
    ]
    assert report.stored == 1
    assert said == [
        f"[4/4] {new.name}: 1 read, 1 stored, 0 duplicates, 0 rejected",
        "3 of 4 files already loaded (recorded with this path, size and time): not read again",
    ]


def test_touched_file_is_recognised_by_content_and_changed_file_is_read_again(conn, warehouse, raw_dir) -> None:
    import os

    path = write_json(raw_dir / "Streaming_History_Audio_2023_0.json", [play("2023-01-01T00:00:00Z")])
    load(warehouse, raw_dir)
    # Same path, size and time: not even opened (its kind is the one recorded).
    said: list[str] = []
    again = load(warehouse, raw_dir, progress=said.append)
    assert [(f.status, f.same_as, f.kind) for f in again.files] == [("unchanged", path.name, "extended_audio")]
    assert said == ["1 of 1 file already loaded (recorded with this path, size and time): not read again"]
    # Touched: read again, found identical by its sha256, nothing stored.
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 60))
    touched = load(warehouse, raw_dir)
    assert [(f.status, f.same_as) for f in touched.files] == [("unchanged", path.name)]
    assert scalar(conn, "SELECT count(*) FROM etl_internal.source_files") == 1
    # Changed: loaded; the play already stored counts as a duplicate.
    write_json(
        path,
        [
            play("2023-01-01T00:00:00Z", uri=scalar(conn, "SELECT spotify_track_uri FROM staging.streaming_history")),
            play("2023-01-02T00:00:00Z"),
        ],
    )
    changed = load(warehouse, raw_dir)
    assert (changed.stored, changed.duplicates) == (1, 1)
