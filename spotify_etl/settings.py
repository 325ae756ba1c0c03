"""Configuration from the environment (and a `.env` file in the working directory), read here
and nowhere else.

Every setting has a sensible default so that a fresh checkout runs with no configuration:
the embedded PostgreSQL server under `.spotify_etl/` and the raw files under `data/raw`.
The definitions turn these settings into resources (so the launchpad shows them), the command
line overrides some of them with its flags. The variable names are a public interface:
outside tooling relies on them.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from dotenv import load_dotenv

from spotify_etl.errors import SpotifyEtlError

# Loaded once, at import, without overriding what the environment already says.
load_dotenv(Path.cwd() / ".env", override=False)

ApiMode = Literal["single", "batch", "auto"]
API_MODES: tuple[ApiMode, ...] = ("single", "batch", "auto")

DEFAULT_API_URL = "https://api.spotify.com/v1/"
DEFAULT_TOKEN_URL = "https://accounts.spotify.com/api/token"
DEFAULT_API_MODE: ApiMode = "single"
# Spotify's documented budget is per rolling 30 s; 60 stays well inside a development-mode app's.
DEFAULT_REQUESTS_PER_30S = 60
# Celery's own: results come back to the run through the broker, no store of their own.
DEFAULT_CELERY_BACKEND = "rpc://"

# Variables holding secrets, masked in logs (the definitions pass these and the database URL to
# Dagster as EnvVar, so the UI never shows them).
SECRET_VARIABLES = ("SPOTIPY_CLIENT_SECRET",)
URL_VARIABLES = ("SPOTIFY_ETL_DATABASE_URL", "DAGSTER_PG_URL")


def env(name: str, default: str | None = None) -> str | None:
    """A variable of the environment; empty counts as unset."""
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _flag(name: str, default: bool = False) -> bool:
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _number(name: str, default: int) -> int:
    value = env(name)
    try:
        return int(value) if value is not None else default
    except ValueError:
        raise SpotifyEtlError(f"{name} must be a whole number, got {value!r}") from None


def _api_mode() -> ApiMode:
    mode = (env("SPOTIFY_API_MODE") or DEFAULT_API_MODE).lower()
    if mode not in API_MODES:
        raise SpotifyEtlError(f"SPOTIFY_API_MODE must be one of {', '.join(API_MODES)}, got {mode!r}")
    return mode  # type: ignore[return-value]


@dataclass(frozen=True)
class Settings:
    home: Path  # SPOTIFY_ETL_HOME: embedded server, Dagster home, logs, reports
    raw_dir: Path  # SPOTIFY_ETL_RAW_DIR
    database_url: str | None  # SPOTIFY_ETL_DATABASE_URL; unset = the embedded server
    home_time_zone: str | None  # SPOTIFY_ETL_TIMEZONE; unset = derived from the plays
    keep_personal_data: bool  # SPOTIFY_ETL_KEEP_PERSONAL_DATA
    market: str | None  # SPOTIFY_MARKET; unset = the listener's most frequent country
    spotify_credentials: bool  # SPOTIPY_CLIENT_ID and SPOTIPY_CLIENT_SECRET both set
    api_url: str  # SPOTIFY_API_URL
    token_url: str  # SPOTIFY_TOKEN_URL
    api_mode: ApiMode  # SPOTIFY_API_MODE
    requests_per_30s: int  # SPOTIFY_API_REQUESTS_PER_30S
    dagster_home: Path  # DAGSTER_HOME
    log_level: str  # SPOTIFY_ETL_LOG_LEVEL
    log_max_bytes: int  # SPOTIFY_ETL_LOG_MAX_BYTES
    log_backups: int  # SPOTIFY_ETL_LOG_BACKUPS
    celery_broker: str | None  # SPOTIFY_ETL_CELERY_BROKER; unset = every step in its run's process
    celery_backend: str  # SPOTIFY_ETL_CELERY_BACKEND
    celery_queue: str  # SPOTIFY_ETL_CELERY_QUEUE: one per deployment sharing a broker

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    def required_celery_broker(self) -> str:
        if not self.celery_broker:
            raise SpotifyEtlError(
                "no Celery broker: set SPOTIFY_ETL_CELERY_BROKER (e.g. pyamqp://guest:guest@127.0.0.1:5672//)"
            )
        return self.celery_broker

    def with_overrides(self, **changes: object) -> Settings:
        """These settings with the given ones replaced (those given as None are kept)."""
        return replace(self, **{name: value for name, value in changes.items() if value is not None})


def load_settings() -> Settings:
    """Read the settings now (the environment may change between calls, e.g. in tests)."""
    home = Path(env("SPOTIFY_ETL_HOME", ".spotify_etl")).expanduser().resolve()
    return Settings(
        home=home,
        raw_dir=Path(env("SPOTIFY_ETL_RAW_DIR", "data/raw")).expanduser().resolve(),
        database_url=env("SPOTIFY_ETL_DATABASE_URL"),
        home_time_zone=env("SPOTIFY_ETL_TIMEZONE"),
        keep_personal_data=_flag("SPOTIFY_ETL_KEEP_PERSONAL_DATA"),
        market=env("SPOTIFY_MARKET"),
        spotify_credentials=bool(env("SPOTIPY_CLIENT_ID") and env("SPOTIPY_CLIENT_SECRET")),
        api_url=env("SPOTIFY_API_URL", DEFAULT_API_URL),
        token_url=env("SPOTIFY_TOKEN_URL", DEFAULT_TOKEN_URL),
        api_mode=_api_mode(),
        requests_per_30s=_number("SPOTIFY_API_REQUESTS_PER_30S", DEFAULT_REQUESTS_PER_30S),
        dagster_home=Path(env("DAGSTER_HOME") or home / "dagster"),
        log_level=(env("SPOTIFY_ETL_LOG_LEVEL") or "INFO").upper(),
        log_max_bytes=_number("SPOTIFY_ETL_LOG_MAX_BYTES", 10 * 2**20),
        log_backups=_number("SPOTIFY_ETL_LOG_BACKUPS", 5),
        celery_broker=env("SPOTIFY_ETL_CELERY_BROKER"),
        celery_backend=env("SPOTIFY_ETL_CELERY_BACKEND", DEFAULT_CELERY_BACKEND),
        celery_queue=env("SPOTIFY_ETL_CELERY_QUEUE", "spotify_etl"),
    )


# The zero-setup instance: Dagster's SQLite files in DAGSTER_HOME, through the storages of
# spotify_etl/instance_storage.py (the same files; they keep their connections open). See
# deploy/dagster.yaml for the PostgreSQL-backed one.
_DEFAULT_INSTANCE_YAML = """\
# Written by spotify-etl for this directory (written again for the new place if the directory
# is moved or copied, unless edited): Dagster's local storage, SQLite files in this directory.
# One run at a time: runs share one warehouse, and the sensor may ask for several at once.
concurrency:
  runs:
    max_concurrent_runs: 1
# Dagster's SQLite run and event log storages, keeping a connection open between transactions
# (Dagster's own open one per transaction; the files are the same).
run_storage:
  module: spotify_etl.instance_storage
  class: PooledSqliteRunStorage
  config:
    base_dir: {history}
event_log_storage:
  module: spotify_etl.instance_storage
  class: PooledSqliteEventLogStorage
  config:
    base_dir: {runs}
# The package's loggers show in each run's event log; every run's events also go to the
# rotating JSON log under $SPOTIFY_ETL_HOME/logs (secrets redacted).
python_logs:
  managed_python_loggers:
    - spotify_etl
  dagster_handler_config:
    handlers:
      spotify_etl_file:
        class: spotify_etl.logs.SpotifyEtlFileHandler
telemetry:
  enabled: false
"""


# Dagster stores a run's materializations of many partitions (a month of each fact, each) in
# batches of this many where its instance can: PostgreSQL (deploy/dagster.yaml), where a run
# over 92 months took 5.4 s instead of 9.5 s (docs/benchmarks.md). SQLite, the default, has no
# batch writes: it stores a batch one event at a time, as without.
DAGSTER_EVENT_BATCH_SIZE = "200"


def _default_instance_yaml(dagster_home: Path) -> str:
    # Where Dagster's default SQLite storage keeps its files (DagsterSqliteStorage). Absolute:
    # Dagster hands a storage its config alone, and `DagsterInstance.from_config(folder)` opens
    # an instance whatever DAGSTER_HOME says.
    history = dagster_home.resolve() / "history"
    return _DEFAULT_INSTANCE_YAML.format(history=json.dumps(str(history)), runs=json.dumps(str(history / "runs")))


def _written_for_elsewhere(text: str, dagster_home: Path) -> bool:
    """Whether a dagster.yaml is the default one, unedited, written for another folder: this
    one was moved or copied, and its runs would go on being stored in the original's files."""
    found = re.search(r"^    base_dir: (\".*\")$", text, re.MULTILINE)
    if not found:
        return False
    written_for = Path(json.loads(found.group(1))).parent
    return written_for != dagster_home.resolve() and text == _default_instance_yaml(written_for)


def ensure_dagster_home() -> Path:
    """DAGSTER_HOME defaults to `$SPOTIFY_ETL_HOME/dagster`; create it, with a dagster.yaml
    if it has none (or the default one written for the folder it was copied or moved from), so
    Dagster can use it. Dagster's event batch size defaults to
    DAGSTER_EVENT_BATCH_SIZE, for this process and those it starts (the UI's daemon and runs,
    a Celery worker)."""
    path = load_settings().dagster_home
    path.mkdir(parents=True, exist_ok=True)
    instance_yaml = path / "dagster.yaml"
    if not instance_yaml.exists() or _written_for_elsewhere(instance_yaml.read_text(encoding="utf-8"), path):
        instance_yaml.write_text(_default_instance_yaml(path), encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(path)
    os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", DAGSTER_EVENT_BATCH_SIZE)
    return path
