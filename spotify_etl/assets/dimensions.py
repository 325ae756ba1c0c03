"""Core layer: the dimensions, each built set-based by one file of `sql/core/`.

They are created from the export's own names, so facts never wait for the API; enrichment
fills their other columns in place later. Every build is an idempotent upsert.
"""

from dataclasses import dataclass
from typing import Optional

import dagster as dg

from spotify_etl.assets.raw import OWNERS, raw_plays
from spotify_etl.resources.warehouse import WarehouseResource
from spotify_etl.settings import load_settings
from spotify_etl.timezones import single_zone_countries, validate_zone


@dataclass(frozen=True)
class DimensionSpec:
    name: str
    description: str
    deps: tuple[str, ...] = ()


DIMENSIONS = (
    DimensionSpec("dim_date", "Calendar days covering every play (local dates), ISO week and year, weekend flag."),
    DimensionSpec("dim_time", "The 1,440 minutes of a day (HHMM) and their part of the day."),
    DimensionSpec("dim_reason", "Known reason_start/reason_end vocabulary with descriptions and groups, plus any new value met."),
    DimensionSpec("dim_platform", "Raw platform strings and their device family (android, ios, desktop-*, web, cast/TV, speaker/partner, car, other)."),
    DimensionSpec("dim_artist", "Artists: named by the export first, keyed by Spotify URI once enriched.", ("enriched_tracks", "enriched_artists")),
    DimensionSpec("dim_track", "Tracks (with album columns, and core.bridge_track_artist for every artist once enriched) keyed by URI, or by names for local files and account data.", ("dim_artist", "enriched_tracks")),
    DimensionSpec("dim_podcast", "Podcasts (shows): named by the export first, keyed by URI once enriched.", ("enriched_episodes", "enriched_podcasts")),
    DimensionSpec("dim_episode", "Podcast episodes keyed by URI, with their show.", ("dim_podcast", "enriched_episodes")),
)  # fmt: skip


def _dimension_asset(spec: DimensionSpec) -> dg.AssetsDefinition:
    @dg.asset(
        name=spec.name,
        group_name="core",
        deps=[raw_plays, *spec.deps],
        kinds={"postgres", "sql"},
        owners=OWNERS,
        description=f"core.{spec.name}: {spec.description} Built by sql/core/{spec.name}.sql.",
    )
    def build(warehouse: WarehouseResource) -> dg.MaterializeResult:
        warehouse.run_sql_file(f"core/{spec.name}.sql")
        return dg.MaterializeResult(metadata=warehouse.table_metadata(f"core.{spec.name}"))

    return build


dimension_assets = [_dimension_asset(spec) for spec in DIMENSIONS]


class ListenerConfig(dg.Config):
    home_time_zone: Optional[str] = None
    """IANA zone of the listeners' home; default SPOTIFY_ETL_TIMEZONE, else derived per listener."""


@dg.asset(
    group_name="core",
    deps=[raw_plays],
    kinds={"postgres", "sql"},
    owners=OWNERS,
    description=(
        "core.dim_listener: each listener (one per export folder) with home country and home "
        "time zone (SPOTIFY_ETL_TIMEZONE, else the zone of the most frequent conn_country)."
    ),
)
def dim_listener(config: ListenerConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
    configured = config.home_time_zone or load_settings().timezone_setting
    home = validate_zone(configured) if configured else None
    countries = single_zone_countries()
    with warehouse.connect() as conn:
        # Only zones this server's time zone database knows can be used with AT TIME ZONE.
        known = {name for (name,) in conn.execute("SELECT name FROM pg_timezone_names")}
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO etl_internal.country_timezone (country_code, timezone) VALUES (%s, %s)"
                " ON CONFLICT (country_code) DO UPDATE SET timezone = excluded.timezone",
                [(country, zone) for country, zone in sorted(countries.items()) if zone in known],
            )
        if home and home not in known:
            raise ValueError(f"time zone {home!r} is unknown to the PostgreSQL server")
    warehouse.run_sql_file("core/dim_listener.sql", {"home_time_zone": home})
    with warehouse.connect() as conn:
        homes = dict(conn.execute("SELECT listener, home_time_zone FROM core.dim_listener ORDER BY 1").fetchall())
    return dg.MaterializeResult(
        metadata={**warehouse.table_metadata("core.dim_listener"), "home_time_zones": dg.MetadataValue.json(homes)}
    )
