"""listening_report: a self-contained HTML report of the mart views
(spotify_etl.lib.report.build draws it)."""

import dagster as dg

from spotify_etl.defs.core.track_versions import track_versions
from spotify_etl.defs.mart.views import mart_views
from spotify_etl.defs.resources import ReportsResource, WarehouseResource

# Shown in the UI as the materialization's headline (the rest is in the HTML file).
_HEADLINE = ("minutes_by_month", "top_artists", "listening_clock")


@dg.asset(
    deps=[*mart_views, track_versions],
    kinds={"python", "html"},
    description=(
        "A self-contained HTML listening report (charts embedded, works offline) in "
        "the reports directory: minutes per month, top artists/songs/albums/shows, the "
        "listening clock, sessions, skips, discoveries, podcast completion, genres, every year "
        "in review, coverage. Built from the mart views."
    ),
)
def listening_report(warehouse: WarehouseResource, reports: ReportsResource) -> dg.MaterializeResult:
    # Imported here: the charting library's import, which every run that does not build the
    # report (and every load of the definitions) would pay.
    from spotify_etl.lib.report.build import CHART_MIME, write_report

    with warehouse.connect() as conn:
        path, report = write_report(conn, reports.path)
    headline = "\n\n".join(
        f"**{section.title}**: {section.reading}\n\n![{section.key}](data:{CHART_MIME};base64,{section.chart})"
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
