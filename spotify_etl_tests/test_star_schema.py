"""The core layer: dimensions, facts by month, local time, sessions and integrity checks."""

from __future__ import annotations

from datetime import datetime
from functools import partial

import dagster as dg
import pytest

from spotify_etl.defs import sql_checks
from spotify_etl.defs.core.facts import fact_tracks_history
from spotify_etl.lib.synthetic import write_export
from spotify_etl.lib.timezones import single_zone_countries
from spotify_etl_tests.export_factory import episode_play, play, write_json
from spotify_etl_tests.pipeline_helpers import check_results, materialize_all

FACT_ROWS = "SELECT * FROM core.{} ORDER BY play_id"
_MARCH = "ts >= '2024-03-01' AND ts < '2024-04-01'"
IN_MARCH = f"SELECT play_id, xmin::text FROM core.fact_tracks_history WHERE {_MARCH} ORDER BY 1"
OUTSIDE_MARCH = f"SELECT play_id, xmin::text FROM core.fact_tracks_history WHERE NOT ({_MARCH}) ORDER BY 1"


def rows(conn, query: str, *params) -> list[tuple]:
    return conn.execute(query, params).fetchall()


@pytest.fixture
def sample_raw(raw_dir):
    """A small synthetic export: 1,500 plays over 2024-2025, music and podcasts."""
    write_export(
        raw_dir, 1500, per_file=600, start=datetime(2024, 1, 1).astimezone(), end=datetime(2025, 6, 30).astimezone()
    )
    return raw_dir


def test_full_build_reconciles_and_every_key_resolves(conn, warehouse, sample_raw) -> None:
    result = materialize_all(warehouse, sample_raw)
    assert check_results(result) == {
        "export_files_readable": True,
        "every_record_accounted_for": True,
        "no_duplicate_plays": True,
        "no_orphan_keys": True,
        "reconciles_with_staging": True,
        "dim_date_covers_facts": True,
        "failed_uris": True,
        "api_values_usable": True,
        "unresolved_names": True,
    }
    staged = dict(rows(conn, "SELECT content_kind, count(*) FROM staging.streaming_history GROUP BY 1"))
    assert conn.execute("SELECT count(*) FROM core.fact_tracks_history").fetchone()[0] == staged.get(
        "track", 0
    ) + staged.get("local", 0)
    assert conn.execute("SELECT count(*) FROM core.fact_podcasts_history").fetchone()[0] == staged["episode"]
    nulls = conn.execute(
        "SELECT count(*) FROM core.fact_tracks_history WHERE track_id IS NULL OR artist_id IS NULL"
        " OR date_id IS NULL OR time_id IS NULL OR platform_id IS NULL OR session_id IS NULL"
    ).fetchone()[0]
    assert nulls == 0
    assert conn.execute("SELECT count(*) FROM core.fact_tracks_history WHERE track_id = 0").fetchone()[0] == 0


def test_reloading_one_month_changes_nothing_and_touches_no_other_month(conn, warehouse, sample_raw) -> None:
    materialize_all(warehouse, sample_raw)
    conn.commit()
    before = rows(conn, FACT_ROWS.format("fact_tracks_history"))
    other_months = rows(
        conn,
        OUTSIDE_MARCH,
    )
    march_before = rows(
        conn,
        IN_MARCH,
    )
    assert march_before

    materialize_all(warehouse, sample_raw, months=("2024-03-01", "2024-03-01"), selection=["fact_tracks_history"])
    conn.commit()
    assert rows(conn, FACT_ROWS.format("fact_tracks_history")) == before
    # Other months' rows are the very same tuples (same xmin); March's were rewritten.
    assert (
        rows(
            conn,
            OUTSIDE_MARCH,
        )
        == other_months
    )
    march_after = rows(
        conn,
        IN_MARCH,
    )
    assert [p for p, _ in march_after] == [p for p, _ in march_before]
    assert all(a != b for (_, a), (_, b) in zip(march_after, march_before, strict=False))


def test_month_by_month_equals_all_at_once(conn, warehouse, sample_raw) -> None:
    materialize_all(warehouse, sample_raw)
    conn.commit()
    at_once = {t: rows(conn, FACT_ROWS.format(t)) for t in ("fact_tracks_history", "fact_podcasts_history")}
    conn.execute("TRUNCATE core.fact_tracks_history, core.fact_podcasts_history")
    conn.commit()
    for month in (
        ["2023-12-01", "2024-01-01", "2024-02-01"]
        + [f"2024-{m:02d}-01" for m in range(3, 13)]
        + [f"2025-{m:02d}-01" for m in range(1, 8)]
    ):
        materialize_all(
            warehouse, sample_raw, months=(month, month), selection=["fact_tracks_history", "fact_podcasts_history"]
        )
    conn.commit()
    assert {t: rows(conn, FACT_ROWS.format(t)) for t in at_once} == at_once


def test_reconciliation_fails_when_a_fact_row_is_deleted_behind_its_back(conn, warehouse, sample_raw) -> None:
    materialize_all(warehouse, sample_raw)
    conn.execute(
        "DELETE FROM core.fact_tracks_history WHERE play_id = (SELECT min(play_id) FROM core.fact_tracks_history)"
    )
    conn.commit()
    # A run over other months checks those months; the checks run alone (as "Execute checks"
    # in the UI) check them all.
    other_month = materialize_all(
        warehouse, sample_raw, months=("2030-01-01", "2030-01-01"), selection=["fact_tracks_history"]
    )
    assert check_results(other_month)["reconciles_with_staging"] is True
    checks_alone = materialize_all(
        warehouse, sample_raw, months=None, selection=dg.AssetSelection.checks_for_assets(fact_tracks_history.key)
    )
    checks = check_results(checks_alone)
    assert checks["reconciles_with_staging"] is False
    assert checks["no_duplicate_plays"] is True


def test_a_duplicate_fact_row_fails_its_check_counted_partition_by_partition(conn, warehouse, sample_raw) -> None:
    materialize_all(warehouse, sample_raw)
    # Only without the unique constraint (which forbids it) can a natural key be held twice.
    conn.execute("ALTER TABLE core.fact_tracks_history DROP CONSTRAINT fact_tracks_history_natural_key")
    twin = conn.execute(
        "INSERT INTO core.fact_tracks_history SELECT (SELECT max(play_id) + 1 FROM core.fact_tracks_history), "
        "listener, ts, ts_local, time_zone, date_id, time_id, track_id, artist_id, reason_start_id, reason_end_id, "
        "platform_id, conn_country, ms_played, percent_played, play_category, skipped, is_skip, shuffle, offline, "
        "offline_at, incognito, is_local, is_video, session_id FROM core.fact_tracks_history "
        "ORDER BY play_id LIMIT 1 RETURNING ts"
    ).fetchone()[0]
    conn.commit()
    checks_alone = materialize_all(
        warehouse, sample_raw, months=None, selection=dg.AssetSelection.checks_for_assets(fact_tracks_history.key)
    )
    evaluation = next(e for e in checks_alone.get_asset_check_evaluations() if e.check_name == "no_duplicate_plays")
    assert evaluation.passed is False
    (problem,) = evaluation.metadata["first_problems"].value
    assert (problem["ts"], problem["n"]) == (str(twin), "2")


def test_a_sql_check_runs_with_the_planner_settings_it_is_given(warehouse, monkeypatch) -> None:
    # A check whose query returns a row (a problem) while the setting is on.
    query = "SELECT current_setting('enable_partitionwise_aggregate') AS value WHERE current_setting(%(name)s) = 'on'"
    monkeypatch.setattr(sql_checks, "load_sql", lambda _: query)
    run = partial(
        sql_checks.check_result_from_sql,
        warehouse,
        "probe",
        "settings on",
        fact_tracks_history.key,
        dg.AssetCheckSeverity.ERROR,
        {"name": "enable_partitionwise_aggregate"},
    )
    assert run().passed is True
    on = run(settings={"enable_partitionwise_aggregate": "on"})
    assert on.passed is False and on.metadata["first_problems"].value == [{"value": "on"}]


def _local(conn, ts: str) -> tuple:
    return conn.execute(
        "SELECT f.ts_local::text, f.time_zone, f.time_id, d.date::text FROM core.fact_tracks_history f"
        " JOIN core.dim_date d USING (date_id) WHERE f.ts = %s",
        (ts,),
    ).fetchone()


def test_local_time_across_dst_and_abroad(conn, warehouse, raw_dir) -> None:
    write_json(
        raw_dir / "Streaming_History_Audio_2024_0.json",
        [
            # Spring forward in Berlin: 2024-03-31 01:00 UTC is 03:00 CEST (02:xx does not exist).
            play("2024-03-31T00:59:00Z", conn_country="DE"),
            play("2024-03-31T01:00:00Z", conn_country="DE"),
            # Fall back: 2024-10-27 00:30 UTC is 02:30 CEST, 01:30 UTC is 02:30 CET.
            play("2024-10-27T00:30:00Z", conn_country="DE"),
            play("2024-10-27T01:30:00Z", conn_country="DE"),
            # Travelling: Japan has one zone; the US has many (home zone used).
            play("2024-05-01T12:00:00Z", conn_country="JP"),
            play("2024-05-02T12:00:00Z", conn_country="US"),
            # No country: home.
            play("2024-05-03T23:30:00Z", conn_country=None),
        ]
        + [play(f"2024-06-{d:02d}T10:00:00Z", conn_country="DE") for d in range(1, 20)],
    )
    materialize_all(warehouse, raw_dir)
    # Home derived from the most frequent country (DE) when SPOTIFY_ETL_TIMEZONE is unset.
    assert conn.execute("SELECT home_country, home_time_zone FROM core.dim_listener").fetchone() == (
        "DE",
        "Europe/Berlin",
    )
    assert _local(conn, "2024-03-31T00:59:00Z") == ("2024-03-31 01:59:00", "Europe/Berlin", 159, "2024-03-31")
    assert _local(conn, "2024-03-31T01:00:00Z") == ("2024-03-31 03:00:00", "Europe/Berlin", 300, "2024-03-31")
    assert _local(conn, "2024-10-27T00:30:00Z")[0] == "2024-10-27 02:30:00"
    assert _local(conn, "2024-10-27T01:30:00Z")[0] == "2024-10-27 02:30:00"
    assert _local(conn, "2024-05-01T12:00:00Z") == ("2024-05-01 21:00:00", "Asia/Tokyo", 2100, "2024-05-01")
    assert _local(conn, "2024-05-02T12:00:00Z")[:2] == ("2024-05-02 14:00:00", "Europe/Berlin")
    assert _local(conn, "2024-05-03T23:30:00Z") == ("2024-05-04 01:30:00", "Europe/Berlin", 130, "2024-05-04")


def test_the_home_follows_the_plays_per_country_kept_as_staging_changes(conn, warehouse, raw_dir) -> None:
    """dim_listener reads each listener's plays per country from a table that triggers on
    staging keep (migration 0019, as raw_plays its plays per kind): each equals a count of
    staging after merges, deletions, updates and truncation, and a later file that tips the
    balance moves the home."""

    def kept() -> list[tuple]:
        assert rows(
            conn, "SELECT listener, content_kind, plays FROM etl_internal.listener_kind_plays ORDER BY 1, 2"
        ) == (
            rows(
                conn,
                "SELECT listener, content_kind, count(*) FROM staging.streaming_history GROUP BY 1, 2 ORDER BY 1, 2",
            )
        )
        return rows(conn, "SELECT listener, conn_country, plays FROM etl_internal.listener_country_plays ORDER BY 1, 2")

    def counted() -> list[tuple]:
        return rows(
            conn,
            "SELECT listener, conn_country, count(*) FROM staging.streaming_history"
            " WHERE conn_country IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2",
        )

    home = "SELECT home_country, home_time_zone FROM core.dim_listener"
    de = [play(f"2024-06-{day:02d}T10:00:00Z", conn_country="DE") for day in range(1, 6)]
    write_json(raw_dir / "Streaming_History_Audio_2024_0.json", [*de, play("2024-06-07T10:00:00Z", conn_country="JP")])
    materialize_all(warehouse, raw_dir)
    assert conn.execute(home).fetchone() == ("DE", "Europe/Berlin")
    assert kept() == counted() == [("default", "DE", 5), ("default", "JP", 1)]

    jp = [play(f"2024-07-{day:02d}T10:00:00Z", conn_country="JP") for day in range(1, 7)]
    write_json(raw_dir / "Streaming_History_Audio_2024_1.json", [*jp, play("2024-07-09T10:00:00Z", conn_country=None)])
    materialize_all(warehouse, raw_dir)
    assert conn.execute(home).fetchone() == ("JP", "Asia/Tokyo")
    assert kept() == counted() == [("default", "DE", 5), ("default", "JP", 7)]

    conn.execute("DELETE FROM staging.streaming_history WHERE conn_country = 'JP' AND ts < '2024-07-04'")
    conn.execute("UPDATE staging.streaming_history SET conn_country = 'FR' WHERE ts < '2024-06-03'")
    conn.execute("UPDATE staging.streaming_history SET conn_country = 'SE' WHERE conn_country IS NULL")
    conn.execute("UPDATE staging.streaming_history SET content_kind = 'local' WHERE conn_country = 'FR'")
    assert (
        kept() == counted() == [("default", "DE", 3), ("default", "FR", 2), ("default", "JP", 3), ("default", "SE", 1)]
    )
    conn.execute("TRUNCATE staging.streaming_history CASCADE")
    assert kept() == counted() == []


def test_a_country_has_one_zone_when_all_its_zones_keep_the_same_offsets() -> None:
    countries = single_zone_countries()
    # Germany lists Berlin and Busingen, always an hour ahead of UTC together; Japan one zone.
    assert countries["DE"] == "Europe/Berlin" and countries["JP"] == "Asia/Tokyo"
    # Spain's Canary Islands, Cyprus's Famagusta (2016-2017) and the US's zones differ.
    assert not {"ES", "CY", "US", "RU", "AU"} & countries.keys()


def test_the_country_zones_are_written_when_one_is_missing_not_on_every_build(conn, warehouse, raw_dir) -> None:
    stored = "SELECT country_code, timezone, xmin::text FROM etl_internal.country_timezone ORDER BY 1"
    for month in (1, 2, 3):
        write_json(raw_dir / f"Streaming_History_Audio_2024_{month}.json", [play(f"2024-0{month}-15T12:00:00Z")])
        materialize_all(warehouse, raw_dir)
        zones = rows(conn, stored)
        conn.commit()
        if month == 1:
            first = zones
            assert {country: zone for country, zone, _ in zones} == single_zone_countries()
        elif month == 2:
            assert zones == first  # the same row versions: not written again
            conn.execute("DELETE FROM etl_internal.country_timezone WHERE country_code = 'JP'")
            conn.commit()
        else:
            assert [row[:2] for row in zones] == [row[:2] for row in first]  # Japan's zone is back


def test_configured_home_zone_wins(conn, warehouse, raw_dir) -> None:
    write_json(raw_dir / "Streaming_History_Audio_2024_0.json", [play("2024-01-15T12:00:00Z", conn_country="US")])
    materialize_all(warehouse, raw_dir, home_time_zone="America/New_York")
    assert _local(conn, "2024-01-15T12:00:00Z")[:2] == ("2024-01-15 07:00:00", "America/New_York")


def test_sessions_split_at_the_gap(conn, warehouse, raw_dir) -> None:
    # Three plays back to back, then a 31-minute silence, then two more; a 29-minute gap does not split.
    plays = [
        play("2024-02-01T10:03:00Z", ms=180_000),  # 10:00-10:03
        play("2024-02-01T10:06:00Z", ms=180_000),  # 10:03-10:06
        play("2024-02-01T10:38:00Z", ms=180_000),  # starts 10:35: 29 min after 10:06
        play("2024-02-01T11:12:00Z", ms=180_000),  # starts 11:09: 31 min after 10:38
        episode_play("2024-02-01T11:40:00Z", ms=1_200_000),  # starts 11:20
    ]
    write_json(raw_dir / "Streaming_History_Audio_2024_0.json", plays)
    materialize_all(warehouse, raw_dir)
    sessions = rows(
        conn,
        "SELECT plays, session_start::text, session_end::text, minutes_played, length_category"
        " FROM core.fact_listening_sessions ORDER BY session_start",
    )
    assert [s[0] for s in sessions] == [3, 2]
    assert sessions[0][1:3] == ("2024-02-01 10:00:00+00", "2024-02-01 10:38:00+00")
    assert sessions[1][3] == 23  # 3 + 20 minutes
    assert [s[4] for s in sessions] == ["medium", "medium"]
    session_of = dict(rows(conn, "SELECT ts::text, session_id FROM core.fact_tracks_history ORDER BY ts"))
    assert len({session_of[t] for t in list(session_of)[:3]}) == 1
    podcast_session = conn.execute("SELECT session_id FROM core.fact_podcasts_history").fetchone()[0]
    assert podcast_session == session_of["2024-02-01 11:12:00+00"]


def test_surrogate_ids_follow_the_names_whatever_order_the_plays_come_in(conn, warehouse, raw_dir) -> None:
    """Dimensions keyed by name draw their ids in the names' order: two warehouses built from
    the same plays agree on every id, whatever plan (parallel or not) produced the names."""
    names = [f"Name {n:03d}" for n in range(200)]
    shuffled = names[1::2] + names[::2]
    plays = []
    for minute, name in enumerate(shuffled):
        at = f"{minute // 60:02d}:{minute % 60:02d}:00Z"
        plays.append(play(f"2021-01-01T{at}", artist=name, platform=name, reason_start=name))
        plays.append(episode_play(f"2021-02-01T{at}", show=name))
    write_json(raw_dir / "Streaming_History_Audio_2021_0.json", plays)
    materialize_all(warehouse, raw_dir)
    for query in (
        "SELECT artist_name FROM core.dim_artist WHERE artist_name ^@ 'Name ' ORDER BY artist_id",
        "SELECT podcast_name FROM core.dim_podcast WHERE podcast_name ^@ 'Name ' ORDER BY podcast_id",
        "SELECT platform FROM core.dim_platform WHERE platform ^@ 'Name ' ORDER BY platform_id",
        "SELECT reason_code FROM core.dim_reason WHERE reason_code ^@ 'Name ' ORDER BY reason_id",
    ):
        assert [name for (name,) in rows(conn, query)] == names, query


def test_generated_dimensions(conn, warehouse, raw_dir) -> None:
    write_json(
        raw_dir / "Streaming_History_Audio_2021_0.json",
        [
            play(
                "2021-01-03T12:00:00Z",
                platform="Android OS 9 API 28 (samsung, SM-G960F)",
                reason_start="brand-new-reason",
            ),
            play("2021-01-04T12:00:00Z", platform="iOS 11.4 (iPhone6,1)", reason_end=""),
            play("2021-01-05T12:00:00Z", platform="web_player windows 10;chrome 96.0.4664.110;desktop"),
            play("2021-01-06T12:00:00Z", platform="Partner google cast_tv;Chromecast;;"),
            play("2021-01-07T12:00:00Z", platform="Partner sonos_speaker;Sonos;One;;"),
            play("2021-01-08T12:00:00Z", platform="OS X 10.15.7 [x86 8]"),
            play("2021-01-09T12:00:00Z", platform="windows"),
            play("2021-01-10T12:00:00Z", platform="linux"),
            play("2021-01-11T12:00:00Z", platform="Android Auto (Volvo)"),
            play("2021-01-12T12:00:00Z", platform="not_applicable"),
        ],
    )
    materialize_all(warehouse, raw_dir)
    families = dict(rows(conn, "SELECT platform, device_family FROM core.dim_platform WHERE platform_id <> 0"))
    assert families == {
        "Android OS 9 API 28 (samsung, SM-G960F)": "android",
        "iOS 11.4 (iPhone6,1)": "ios",
        "web_player windows 10;chrome 96.0.4664.110;desktop": "web",
        "Partner google cast_tv;Chromecast;;": "cast/TV",
        "Partner sonos_speaker;Sonos;One;;": "speaker/partner",
        "OS X 10.15.7 [x86 8]": "desktop-mac",
        "windows": "desktop-windows",
        "linux": "desktop-linux",
        "Android Auto (Volvo)": "car",
        "not_applicable": "other",
    }
    # 2021-01-03 is a Sunday in ISO week 53 of 2020.
    assert rows(
        conn, "SELECT month_name, day_name, iso_week, iso_year, is_weekend FROM core.dim_date WHERE date = '2021-01-03'"
    ) == [("January", "Sunday", 53, 2020, True)]
    assert conn.execute("SELECT count(*) FROM core.dim_time").fetchone()[0] == 1440
    assert conn.execute("SELECT part_of_day FROM core.dim_time WHERE time_id = 1345").fetchone()[0] == "afternoon"
    new_reason = rows(conn, "SELECT is_known, reason_group FROM core.dim_reason WHERE reason_code = 'brand-new-reason'")
    assert new_reason == [(False, "other")]
    empty_reason = conn.execute(
        "SELECT r.reason_code FROM core.fact_tracks_history f JOIN core.dim_reason r ON r.reason_id = f.reason_end_id"
        " WHERE f.ts = '2021-01-04T12:00:00Z'"
    ).fetchone()[0]
    assert empty_reason == "(none)"


def test_local_files_and_account_only_tracks_get_name_keyed_members(conn, warehouse, raw_dir) -> None:
    write_json(
        raw_dir / "Streaming_History_Audio_2021_0.json",
        [
            play("2021-01-03T12:00:00Z", track="Demo", artist="Me", spotify_track_uri=None),
            play("2021-01-03T12:05:00Z", track="Tape", spotify_track_uri="spotify:local:Me:Album:Tape:200"),
        ],
    )
    write_json(
        raw_dir / "StreamingHistory_music_0.json",
        [{"endTime": "2021-02-01 10:00", "artistName": "X", "trackName": "Y", "msPlayed": 1}],
    )
    materialize_all(warehouse, raw_dir)
    members = rows(
        conn,
        "SELECT track_name, is_local, spotify_track_uri IS NULL FROM core.dim_track"
        " WHERE track_id <> 0 ORDER BY track_name",
    )
    assert members == [("Demo", True, True), ("Tape", True, True), ("Y", False, True)]
    assert conn.execute("SELECT count(*) FROM core.fact_tracks_history WHERE track_id = 0").fetchone()[0] == 0
