"""The package installs anywhere: built as a wheel and an sdist, installed (not editable) in a
fresh virtual environment, and run from a directory that knows nothing of this checkout.

Slow (a fresh environment installs every dependency), so it is marked `packaging` and run
once by .ci/run with `pytest -m packaging`."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from spotify_etl_tests.conftest import REPOSITORY, cli_environment

pytestmark = pytest.mark.packaging

SHIPPED = ("sql/migrations/0001_schemas.sql", "sql/views/core/play_context.sql", "sql/core/dim_track.sql")


def _run(*command: str | Path, cwd: Path, timeout: float = 900, **settings: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(part) for part in command], cwd=cwd, env=cli_environment(**settings), capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip
    assert result.returncode == 0, f"{command}: {result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", out, REPOSITORY, cwd=out)
    return {"wheel": next(out.glob("*.whl")), "sdist": next(out.glob("*.tar.gz"))}


def test_the_wheel_and_the_sdist_carry_the_sql_and_the_sample(built) -> None:
    wheel = set(zipfile.ZipFile(built["wheel"]).namelist())
    for path in SHIPPED:
        assert f"spotify_etl/{path}" in wheel, path
    assert "spotify_etl/sample_export/my_spotify_data.zip" in wheel
    assert "spotify_etl/lib/report/template.html" in wheel
    with tarfile.open(built["sdist"]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    for path in (*SHIPPED, "data/sample/my_spotify_data.zip"):
        assert path in names, path


def test_the_installed_wheel_runs_the_sample_outside_the_checkout(built, server_url, tmp_path) -> None:
    from spotify_etl_tests.conftest import _fresh_database

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    _run(venv / "bin" / "pip", "install", "-q", built["wheel"], cwd=tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    settings = {"SPOTIFY_ETL_DATABASE_URL": _fresh_database(server_url), "SPOTIFY_ETL_HOME": str(tmp_path / "home")}

    run = _run(venv / "bin" / "spotify-etl", "run", "--sample", "--no-enrich", cwd=elsewhere, **settings)
    assert "succeeded" in run.stdout
    assert str(REPOSITORY) not in run.stdout + run.stderr  # nothing read from the checkout
    status = _run(venv / "bin" / "spotify-etl", "status", cwd=elsewhere, **settings)
    plays = next(line for line in status.stdout.splitlines() if line.startswith("tracks"))
    assert int(plays.split()[1]) > 1000, status.stdout  # the sample's music plays are in the warehouse
    _run(
        venv / "bin" / "dagster", "definitions", "validate", "-m", "spotify_etl.definitions", cwd=elsewhere, **settings
    )
    imported = _run(venv / "bin" / "python", "-c", "import spotify_etl; print(spotify_etl.__file__)", cwd=elsewhere)
    assert imported.stdout.startswith(str(venv)), imported.stdout
