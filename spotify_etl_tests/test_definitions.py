"""The Definitions object loads, and Dagster's own validators accept the project."""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from spotify_etl.definitions import build_definitions, defs
from spotify_etl.errors import SpotifyEtlError
from spotify_etl.settings import load_settings
from spotify_etl_tests.conftest import REPOSITORY

BIN = Path(sys.executable).parent


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=REPOSITORY, capture_output=True, text=True, timeout=300)


def test_dg_check_defs_passes() -> None:
    result = _run(str(BIN / "dg"), "check", "defs")
    assert result.returncode == 0, result.stdout + result.stderr


def test_dagster_definitions_validate_passes() -> None:
    result = _run(str(BIN / "dagster"), "definitions", "validate", "-w", "workspace.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_design_assets_and_jobs_are_defined() -> None:
    keys = {key.to_user_string() for key in defs.resolve_all_asset_keys()}
    assert "raw_plays" in keys
    assert defs.resolve_job_def("full_load").name == "full_load"
    checks = {key.name for key in defs.resolve_asset_graph().asset_check_keys}
    assert {"export_files_readable", "every_record_accounted_for"} <= checks


# --- the shape of the definitions --------------------------------------------------------------

SNAPSHOT = Path(__file__).with_name("definitions_snapshot.json")


def _shape(definitions: dg.Definitions) -> dict:
    """What a reader of the UI sees of the project: assets with their group, kinds, partitions and
    upstream assets; checks with what they read; jobs, sensors, schedules and resources."""
    graph = definitions.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "materializable": node.is_executable,
            "kinds": sorted(node.kinds),
            "partitions": type(node.partitions_def).__name__ if node.partitions_def else None,
            "deps": sorted(parent.to_user_string() for parent in node.parent_keys),
        }
    checks = {
        f"{key.asset_key.to_user_string()}:{key.name}": sorted(
            dep.asset_key.to_user_string() for dep in graph.get_check_spec(key).additional_deps
        )
        for key in graph.asset_check_keys
    }
    repository = definitions.get_repository_def()
    return {
        "assets": assets,
        "checks": dict(sorted(checks.items())),
        "jobs": sorted(job.name for job in repository.get_all_jobs() if not job.name.startswith("__")),
        "sensors": sorted(sensor.name for sensor in repository.sensor_defs),
        "schedules": sorted(schedule.name for schedule in repository.schedule_defs),
        "resources": {name: type(resource).__name__ for name, resource in sorted(definitions.resources.items())},
    }


def test_the_definitions_match_their_snapshot() -> None:
    """An asset, dependency, check, partitioning, job or resource that changes by accident shows
    here. A deliberate change: SPOTIFY_ETL_UPDATE_SNAPSHOT=1 pytest -k snapshot, and commit the file."""
    shape = _shape(defs)
    if os.environ.get("SPOTIFY_ETL_UPDATE_SNAPSHOT"):
        SNAPSHOT.write_text(json.dumps(shape, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    assert shape == json.loads(SNAPSHOT.read_text(encoding="utf-8"))


def test_every_dependency_is_a_defined_asset_and_groups_are_the_layers() -> None:
    graph = defs.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    for key in keys:
        assert graph.get(key).parent_keys <= keys, key
    assert {graph.get(key).group_name for key in keys} == {"raw", "enrichment", "core", "mart"}
    for key in graph.asset_check_keys:
        assert {dep.asset_key for dep in graph.get_check_spec(key).additional_deps} <= keys, key


def test_the_fact_checks_declare_both_fact_tables() -> None:
    graph = defs.resolve_asset_graph()
    for name in ("no_duplicate_plays", "no_orphan_keys", "reconciles_with_staging", "dim_date_covers_facts"):
        spec = graph.get_check_spec(dg.AssetCheckKey(dg.AssetKey("fact_tracks_history"), name))
        assert dg.AssetKey("fact_podcasts_history") in {dep.asset_key for dep in spec.additional_deps}, name


def test_the_library_imports_without_dagster() -> None:
    """spotify_etl.lib is the Dagster-free half: each of its modules imports without Dagster."""
    import spotify_etl.lib

    modules = sorted(info.name for info in pkgutil.walk_packages(spotify_etl.lib.__path__, prefix="spotify_etl.lib."))
    assert "spotify_etl.lib.ingestion" in modules and "spotify_etl.lib.spotify.client" in modules
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules if m == 'dagster' or m.startswith(('dagster.', 'dagster_')))\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_every_setting_the_launchpad_shows_is_described() -> None:
    from spotify_etl.defs.core.dimensions_and_sessions import DimensionsAndSessionsConfig

    described = [*(type(resource) for resource in defs.resources.values()), DimensionsAndSessionsConfig]
    for model in described:
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"


def test_the_environment_reaches_the_resources(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("SPOTIFY_API_MODE", "batch")
    monkeypatch.setenv("SPOTIFY_API_REQUESTS_PER_30S", "25")
    monkeypatch.setenv("SPOTIFY_MARKET", "SE")
    monkeypatch.setenv("SPOTIFY_ETL_RAW_DIR", str(tmp_path / "exports"))
    monkeypatch.setenv("SPOTIFY_ETL_TIMEZONE", "Europe/Stockholm")
    resources = build_definitions(load_settings()).resources
    assert (resources["spotify"].mode, resources["spotify"].requests_per_30s, resources["spotify"].market) == (
        "batch",
        25,
        "SE",
    )
    assert resources["exports"].raw_dir == str(tmp_path / "exports")
    assert resources["exports"].home_time_zone == "Europe/Stockholm"
    monkeypatch.setenv("SPOTIFY_API_MODE", "bulk")
    with pytest.raises(SpotifyEtlError, match="SPOTIFY_API_MODE must be one of single, batch, auto"):
        load_settings()


def test_secrets_reach_the_definitions_as_variable_names_only(monkeypatch) -> None:
    monkeypatch.setenv("SPOTIPY_CLIENT_ID", "an-id")
    monkeypatch.setenv("SPOTIPY_CLIENT_SECRET", "a-secret-never-shown")
    monkeypatch.setenv("SPOTIFY_ETL_DATABASE_URL", "postgresql://u:a-password@db/x")
    resources = build_definitions(load_settings()).resources
    assert resources["spotify"].client_secret == dg.EnvVar("SPOTIPY_CLIENT_SECRET")
    assert resources["warehouse"].database_url == dg.EnvVar("SPOTIFY_ETL_DATABASE_URL")
