"""Configuration from the environment (and a `.env` file in the working directory).

Every setting has a sensible default so that a fresh checkout runs with no configuration:
the embedded PostgreSQL server under `.spotify_etl/` and the raw files under `data/raw`.
The variable names are a public interface: outside tooling relies on them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dotenv import load_dotenv

# Loaded once, at import, without overriding what the environment already says.
load_dotenv(Path.cwd() / ".env", override=False)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SQL_DIR = PROJECT_ROOT / "sql"
SAMPLE_DIR = PROJECT_ROOT / "data" / "sample"

DEFAULT_API_URL = "https://api.spotify.com/v1/"
DEFAULT_TOKEN_URL = "https://accounts.spotify.com/api/token"


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _flag(name: str, default: bool = False) -> bool:
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    home: Path
    raw_dir: Path
    database_url: str | None
    timezone_setting: str | None  # SPOTIFY_ETL_TIMEZONE; unset = derived from the plays
    market: str | None
    keep_personal_data: bool

    @property
    def dagster_home(self) -> Path:
        return Path(_env("DAGSTER_HOME") or self.home / "dagster")


def load_settings() -> Settings:
    """Read the settings now (the environment may change between calls, e.g. in tests)."""
    home = Path(_env("SPOTIFY_ETL_HOME", ".spotify_etl")).expanduser().resolve()
    return Settings(
        home=home,
        raw_dir=Path(_env("SPOTIFY_ETL_RAW_DIR", "data/raw")).expanduser().resolve(),
        database_url=_env("SPOTIFY_ETL_DATABASE_URL"),
        timezone_setting=_env("SPOTIFY_ETL_TIMEZONE"),
        market=_env("SPOTIFY_MARKET"),
        keep_personal_data=_flag("SPOTIFY_ETL_KEEP_PERSONAL_DATA"),
    )


# The zero-setup instance: Dagster's SQLite storage under DAGSTER_HOME. See dagster.yaml at
# the project root for the PostgreSQL-backed one.
_DEFAULT_INSTANCE_YAML = """\
# Written by spotify-etl: Dagster's default local storage (SQLite files in this directory).
# One run at a time: runs share one warehouse, and the sensor may ask for several at once.
concurrency:
  runs:
    max_concurrent_runs: 1
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


def ensure_dagster_home() -> Path:
    """DAGSTER_HOME defaults to `$SPOTIFY_ETL_HOME/dagster`; create it, with a dagster.yaml
    if it has none, so Dagster can use it."""
    path = load_settings().dagster_home
    path.mkdir(parents=True, exist_ok=True)
    instance_yaml = path / "dagster.yaml"
    if not instance_yaml.exists():
        instance_yaml.write_text(_DEFAULT_INSTANCE_YAML, encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(path)
    return path
