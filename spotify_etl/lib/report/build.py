"""The listening report: charts (spotify_etl.lib.report.charts) and one-line readings from the
`mart` views (queries in sql/report/), rendered into one self-contained HTML file."""

from __future__ import annotations

import html
import re
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from string import Template

import psycopg

from spotify_etl.lib.report import charts
from spotify_etl.lib.warehouse.sql_files import load_sql

TEMPLATE = Path(__file__).with_name("template.html")
_WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


@dataclass
class Section:
    key: str
    title: str
    reading: str
    chart: str | None = None  # base64 SVG
    table: tuple[list[str], list[tuple]] | None = None


@dataclass
class Report:
    title: str
    sections: list[Section] = field(default_factory=list)

    def section(self, key: str) -> Section:
        return next(s for s in self.sections if s.key == key)


def _rows(conn: psycopg.Connection, name: str, params: dict) -> list[tuple]:
    return conn.execute(load_sql(f"report/{name}.sql"), params).fetchall()


class _Queries:
    """The report's queries, answered one after another on the connection by a thread of
    their own, in the order asked, while the caller draws the charts of those answered:
    psycopg waits for the server without holding the GIL, so the server's work and
    the drawing overlap. (A second connection answering at the same time gained nothing
    measurable on 2 cores: the queries are bound by the server's CPU.)"""

    def __init__(self, conn: psycopg.Connection, params: dict) -> None:
        self._conn, self._params = conn, params
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-queries")

    def prepare(self) -> Future:
        def run() -> None:
            with psycopg.ClientCursor(self._conn) as cursor:  # several statements, parameters bound client-side
                cursor.execute(load_sql("report/prepare.sql"), self._params)

        return self._worker.submit(run)

    def ask(self, name: str, **params: object) -> Future:
        return self._worker.submit(_rows, self._conn, name, {**self._params, **params})

    def close(self) -> None:
        self._worker.shutdown(wait=True, cancel_futures=True)


CHART_MIME = "image/svg+xml"


def _hours(minutes: float) -> str:
    return f"{float(minutes) / 60:,.1f} hours"


def build_report(conn: psycopg.Connection, *, listener: str | None = None, year: int | None = None) -> Report:
    """The report of `listener` (or everyone) in `year` (or all time)."""
    params = {"listener": listener, "year": year}
    scope = f"{year}" if year else "all time"
    who = f" — {listener}" if listener else ""
    report = Report(f"Listening report, {scope}{who}")
    add = report.sections.append
    queries = _Queries(conn, params)
    try:
        # All asked at once, answered in this order; each section waits for its own answers.
        prepared = queries.prepare()
        years = queries.ask("year_in_review")
        answers = {name: queries.ask(name) for name in _QUERIES}
        prepared.result()  # its error, if any, rather than the next query's
        rankings = {
            year: (queries.ask("top_artists", year=year), queries.ask("top_tracks", year=year))
            for year, *_ in years.result()
        }

        def rows(name: str) -> list[tuple]:
            return answers[name].result()

        add(_minutes_by_month(rows("minutes_by_month")))
        for key, title, name, unit in (
            ("top_artists", "Top artists", "top_artists", "minutes"),
            ("top_tracks", "Top songs (all versions together)", "top_tracks", "plays"),
            ("top_albums", "Top albums", "top_albums", "minutes"),
            ("top_shows", "Top podcasts", "top_shows", "minutes"),
        ):
            add(_top(key, f"{title}, {scope}", rows(name), unit))
        add(_clock(rows("listening_clock")))
        add(_sessions(rows("sessions")))
        add(_skips(rows("skip_rate_by_month"), rows("skip_rate_by_reason")))
        add(_discovery(rows("new_artists")))
        add(_completion(rows("podcast_completion")))
        add(_genres(rows("genres")))
        add(_release_decades(rows("release_decades")))
        add(_year_in_review(years.result(), {year: (a.result(), s.result()) for year, (a, s) in rankings.items()}))
        add(
            Section(
                "coverage",
                "Coverage notes",
                "What the warehouse holds, what is enriched, and what was rejected or failed.",
                table=(["item", "value"], rows("coverage")),
            )
        )
    finally:
        queries.close()
    return report


# The queries of sql/report/ behind the sections, but the year in review's.
_QUERIES = (
    "minutes_by_month",
    "top_artists",
    "top_tracks",
    "top_albums",
    "top_shows",
    "listening_clock",
    "sessions",
    "skip_rate_by_month",
    "skip_rate_by_reason",
    "new_artists",
    "podcast_completion",
    "genres",
    "release_decades",
    "coverage",
)


def _minutes_by_month(rows: list[tuple]) -> Section:
    if not rows:
        return Section("minutes_by_month", "Minutes per month", "No plays yet.")
    by = {(r[0], r[1]): float(r[2]) for r in rows}
    months = _months([r[0] for r in rows])
    music = [by.get((m, "music"), 0) for m in months]
    podcasts = [by.get((m, "podcast"), 0) for m in months]
    chart = charts.monthly("minutes_by_month", months, {"music": music, "podcasts": podcasts}, "minutes")
    reading = (
        f"{_hours(sum(music))} of music and {_hours(sum(podcasts))} of podcasts,"
        f" {months[0]:%B %Y} to {months[-1]:%B %Y}."
    )
    return Section("minutes_by_month", "Minutes per month, music and podcasts", reading, chart)


def _months(months: list[date]) -> list[date]:
    """Every month (its first day) from the first to the last of `months`: a month without
    plays shows as a gap, not as a neighbour of the month after it."""
    first, last = min(months), max(months)
    return [
        date(year, month, 1)
        for year in range(first.year, last.year + 1)
        for month in range(1, 13)
        if first <= date(year, month, 1) <= last
    ]


def _top(key: str, title: str, rows: list[tuple], unit: str) -> Section:
    if not rows:
        return Section(key, title, "Nothing played here yet.")
    # Each query returns the names first, then its measure by which it is ranked, then one more.
    labels = [charts.label(" — ".join(str(v) for v in row[:-2] if v)) for row in rows]
    values = [float(row[-2]) for row in rows]
    reading = f"Number one: {labels[0]} ({values[0]:,.0f} {unit})."
    return Section(key, title, reading, charts.bars(key, labels, values, unit))


def _clock(rows: list[tuple]) -> Section:
    if not rows:
        return Section("listening_clock", "Listening clock", "No plays yet.")
    grid = [[0.0] * 24 for _ in range(7)]
    for day, hour, minutes in rows:
        grid[int(day) - 1][int(hour)] += float(minutes)
    hours = [f"{hour:02d}" for hour in range(24)]
    chart = charts.dots("listening_clock", _WEEKDAYS, hours, grid, "local hour (a dot's size: minutes played)")
    day, hour = max(((d, h) for d in range(7) for h in range(24)), key=lambda dh: grid[dh[0]][dh[1]])
    reading = f"You listen most on {_WEEKDAYS[day]}days around {hour:02d}:00 (local time)."
    return Section("listening_clock", "Listening clock (weekday × local hour)", reading, chart)


def _sessions(rows: list[tuple]) -> Section:
    if not rows:
        return Section("sessions", "Sessions by length", "No sessions yet.")
    labels = [r[0] for r in rows]
    values = [float(r[1]) for r in rows]
    top = labels[values.index(max(values))]
    reading = f"{sum(values):,.0f} listening sessions; most are {top}."
    return Section(
        "sessions",
        "Sessions by length (short < 15 min, medium < 1 h, long < 3 h, marathon)",
        reading,
        charts.bars("sessions", labels, values, "sessions", charts.BLUE),
    )


def _skips(by_month: list[tuple], by_reason: list[tuple]) -> Section:
    if not by_month:
        return Section("skips", "Skip rate", "No music plays yet.")
    plays = sum(int(r[1]) for r in by_month)
    overall = sum(float(r[2]) * int(r[1]) for r in by_month) / plays
    rates = {r[0]: float(r[2]) * 100 for r in by_month}
    months = _months(list(rates))
    chart = charts.line_by_month("skips", months, [rates.get(m) for m in months], "% skipped")
    reasons = (
        ["how the play started", "", "plays", "% skipped"],
        [
            (reason, description or "", f"{count:,}", f"{float(rate) * 100:.1f}")
            for reason, description, count, rate in by_reason
        ],
    )
    reading = f"{overall * 100:.1f}% of {plays:,} music plays were skips."
    return Section("skips", "Skip rate over time and by how the play started", reading, chart, reasons)


def _discovery(rows: list[tuple]) -> Section:
    if not rows:
        return Section("discovery", "Artists discovered", "No artists yet.")
    total = sum(int(r[1]) for r in rows)
    found = {r[0]: int(r[1]) for r in rows}
    months = _months(list(found))
    chart = charts.monthly("discovery", months, {"new artists": [found.get(m, 0) for m in months]}, "new artists")
    best = max(rows, key=lambda r: r[1])
    reading = f"{total:,} artists discovered; the most in {best[0]:%B %Y} ({best[1]})."
    return Section("discovery", "Artists discovered per month", reading, chart)


def _completion(rows: list[tuple]) -> Section:
    if not rows:
        return Section(
            "podcast_completion",
            "Podcast completion",
            "No episode durations known yet: they come with enrichment (Spotify credentials).",
        )
    shares = [float(r[0]) * 100 for r in rows]
    tenths = [0] * 10
    for share in shares:
        tenths[min(int(share // 10), 9)] += 1  # 100 % falls in the last tenth
    labels = [f"{10 * tenth}–{10 * tenth + 10} %" for tenth in range(10)]
    chart = charts.columns("podcast_completion", labels, tenths, "episodes", "share of the episode played")
    finished = sum(1 for s in shares if s >= 90)
    reading = f"{finished} of {len(shares)} episodes played to 90% or more."
    return Section("podcast_completion", "Podcast completion", reading, chart)


def _genres(rows: list[tuple]) -> Section:
    if not rows:
        return Section(
            "genres", "Genres", "No genres known: Spotify has deprecated artist genres, and enrichment found none."
        )
    reading = f"Your top genre: {rows[0][0]}."
    chart = charts.bars("genres", [charts.label(r[0]) for r in rows], [float(r[1]) for r in rows], "minutes")
    return Section("genres", "Genres", reading, chart)


def _release_decades(rows: list[tuple]) -> Section:
    known = [(f"{decade}s", float(minutes)) for decade, minutes, *_ in rows if decade is not None]
    unknown = sum(float(minutes) for decade, minutes, *_ in rows if decade is None)
    title = "When your music was released"
    if not known:
        return Section("release_decades", title, "No release dates known yet: enrichment fills them in.")
    top = max(known, key=lambda row: row[1])
    reading = (
        f"Most of it from the {top[0]} ({100 * top[1] / (sum(m for _, m in known) + unknown):.0f} % of the minutes)"
    )
    plays_with_length = sum(row[3] for row in rows)
    if plays_with_length:
        seconds = sum(row[2] for row in rows) / plays_with_length / 1000
        reading += f"; a track played lasts {int(seconds // 60)}:{int(seconds % 60):02d} on average"
    reading += f"; release date unknown for {unknown:,.0f} minutes." if unknown else "."
    chart = charts.bars("release_decades", [row[0] for row in known], [row[1] for row in known], "minutes")
    return Section("release_decades", title, reading, chart)


def _year_in_review(years: list[tuple], rankings: dict[int, tuple[list[tuple], list[tuple]]]) -> Section:
    """Each year's numbers, with its top artist and song (`rankings`: each year's rows of
    top_artists and top_tracks)."""
    if not years:
        return Section("year_in_review", "Year in review", "No plays yet.")
    rows = []
    for year, music, podcasts, plays, tracks, artists, days in years:
        artist, song = rankings[year]
        rows.append(
            (
                year,
                f"{float(music) / 60:,.0f} h",
                f"{float(podcasts) / 60:,.0f} h",
                plays,
                tracks,
                artists,
                days,
                artist[0][0] if artist else "",
                f"{song[0][0]} — {song[0][1]}" if song else "",
            )
        )
    busiest = max(years, key=lambda y: y[1] + y[2])
    reading = f"Your biggest year: {busiest[0]}, with {float(busiest[1] + busiest[2]) / 60:,.0f} hours."
    headers = ["year", "music", "podcasts", "plays", "tracks", "artists", "days", "top artist", "top song"]
    return Section(
        "year_in_review", "Year in review (every year, with its own numbers)", reading, table=(headers, rows)
    )


def render_html(report: Report) -> str:
    parts = []
    for section in report.sections:
        body = [
            f'<section id="{section.key}"><h2>{html.escape(section.title)}</h2>',
            f'<p class="reading">{html.escape(section.reading)}</p>',
        ]
        if section.chart:
            body.append(f'<img alt="{html.escape(section.title)}" src="data:{CHART_MIME};base64,{section.chart}">')
        if section.table:
            headers, rows = section.table
            body.append("<table><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in headers) + "</tr>")
            body += ["<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows]
            body.append("</table>")
        parts.append("\n".join(body) + "</section>")
    return Template(TEMPLATE.read_text(encoding="utf-8")).substitute(
        title=html.escape(report.title),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        sections="\n".join(parts),
    )


def _file_name_part(value: str) -> str:
    """A user-given value as part of a file name in the reports directory: letters, digits,
    '-' and '_' kept (any script), everything else (separators, dots, control characters)
    one '_'; so it can never name a path outside that directory."""
    part = re.sub(r"[^\w-]+", "_", value).strip("_")[:80]
    return part or "_"


def write_report(
    conn: psycopg.Connection, out_dir: Path, *, listener: str | None = None, year: int | None = None
) -> tuple[Path, Report]:
    report = build_report(conn, listener=listener, year=year)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = "listening_report" + (f"_{_file_name_part(listener)}" if listener else "") + (f"_{year}" if year else "")
    path = out_dir / f"{name}.html"
    path.write_text(render_html(report), encoding="utf-8")
    return path, report
