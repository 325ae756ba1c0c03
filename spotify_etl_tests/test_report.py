"""The listening report: built on the sample, every section, numbers that match the facts."""

from __future__ import annotations

import base64
import re
import subprocess
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

import pytest

from spotify_etl.lib.package_data import sample_dir
from spotify_etl.lib.report import charts
from spotify_etl.lib.report.build import build_report, render_html, write_report
from spotify_etl.lib.synthetic import generate_plays
from spotify_etl_tests.conftest import CLI, cli_environment
from spotify_etl_tests.export_factory import play, write_json
from spotify_etl_tests.pipeline_helpers import materialize_all
from spotify_etl_tests.test_ui_browser import CHROMIUM, CHROMIUM_ARGS

SECTIONS = [
    "minutes_by_month",
    "top_artists",
    "top_tracks",
    "top_albums",
    "top_shows",
    "listening_clock",
    "sessions",
    "skips",
    "discovery",
    "podcast_completion",
    "genres",
    "release_decades",
    "year_in_review",
    "coverage",
]


def test_report_on_the_sample_has_every_section_and_true_numbers(conn, warehouse, tmp_path) -> None:
    result = materialize_all(warehouse, sample_dir())
    report_event = next(
        e
        for e in result.get_asset_materialization_events()
        if e.step_materialization_data.materialization.asset_key.to_user_string() == "listening_report"
    )
    metadata = report_event.step_materialization_data.materialization.metadata
    assert Path(metadata["path"].value).is_file()
    assert "data:image/svg+xml;base64," in metadata["headline"].value

    path, report = write_report(conn, tmp_path)
    assert [s.key for s in report.sections] == SECTIONS
    text = path.read_text(encoding="utf-8")
    assert all(f'<section id="{key}">' in text for key in SECTIONS)
    assert "<script" not in text and "http://" not in text.split("</style>")[1]  # offline: nothing to fetch

    music_hours, podcast_hours = conn.execute(
        "SELECT (SELECT sum(ms_played) FROM core.fact_tracks_history) / 3600000.0,"
        " (SELECT sum(ms_played) FROM core.fact_podcasts_history) / 3600000.0"
    ).fetchone()
    reading = report.section("minutes_by_month").reading
    assert f"{float(music_hours):,.1f} hours of music" in reading
    assert f"{float(podcast_hours):,.1f} hours of podcasts" in reading

    top_artist, minutes = conn.execute(
        "SELECT a.artist_name, sum(f.ms_played) / 60000.0 FROM core.fact_tracks_history f"
        " JOIN core.dim_artist a USING (artist_id) GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
    ).fetchone()
    assert report.section("top_artists").reading == f"Number one: {top_artist} ({float(minutes):,.0f} minutes)."

    skips, plays = conn.execute(
        "SELECT count(*) FILTER (WHERE is_skip), count(*) FROM core.fact_tracks_history"
    ).fetchone()
    assert report.section("skips").reading == f"{100 * skips / plays:.1f}% of {plays:,} music plays were skips."
    sessions = conn.execute("SELECT count(*) FROM core.fact_listening_sessions").fetchone()[0]
    assert report.section("sessions").reading.startswith(f"{sessions:,} listening sessions")
    staged = conn.execute("SELECT count(*) FROM staging.streaming_history").fetchone()[0]
    assert ("plays stored", str(staged)) in report.section("coverage").table[1]
    years = [row[0] for row in report.section("year_in_review").table[1]]
    assert years == [
        y
        for (y,) in conn.execute(
            "SELECT DISTINCT extract(year FROM ts_local)::int FROM core.fact_tracks_history ORDER BY 1"
        )
    ]


def test_report_for_one_year(conn, warehouse) -> None:
    materialize_all(warehouse, sample_dir(), selection=None)
    report = build_report(conn, year=2024)
    hours = conn.execute(
        "SELECT sum(ms_played) / 3600000.0 FROM core.fact_tracks_history WHERE extract(year FROM ts_local) = 2024"
    ).fetchone()[0]
    assert f"{float(hours):,.1f} hours of music" in report.section("minutes_by_month").reading
    assert report.title == "Listening report, 2024"


def test_empty_warehouse_gives_a_sensible_report(conn, warehouse) -> None:
    report = build_report(conn)
    html = render_html(report)
    assert report.section("minutes_by_month").reading == "No plays yet."
    assert ("plays stored", "0") in report.section("coverage").table[1]
    assert all(section.chart is None for section in report.sections)
    assert "<section" in html


def test_cli_report_prints_the_path(database_url, tmp_path) -> None:
    env = cli_environment(SPOTIFY_ETL_DATABASE_URL=database_url, SPOTIFY_ETL_HOME=str(tmp_path / "home"))
    result = subprocess.run([CLI, "report", "--year", "2025"], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    path = Path(result.stdout.strip().splitlines()[-1])
    assert path.name == "listening_report_2025.html" and path.is_file()


NAMES = ["방탄소년단", "米津玄師", "周杰倫", "Кино", "فيروز", "🎵 Lo-fi Beats 🌙", 'AC/DC & "Friends" <live>']


def test_every_name_is_text_the_browser_draws_in_any_script(conn, warehouse, raw_dir) -> None:
    """Charts keep names as text (in the browser's fonts, with its shaping and emoji), so a
    Korean, Japanese, Chinese, Cyrillic, Arabic or emoji name is never drawn as boxes."""
    plays = [
        play(f"2024-0{1 + i % 9}-1{i % 9}T10:00:00Z", artist=name, track=f"{name} song", ms=(len(NAMES) - i) * 100_000)
        for i, name in enumerate(NAMES)
    ]
    write_json(raw_dir / "Streaming_History_Audio_2024_0.json", plays)
    materialize_all(warehouse, raw_dir)
    report = build_report(conn)
    chart = base64.b64decode(report.section("top_artists").chart).decode()
    assert chart.startswith("<?xml") and "<svg" in chart
    texts = [unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", chart)]
    for name in NAMES:
        assert name in texts, name
    # The family ends in the browser's generic sans-serif, which falls back per glyph.
    families = set(re.findall(r"font-family:\s*([^;\"}]*)", chart))
    assert families and all(family.rstrip().endswith("sans-serif") for family in families)
    html = render_html(report)
    assert "data:image/svg+xml;base64," in html and '<meta charset="utf-8">' in html.lower()


WIDE_NAMES = ["방탄소년단" * 8, "🎵" * 30]
LONG_NAMES = [WIDE_NAMES[0], "The Extraordinarily Long-Named Orchestra of Everything " * 3, WIDE_NAMES[1]]


def _load_long_names(warehouse, raw_dir) -> None:
    """Plays of LONG_NAMES, played most (so that they head the rankings), and of others."""
    plays = [
        play(f"2024-0{1 + i}-{1 + day:02d}T10:00:00Z", artist=name, track=f"{name} — live", ms=600_000)
        for i, name in enumerate(LONG_NAMES)
        for day in range(28)
    ]
    write_json(raw_dir / "Streaming_History_Audio_2024_0.json", plays)
    others = generate_plays(400, start=datetime(2023, 1, 1, tzinfo=UTC), end=datetime(2024, 1, 1, tzinfo=UTC))
    write_json(raw_dir / "Streaming_History_Audio_2023_1.json", list(others))
    materialize_all(warehouse, raw_dir)


def test_a_long_name_is_cut_and_the_axis_leaves_room_for_it(conn, warehouse, raw_dir) -> None:
    """A long name is cut (with "…") to the room beside the bars, and the bars start right of
    the widest label as drawn at most (CJK and emoji one em a character, where pygal would
    reckon 0.6 em and let them run off the picture)."""
    _load_long_names(warehouse, raw_dir)
    report = build_report(conn)
    chart = base64.b64decode(report.section("top_artists").chart).decode()
    labels = [unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", chart)]
    for name in LONG_NAMES:
        assert any(label[:-1] and name.startswith(label[:-1]) and label.endswith("…") for label in labels), name
    cut = [label for label in labels if label.endswith("…")]
    assert max(map(charts.text_px, cut)) <= charts.LABEL_ROOM_PX
    # And wide names alone: beside a long Latin name, which pygal reckons about as wide as it
    # is drawn, they would find room anyway.
    wide = [charts.label(name) for name in WIDE_NAMES]
    for svg, names in ((chart, cut), (base64.b64decode(_wide_names_chart()).decode(), wide)):
        plot_left = float(re.search(r'transform="translate\(([\d.]+), [\d.]+\)" class="plot"', svg)[1])
        assert plot_left >= max(map(charts.text_px, names))


def _wide_names_chart() -> str:
    return charts.bars("wide_names", [charts.label(name) for name in WIDE_NAMES], [2, 1], "minutes")


@pytest.mark.browser
def test_every_chart_keeps_its_text_inside_the_picture_as_a_browser_draws_it(conn, warehouse, raw_dir) -> None:
    """In a real browser, with its fonts: no text of any chart lies outside the picture, and
    no label of an axis lies over the plot."""
    from playwright.sync_api import sync_playwright

    _load_long_names(warehouse, raw_dir)
    report = build_report(conn)
    drawn = {section.key: base64.b64decode(section.chart).decode() for section in report.sections if section.chart}
    drawn["wide_names"] = base64.b64decode(_wide_names_chart()).decode()
    assert {"top_artists", "top_tracks", "listening_clock", "skips", "minutes_by_month"} <= set(drawn)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        # Drawn with a font that has the glyphs (.ci/run installs them), not as narrower boxes.
        page.set_content('<span style="font: 12px sans-serif">방탄소년단</span>')
        assert page.evaluate("document.querySelector('span').getBoundingClientRect().width") >= 5 * 11
        for key, svg in drawn.items():
            page.set_content(f'<div style="width: 1000px">{svg}</div>')
            boxes = page.evaluate(_TEXT_BOXES)
            picture, plot = boxes["picture"], boxes["plot"]
            assert boxes["texts"], key
            for text, left, right, top, bottom, axis in boxes["texts"]:
                where = (key, text, (left, right, top, bottom), picture)
                assert picture["left"] <= left and right <= picture["right"], where
                assert picture["top"] <= top and bottom <= picture["bottom"], where
                if axis == "labels beside":
                    assert right <= plot["left"], (where, plot)
        browser.close()


# Each text's box as drawn, the picture's and the plot's; a text of pygal's y axis (left of the
# plot: numbers, or the names of a horizontal chart's bars, or the clock's weekdays) is
# "labels beside".
_TEXT_BOXES = """() => {
  const box = (node) => { const r = node.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; };
  const svg = document.querySelector("svg");
  return {
    picture: box(svg),
    plot: box(svg.querySelector("g.plot > rect.background")),
    texts: [...svg.querySelectorAll("text")].filter((t) => t.textContent.trim()).map((t) => {
      const b = box(t);
      return [t.textContent, b.left, b.right, b.top, b.bottom, t.closest("g.axis.y") ? "labels beside" : ""];
    }),
  };
}"""
