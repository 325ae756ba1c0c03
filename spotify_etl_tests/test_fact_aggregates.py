"""The aggregates kept with the facts (migrations 0017, 0018) give each mart view exactly what the
facts give: after a first load of two listeners, after a new file reloads some months, and after
a month asked for is reloaded, every view built on them equals its former definition over the
facts themselves (below, as it was before the aggregates)."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import psycopg
import pytest

from spotify_etl.cli.run import run_pipeline
from spotify_etl.defs.core import facts
from spotify_etl.lib.synthetic import generate_plays, write_json_array
from spotify_etl.lib.warehouse import fact_loads
from spotify_etl.lib.warehouse.database import migrate
from spotify_etl.settings import ensure_dagster_home

# Each view's definition over the facts, as the views read before migrations 0017 and 0018.
FROM_THE_FACTS = {
    "minutes_by_month": """
SELECT listener, date_trunc('month', ts_local)::date AS month, 'music' AS kind,
       round(sum(ms_played) / 60000.0, 1) AS minutes, count(*) AS plays
FROM core.fact_tracks_history GROUP BY 1, 2
UNION ALL
SELECT listener, date_trunc('month', ts_local)::date, 'podcast',
       round(sum(ms_played) / 60000.0, 1), count(*)
FROM core.fact_podcasts_history GROUP BY 1, 2
""",
    "listening_clock": """
SELECT listener, d.day_of_week, d.day_name, tm.hour,
       round(sum(ms_played) / 60000.0, 1) AS minutes, count(*) AS plays
FROM (SELECT listener, date_id, time_id, ms_played FROM core.fact_tracks_history
      UNION ALL
      SELECT listener, date_id, time_id, ms_played FROM core.fact_podcasts_history) AS f
JOIN core.dim_date AS d USING (date_id)
JOIN core.dim_time AS tm USING (time_id)
GROUP BY 1, 2, 3, 4
""",
    "skip_rate_by_month": """
SELECT listener, date_trunc('month', ts_local)::date AS month, count(*) AS plays,
       round(avg(is_skip::integer), 4) AS skip_rate
FROM core.fact_tracks_history
GROUP BY 1, 2
""",
    "skip_rate_by_reason": """
SELECT f.listener, r.reason_code AS reason_start, r.description, count(*) AS plays,
       round(avg(f.is_skip::integer), 4) AS skip_rate
FROM core.fact_tracks_history AS f
JOIN core.dim_reason AS r ON r.reason_id = f.reason_start_id
GROUP BY 1, 2, 3
""",
    "new_artists_by_month": """
SELECT listener, first_month AS month, count(*) AS new_artists
FROM (
    SELECT f.listener, f.artist_id, date_trunc('month', min(f.ts_local))::date AS first_month
    FROM core.fact_tracks_history AS f
    WHERE f.artist_id <> 0
    GROUP BY 1, 2
) AS firsts
GROUP BY 1, 2
""",
    "year_in_review": """
SELECT m.listener, m.year, m.music_minutes, m.podcast_minutes, m.plays, m.distinct_tracks,
       m.distinct_artists, m.days_listened
FROM (
    SELECT listener, extract(year FROM ts_local)::integer AS year,
           round(coalesce(sum(ms_played) FILTER (WHERE kind = 'music'), 0) / 60000.0, 0) AS music_minutes,
           round(coalesce(sum(ms_played) FILTER (WHERE kind = 'podcast'), 0) / 60000.0, 0) AS podcast_minutes,
           count(*) AS plays,
           count(DISTINCT content_id) FILTER (WHERE kind = 'music') AS distinct_tracks,
           count(DISTINCT artist_id) FILTER (WHERE kind = 'music') AS distinct_artists,
           count(DISTINCT ts_local::date) AS days_listened
    FROM (SELECT listener, ts_local, ms_played, 'music' AS kind, track_id AS content_id, artist_id
          FROM core.fact_tracks_history
          UNION ALL
          SELECT listener, ts_local, ms_played, 'podcast', episode_id, NULL
          FROM core.fact_podcasts_history) AS plays
    GROUP BY 1, 2
) AS m
""",
    "top_artists_by_year": """
SELECT listener, year, artist_name, minutes, plays,
       rank() OVER (PARTITION BY listener, year ORDER BY minutes DESC) AS rank
FROM (
    SELECT f.listener, extract(year FROM f.ts_local)::integer AS year, a.artist_name,
           round(sum(f.ms_played) / 60000.0, 1) AS minutes, count(*) AS plays
    FROM core.fact_tracks_history AS f
    JOIN core.dim_artist AS a ON a.artist_id = f.artist_id
    GROUP BY 1, 2, 3
) AS t
""",
    "top_tracks_by_year": """
SELECT listener, year, track_name, artist_name, plays, minutes,
       rank() OVER (PARTITION BY listener, year ORDER BY plays DESC, minutes DESC) AS rank
FROM (
    SELECT f.listener, extract(year FROM f.ts_local)::integer AS year, t.track_name, t.artist_name,
           count(*) AS plays, round(sum(f.ms_played) / 60000.0, 1) AS minutes
    FROM core.fact_tracks_history AS f
    JOIN core.dim_track AS t ON t.track_id = f.track_id
    GROUP BY 1, 2, 3, 4
) AS t
""",
    "top_songs_by_year": """
SELECT listener, year, song, artist_name, plays, versions_played, minutes,
       rank() OVER (PARTITION BY listener, year ORDER BY plays DESC, minutes DESC) AS rank
FROM (
    SELECT f.listener, extract(year FROM f.ts_local)::integer AS year,
           parent.track_name AS song, parent.artist_name,
           count(*) AS plays, count(DISTINCT f.track_id) AS versions_played,
           round(sum(f.ms_played) / 60000.0, 1) AS minutes
    FROM core.fact_tracks_history AS f
    JOIN core.dim_track AS t ON t.track_id = f.track_id
    JOIN core.dim_track AS parent ON parent.track_id = coalesce(t.parent_track_id, t.track_id)
    GROUP BY 1, 2, parent.track_id, parent.track_name, parent.artist_name
) AS songs
""",
    "top_albums_by_year": """
SELECT listener, year, album_name, artist_name, minutes, plays,
       rank() OVER (PARTITION BY listener, year ORDER BY minutes DESC) AS rank
FROM (
    SELECT f.listener, extract(year FROM f.ts_local)::integer AS year, t.album_name, t.artist_name,
           round(sum(f.ms_played) / 60000.0, 1) AS minutes, count(*) AS plays
    FROM core.fact_tracks_history AS f
    JOIN core.dim_track AS t ON t.track_id = f.track_id
    WHERE t.album_name IS NOT NULL
    GROUP BY 1, 2, 3, 4
) AS a
""",
    "top_shows_by_year": """
SELECT listener, year, podcast_name, minutes, episodes_played,
       rank() OVER (PARTITION BY listener, year ORDER BY minutes DESC) AS rank
FROM (
    SELECT f.listener, extract(year FROM f.ts_local)::integer AS year, p.podcast_name,
           round(sum(f.ms_played) / 60000.0, 1) AS minutes, count(DISTINCT f.episode_id) AS episodes_played
    FROM core.fact_podcasts_history AS f
    JOIN core.dim_podcast AS p ON p.podcast_id = f.podcast_id
    GROUP BY 1, 2, 3
) AS t
""",
    "genres_by_year": """
SELECT f.listener, extract(year FROM f.ts_local)::integer AS year, genre,
       round(sum(f.ms_played) / 60000.0, 1) AS minutes
FROM core.fact_tracks_history AS f
JOIN core.dim_artist AS a ON a.artist_id = f.artist_id
CROSS JOIN LATERAL unnest(a.genres) AS genre
GROUP BY 1, 2, 3
""",
}


@pytest.fixture
def run(raw_dir, database_url, monkeypatch):
    monkeypatch.setenv("SPOTIFY_ETL_DATABASE_URL", database_url)
    instance = dg.DagsterInstance.from_config(str(ensure_dagster_home()))
    yield lambda **kwargs: run_pipeline(raw_dir=raw_dir, enrich=False, instance=instance, **kwargs)
    instance.dispose()


def _plays(n: int, seed: int, start: datetime, end: datetime, country: str = "DE") -> list[dict]:
    return list(generate_plays(n, seed=seed, start=start, end=end, home_country=country))


def _assert_views_equal_the_facts(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        for view, query in FROM_THE_FACTS.items():
            expected = sorted(conn.execute(query).fetchall(), key=repr)
            got = sorted(conn.execute(f"SELECT * FROM mart.{view}").fetchall(), key=repr)
            assert expected, f"mart.{view}: the test's data gives it no rows"
            assert got == expected, f"mart.{view} differs from its definition over the facts"


def _daily_rows(database_url: str) -> dict[str, list[tuple]]:
    """mart.daily_listening's rows by fact month (YYYY-MM), each with its row version (xmin)."""
    rows: dict[str, list[tuple]] = {}
    with psycopg.connect(database_url) as conn:
        for month, *row in conn.execute(
            "SELECT to_char(fact_month, 'YYYY-MM'), kind, listener, date_id, plays, xmin::text"
            " FROM mart.daily_listening ORDER BY 1, 2, 3, 4"
        ):
            rows.setdefault(month, []).append(tuple(row))
    return rows


def _without_versions(rows: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    return {month: [row[:-1] for row in kept] for month, kept in rows.items()}


def test_views_on_the_aggregates_equal_the_facts_through_incremental_loads(run, raw_dir, database_url) -> None:
    history = raw_dir / "ana" / "Streaming_History_Audio_2022-2023_0.json"
    write_json_array(history, _plays(1500, 1, datetime(2022, 1, 1, tzinfo=UTC), datetime(2023, 6, 30, tzinfo=UTC)))
    write_json_array(
        raw_dir / "ben" / "Streaming_History_Audio_2022_0.json",
        _plays(800, 2, datetime(2022, 3, 1, tzinfo=UTC), datetime(2022, 12, 31, tzinfo=UTC), country="JP"),
    )
    first = run()
    assert first.success, first.failure
    with psycopg.connect(database_url) as conn:  # genres come with enrichment, which is off here
        conn.execute("UPDATE core.dim_artist SET genres = ARRAY['pop', 'k-pop'] WHERE artist_id % 3 = 0")
    _assert_views_equal_the_facts(database_url)

    before = _daily_rows(database_url)
    write_json_array(
        raw_dir / "ana" / "Streaming_History_Audio_2023_1.json",
        _plays(300, 99, datetime(2023, 2, 1, tzinfo=UTC), datetime(2023, 4, 30, tzinfo=UTC)),
    )
    new_file = run()
    assert new_file.success, new_file.failure
    reloaded = [(first[:7], last[:7]) for first, last in new_file.months_loaded]
    assert reloaded and all("2023-01" <= first and last <= "2023-05" for first, last in reloaded), reloaded
    _assert_views_equal_the_facts(database_url)
    # The months the new file did not reach kept their aggregates' rows as they were.
    after = _daily_rows(database_url)
    outside = {month for month in before | after if not any(a <= month <= b for a, b in reloaded)}
    assert outside and {m: before.get(m) for m in outside} == {m: after.get(m) for m in outside}

    asked = run(month_from="2022-05", month_to="2022-05")
    assert asked.success and asked.facts_as_they_were
    _assert_views_equal_the_facts(database_url)
    # Each load's counts come from the aggregates (sql/core/fact_counts.sql): the fact's own.
    with psycopg.connect(database_url) as conn:
        for fact in ("fact_tracks_history", "fact_podcasts_history"):
            metadata = dict(asked.materializations)[fact]
            assert metadata["dagster/row_count"] == conn.execute(f"SELECT count(*) FROM core.{fact}").fetchone()[0]
            assert (
                metadata["plays_loaded"]
                == conn.execute(
                    f"SELECT count(*) FROM core.{fact} WHERE ts >= '2022-05-01Z' AND ts < '2022-06-01Z'"
                ).fetchone()[0]
            )
            assert metadata["plays_loaded"] > 0


def test_the_migration_fills_the_aggregates_of_facts_loaded_before_it(run, raw_dir, database_url) -> None:
    write_json_array(
        raw_dir / "Streaming_History_Audio_2024_0.json",
        _plays(600, 3, datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 9, 30, tzinfo=UTC)),
    )
    assert run().success
    with psycopg.connect(database_url) as conn:
        conn.execute("UPDATE core.dim_artist SET genres = ARRAY['jazz'] WHERE artist_id % 2 = 0")
        # The warehouse as it was before migrations 0017 and 0018, its facts loaded.
        conn.execute(
            "DROP TABLE mart.daily_listening, mart.weekday_hour_listening, mart.start_reason_listening,"
            " mart.track_years, mart.episode_years CASCADE"
        )
        conn.execute("DROP FUNCTION mart.refresh_fact_aggregates, mart.refresh_episode_years")
        conn.execute("DELETE FROM etl_internal.schema_migrations WHERE version IN (17, 18)")
        conn.execute("DELETE FROM etl_internal.schema_views")
        conn.commit()
        assert migrate(conn) == ["0017_fact_aggregates", "0018_episode_years", "views"]
    _assert_views_equal_the_facts(database_url)


def test_a_first_load_in_pieces_gives_what_whole_loads_give(run, raw_dir, database_url, monkeypatch) -> None:
    # Pieces from 100 plays (at 1M plays they come from 50k): this export's first load is in pieces.
    monkeypatch.setattr(fact_loads, "PIECES_FROM_PLAYS", 100)
    planned: list[list[fact_loads.FactLoad]] = []

    def plan(*args, **kwargs):
        partitions, loads = fact_loads.plan_fact_loads(*args, **kwargs)
        planned.append(loads)
        return partitions, loads

    monkeypatch.setattr(facts, "plan_fact_loads", plan)
    write_json_array(
        raw_dir / "ana" / "Streaming_History_Audio_2022-2023_0.json",
        _plays(1500, 1, datetime(2022, 1, 1, tzinfo=UTC), datetime(2023, 6, 30, tzinfo=UTC)),
    )
    write_json_array(
        raw_dir / "ben" / "Streaming_History_Audio_2022_0.json",
        _plays(800, 2, datetime(2022, 3, 1, tzinfo=UTC), datetime(2022, 12, 31, tzinfo=UTC), country="JP"),
    )
    first = run()
    assert first.success, first.failure
    (loads,) = planned
    assert sorted((load.table, load.piece) for load in loads) == [
        ("fact_podcasts_history", True),
        ("fact_podcasts_history", True),
        ("fact_tracks_history", True),
        ("fact_tracks_history", True),
    ]
    with psycopg.connect(database_url) as conn:  # genres come with enrichment, which is off here
        conn.execute("UPDATE core.dim_artist SET genres = ARRAY['pop', 'k-pop'] WHERE artist_id % 3 = 0")
    _assert_views_equal_the_facts(database_url)
    pieces = _daily_rows(database_url)

    # Every month again, now that the facts hold them: whole loads, which give the same rows.
    months = sorted(pieces)
    whole = run(month_from=months[0], month_to=months[-1])
    assert whole.success, whole.failure
    assert not any(load.piece for load in planned[-1])
    assert whole.facts_as_they_were
    _assert_views_equal_the_facts(database_url)
    assert _without_versions(_daily_rows(database_url)) == _without_versions(pieces)
