"""Where the listening report is written: a Dagster resource."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from spotify_etl.settings import Settings


class ReportsResource(dg.ConfigurableResource):
    """The directory of the HTML listening reports."""

    directory: str = Field(description="Directory of the HTML reports (default $SPOTIFY_ETL_HOME/reports).")

    @classmethod
    def from_settings(cls, settings: Settings) -> ReportsResource:
        return cls(directory=str(settings.reports_dir))

    @property
    def path(self) -> Path:
        return Path(self.directory).expanduser().resolve()
