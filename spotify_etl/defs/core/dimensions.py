"""The dimensions, each built set-based by one file of `sql/core/` named like it.

They are created from the export's own names, so facts never wait for the API; enrichment
fills their other columns in place later. Every build is an idempotent upsert that reads
only the plays stored since the dimension was last built (spotify_etl.lib.warehouse.incremental),
so its cost follows the new data, not the history. A change that alters facts already loaded
(a fetched duration or artist, a listener's home) is reported as the months it reaches
(spotify_etl.defs.changed_months). Here are their assets and builds; one step builds them side
by side (spotify_etl.defs.core.dimensions_and_sessions).
"""

import dagster as dg

from spotify_etl.defs.core.listening_sessions import SESSIONS_STEP
from spotify_etl.defs.core.table_builds import TableBuilt, built
from spotify_etl.defs.enrichment.assets import enriched_artists, enriched_episodes, enriched_podcasts, enriched_tracks
from spotify_etl.defs.enrichment.resolved_names import resolved_names
from spotify_etl.defs.raw.staged_plays import staged_plays
from spotify_etl.defs.resources import ExportsResource, WarehouseResource
from spotify_etl.lib.timezones import single_zone_countries, validate_zone
from spotify_etl.lib.warehouse.incremental import build_from_new_plays, files_read


def _dimension(name: str, description: str, *upstream: dg.AssetSpec | dg.AssetsDefinition) -> dg.AssetSpec:
    return dg.AssetSpec(
        name,
        deps=[staged_plays, *upstream],
        kinds={"postgres", "sql"},
        description=f"core.{name}: {description} Built by sql/core/{name}.sql.",
    )


def build_dimension(spec: dg.AssetSpec, warehouse: WarehouseResource) -> TableBuilt:
    """Build the dimension of `spec` from the plays it has not read, by sql/core/<name>.sql."""
    name = spec.key.path[-1]
    with warehouse.connect() as conn:
        build = build_from_new_plays(conn, name, f"core/{name}.sql")
        conn.commit()
        return built(warehouse, spec, build, conn=conn)


dim_date = _dimension("dim_date", "Calendar days covering every play (local dates), ISO week and year, weekend flag.")
dim_time = _dimension("dim_time", "The 1,440 minutes of a day (HHMM) and their part of the day.")
dim_reason = _dimension(
    "dim_reason", "Known reason_start/reason_end vocabulary with descriptions and groups, plus any new value met."
)
dim_platform = _dimension(
    "dim_platform",
    "Raw platform strings and their device family (android, ios, desktop-*, web, cast/TV, speaker/partner, car, "
    "other).",
)
dim_artist = _dimension(
    "dim_artist",
    "Artists: named by the export first, keyed by Spotify URI once enriched.",
    enriched_tracks,
    enriched_artists,
)
dim_track = _dimension(
    "dim_track",
    "Tracks (with album columns, and core.bridge_track_artist for every artist once enriched) keyed by URI, or by "
    "names for local files and plays without an id; the track chosen for a name pair is its own URI member, on "
    "which the facts count the pair's plays.",
    dim_artist,
    enriched_tracks,
    # A decision for a name pair changes what its plays count on, though no answer was fetched.
    resolved_names,
)
dim_podcast = _dimension(
    "dim_podcast",
    "Podcasts (shows): named by the export first, keyed by URI once enriched.",
    enriched_episodes,
    enriched_podcasts,
)
dim_episode = _dimension(
    "dim_episode",
    "Podcast episodes keyed by URI, with their show; the episode chosen for a name pair is its own URI member.",
    dim_podcast,
    enriched_episodes,
    resolved_names,
)


dim_listener = dg.AssetSpec(
    "dim_listener",
    deps=[staged_plays],
    kinds={"postgres", "sql"},
    description=(
        "core.dim_listener: each listener (one per export folder) with home country and home "
        "time zone (the exports resource's home_time_zone, else the zone of the most frequent "
        "conn_country). Built by sql/core/dim_listener.sql."
    ),
)


def build_dim_listener(exports: ExportsResource, warehouse: WarehouseResource) -> TableBuilt:
    """Build dim_listener for the listeners of new plays (every listener, with another home zone setting)."""
    home = validate_zone(exports.home_time_zone) if exports.home_time_zone else None
    countries = single_zone_countries()
    with warehouse.connect() as conn:
        stored = dict(conn.execute("SELECT country_code, timezone FROM etl_internal.country_timezone").fetchall())
        # Listing the zones the server knows takes ~20 ms (it reads its zone files), ahead of
        # the sessions: only when a zone is to be checked or stored.
        if home or not countries.items() <= stored.items():
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
        params = {
            "home_time_zone": home,
            "sessions_read_through": files_read(conn, SESSIONS_STEP),
        }
        # Another home zone setting: every listener's home is looked at again.
        build = build_from_new_plays(conn, "dim_listener", "core/dim_listener.sql", params, settings=home or "")
        homes = dict(conn.execute("SELECT listener, home_time_zone FROM core.dim_listener ORDER BY 1").fetchall())
        conn.commit()
        return built(
            warehouse,
            dim_listener,
            build,
            home,
            conn=conn,
            metadata={"home_time_zones": dg.MetadataValue.json(homes)},
        )
