"""`spotify-etl run`: bring the warehouse up to date with the raw directory, doing only what
new data changes, as Dagster runs recorded in the instance (they show in the UI like any other).

Runs, each only if needed:
1. ingestion of every listener found under the raw directory (each added as a partition of
   raw_plays first), as one run and one step, unless every play file is recorded already with
   its path, size and modification time (and the partitions are materialized, the account-twin
   pass caught up); then enrichment (always: they find out what is new);
2. the other unpartitioned assets (dimensions, sessions, track versions) that Dagster finds
   stale or missing, i.e. whose upstream data versions changed (when they were never built,
   with enrichment), in one run with the facts of the (last stretch of) months just ingested
   and the report (Dagster spends ~0.3–0.5 s on each run);
3. the facts of exactly the months some step reported changed since they were loaded
   (spotify_etl.defs.changed_months: in this run or in one that stopped before the facts) and
   those asked for with --from/--to, one run per stretch of consecutive months, and the report
   with the last (or alone, if it is older than the facts' last load).
Nothing new: no run at all (but enrichment's), no month reloaded, and the command says so.
Only months asked for, whose facts were current: they load as they were, and the report is
rebuilt only if their rows differ afterwards (a digest of them before and after), in a run of
its own.

It succeeds only when every step succeeded and no check of severity ERROR failed; a failure
is said in one line: the first failed step's cause, else the failed ERROR checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from spotify_etl.cli.status import format_table
from spotify_etl.definitions import build_definitions
from spotify_etl.defs.automation.abandoned_runs import fail_abandoned_runs, process_tags
from spotify_etl.defs.changed_months import FACTS, PLAYS_BY_MONTH, months_to_reload
from spotify_etl.defs.mart.listening_report import listening_report
from spotify_etl.defs.partitions import add_listener_partitions, month_ranges, monthly_partitions, range_tags
from spotify_etl.defs.raw.raw_plays import MONTHS_STORED, raw_plays
from spotify_etl.defs.resources import WarehouseResource
from spotify_etl.defs.stale_status import StaleStatus, stale_status_resolver
from spotify_etl.errors import SpotifyEtlError
from spotify_etl.lib.ingestion import IngestionError, nothing_to_ingest
from spotify_etl.lib.warehouse.incremental import facts_digest
from spotify_etl.settings import ApiMode, load_settings

# Metadata shown in the closing table, in this order, when an asset reports it.
_SUMMARY_KEYS = ("dagster/row_count", "records_read", "stored", "duplicates", "rejected", "files_failed")


@dataclass
class RunOutcome:
    run_ids: list[str] = field(default_factory=list)
    success: bool = True
    failure: str | None = None
    materializations: list[tuple[str, dict]] = field(default_factory=list)
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    check_descriptions: dict[str, str] = field(default_factory=dict)
    changed_months: set[str] = field(default_factory=set)  # reported by the steps, YYYY-MM
    months_stored: set[str] = field(default_factory=set)  # of the plays ingested, YYYY-MM
    months_loaded: list[tuple[str, str]] = field(default_factory=list)  # ranges of partition keys
    facts_as_they_were: bool = False  # the months reloaded hold the same rows: report not rebuilt
    files_unchanged: bool = False  # every play file recorded already: no ingestion run

    @property
    def run_id(self) -> str:
        """The last run (the first, ingestion, when nothing else ran)."""
        return self.run_ids[-1]

    @property
    def nothing_new(self) -> bool:
        return self.success and not self.months_loaded and not self.changed_months

    @property
    def failed_error_checks(self) -> list[str]:
        return [name for name, passed, severity in self.checks if not passed and severity == "ERROR"]

    def summary_table(self) -> str:
        headers = ("asset", "rows", "read", "stored", "dupes", "rejected", "failed files")
        rows = [(asset, *(metadata.get(key, "") for key in _SUMMARY_KEYS)) for asset, metadata in self.materializations]
        lines = [format_table(headers, rows)] if rows else []
        if self.files_unchanged:
            lines.append("every play file is loaded already: nothing to ingest")
        for asset, metadata in self.materializations:
            if "status" in metadata:  # enrichment: fetched, deferred or skipped, and why
                lines.append(f"{asset}: {metadata['status']}")
        for name, passed, severity in self.checks:
            lines.append(f"check {name}: {'passed' if passed else f'FAILED ({severity})'}")
        if self.months_loaded:
            spans = ", ".join(
                first[:7] if first == last else f"{first[:7]} .. {last[:7]}"
                for first, last in sorted(self.months_loaded)
            )
            lines.append(f"facts reloaded for: {spans}")
            if self.facts_as_they_were:
                lines.append("their facts are as they were: the report is current")
        elif self.nothing_new:
            lines.append("nothing new since the last run: no month reloaded, the report is current")
        return "\n".join(lines)

    def add(self, result: dg.ExecuteInProcessResult) -> None:
        """Take in one run's result: its materializations (each asset's last), checks, the
        months reported changed, and its failure if it failed."""
        self.run_ids.append(result.run_id)
        latest = dict(self.materializations)
        for event in result.get_asset_observation_events():
            if event.asset_key == PLAYS_BY_MONTH:
                self.changed_months.add(event.partition[:7])
        for event in result.get_asset_materialization_events():
            materialization = event.step_materialization_data.materialization
            if materialization.asset_key == raw_plays.key and MONTHS_STORED in materialization.metadata:
                self.months_stored.update(materialization.metadata[MONTHS_STORED].value)
            # A run over many months reports each; the table shows the last (it describes the run).
            latest[materialization.asset_key.to_user_string()] = {
                key: _value(value) for key, value in materialization.metadata.items()
            }
        self.materializations = list(latest.items())
        for evaluation in result.get_asset_check_evaluations():
            self.checks.append((evaluation.check_name, evaluation.passed, evaluation.severity.value))
            self.check_descriptions[evaluation.check_name] = evaluation.description or ""
        if not result.success:
            found = _first_error(result.all_events)
            self.success = False
            self.failure = f"{found[0]}: {_root_cause(found[1])}" if found else "see the run's log in the UI"
        elif failed := self.failed_error_checks:
            self.success = False
            self.failure = "; ".join(
                f"check {name} failed (ERROR): {_first_line(self.check_descriptions[name])}" for name in failed
            )


def requested_months(month_from: str | None, month_to: str | None) -> set[str]:
    """The months (YYYY-MM) from `month_from` to `month_to`; none unless one is given (then the
    other defaults to the first or last partition)."""
    if not month_from and not month_to:
        return set()
    keys = monthly_partitions.get_partition_keys()
    first = f"{month_from}-01" if month_from else keys[0]
    last = f"{month_to}-01" if month_to else keys[-1]
    for key in (first, last):
        if key not in keys:
            raise ValueError(f"month {key[:7]} is outside the partitions ({keys[0][:7]} .. {keys[-1][:7]})")
    return {key[:7] for key in keys if first <= key <= last}


def _unpartitioned(defs: dg.Definitions, enrich: bool) -> tuple[list[dg.AssetKey], list[dg.AssetKey]]:
    """The unpartitioned assets Dagster builds, but the report: (enrichment, the others)."""
    graph = defs.resolve_asset_graph()
    first, then = [], []
    for key in sorted(graph.get_all_asset_keys(), key=lambda key: key.to_user_string()):
        node = graph.get(key)
        if not node.is_materializable or node.is_partitioned or key == listening_report.key:
            continue
        if node.group_name == "enrichment":
            if enrich:
                first.append(key)
        else:
            then.append(key)
    return first, then


def _listeners(instance: dg.DagsterInstance, raw_dir: Path) -> list[str]:
    """The listeners found under `raw_dir`, in order, each added as a partition of raw_plays."""
    try:
        return add_listener_partitions(instance, raw_dir)
    except FileNotFoundError as exc:
        raise IngestionError(str(exc)) from exc


def _ingestion_needed(
    instance: dg.DagsterInstance, warehouse: WarehouseResource, raw_dir: Path, listeners: list[str]
) -> bool:
    """Whether an ingestion run has anything to do: a listener's partition never materialized
    in this instance, a play file not recorded as read, or the account-twin pass behind."""
    if not set(listeners) <= instance.get_materialized_partitions(raw_plays.key):
        return True
    return not nothing_to_ingest(warehouse.url(), raw_dir)


def _report_is_current(instance: dg.DagsterInstance) -> bool:
    """Whether the report was built, or found current, after the facts were last loaded (a run
    that failed in the report step leaves it behind them)."""
    built = instance.fetch_materializations(listening_report.key, limit=1).records
    if not built:
        return False
    found_current = instance.fetch_observations(listening_report.key, limit=1).records
    loaded = (
        instance.get_latest_storage_id_by_partition(fact, dg.DagsterEventType.ASSET_MATERIALIZATION) for fact in FACTS
    )
    return max(record.storage_id for record in built + found_current) > max(
        (max(ids.values(), default=-1) for ids in loaded), default=-1
    )


def _facts_digest(warehouse: WarehouseResource, months: set[str]) -> str:
    with warehouse.connect() as conn:
        return facts_digest(conn, months)


def _stale(
    instance: dg.DagsterInstance, defs: dg.Definitions, keys: list[dg.AssetKey], *only: StaleStatus
) -> list[dg.AssetKey]:
    """Those of `keys` Dagster finds stale or missing (what the UI shows), or in `only` these states."""
    resolver = stale_status_resolver(instance, defs)
    wanted = set(only) or {StaleStatus.STALE, StaleStatus.MISSING}
    return [key for key in keys if resolver.get_status(key) in wanted]


def _subclasses(cls: type) -> set[type]:
    return {cls}.union(*(_subclasses(sub) for sub in cls.__subclasses__()))


def _is_telling(error) -> bool:
    """Whether an error of a run (known by its class name only) is one of the package's own,
    whose message already says what failed and where, better than its cause."""
    return error.cls_name in {cls.__name__ for cls in _subclasses(SpotifyEtlError)}


def _root_cause(error) -> str:
    """The innermost error of Dagster's wrapped error (or a telling one on the way), on one
    line."""
    while error.cause is not None and not _is_telling(error):
        error = error.cause
    return error.message.strip().splitlines()[0]


def _first_error(events) -> tuple[str, object] | None:
    """(where, error) of the first event carrying an error: a failed step, else a resource
    that failed to start or the run's own failure."""
    for event in events:
        if event.is_step_failure:
            return f"step {event.step_key}", event.step_failure_data.error
    for event in events:
        error = getattr(event.event_specific_data, "error", None)
        if error is not None:
            return "run", error
    return None


def _first_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _value(entry: dg.MetadataValue) -> object:
    return getattr(entry, "value", entry)


def run_pipeline(
    *,
    raw_dir: Path | None = None,
    month_from: str | None = None,
    month_to: str | None = None,
    enrich: bool = True,
    api_mode: ApiMode | None = None,
    requests_per_30s: int | None = None,
    instance: dg.DagsterInstance | None = None,
) -> RunOutcome:
    """Bring the warehouse up to date (see the module's docstring), with the environment's
    settings and the given ones in their place."""
    settings = load_settings().with_overrides(
        raw_dir=Path(raw_dir).resolve() if raw_dir is not None else None,
        api_mode=api_mode,
        requests_per_30s=requests_per_30s,
    )
    # The warehouse first, outside Dagster: unreachable, missing or lost while migrating is
    # one clear WarehouseUnavailable, and the run's steps then find it ready.
    warehouse = WarehouseResource.from_settings(settings)
    warehouse.url()
    instance = instance or dg.DagsterInstance.get()
    fail_abandoned_runs(instance)
    defs = build_definitions(settings)
    job = defs.resolve_job_def("full_load")
    requested = requested_months(month_from, month_to)

    def execute(
        selection: list[dg.AssetKey], tags: dict | None = None, job: dg.JobDefinition = job
    ) -> dg.ExecuteInProcessResult:
        return job.execute_in_process(
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
            instance=instance,
            raise_on_error=False,
            asset_selection=selection,
            tags={**(tags or {}), **process_tags()},
        )

    outcome = RunOutcome()
    if listeners := _listeners(instance, settings.raw_dir):
        if _ingestion_needed(instance, warehouse, settings.raw_dir, listeners):
            every_listener = range_tags(listeners[0], listeners[-1])
            outcome.add(execute([raw_plays.key], every_listener, defs.resolve_job_def("ingest_exports")))
            if not outcome.success:
                return outcome
        else:
            outcome.files_unchanged = True
    enrichment, derived = _unpartitioned(defs, enrich)
    if _stale(instance, defs, derived, StaleStatus.MISSING):
        # Never built (a new warehouse or instance): they run in any case, so with enrichment.
        stale_assets = enrichment + derived
    else:
        if enrichment:  # first: what it fetches makes the dimensions stale
            outcome.add(execute(enrichment))
        stale_assets = _stale(instance, defs, derived) if outcome.success else []
    if stale_assets:
        # With them, the facts of the last stretch of months just ingested, and the report if
        # that is all of them: a first run, or one after a new file, is this run after the
        # ingestion's. Other months (the steps report them changed) load below.
        selection, tags, loading = [*stale_assets], {}, None
        if stretches := month_ranges(outcome.months_stored):
            loading = stretches[-1]
            selection += [*FACTS, listening_report.key] if len(stretches) == 1 else [*FACTS]
            tags = range_tags(*loading)
        outcome.add(execute(selection, tags))
        if outcome.success and loading:
            outcome.months_loaded.append(loading)
    if not outcome.success:
        return outcome
    stale = months_to_reload(instance)
    ranges = month_ranges(stale | requested)
    report_current = _report_is_current(instance)
    if not ranges and report_current:
        return outcome  # nothing new
    # Only months asked for, whose facts are current: the report stays as it is unless
    # reloading them changes their rows (a new rule, or rows changed by hand).
    digest = _facts_digest(warehouse, requested) if report_current and not stale else None
    # One run per stretch of consecutive months (the facts' BackfillPolicy.single_run() loads
    # it in one statement), the report with the last; alone if no month is to be loaded.
    runs = [([*FACTS], range_tags(first, last)) for first, last in ranges] or [([], {})]
    if digest is None:
        runs[-1][0].append(listening_report.key)
    for (selection, tags), loaded in zip(runs, ranges or [None], strict=True):
        outcome.add(execute(selection, tags))
        if not outcome.success:
            return outcome
        if loaded:
            outcome.months_loaded.append(loaded)
    if digest is not None:
        if _facts_digest(warehouse, requested) == digest:
            outcome.facts_as_they_were = True
            # Recorded, so that the next run finds the report current, and the UI says why.
            instance.report_runless_asset_event(
                dg.AssetObservation(
                    listening_report.key,
                    description="current: the facts of the months reloaded are as they were",
                    metadata={"months reloaded": ", ".join(sorted(requested))},
                )
            )
        else:
            outcome.add(execute([listening_report.key]))
    return outcome
