"""The Definitions object loads, and Dagster's own validators accept the project."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from spotify_etl.definitions import defs
from spotify_etl.settings import PROJECT_ROOT

BIN = Path(sys.executable).parent


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)


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
