"""The fact tables' integrity checks, each a file of `sql/checks/` that returns the offending
rows: no row, no problem. All are ERROR checks: a failing one fails the command that ran it.
In a run over a range of months they check the plays of those months (what the run loaded:
the cost follows the run, not the history); in a run without one, all of them.

Every query covers both fact tables. A check hangs on fact_tracks_history (the UI shows it
there) and declares everything else its query reads, fact_podcasts_history first, so the
lineage and the UI's staleness see it on both."""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import dagster as dg

from spotify_etl.defs.core.dimensions import (
    dim_artist,
    dim_date,
    dim_episode,
    dim_platform,
    dim_podcast,
    dim_reason,
    dim_time,
    dim_track,
)
from spotify_etl.defs.core.facts import fact_podcasts_history, fact_tracks_history
from spotify_etl.defs.core.listening_sessions import fact_listening_sessions
from spotify_etl.defs.raw.staged_plays import staged_plays
from spotify_etl.defs.resources import WarehouseResource
from spotify_etl.defs.sql_checks import check_result_from_sql


@dataclass(frozen=True)
class FactCheck:
    name: str  # also its file, sql/checks/<name>.sql
    problems: str  # what a returned row is, in the plural
    description: str
    reads: tuple[dg.AssetSpec | dg.AssetsDefinition, ...] = ()  # besides both fact tables
    settings: tuple[tuple[str, str], ...] = ()  # the planner's, for its query


FACT_CHECKS = (
    FactCheck(
        "no_duplicate_plays",
        "duplicate natural keys",
        "No two fact rows share a natural key (listener, ts, content, ms_played).",
        # The key holds ts, the facts' partition key: its groups are counted partition by
        # partition, each in memory, instead of as one sort of every row (at 1M plays, all
        # months: 0.8-1.1 s -> 0.4-0.5 s; the other checks gain nothing from it).
        settings=(("enable_partitionwise_aggregate", "on"),),
    ),
    FactCheck(
        "no_orphan_keys",
        "orphan dimension keys",
        "Every dimension key of a fact row exists in its dimension.",
        (
            dim_track,
            dim_artist,
            dim_episode,
            dim_podcast,
            dim_date,
            dim_time,
            dim_reason,
            dim_platform,
            fact_listening_sessions,
        ),
    ),  # fmt: skip
    FactCheck(
        "reconciles_with_staging",
        "months that do not reconcile",
        "Plays in staging by kind and month = fact rows + explicitly excluded ones (audiobooks, unknown "
        "content); ms_played sums agree.",
        (staged_plays,),
    ),
    FactCheck(
        "dim_date_covers_facts", "fact dates missing from dim_date", "Every fact date is in dim_date.", (dim_date,)
    ),
)


# Two checks at a time, each on its own connection, in the order of FACT_CHECKS (costliest
# first). At 1M plays, medians of the four: six months (a new file's) 0.26 s one after the
# other on one connection, 0.16 s two at a time; every month 4.7 s and 4.3 s (each check
# already has the server's parallel workers there).
CHECKS_AT_ONCE = 2


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            check.name,
            asset=fact_tracks_history.key,
            additional_deps=[fact_podcasts_history.key, *check.reads],
            description=check.description,
        )
        for check in FACT_CHECKS
    ],
)
def fact_integrity_checks(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
    if context.has_partition_key_range:
        window = context.partition_time_window
        span = {"start": window.start, "end": window.end}
    else:
        span = {"start": "-infinity", "end": "infinity"}

    def run(check: FactCheck) -> dg.AssetCheckResult:
        return check_result_from_sql(
            warehouse,
            check.name,
            check.problems,
            fact_tracks_history.key,
            dg.AssetCheckSeverity.ERROR,
            span,
            dict(check.settings),
        )

    # All of them end before a result is yielded (Dagster captures the package's loggers only
    # while the body runs, not while it waits at a yield).
    with ThreadPoolExecutor(max_workers=CHECKS_AT_ONCE) as pool:
        results = list(pool.map(run, FACT_CHECKS))
    yield from results
