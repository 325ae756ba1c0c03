"""Mart layer: the listening report (the mart views themselves are created by migrations)."""

import dagster as dg

from spotify_etl.assets.raw import OWNERS
from spotify_etl.report.build import write_report
from spotify_etl.resources.warehouse import WarehouseResource
from spotify_etl.settings import load_settings

# Shown in the UI as the materialization's headline (the rest is in the HTML file).
_HEADLINE = ("minutes_by_month", "top_artists", "listening_clock")


@dg.asset(
    group_name="mart",
    deps=["fact_tracks_history", "fact_podcasts_history", "fact_listening_sessions", "track_versions"],
    kinds={"python", "html"},
    owners=OWNERS,
    description=(
        "A self-contained HTML listening report (charts embedded, works offline) in "
        "$SPOTIFY_ETL_HOME/reports/: minutes per month, top artists/songs/albums/shows, the "
        "listening clock, sessions, skips, discoveries, podcast completion, genres, every year "
        "in review, coverage. Built from the mart views."
    ),
)
def listening_report(warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as conn:
        path, report = write_report(conn, load_settings().home / "reports")
    headline = "\n\n".join(
        f"**{section.title}**: {section.reading}\n\n![{section.key}](data:image/png;base64,{section.chart})"
        if section.chart
        else f"**{section.title}**: {section.reading}"
        for section in report.sections
        if section.key in _HEADLINE
    )
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "sections": len(report.sections),
            "headline": dg.MetadataValue.md(headline),
        }
    )
