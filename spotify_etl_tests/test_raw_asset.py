"""The raw_plays asset and its checks, run through Dagster."""

from __future__ import annotations

import json

import dagster as dg

from spotify_etl.defs.partitions import listener_partitions
from spotify_etl.defs.raw import every_record_accounted_for, export_files_readable, raw_plays, staged_plays
from spotify_etl.defs.resources import ExportsResource
from spotify_etl_tests.export_factory import play, write_json, write_raw


def _materialize(warehouse, raw_dir, listener: str = "default", instance=None) -> dg.ExecuteInProcessResult:
    """Ingest one listener's partition (exports lying in the raw directory: "default")."""
    instance = instance or dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(listener_partitions.name, [listener])
    return dg.materialize(
        [raw_plays, staged_plays, export_files_readable, every_record_accounted_for],
        selection=[raw_plays],
        resources={"warehouse": warehouse, "exports": ExportsResource(raw_dir=str(raw_dir))},
        instance=instance,
        partition_key=listener,
        raise_on_error=False,
    )


def _materializations(result: dg.ExecuteInProcessResult, asset: str) -> list:
    return [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(asset)]


def test_materialization_reports_counts_and_checks_pass(warehouse, raw_dir) -> None:
    write_json(
        raw_dir / "Streaming_History_Audio_2023_0.json",
        [play("2023-01-01T00:00:00Z"), play("2023-01-01T00:00:00Z", ms=1), "oops"],
    )
    write_raw(raw_dir / "ReadMeFirst_ExtendedStreamingHistory.pdf", b"%PDF")
    result = _materialize(warehouse, raw_dir)
    assert result.success
    [event] = _materializations(result, "raw_plays")
    metadata = {k: getattr(v, "value", v) for k, v in event.step_materialization_data.materialization.metadata.items()}
    assert metadata["months_changed"] == ["2023-01"]
    assert metadata["records_read"] == 3
    assert metadata["stored"] == 2 and metadata["rejected"] == 1 and metadata["duplicates"] == 0
    assert metadata["dagster/row_count"] == 2
    assert metadata["plays_by_kind"] == {"track": 2}
    assert metadata["rejected_by_reason"] == {"not an object": 1}
    assert "ReadMeFirst_ExtendedStreamingHistory.pdf" in metadata["ignored"]
    assert metadata["first_play"].startswith("2023-01-01")
    columns = {c.name: c.type for c in metadata["dagster/column_schema"].columns}
    assert columns["ts"] == "timestamp with time zone" and columns["extra"] == "jsonb"
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks == {"export_files_readable": True, "every_record_accounted_for": True}


def test_truncated_file_fails_the_check_at_error_severity_naming_it(warehouse, raw_dir) -> None:
    text = json.dumps([play(f"2023-01-0{d}T00:00:00Z") for d in range(1, 6)])
    write_raw(raw_dir / "Streaming_History_Audio_2023_1.json", text[:-40])
    write_json(raw_dir / "Streaming_History_Audio_2023_2.json", [play("2023-03-01T00:00:00Z")])
    result = _materialize(warehouse, raw_dir)
    assert result.success  # the other files loaded; the check says what failed
    evaluation = next(c for c in result.get_asset_check_evaluations() if c.check_name == "export_files_readable")
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert "Streaming_History_Audio_2023_1.json" in evaluation.description
    [event] = _materializations(result, "raw_plays")
    metadata = event.step_materialization_data.materialization.metadata
    assert metadata["files_failed"].value == 1
    assert "Streaming_History_Audio_2023_1.json" in metadata["FAILED_FILES"].value


def test_accounting_check_fails_when_a_row_disappears_behind_its_back(warehouse, raw_dir) -> None:
    write_json(
        raw_dir / "Streaming_History_Audio_2023_0.json", [play("2023-01-01T00:00:00Z"), play("2023-01-02T00:00:00Z")]
    )
    assert _materialize(warehouse, raw_dir).success
    with warehouse.connect() as conn:
        conn.execute("DELETE FROM staging.streaming_history WHERE ts = '2023-01-01T00:00:00Z'")
    result = _materialize(warehouse, raw_dir)
    evaluation = next(c for c in result.get_asset_check_evaluations() if c.check_name == "every_record_accounted_for")
    assert not evaluation.passed


def test_a_listeners_unreadable_file_fails_that_listeners_check_only(warehouse, raw_dir) -> None:
    text = json.dumps([play(f"2023-01-0{d}T00:00:00Z") for d in range(1, 6)])
    write_raw(raw_dir / "ana" / "Streaming_History_Audio_2023_1.json", text[:-40])
    write_json(raw_dir / "ben" / "Streaming_History_Audio_2023_2.json", [play("2023-03-01T00:00:00Z")] * 2)
    write_json(raw_dir / "ben" / "Streaming_History_Audio_2023_3.json", [play("2023-04-01T00:00:00Z")])
    instance = dg.DagsterInstance.ephemeral()
    ana, ben = (_materialize(warehouse, raw_dir, listener, instance) for listener in ("ana", "ben"))

    def readable(result) -> tuple[bool, str]:
        (evaluation,) = [c for c in result.get_asset_check_evaluations() if c.check_name == "export_files_readable"]
        return evaluation.passed, evaluation.description

    passed, description = readable(ana)
    assert not passed and "ana/Streaming_History_Audio_2023_1.json" in description
    assert readable(ben) == (True, "all files read")
    # Each partition has its listener's plays and files; each run observed the whole table.
    ben_metadata = _materializations(ben, "raw_plays")[0].step_materialization_data.materialization.metadata
    assert ben_metadata["files_read"].value == 2 and ben_metadata["dagster/row_count"].value == 2
    assert ben_metadata["months_changed"].value == ["2023-03", "2023-04"]
    # What staging holds of ben alone (ana's good records were stored too).
    assert ben_metadata["plays_by_kind"].value == {"track": 2}
    assert ben_metadata["first_play"].value.startswith("2023-03-01")
    assert ben_metadata["last_play"].value.startswith("2023-04-01")
    with warehouse.connect() as conn:
        (stored,) = conn.execute("SELECT count(*) FROM staging.streaming_history").fetchone()
    (observed,) = [e for e in ben.get_asset_observation_events() if e.asset_key == staged_plays.key]
    assert observed.asset_observation_data.asset_observation.metadata["dagster/row_count"].value == stored
    assert instance.get_materialized_partitions(raw_plays.key) == {"ana", "ben"}
