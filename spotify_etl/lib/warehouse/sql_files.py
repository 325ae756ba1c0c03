"""SQL lives in `.sql` files under `sql/`; this reads them by path, once."""

from __future__ import annotations

from functools import cache

from spotify_etl.errors import SpotifyEtlError
from spotify_etl.lib.package_data import sql_dir


@cache
def load_sql(relative_path: str) -> str:
    path = sql_dir() / relative_path
    if not path.is_file():
        raise SpotifyEtlError(f"SQL file not found: {path}")
    return path.read_text(encoding="utf-8")
