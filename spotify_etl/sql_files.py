"""SQL lives in `.sql` files under `sql/`; this reads them by path, once."""

from __future__ import annotations

from functools import cache

from spotify_etl.settings import SQL_DIR


@cache
def load_sql(relative_path: str) -> str:
    path = SQL_DIR / relative_path
    if not path.is_file():
        raise FileNotFoundError(f"SQL file not found: {path}")
    return path.read_text(encoding="utf-8")
