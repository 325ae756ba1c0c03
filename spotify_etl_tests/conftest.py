"""Fixtures: a real PostgreSQL server and a fresh database per test.

The server is the one at SPOTIFY_ETL_TEST_DATABASE_URL when set (CI sets it to the machine's
server); otherwise an embedded server is started for the session, as a user without
PostgreSQL would have.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from spotify_etl.defs.resources.warehouse import WarehouseResource
from spotify_etl.lib.warehouse.embedded_postgres import start_embedded_server, stop_embedded_server

_TEST_SETTINGS = ("SPOTIFY_ETL_TEST_DATABASE_URL", "SPOTIFY_ETL_SCREENSHOT_DIR", "SPOTIFY_ETL_UPDATE_SNAPSHOT")
_CONFIGURATION = (
    "SPOTIFY_ETL_",
    "SPOTIPY_",
    "SPOTIFY_API_URL",
    "SPOTIFY_TOKEN_URL",
    "SPOTIFY_MARKET",
    "DAGSTER_HOME",
    "DAGSTER_EVENT_BATCH_SIZE",
    "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS",
)


@pytest.fixture(autouse=True)
def isolated_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's configuration (environment or .env), and anything that
    falls back to a default home writes under the test's temporary directory."""
    for name in list(os.environ):
        if name.startswith(_CONFIGURATION) and name not in _TEST_SETTINGS:
            monkeypatch.delenv(name)
    monkeypatch.setenv("SPOTIFY_ETL_HOME", str(tmp_path / "spotify_etl_home"))


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """URL of a database on the test server, used to create per-test databases."""
    external = os.environ.get("SPOTIFY_ETL_TEST_DATABASE_URL")
    if external:
        yield external
        _drop_left_databases(external)
        return
    # Outside pytest's temporary directories, which another pytest session may prune while
    # this server still runs from one of them.
    home = Path(tempfile.mkdtemp(prefix="spotify_etl_tests_"))
    yield start_embedded_server(home)
    stop_embedded_server(home)
    shutil.rmtree(home, ignore_errors=True)


def _with_database(url: str, name: str) -> str:
    parsed = make_url(url).set(database=name)
    return parsed.render_as_string(hide_password=False)


# Each database this session created, by server: on a server the tests do not own, those
# their fixtures did not drop are dropped at the end of the session (another session may be
# running beside this one on the same server: only this one's).
_CREATED: dict[str, list[str]] = {}


def _fresh_database(server_url: str) -> str:
    """A new, empty database on the test server (named t_…): dropped by its fixture, else at
    the session's end (with the embedded server, or one by one on a server of its own)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    _CREATED.setdefault(server_url, []).append(name)
    return _with_database(server_url, name)


def _drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    _CREATED.get(server_url, []).remove(name)


def _drop_left_databases(server_url: str) -> None:
    for name in list(_CREATED.get(server_url, [])):
        _drop_database(server_url, name)


def fresh_warehouse_url(server_url: str) -> str:
    """A new, migrated warehouse database on the test server."""
    return WarehouseResource(database_url=_fresh_database(server_url)).url()


# The checkout these tests belong to.
REPOSITORY = Path(__file__).resolve().parent.parent

# The command line, as installed with the package.
CLI = str(Path(sys.executable).parent / "spotify-etl")


def cli_environment(**settings: str) -> dict[str, str]:
    """The environment for a `spotify-etl` child process: this one without any project or
    Dagster configuration, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPOTIFY_ETL_", "SPOTIPY_", "DAGSTER_"))}
    env.update(settings)
    return env


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    """Poll `condition` until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


@pytest.fixture
def database_url(server_url: str) -> Iterator[str]:
    """A new, empty database for one test; dropped afterwards."""
    url = _fresh_database(server_url)
    yield url
    _drop_database(server_url, make_url(url).database)


@pytest.fixture
def warehouse(database_url: str) -> WarehouseResource:
    resource = WarehouseResource(database_url=database_url)
    resource.url()  # migrate
    return resource


@pytest.fixture
def conn(warehouse: WarehouseResource) -> Iterator[psycopg.Connection]:
    with warehouse.connect() as connection:
        yield connection


@pytest.fixture
def raw_dir(tmp_path: Path) -> Path:
    path = tmp_path / "raw"
    path.mkdir()
    return path


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--server-tests-only",
        action="store_true",
        help="run only the tests that use the test server (server_url): a second pass against another "
        "PostgreSQL (CI's machine server) repeats nothing that cannot differ there",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--server-tests-only"):
        return
    kept, elsewhere = [], []
    for item in items:
        (kept if "server_url" in getattr(item, "fixturenames", ()) else elsewhere).append(item)
    if elsewhere:
        config.hook.pytest_deselected(items=elsewhere)
        items[:] = kept
