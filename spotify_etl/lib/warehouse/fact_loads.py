"""How the months of a fact are loaded: whole, or in pieces side by side.

A fact's load of some months (sql/core/fact_*.sql) is one transaction: a reload empties and
fills its months at once, so readers never see one empty. The server runs such an INSERT ..
SELECT on one core, though: at 1M plays a first load of the music fact took ~9.5 s beside the
podcasts' ~2 s on a machine of two. Months a fact holds no row of yet (a first load, a large new
export) have nothing for a reader to miss: they are loaded in PIECES of about equal plays, each
on a connection of its own, once their partitions are made (migration 0020: pieces take no lock
that could deadlock with another piece; a whole load still excludes them all). Building month
by month, all at once or in pieces gives identical tables: every row and aggregate belongs to
one month.

`plan_fact_loads` decides, from what the facts hold (their aggregates, kept in the loads'
transactions) and how many plays staging holds per month (one scan, only for months no fact
holds yet); the caller runs the loads, each after the partitions it needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import dict_row

from spotify_etl.lib.warehouse.database import execute_sql_file
from spotify_etl.lib.warehouse.sql_files import load_sql

# Pieces of one fact's load (as many as loads run at once: the server's cores).
PIECES = 2
# A fact's months are loaded in pieces from this many plays: below, a piece's own cost (a
# connection, its statements) weighs against what the second core gains.
PIECES_FROM_PLAYS = 50_000


@dataclass(frozen=True)
class FactLoad:
    """Load the months of [start, end) of `table` (the fact whose aggregates are kept as
    `kind`): whole, or as a piece beside others (`piece`)."""

    table: str
    kind: str
    start: datetime
    end: datetime
    piece: bool = False
    plays: int = 0  # staged plays of its months, when counted (months no fact holds yet)


@dataclass(frozen=True)
class Partitions:
    """Make the partitions of `table` for `months` (month starts) before its pieces load."""

    table: str
    months: tuple[datetime, ...]


def plan_fact_loads(
    conn: psycopg.Connection, facts: dict[str, str], start: datetime, end: datetime
) -> tuple[list[Partitions], list[FactLoad]]:
    """The loads of the months of [start, end) of `facts` (table: kind), in the order to start
    them (longest first, as far as known), and the partitions to make before the pieces."""
    whole = [FactLoad(table, kind, start, end) for table, kind in facts.items()]
    if _months_between(start, end) < PIECES:  # too few months to cut
        return [], whole
    loaded = {kind for (kind,) in conn.execute(load_sql("core/fact_kinds_loaded.sql"), {"start": start, "end": end})}
    if all(kind in loaded for kind in facts.values()):
        return [], whole
    with conn.cursor(row_factory=dict_row) as cursor:
        months = cursor.execute(load_sql("core/staged_plays_by_month.sql"), {"start": start, "end": end}).fetchall()
    partitions, loads = [], []
    for load in whole:
        if load.kind in loaded:
            loads.append(load)  # a reload: whole, its plays not counted
            continue
        plays = [(row["month"], row[load.kind]) for row in months]
        total = sum(count for _, count in plays)
        if total < PIECES_FROM_PLAYS:
            loads.append(FactLoad(load.table, load.kind, start, end, plays=total))
            continue
        partitions.append(Partitions(load.table, tuple(row["month"] for row in months)))
        loads += [
            FactLoad(load.table, load.kind, first, last, piece=True, plays=count)
            for first, last, count in _split(plays, start, end, PIECES)
        ]
    # Reloads first, then the most plays first.
    loads.sort(key=lambda load: (load.kind not in loaded, -load.plays))
    return partitions, loads


def _months_between(start: datetime, end: datetime) -> int:
    return (end.year - start.year) * 12 + end.month - start.month


def _split(
    plays: list[tuple[datetime, int]], start: datetime, end: datetime, pieces: int
) -> list[tuple[datetime, datetime, int]]:
    """[start, end) cut at month starts into at most `pieces` stretches of about equal plays
    (`plays`: per month with staged plays, in order): (first, end, plays) each."""
    total = sum(count for _, count in plays)
    stretches, first, so_far, in_stretch = [], start, 0, 0
    for month, count in plays:
        # Cut before this month once the stretch so far holds its share.
        if in_stretch and so_far >= total * (len(stretches) + 1) / pieces and len(stretches) < pieces - 1:
            stretches.append((first, month, in_stretch))
            first, in_stretch = month, 0
        so_far += count
        in_stretch += count
    stretches.append((first, end, in_stretch))
    return stretches


def load_fact(conn: psycopg.Connection, load: FactLoad, params: dict) -> None:
    """Run the fact's load file for its months (sql/core/<table>.sql), uncommitted."""
    execute_sql_file(
        conn, f"core/{load.table}.sql", {**params, "start": load.start, "end": load.end, "piece": load.piece}
    )


def add_partitions(conn: psycopg.Connection, partitions: Partitions) -> None:
    """Make the partitions the pieces of a fact load into, committed before they start."""
    conn.execute(
        "SELECT core.add_fact_partitions(%s::regclass, %s::timestamptz[])",
        (f"core.{partitions.table}", list(partitions.months)),
    )
    conn.commit()
