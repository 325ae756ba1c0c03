"""One run of the whole asset graph from the command line, recorded in the Dagster instance
(so it shows in the UI like any other run).

A run succeeds only when every step succeeded and no check of severity ERROR failed; its
failure is said in one line: the first failed step's cause, else the failed ERROR checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from spotify_etl.cli.status import format_table
from spotify_etl.definitions import build_definitions
from spotify_etl.defs.automation.abandoned_runs import fail_abandoned_runs, process_tags
from spotify_etl.defs.partitions import monthly_partitions
from spotify_etl.defs.resources import WarehouseResource
from spotify_etl.errors import SpotifyEtlError
from spotify_etl.settings import ApiMode, load_settings

# Metadata shown in the closing table, in this order, when an asset reports it.
_SUMMARY_KEYS = ("dagster/row_count", "records_read", "stored", "duplicates", "rejected", "files_failed")


@dataclass
class RunOutcome:
    run_id: str
    success: bool
    failure: str | None
    materializations: list[tuple[str, dict]] = field(default_factory=list)
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    check_descriptions: dict[str, str] = field(default_factory=dict)

    @property
    def failed_error_checks(self) -> list[str]:
        return [name for name, passed, severity in self.checks if not passed and severity == "ERROR"]

    def summary_table(self) -> str:
        headers = ("asset", "rows", "read", "stored", "dupes", "rejected", "failed files")
        rows = [(asset, *(metadata.get(key, "") for key in _SUMMARY_KEYS)) for asset, metadata in self.materializations]
        lines = [format_table(headers, rows)]
        for asset, metadata in self.materializations:
            if "status" in metadata:  # enrichment: fetched, deferred or skipped, and why
                lines.append(f"{asset}: {metadata['status']}")
        for name, passed, severity in self.checks:
            lines.append(f"check {name}: {'passed' if passed else f'FAILED ({severity})'}")
        return "\n".join(lines)


def month_range(month_from: str | None, month_to: str | None) -> tuple[str, str]:
    """The monthly partition keys from `month_from` to `month_to` (YYYY-MM), default all."""
    keys = monthly_partitions.get_partition_keys()
    first = f"{month_from}-01" if month_from else keys[0]
    last = f"{month_to}-01" if month_to else keys[-1]
    for key in (first, last):
        if key not in keys:
            raise ValueError(f"month {key[:7]} is outside the partitions ({keys[0][:7]} .. {keys[-1][:7]})")
    return first, last


def _selection(defs: dg.Definitions, enrich: bool) -> list[dg.AssetKey]:
    graph = defs.resolve_asset_graph()
    keys = {key for key in graph.get_all_asset_keys() if graph.get(key).is_executable}  # views are not
    if not enrich:
        keys = {key for key in keys if graph.get(key).group_name != "enrichment"}
    return sorted(keys, key=lambda key: key.to_user_string())


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
    """Run the full_load job once over the month range, with the environment's settings and the
    given ones in their place."""
    settings = load_settings().with_overrides(
        raw_dir=Path(raw_dir).resolve() if raw_dir is not None else None,
        api_mode=api_mode,
        requests_per_30s=requests_per_30s,
    )
    # The warehouse first, outside Dagster: unreachable, missing or lost while migrating is
    # one clear WarehouseUnavailable, and the run's steps then find it ready.
    WarehouseResource.from_settings(settings).url()
    instance = instance or dg.DagsterInstance.get()
    fail_abandoned_runs(instance)
    defs = build_definitions(settings)
    job = defs.resolve_job_def("full_load")
    first, last = month_range(month_from, month_to)
    result = job.execute_in_process(
        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        instance=instance,
        raise_on_error=False,
        asset_selection=_selection(defs, enrich),
        # One run over the whole range: the facts' BackfillPolicy.single_run() loads it at once.
        tags={
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last,
            **process_tags(),
        },
    )

    outcome = RunOutcome(result.run_id, result.success, None)
    # A run over many months reports one materialization per month; the table shows each
    # asset once, with its last report (its metadata describes the whole run).
    latest: dict[str, dict] = {}
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        latest[materialization.asset_key.to_user_string()] = {
            key: _value(value) for key, value in materialization.metadata.items()
        }
    outcome.materializations = list(latest.items())
    for evaluation in result.get_asset_check_evaluations():
        outcome.checks.append((evaluation.check_name, evaluation.passed, evaluation.severity.value))
        outcome.check_descriptions[evaluation.check_name] = evaluation.description or ""
    if not result.success:
        found = _first_error(result.all_events)
        outcome.failure = f"{found[0]}: {_root_cause(found[1])}" if found else "see the run's log in the UI"
    elif failed := outcome.failed_error_checks:
        outcome.success = False
        outcome.failure = "; ".join(
            f"check {name} failed (ERROR): {_first_line(outcome.check_descriptions[name])}" for name in failed
        )
    return outcome
