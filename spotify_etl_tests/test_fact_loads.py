"""spotify_etl/lib/warehouse/fact_loads.py and migration 0020: how a fact's months are cut into
pieces, which loads wait for which, and which look their plays' sessions up by key."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from spotify_etl.defs.core.facts import FULL_FROM_SHARE, SKIP_BELOW_MS
from spotify_etl.lib.synthetic import generate_plays, write_json_array
from spotify_etl.lib.warehouse.fact_loads import _split, load_fact, plan_fact_loads
from spotify_etl_tests.pipeline_helpers import materialize_all

FACT = "core.fact_tracks_history"


def _month(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def test_pieces_cover_the_months_in_order_with_about_equal_plays() -> None:
    start, end = _month(2020, 1), _month(2021, 1)
    # Few plays early, most late (a listener's history grows).
    plays = [(_month(2020, month), count) for month, count in ((1, 10), (2, 10), (5, 100), (9, 300), (11, 400))]
    pieces = _split(plays, start, end, 2)
    assert [(first, last) for first, last, _ in pieces] == [(start, _month(2020, 11)), (_month(2020, 11), end)]
    assert [count for *_, count in pieces] == [420, 400]
    # One month: one piece, whatever was asked.
    assert _split([(start, 5000)], start, _month(2020, 2), 2) == [(start, _month(2020, 2), 5000)]
    # Three pieces of even months.
    even = _split([(_month(2020, month), 10) for month in range(1, 13)], start, end, 3)
    assert [count for *_, count in even] == [40, 40, 40]
    assert [first for first, *_ in even] == [start, _month(2020, 5), _month(2020, 9)]


def _begin(conn: psycopg.Connection, first: str, end: str, piece: bool) -> None:
    conn.execute("SELECT core.begin_fact_load(%s, %s, %s, %s)", (FACT, first, end, piece))


def test_pieces_of_other_months_load_side_by_side_and_a_whole_load_waits_for_them(warehouse) -> None:
    url = warehouse.url()
    # For the session (a SET in a transaction rolled back would be undone with it).
    waits_briefly = {"options": "-c lock_timeout=500ms"}
    with (
        psycopg.connect(url) as first,
        psycopg.connect(url, **waits_briefly) as second,
        psycopg.connect(url, **waits_briefly) as third,
    ):
        _begin(first, "2024-01-01Z", "2024-03-01Z", piece=True)
        _begin(second, "2024-03-01Z", "2024-05-01Z", piece=True)  # other months: no wait
        # A piece with a month of another waits for it ...
        with pytest.raises(psycopg.errors.LockNotAvailable):
            _begin(third, "2024-02-01Z", "2024-04-01Z", piece=True)
        third.rollback()
        # ... and a whole load, even of months no piece has, for every piece.
        with pytest.raises(psycopg.errors.LockNotAvailable):
            _begin(third, "2024-06-01Z", "2024-07-01Z", piece=False)
        third.rollback()
        first.commit()
        second.commit()
        _begin(third, "2024-06-01Z", "2024-07-01Z", piece=False)
        # While a whole load runs, no piece starts.
        with pytest.raises(psycopg.errors.LockNotAvailable):
            _begin(second, "2024-01-01Z", "2024-02-01Z", piece=True)
        second.rollback()
        third.commit()


FACTS = {"fact_tracks_history": "music", "fact_podcasts_history": "podcast"}


def test_a_load_of_a_small_share_of_the_plays_looks_their_sessions_up_by_key(warehouse, raw_dir) -> None:
    plays = generate_plays(2000, start=datetime(2023, 1, 1, tzinfo=UTC), end=datetime(2024, 12, 31, tzinfo=UTC))
    write_json_array(raw_dir / "Streaming_History_Audio_2023-2024_0.json", list(plays))
    materialize_all(warehouse, raw_dir)
    with warehouse.connect() as conn:
        # Three months of 24 (~12 % of the plays) by key; all the music (~90 %) as the planner likes.
        months = plan_fact_loads(conn, FACTS, _month(2024, 6), _month(2024, 9))[1]
        everything = plan_fact_loads(conn, FACTS, _month(2023, 1), _month(2025, 1))[1]
        assert [(load.piece, load.sessions_by_key) for load in months] == [(False, True)] * 2
        assert [(load.kind, load.piece, load.sessions_by_key) for load in everything][0] == ("music", False, False)
        conn.rollback()

        # Their load reads play_session by its primary key, never whole (the planner alone hashes
        # it for this many of its rows).
        music = next(load for load in months if load.kind == "music")
        load_fact(conn, music, {"skip_below_ms": SKIP_BELOW_MS, "full_from_share": FULL_FROM_SHARE})
        assert (
            music.plays
            == conn.execute(
                "SELECT count(*) FROM core.fact_tracks_history WHERE ts >= %s AND ts < %s", (music.start, music.end)
            ).fetchone()[0]
        )
        scans = "SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables WHERE relid = 'core.play_session'::regclass"
        seq_scans, key_lookups = conn.execute(scans).fetchone()
        assert (seq_scans, key_lookups > 0) == (0, True)
        # The setting ends with the insert: the aggregates after it, and the next statements, scan.
        assert conn.execute("SHOW enable_seqscan").fetchone()[0] == "on"
        conn.rollback()
