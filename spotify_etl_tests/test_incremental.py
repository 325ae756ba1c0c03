"""Incremental runs: a run does only what new data changes, and Dagster shows what is stale.

The warehouse built file by file must equal the one built at once; a run with nothing new
reloads no month; a new file reloads exactly the months it changes and leaves every other
fact row as it was; after ingestion, the UI's staleness and the facts' automation condition
name exactly those months."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import dagster as dg
import psycopg
import pytest

from spotify_etl.cli.run import run_pipeline
from spotify_etl.definitions import build_definitions
from spotify_etl.defs.changed_months import PLAYS_BY_MONTH, months_to_reload
from spotify_etl.defs.core.facts import fact_podcasts_history, fact_tracks_history
from spotify_etl.defs.mart.listening_report import listening_report
from spotify_etl.defs.resources import WarehouseResource
from spotify_etl.defs.stale_status import StaleStatus, stale_status_resolver
from spotify_etl.lib.ingestion import ingest_raw_dir
from spotify_etl.lib.synthetic import generate_plays
from spotify_etl.lib.warehouse.database import connect, prepare_warehouse
from spotify_etl.lib.warehouse.incremental import month_versions
from spotify_etl.settings import ensure_dagster_home, load_settings
from spotify_etl_tests.conftest import fresh_warehouse_url
from spotify_etl_tests.export_factory import account_music, episode_play, play, write_json
from spotify_etl_tests.pipeline_helpers import materialize_all


def _history() -> list[dict]:
    """Plays over eight months, some sessions across a month's end."""
    plays = []
    for month in range(1, 9):
        for day, hour in ((3, 9), (3, 10), (17, 20)):
            plays.append(play(f"2024-{month:02d}-{day:02d}T{hour:02d}:00:00Z", track=f"Song {month}", artist="A"))
        plays.append(episode_play(f"2024-{month:02d}-20T08:00:00Z", episode=f"Ep {month}"))
    plays.append(play("2024-04-30T23:50:00Z", ms=300_000, track="Late", artist="B"))
    return plays


def _new_file() -> list[dict]:
    """Plays in March, May and June (one just after midnight that continues a session begun
    on May 31st); April, July and the rest are untouched."""
    return [
        play("2024-03-10T12:00:00Z", track="New March", artist="C"),
        play("2024-05-31T23:58:00Z", ms=120_000, track="New May", artist="C"),
        play("2024-06-01T00:05:00Z", ms=200_000, track="New June", artist="C"),
    ]


@pytest.fixture
def cli(raw_dir, database_url, monkeypatch):
    """run_pipeline as `spotify-etl run --no-enrich` runs it, on one Dagster instance."""
    monkeypatch.setenv("SPOTIFY_ETL_DATABASE_URL", database_url)
    instance = dg.DagsterInstance.from_config(str(ensure_dagster_home()))
    yield lambda **kwargs: run_pipeline(raw_dir=raw_dir, enrich=False, instance=instance, **kwargs), instance
    instance.dispose()


def _fact_partitions_materialized(instance: dg.DagsterInstance) -> int:
    return sum(
        len(instance.fetch_materializations(key, limit=10_000).records)
        for key in (fact_tracks_history.key, fact_podcasts_history.key)
    )


_NATURAL = {
    "tracks": "SELECT f.listener, f.ts, t.track_key, a.artist_key, f.ts_local, f.time_zone, f.date_id, f.time_id,"
    " f.ms_played, f.percent_played, f.play_category, f.is_skip, s.session_start, s.plays"
    " FROM core.fact_tracks_history f JOIN core.dim_track t USING (track_id)"
    " JOIN core.dim_artist a ON a.artist_id = f.artist_id"
    " JOIN core.fact_listening_sessions s USING (session_id) ORDER BY 1, 2, 3",
    "podcasts": "SELECT f.listener, f.ts, e.episode_key, p.podcast_key, f.ts_local, f.ms_played, s.session_start"
    " FROM core.fact_podcasts_history f JOIN core.dim_episode e USING (episode_id)"
    " JOIN core.dim_podcast p ON p.podcast_id = f.podcast_id"
    " JOIN core.fact_listening_sessions s USING (session_id) ORDER BY 1, 2, 3",
    "sessions": "SELECT listener, session_start, session_end, plays, minutes_played, length_category"
    " FROM core.fact_listening_sessions ORDER BY 1, 2",
    "play_sessions": "SELECT count(*), count(DISTINCT session_id) FROM core.play_session",
    "members": "SELECT 'track', track_key FROM core.dim_track"
    " UNION ALL SELECT 'artist', artist_key FROM core.dim_artist"
    " UNION ALL SELECT 'episode', episode_key FROM core.dim_episode UNION ALL SELECT 'date', date::text"
    " FROM core.dim_date UNION ALL SELECT 'listener', listener || home_time_zone FROM core.dim_listener ORDER BY 1, 2",
}


def _by_natural_keys(url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(url) as conn:
        return {name: conn.execute(query).fetchall() for name, query in _NATURAL.items()}


def _row_versions(url: str, outside: tuple[str, ...]) -> dict:
    """Each fact row of the months not in `outside` with its xmin (a reload gives it another)."""
    query = "SELECT play_id, xmin::text FROM core.{} WHERE to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM') <> ALL(%s)"
    with psycopg.connect(url) as conn:
        return {
            table: dict(conn.execute(query.format(table), (list(outside),)).fetchall())
            for table in ("fact_tracks_history", "fact_podcasts_history")
        }


def _partition_files(url: str) -> dict[str, int]:
    """Each monthly partition of the facts with its file (a reload empties it into a new one)."""
    query = (
        "SELECT c.relname, pg_relation_filenode(c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent IN ('core.fact_tracks_history'::regclass, 'core.fact_podcasts_history'::regclass)"
    )
    with psycopg.connect(url) as conn:
        return dict(conn.execute(query).fetchall())


def test_a_run_with_nothing_new_reloads_no_month_and_says_so(cli, raw_dir) -> None:
    run, instance = cli
    write_json(raw_dir / "Streaming_History_Audio_2024_0.json", _history())
    first = run()
    assert first.success, first.failure
    assert [(a[:7], b[:7]) for a, b in first.months_loaded] == [("2024-01", "2024-08")]
    loaded = _fact_partitions_materialized(instance)
    assert loaded == 16  # eight months of two facts, not every month since 2008

    again = run()
    assert again.success, again.failure
    assert again.nothing_new and again.months_loaded == [] and again.changed_months == set()
    assert _fact_partitions_materialized(instance) == loaded
    assert "nothing new since the last run" in again.summary_table()
    # No run at all: every file recorded as read, the dimensions and sessions not stale.
    assert again.files_unchanged and again.run_ids == [] and again.materializations == []
    assert "every play file is loaded already" in again.summary_table()


def test_ingestion_runs_again_only_when_a_file_is_new_or_changed_or_a_pass_is_behind(
    cli, raw_dir, database_url
) -> None:
    run, instance = cli
    history = write_json(raw_dir / "Streaming_History_Audio_2024_0.json", _history())
    assert run().success
    write_json(raw_dir / "Userdata.json", {"username": "me"})  # not play data: never ingested
    assert run().files_unchanged

    # Touched (same content, another modification time): read again once, found the same.
    os.utime(history, (history.stat().st_atime, history.stat().st_mtime + 60))
    touched = run()
    assert not touched.files_unchanged and len(touched.run_ids) == 1
    assert dict(touched.materializations)["raw_plays"]["stored"] == 0
    assert run().files_unchanged

    # The account-twin pass stopped before it read the last file: the next run finishes it.
    with psycopg.connect(database_url) as conn:
        conn.execute("UPDATE etl_internal.build_watermarks SET source_file_id = 0 WHERE step = 'account_twins'")
    assert not run().files_unchanged
    assert run().files_unchanged

    # A new instance (its home deleted) has no materialized partition: ingestion runs once.
    fresh = dg.DagsterInstance.ephemeral()
    assert not run_pipeline(raw_dir=raw_dir, enrich=False, instance=fresh).files_unchanged
    assert run_pipeline(raw_dir=raw_dir, enrich=False, instance=fresh).files_unchanged


def _reports_built(instance: dg.DagsterInstance) -> int:
    return len(instance.fetch_materializations(listening_report.key, limit=100).records)


def test_a_month_asked_for_keeps_the_report_unless_reloading_it_changes_its_rows(cli, raw_dir, database_url) -> None:
    run, instance = cli
    write_json(raw_dir / "Streaming_History_Audio_2024_0.json", _history())
    assert run().success
    reports = _reports_built(instance)

    asked = run(month_from="2024-03", month_to="2024-03")
    assert asked.success, asked.failure
    assert [(a[:7], b[:7]) for a, b in asked.months_loaded] == [("2024-03", "2024-03")]
    assert asked.facts_as_they_were
    assert "listening_report" not in {name for name, _ in asked.materializations}
    assert _reports_built(instance) == reports
    assert "their facts are as they were: the report is current" in asked.summary_table()
    again = run(month_from="2024-03", month_to="2024-03")
    assert again.facts_as_they_were and _reports_built(instance) == reports
    assert run().nothing_new and _reports_built(instance) == reports

    # A fact row changed by hand: reloading the month restores it, which the report must show.
    with psycopg.connect(database_url) as conn:
        changed = conn.execute(
            "UPDATE core.fact_tracks_history SET ms_played = ms_played + 1"
            " WHERE ts >= '2024-03-01' AND ts < '2024-04-01'"
        ).rowcount
    assert changed > 0
    restored = run(month_from="2024-03", month_to="2024-03")
    assert restored.success, restored.failure
    assert not restored.facts_as_they_were
    assert "listening_report" in {name for name, _ in restored.materializations}
    assert _reports_built(instance) == reports + 1
    assert restored.files_unchanged and len(restored.run_ids) == 2  # the month's facts, the report


def test_a_report_left_behind_the_facts_is_rebuilt_by_the_next_run(cli, raw_dir) -> None:
    run, instance = cli
    write_json(raw_dir / "Streaming_History_Audio_2024_0.json", _history())
    assert run().success
    reports = _reports_built(instance)
    # As a run that failed in the report step leaves it: the facts loaded after the report.
    assert run(month_from="2024-03", month_to="2024-03").facts_as_they_were
    instance.report_runless_asset_event(dg.AssetMaterialization(fact_tracks_history.key, partition="2024-05-01"))

    again = run()
    assert again.success, again.failure
    assert again.months_loaded == []
    assert _reports_built(instance) == reports + 1


def test_a_new_file_reloads_exactly_the_months_it_changes(cli, raw_dir, database_url, server_url) -> None:
    run, instance = cli
    write_json(raw_dir / "Streaming_History_Audio_2024_0.json", _history())
    assert run().success
    before = _row_versions(database_url, ("2024-03", "2024-05", "2024-06"))
    files_before = _partition_files(database_url)
    # One partition per fact and month holding plays of any kind (Jan..Aug 2024), no others.
    assert sorted(files_before) == sorted(
        f"{fact}_y2024m{month:02d}"
        for fact in ("fact_tracks_history", "fact_podcasts_history")
        for month in range(1, 9)
    )

    write_json(raw_dir / "Streaming_History_Audio_2024_1.json", _new_file())
    outcome = run()
    assert outcome.success, outcome.failure
    assert outcome.changed_months == {"2024-03", "2024-05", "2024-06"}
    # (The last stretch of the months stored loads with the stale dimensions, the others after.)
    assert sorted((a[:7], b[:7]) for a, b in outcome.months_loaded) == [("2024-03", "2024-03"), ("2024-05", "2024-06")]
    # Every row of the other months is the row that was there (same transaction id).
    assert _row_versions(database_url, ("2024-03", "2024-05", "2024-06")) == before
    # The partitions of the months reloaded were emptied into new files; no other was touched.
    files_after = _partition_files(database_url)
    assert files_after.keys() == files_before.keys()
    assert {name for name in files_after if files_after[name] != files_before[name]} == {
        f"{fact}_y2024m{month}"
        for fact in ("fact_tracks_history", "fact_podcasts_history")
        for month in ("03", "05", "06")
    }

    # The same facts, sessions and dimension members as one run over both files (surrogate
    # keys are drawn in another order, so rows are compared by natural keys).
    clean = fresh_warehouse_url(server_url)
    materialize_all(WarehouseResource(database_url=clean), raw_dir)
    assert _by_natural_keys(database_url) == _by_natural_keys(clean)


def test_a_dimension_that_fails_stops_only_what_waits_for_it_and_the_next_run_catches_up(
    cli, raw_dir, database_url, server_url
) -> None:
    """The dimensions and sessions are built side by side in one step: when dim_artist fails,
    the others are built and materialized, dim_track (which waits for it) is not, and neither
    one's watermark moves, so the next run reads the same plays and the warehouse is the one
    a clean run builds."""
    run, instance = cli
    write_json(raw_dir / "Streaming_History_Audio_2024_0.json", _history())
    with psycopg.connect(database_url) as conn:
        prepare_warehouse(database_url)
        conn.execute(
            "CREATE FUNCTION public.refuse() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'dim_artist refused'; END $$"
        )
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON core.dim_artist FOR EACH STATEMENT EXECUTE FUNCTION public.refuse()"
        )
    failed = run()
    assert not failed.success
    assert "TableBuildFailed: dim_artist: dim_artist refused" in failed.failure
    built = {asset for asset, _ in failed.materializations}
    assert {"dim_date", "dim_listener", "dim_podcast", "dim_episode", "fact_listening_sessions"} <= built
    assert not {"dim_artist", "dim_track"} & built
    with psycopg.connect(database_url) as conn:
        read = dict(conn.execute("SELECT step, source_file_id FROM etl_internal.build_watermarks").fetchall())
        assert "dim_artist" not in read and "dim_track" not in read and read["dim_date"] == 1
        conn.execute("DROP FUNCTION public.refuse() CASCADE")

    again = run()
    assert again.success, again.failure
    assert {"dim_artist", "dim_track"} <= {asset for asset, _ in again.materializations}
    clean = fresh_warehouse_url(server_url)
    materialize_all(WarehouseResource(database_url=clean), raw_dir)
    assert _by_natural_keys(database_url) == _by_natural_keys(clean)


def test_a_session_joined_across_a_month_end_reloads_the_later_month(cli, raw_dir) -> None:
    """A new play in the last minutes of April that joins a session whose later plays are in
    May gives those May plays another session id: May is reloaded too."""
    run, _ = cli
    write_json(
        raw_dir / "Streaming_History_Audio_2024_0.json",
        [play("2024-05-01T00:10:00Z", ms=200_000, track="May"), play("2024-07-01T10:00:00Z", track="July")],
    )
    assert run().success
    write_json(
        raw_dir / "Streaming_History_Audio_2024_1.json", [play("2024-04-30T23:55:00Z", ms=200_000, track="April")]
    )
    outcome = run()
    assert outcome.success, outcome.failure
    assert outcome.changed_months == {"2024-04", "2024-05"}


def test_account_twins_found_later_change_their_month(cli, raw_dir) -> None:
    """Account data loaded first, its extended history later: the account rows become
    duplicates of the richer ones, and their month is reloaded."""
    run, _ = cli
    extended = [play("2024-02-10T10:00:30Z", track="Twin", artist="T"), play("2024-03-01T10:00:00Z", track="X")]
    write_json(raw_dir / "StreamingHistory_music_0.json", [account_music(extended[0])])
    assert run().success
    write_json(raw_dir / "Streaming_History_Audio_2024_0.json", extended)
    outcome = run()
    assert outcome.success, outcome.failure
    assert outcome.changed_months == {"2024-02", "2024-03"}
    assert dict(outcome.materializations)["raw_plays"]["dagster/row_count"] == 2


def test_after_a_new_file_is_ingested_exactly_its_months_are_stale_and_automation_reloads_them(
    cli, raw_dir, monkeypatch
) -> None:
    run, instance = cli
    write_json(raw_dir / "Streaming_History_Audio_2024_0.json", _history())
    assert run().success
    monkeypatch.setenv("SPOTIFY_ETL_RAW_DIR", str(raw_dir))
    defs = build_definitions(load_settings())
    months = [f"2024-{m:02d}-01" for m in range(1, 9)]

    resolver = stale_status_resolver(instance, defs)
    assert {resolver.get_status(fact_tracks_history.key, m) for m in months} == {StaleStatus.FRESH}
    # The automation sensor's tick before the file lands: nothing to do.
    before = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert before.total_requested == 0

    # A new file lands and is ingested (as the sensors' runs or "Materialize" on the listener's
    # raw_plays partition do), then what follows it is built, short of the facts.
    write_json(raw_dir / "Streaming_History_Audio_2024_1.json", _new_file())
    ingest = defs.resolve_job_def("ingest_exports").execute_in_process(instance=instance, partition_key="default")
    derived = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance,
        asset_selection=[
            key
            for key in defs.resolve_asset_graph().get_all_asset_keys()
            if key.to_user_string().startswith(("dim_", "fact_listening"))
        ],
    )
    assert ingest.success and derived.success
    resolver = stale_status_resolver(instance, defs)
    for key in (fact_tracks_history.key, fact_podcasts_history.key):
        stale = {m[:7] for m in months if resolver.get_status(key, m) == StaleStatus.STALE}
        assert stale == {"2024-03", "2024-05", "2024-06"}, key
    cause = resolver.get_stale_root_causes(fact_tracks_history.key, "2024-03-01")
    assert [c.asset_key.to_user_string() for c in cause] == ["plays_by_month"]

    # Declarative automation asks for exactly those partitions, of both facts.
    evaluation = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=before.cursor)
    expected = {"2024-03", "2024-05", "2024-06"}
    for fact in (fact_tracks_history, fact_podcasts_history):
        assert {partition[:7] for partition in evaluation.get_requested_partitions(fact.key)} == expected
    assert evaluation.total_requested == 2 * len(expected)


def test_sessions_built_file_by_file_equal_sessions_built_at_once(cli, raw_dir, database_url, server_url) -> None:
    """Three files whose plays interleave in time (every third play), loaded one run at a time:
    each run rebuilds only the stretch its plays touch, and the result is the full rebuild's."""
    run, _ = cli
    plays = list(
        generate_plays(900, seed=5, start=datetime(2023, 1, 1, tzinfo=UTC), end=datetime(2023, 7, 1, tzinfo=UTC))
    )
    for part in range(3):
        write_json(raw_dir / f"Streaming_History_Audio_2023_{part}.json", plays[part::3])
        outcome = run()
        assert outcome.success, outcome.failure
    clean = fresh_warehouse_url(server_url)
    materialize_all(WarehouseResource(database_url=clean), raw_dir)
    incremental, at_once = _by_natural_keys(database_url), _by_natural_keys(clean)
    assert incremental["sessions"] == at_once["sessions"] and len(at_once["sessions"]) > 10
    assert incremental == at_once


def test_observing_every_month_again_finds_the_versions_the_steps_reported(cli, raw_dir, monkeypatch) -> None:
    """ "Observe" on plays_by_month computes every month's version from the warehouse: the
    same versions the steps reported, whatever order they ran in, so nothing turns stale and
    the next run reloads nothing."""
    run, instance = cli
    write_json(raw_dir / "Streaming_History_Audio_2024_0.json", _history())
    write_json(raw_dir / "StreamingHistory_music_0.json", [account_music(p) for p in _history()[:3]])
    assert run().success
    # The first run reported each month once: dim_listener leaves a listener's months, added
    # with plays the sessions had not read yet, to the sessions' report.
    first = _observations(instance)
    assert sorted(partition for partition, _ in first) == [f"2024-{m:02d}-01" for m in range(1, 9)]
    assert {step for _, step in first} == {"fact_listening_sessions"}
    write_json(raw_dir / "Streaming_History_Audio_2024_1.json", _new_file())
    assert run().success
    monkeypatch.setenv("SPOTIFY_ETL_RAW_DIR", str(raw_dir))
    defs = build_definitions(load_settings())
    observed = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, asset_selection=[dg.AssetKey("plays_by_month")]
    )
    assert observed.success
    assert {e.partition[:7] for e in observed.get_asset_observation_events() if e.partition} == {
        f"2024-{m:02d}" for m in range(1, 9)
    }
    resolver = stale_status_resolver(instance, defs)
    months = [f"2024-{m:02d}-01" for m in range(1, 9)]
    assert {resolver.get_status(fact_tracks_history.key, m) for m in months} == {StaleStatus.FRESH}
    assert months_to_reload(instance) == set()
    assert run().nothing_new


def test_a_listener_added_after_the_sessions_read_its_plays_has_its_months_reported(
    raw_dir, database_url, monkeypatch
) -> None:
    """The sessions built (as "Materialize" on them alone does) before dim_listener knew the
    listener: their report had no home zone, so dim_listener reports those months itself, and
    each month's last report is its version now."""
    write_json(raw_dir / "Streaming_History_Audio_2024_0.json", _history())
    prepare_warehouse(database_url)
    ingest_raw_dir(database_url, raw_dir)
    monkeypatch.setenv("SPOTIFY_ETL_DATABASE_URL", database_url)
    monkeypatch.setenv("SPOTIFY_ETL_RAW_DIR", str(raw_dir))
    defs = build_definitions(load_settings())
    instance = dg.DagsterInstance.ephemeral()
    job = defs.resolve_implicit_global_asset_job_def()
    for asset in ("fact_listening_sessions", "dim_listener"):
        assert job.execute_in_process(instance=instance, asset_selection=[dg.AssetKey(asset)]).success
    months = [f"2024-{m:02d}-01" for m in range(1, 9)]
    by_step = {}
    for partition, step in _observations(instance):
        by_step.setdefault(step, []).append(partition)
    assert {step: sorted(partitions) for step, partitions in by_step.items()} == {
        "fact_listening_sessions": months,
        "dim_listener": months,
    }
    with connect(database_url) as conn:
        now = month_versions(conn, {m[:7] for m in months})
    last = {}
    for record in instance.fetch_observations(PLAYS_BY_MONTH, limit=1000, ascending=True).records:
        last[record.partition_key[:7]] = record.event_log_entry.tags["dagster/data_version"]
    assert last == now


def _observations(instance: dg.DagsterInstance) -> list[tuple[str, str]]:
    """Each observation of plays_by_month: its month's partition and what made it (observed_by)."""
    records = instance.fetch_observations(PLAYS_BY_MONTH, limit=10_000).records
    return [(record.partition_key, record.asset_observation.metadata["observed_by"].value) for record in records]
