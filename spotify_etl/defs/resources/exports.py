"""Where the listeners' exports are and what is known of the listeners: a Dagster resource,
shared by the raw layer, the listener dimension and the sensor."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from spotify_etl.settings import Settings


class ExportsResource(dg.ConfigurableResource):
    """The Spotify exports to read, and the listener facts they do not say."""

    raw_dir: str = Field(
        description="Directory the exports are read from: zips, folders or loose JSON, one sub-folder per "
        "listener where there are several (SPOTIFY_ETL_RAW_DIR, default data/raw).",
    )
    keep_personal_data: bool = Field(
        default=False,
        description="Keep IP addresses, user agents and usernames from the export; dropped by default "
        "(SPOTIFY_ETL_KEEP_PERSONAL_DATA).",
    )
    home_time_zone: str | None = Field(
        default=None,
        description="IANA time zone of the listeners' home, e.g. Europe/Berlin (SPOTIFY_ETL_TIMEZONE); unset: "
        "the zone of each listener's most frequent conn_country.",
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> ExportsResource:
        return cls(
            raw_dir=str(settings.raw_dir),
            keep_personal_data=settings.keep_personal_data,
            home_time_zone=settings.home_time_zone,
        )

    @property
    def raw_path(self) -> Path:
        return Path(self.raw_dir).expanduser().resolve()
