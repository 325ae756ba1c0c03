"""spotify_etl/lib/warehouse/fact_loads.py and migration 0020: how a fact's months are cut into
pieces, and which loads wait for which."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from spotify_etl.lib.warehouse.fact_loads import _split

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
