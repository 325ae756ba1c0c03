"""The code is formatted and linted by ruff (configuration in pyproject.toml), so a change that
is not shows in the suite, not only in review."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from spotify_etl_tests.conftest import REPOSITORY

RUFF = Path(sys.executable).parent / "ruff"


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_ruff_finds_nothing(command: list[str]) -> None:
    result = subprocess.run([str(RUFF), *command, "."], cwd=REPOSITORY, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
