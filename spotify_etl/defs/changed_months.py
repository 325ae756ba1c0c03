"""How the facts learn which months to reload: every step that sets something a month's facts
are built from reports the months it changed, as observations of `plays_by_month`, a
monthly-partitioned asset Dagster observes rather than builds
(spotify_etl/defs/core/plays_by_month.py): the sessions (every new play, with its session),
dim_listener (home time zones that changed; a listener it adds, only for plays the sessions
had read), dim_track and dim_episode (enrichment).

Each report's data version is a digest of what the month's facts are built from
(spotify_etl.lib.warehouse.incremental.month_versions, the same one "Observe" in the UI
computes), taken once the step has committed; each part of the digest is set by one of those
steps, so a month's last report is its version now, in whatever order they ran. In the UI the
facts' partitions of exactly those months show stale ("has a new dependency data version"),
and their automation condition materializes exactly them. These unpartitioned steps' own data
version is the version of their rules (`rules_version`): a new row in a dimension does not
make every month stale, while a changed rule (SQL or setting) does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

import dagster as dg
import psycopg

from spotify_etl.defs.partitions import months_outside_partitions
from spotify_etl.lib.warehouse.incremental import month_versions
from spotify_etl.lib.warehouse.sql_files import load_sql

PLAYS_BY_MONTH = dg.AssetKey("plays_by_month")
# The monthly-partitioned facts built from plays_by_month.
FACTS = (dg.AssetKey("fact_tracks_history"), dg.AssetKey("fact_podcasts_history"))


@dataclass(frozen=True)
class ChangedMonths:
    """The months (YYYY-MM) a step changed, with their versions once it committed."""

    changed_by: str
    versions: dict[str, str] = field(default_factory=dict)


def read_changed_months(conn: psycopg.Connection, months: set[str], changed_by: str) -> ChangedMonths:
    """The versions of the months `changed_by` changed, read on `conn`, its connection, once it
    committed (no query when it changed none)."""
    if outside := months_outside_partitions(months):
        # Ingestion stores no play outside the partitions (EARLIEST_PLAY .. next month).
        raise ValueError(f"month {outside[0]} changed by {changed_by} is outside the monthly partitions")
    return ChangedMonths(changed_by, month_versions(conn, months))


def report_changed_months(context: dg.AssetExecutionContext, changed: ChangedMonths) -> None:
    """Observe each month changed again, with its version, and say so in the step's log."""
    if not changed.versions:
        return
    observe_months(context, changed.versions, changed.changed_by)
    context.log.info(
        f"{changed.changed_by}: facts of {len(changed.versions)} months to reload: {_ranges(changed.versions)}"
    )


def observe_months(context: dg.AssetExecutionContext, versions: dict[str, str], observed_by: str) -> None:
    """Log an observation of each month's plays_by_month partition with its version."""
    for month, version in sorted(versions.items()):
        context.log_event(
            dg.AssetObservation(
                asset_key=PLAYS_BY_MONTH,
                partition=f"{month}-01",
                description=f"observed by {observed_by}",
                metadata={"observed_by": observed_by},
                tags={"dagster/data_version": version},
            )
        )


def months_to_reload(instance: dg.DagsterInstance) -> set[str]:
    """The months (YYYY-MM) whose plays_by_month version now differs from the one a fact's
    partition was last built from (or that fact's partition never was): Dagster's "new
    dependency data version", read from the instance, whatever run observed it (also one that
    stopped before loading the facts). Observing a month again with the same version (as
    "Observe" in the UI does) reloads nothing."""
    observed = instance.get_latest_storage_id_by_partition(PLAYS_BY_MONTH, dg.DagsterEventType.ASSET_OBSERVATION)
    months: set[str] = set()
    for fact in FACTS:
        loaded = instance.get_latest_storage_id_by_partition(fact, dg.DagsterEventType.ASSET_MATERIALIZATION)
        for partition, latest in observed.items():
            # (An observation of the whole asset, when "Observe" runs unpartitioned, has none.)
            if not partition or partition[:7] in months or latest < loaded.get(partition, -1):
                continue
            if partition not in loaded or _version(instance, partition, latest + 1) != _version(
                instance, partition, loaded[partition]
            ):
                months.add(partition[:7])
    return months


def _version(instance: dg.DagsterInstance, partition: str, before: int) -> str | None:
    """The version of the month's last observation stored before `before` (an event's id)."""
    record = instance.get_latest_data_version_record(
        PLAYS_BY_MONTH, is_source=True, partition_key=partition, before_cursor=before
    )
    return record.event_log_entry.tags.get("dagster/data_version") if record else None


def rules_version(sql_file: str, *settings: object) -> dg.DataVersion:
    """The data version of a step whose changes are reported month by month: its SQL and settings."""
    digest = hashlib.sha256(load_sql(sql_file).encode())
    for setting in settings:
        digest.update(repr(setting).encode())
    return dg.DataVersion(digest.hexdigest()[:16])


def _ranges(months: Iterable[str]) -> str:
    ordered = sorted(months)
    return ordered[0] if len(ordered) == 1 else f"{ordered[0]} .. {ordered[-1]}"
