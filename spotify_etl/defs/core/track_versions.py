"""track_versions: versions of a song linked to their parent track (dim_track.parent_track_id);
the rules are spotify_etl.lib.track_versions. It reads dim_track and dim_artist, whose data
version is the version of their rules (their new rows reach the facts month by month), so it
also depends on where new tracks come from, staged_plays and enriched_tracks: new ones make it stale."""

from collections import Counter
from pathlib import Path

import dagster as dg
from pydantic import Field

from spotify_etl.defs.changed_months import ChangedMonths
from spotify_etl.defs.core.dimensions import dim_artist, dim_track
from spotify_etl.defs.core.table_builds import TableBuilt
from spotify_etl.defs.enrichment.assets import enriched_tracks
from spotify_etl.defs.raw.staged_plays import staged_plays
from spotify_etl.defs.resources import WarehouseResource
from spotify_etl.lib.track_versions import TrackRow, link_versions, read_overrides
from spotify_etl.lib.warehouse.sql_files import load_sql


class TrackVersionsConfig(dg.Config):
    overrides_path: str = Field(
        default="data/parent_tracks.csv",
        description="CSV of manual links (child_uri,parent_uri) that always win; relative to the working directory.",
    )


track_versions = dg.AssetSpec(
    "track_versions",
    deps=[dim_track, dim_artist, staged_plays, enriched_tracks],
    kinds={"python", "postgres"},
    description=(
        "etl_internal.parent_tracks and core.dim_track.parent_track_id: live, remastered, deluxe, "
        "extended, single ... versions linked to one parent track, by a manual override, the "
        "same ISRC, or the same artist and title without version markers (spotify_etl/lib/track_versions.py)."
    ),
)


def build_track_versions(config: TrackVersionsConfig, warehouse: WarehouseResource) -> TableBuilt:
    """Link every track to its parent version again (the links that changed are rewritten)."""
    overrides = read_overrides(Path(config.overrides_path))
    with warehouse.connect() as conn:
        tracks = [TrackRow(*row) for row in conn.execute(load_sql("core/track_version_candidates.sql"))]
        links = link_versions(tracks, overrides)
        conn.execute(load_sql("core/load_parent_tracks_table.sql"))
        with conn.cursor().copy("COPY load_parent_tracks FROM STDIN") as copy:
            for child, link in sorted(links.items()):
                copy.write_row((child, link.parent_track_id, link.rule, link.confidence))
        conn.execute(load_sql("core/parent_tracks.sql"))
        conn.commit()
        metadata = warehouse.table_metadata("etl_internal.parent_tracks", conn=conn)
    by_rule = Counter(link.rule.split(":")[0] for link in links.values())
    by_marker = Counter(link.rule for link in links.values() if link.rule.startswith("title:"))
    return TableBuilt(
        dg.MaterializeResult(
            asset_key=track_versions.key,
            metadata={
                **metadata,
                "links_by_rule": dg.MetadataValue.json(dict(sorted(by_rule.items()))),
                "title_links_by_marker": dg.MetadataValue.json(dict(sorted(by_marker.items()))),
                "overrides_read": len(overrides),
            },
        ),
        # The facts do not read the links (the report's songs across versions do).
        ChangedMonths("track_versions"),
    )
