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

A load of a small share of all staged plays (a reload of a few months, a new listener's first
load beside many) finds each play's session by key; larger ones hash `core.play_session` whole
(`sessions_by_key`, see SESSIONS_BY_KEY_BELOW).

`plan_fact_loads` decides, from what the facts hold (their aggregates, kept in the loads'
transactions) and how many plays staging holds per month (one scan of the months loaded); the
caller runs the loads, each after the partitions it needs.
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
# A load of fewer plays than this share of all staged plays looks each one's session up by key.
# The planner prices a million probes of a hash table like a few thousand key lookups, and from
# ~25k plays on it hashes all of play_session: at 1M, 34k plays took 0.18-0.31 s hashed and 0.09 s
# by key, 126k plays 0.43-0.48 s and ~0.27 s (the probes miss the cache as the hash grows).
SESSIONS_BY_KEY_BELOW = 0.15


@dataclass(frozen=True)
class FactLoad:
    """Load the months of [start, end) of `table` (the fact whose aggregates are kept as
    `kind`): whole, or as a piece beside others (`piece`)."""

    table: str
    kind: str
    start: datetime
    end: datetime
    piece: bool = False
    plays: int = 0  # staged plays of its months
    sessions_by_key: bool = False  # find each play's session by key, not by hashing them all


@dataclass(frozen=True)
class Partitions:
    """Make the partitions of `table` for `months` (month starts) before its pieces load."""

    table: str
    months: tuple[datetime, ...]


def plan_fact_loads(
    conn: psycopg.Connection, facts: dict[str, str], start: datetime, end: datetime
) -> tuple[list[Partitions], list[FactLoad]]:
    """The loads of the months of [start, end) of `facts` (table: kind), in the order to start
    them (reloads first, then the most plays first), and the partitions to make before the pieces."""
    with conn.cursor(row_factory=dict_row) as cursor:
        months = cursor.execute(load_sql("core/staged_plays_by_month.sql"), {"start": start, "end": end}).fetchall()
    staged = conn.execute("SELECT coalesce(sum(plays), 0)::bigint FROM etl_internal.listener_kind_plays").fetchone()[0]

    def load(table: str, kind: str, first: datetime, last: datetime, plays: int, piece: bool = False) -> FactLoad:
        return FactLoad(table, kind, first, last, piece, plays, sessions_by_key=plays < SESSIONS_BY_KEY_BELOW * staged)

    plays_of = {kind: [(row["month"], row[kind]) for row in months] for kind in facts.values()}
    whole = {table: load(table, kind, start, end, sum(n for _, n in plays_of[kind])) for table, kind in facts.items()}
    if _months_between(start, end) < PIECES:  # too few months to cut
        return [], list(whole.values())
    loaded = {kind for (kind,) in conn.execute(load_sql("core/fact_kinds_loaded.sql"), {"start": start, "end": end})}
    partitions, loads = [], []
    for table, kind in facts.items():
        if kind in loaded or whole[table].plays < PIECES_FROM_PLAYS:
            loads.append(whole[table])  # a reload is one transaction
            continue
        partitions.append(Partitions(table, tuple(row["month"] for row in months)))
        loads += [
            load(table, kind, first, last, count, piece=True)
            for first, last, count in _split(plays_of[kind], start, end, PIECES)
        ]
    loads.sort(key=lambda planned: (planned.kind not in loaded, -planned.plays))
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
        conn,
        f"core/{load.table}.sql",
        {**params, "start": load.start, "end": load.end, "piece": load.piece, "sessions_by_key": load.sessions_by_key},
    )


def add_partitions(conn: psycopg.Connection, partitions: Partitions) -> None:
    """Make the partitions the pieces of a fact load into, committed before they start."""
    conn.execute(
        "SELECT core.add_fact_partitions(%s::regclass, %s::timestamptz[])",
        (f"core.{partitions.table}", list(partitions.months)),
    )
    conn.commit()
