"""Benchmark: what Dagster itself spends per monthly partition of a run, on Dagster's default
instance (SQLite files), on the one spotify-etl writes (the same files, through
spotify_etl/instance_storage.py) and on a PostgreSQL-backed one (deploy/dagster.yaml).

    python bench/partition_events.py [--months 172] [--rounds 3] [--database-url URL]

A run loading a stretch of months materializes each month's partition of both facts (Dagster
stores one event per partition), and the sessions report each month they changed (one
observation per month). This measures that cost alone, with assets that do nothing: for each
instance, in one process, alternating instances each round,

  one month      a run materializing one partition of an asset that does nothing
  N months       the same over N partitions (one run: BackfillPolicy.single_run(), as the facts)
  observations   a run of one unpartitioned asset logging an observation of each of N months

and prints medians of --rounds, the cost per partition ((N months - one month) / (N - 1)) and
per observation ((observations - one month) / N: a run's own cost taken off).
DAGSTER_EVENT_BATCH_SIZE and DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS are set as
`spotify-etl run` sets them (the PostgreSQL event log stores a run's materializations in
batches, SQLite's one by one; a run plans its months in one event an asset). 172 months is the span of
bench/incremental.py's 1M-play export. Without --database-url the PostgreSQL instance is
skipped.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ingest import _drop_database, _fresh_database  # noqa: E402  (the same databases)

from spotify_etl.settings import DAGSTER_EVENT_BATCH_SIZE, ensure_dagster_home  # noqa: E402

os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", DAGSTER_EVENT_BATCH_SIZE)
# One planned event an asset, not one a month, as `spotify-etl run` plans (spotify_etl/cli/main.py).
os.environ.setdefault("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "true")

import dagster as dg  # noqa: E402


def _definitions(months: int) -> tuple[dg.AssetsDefinition, dg.AssetsDefinition, dg.AssetSpec, list[str]]:
    keys = dg.MonthlyPartitionsDefinition(start_date="2010-01-01").get_partition_keys()[:months]
    partitions = dg.MonthlyPartitionsDefinition(start_date=keys[0], end_date=_next_month(keys[-1]))

    @dg.asset(partitions_def=partitions, backfill_policy=dg.BackfillPolicy.single_run())
    def monthly() -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"plays_loaded": 0})

    @dg.asset
    def observer(context: dg.AssetExecutionContext) -> None:
        for key in keys:
            context.log_event(
                dg.AssetObservation(asset_key="observed", partition=key, tags={"dagster/data_version": key})
            )

    # What the observations are of: a partitioned asset Dagster observes, as plays_by_month.
    observed = dg.AssetSpec("observed", partitions_def=partitions)
    return monthly, observer, observed, keys


def _next_month(key: str) -> str:
    year, month = int(key[:4]), int(key[5:7])
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}-01"


def _instance(kind: str, home: Path, pg_url: str | None) -> dg.DagsterInstance:
    home.mkdir(parents=True, exist_ok=True)
    if kind == "spotify-etl":  # the instance spotify-etl writes: Dagster's files, pooled connections
        os.environ["SPOTIFY_ETL_HOME"] = str(home)
        return dg.DagsterInstance.from_config(str(ensure_dagster_home()))
    yaml = "telemetry:\n  enabled: false\n"
    if kind == "postgres":
        yaml += f"storage:\n  postgres:\n    postgres_url: {pg_url}\n"
    (home / "dagster.yaml").write_text(yaml)
    return dg.DagsterInstance.from_config(str(home))


_CONSOLE_INFO = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def _seconds(
    instance: dg.DagsterInstance, asset: dg.AssetsDefinition, tags: dict | None = None, *others: dg.AssetSpec
) -> float:
    started = time.perf_counter()
    # The console at INFO, as `spotify-etl run` has it (events are DEBUG: not printed).
    result = dg.materialize([asset, *others], selection=[asset], instance=instance, tags=tags, run_config=_CONSOLE_INFO)
    seconds = time.perf_counter() - started
    if not result.success:
        raise SystemExit(f"the run of {asset.key.to_user_string()} failed")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--months", type=int, default=172)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", help="a PostgreSQL server for the PostgreSQL-backed instance")
    args = parser.parse_args()

    monthly, observer, observed, keys = _definitions(args.months)
    many_months = f"{args.months} months"
    every_month = {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]}
    one_month = {"dagster/partition": keys[-1]}
    kinds = ["sqlite", "spotify-etl"]
    pg_url = None
    if args.database_url:
        kinds.append("postgres")
        db_url = _fresh_database(args.database_url)
        # dagster-postgres needs psycopg2's scheme (deploy/dagster.yaml says why).
        pg_url = db_url.replace("postgresql://", "postgresql+psycopg2://", 1)
    figures: dict[str, dict[str, list[float]]] = {kind: {} for kind in kinds}
    with tempfile.TemporaryDirectory() as tmp:
        instances = {kind: _instance(kind, Path(tmp) / kind, pg_url) for kind in kinds}
        for instance in instances.values():  # a first run of each, not measured: warm
            _seconds(instance, monthly, one_month)
        for _ in range(args.rounds):
            for kind, instance in instances.items():
                for step, seconds in (
                    ("one month", _seconds(instance, monthly, one_month)),
                    (many_months, _seconds(instance, monthly, every_month)),
                    ("observations", _seconds(instance, observer, None, observed)),
                ):
                    figures[kind].setdefault(step, []).append(seconds)
        for instance in instances.values():
            instance.dispose()
    if args.database_url:
        _drop_database(args.database_url, db_url)

    print(f"{args.months} monthly partitions, medians of {args.rounds} rounds (seconds a run, start to end)")
    print(f"{'instance':11} {'one month':>10} {many_months:>12} {'per month':>10} {'observations':>13} {'each':>8}")
    for kind in kinds:
        median = {step: statistics.median(values) for step, values in figures[kind].items()}
        one, many, observing = median["one month"], median[many_months], median["observations"]
        per_month = (many - one) / (args.months - 1)
        print(
            f"{kind:11} {one:10.2f} {many:12.2f} {per_month * 1000:8.1f}ms {observing:13.2f}"
            f" {(observing - one) / args.months * 1000:6.1f}ms"
        )


if __name__ == "__main__":
    main()
