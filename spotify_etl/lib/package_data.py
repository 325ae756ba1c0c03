"""Files shipped with the package: the SQL of `sql/` and the sample export of `data/sample/`.

In the repository they stay where the design puts them, at the top level. A wheel or sdist
carries them inside the package (`spotify_etl/sql`, `spotify_etl/sample_export`; see
`package_dir` in setup.cfg); an editable install finds them beside the package. Either way a
missing folder is an error that says where it looked, never an empty list of files.
"""

from __future__ import annotations

from pathlib import Path

from spotify_etl.errors import SpotifyEtlError

_PACKAGE = Path(__file__).resolve().parent.parent  # spotify_etl/
_CHECKOUT = _PACKAGE.parent


def _shipped(installed: str, in_checkout: str) -> Path:
    for candidate in (_PACKAGE / installed, _CHECKOUT / in_checkout):
        if candidate.is_dir():
            return candidate
    raise SpotifyEtlError(
        f"the package's {in_checkout}/ folder is missing (looked in {_PACKAGE / installed} and "
        f"{_CHECKOUT / in_checkout}): reinstall spotify_etl"
    )


def sql_dir() -> Path:
    """The folder of the `.sql` files (migrations, views, the steps' queries)."""
    return _shipped("sql", "sql")


def sample_dir() -> Path:
    """The folder of the bundled synthetic export (`spotify-etl run --sample`)."""
    return _shipped("sample_export", "data/sample")
