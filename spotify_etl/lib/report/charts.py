"""The report's charts, drawn by pygal as SVG and returned base64-encoded (for a `data:` URI).

Invariants:
- Every name is text in the SVG, in the browser's sans-serif with its fallback fonts, so a
  Korean, Japanese, Chinese, Cyrillic, Arabic (shaped, right to left) or emoji name reads as it
  should, where a picture drawn with one font showed boxes.
- A label fits the room left for it: names are cut to `LABEL_ROOM_PX` (with "…"), and the
  axis leaves room for the widest label as `text_px` reckons it, which errs wide (pygal's own
  reckoning, 0.6 em a character, is too narrow for CJK and emoji, drawn an em wide or more).
- The same rows give the same bytes: a chart's id is its name, not pygal's random one.
- No script: the SVG shows as an image (in the HTML report and in the UI), where none runs, and
  the report works offline.

pygal rather than matplotlib: importing matplotlib and drawing nine charts took 1.4–2 s of
every run that builds the report, this 0.1 s and 0.2 s (docs/benchmarks.md)."""

from __future__ import annotations

import base64
import re
import unicodedata
from collections.abc import Sequence
from datetime import date

import pygal
from pygal.style import Style

GREEN, BLUE = "#1db954", "#3d5a80"
LABEL_PX = 12  # the font size of labels and axis titles
LABEL_ROOM_PX = 300  # the widest a name may be drawn beside a bar
_WIDTH = 1000  # every chart's width; the page scales it to fit
_MARGIN = 20  # pygal's margin around the plot, to which label room is added
_MONTH_LABELS_AT_MOST = 24  # longer stretches of months are labelled by their Januaries


def text_px(text: str, font_px: float = LABEL_PX) -> float:
    """How wide `text` is drawn, at most: 0.65 em a character, as wide as the letters of
    browsers' sans-serif fonts are on average, and 1.3 em a wide one (CJK, drawn one em wide;
    colour emoji, 1.25 em in Noto Color Emoji)."""
    return font_px * sum(1.3 if unicodedata.east_asian_width(char) in "WF" else 0.65 for char in text)


def label(text: str, room_px: float = LABEL_ROOM_PX) -> str:
    """A name fit for an axis: control characters as spaces, cut to `room_px` (with "…")."""
    text = re.sub(r"[\x00-\x1f]", " ", text)
    if text_px(text) <= room_px:
        return text
    while text_px(text + "…") > room_px:
        text = text[:-1]
    return text + "…"


def _style(*colors: str) -> Style:
    return Style(
        font_family="sans-serif",
        background="white",
        plot_background="white",
        foreground="#333",
        foreground_strong="#333",
        foreground_subtle="#ddd",
        guide_stroke_color="#e3e3e3",
        major_guide_stroke_color="#e3e3e3",
        guide_stroke_dasharray="none",
        major_guide_stroke_dasharray="none",
        opacity="1",
        opacity_hover="1",
        label_font_size=LABEL_PX,
        major_label_font_size=LABEL_PX,
        legend_font_size=LABEL_PX,
        title_font_size=LABEL_PX + 1,
        colors=colors,
    )


def _config(height: int, *colors: str, **settings: object) -> dict:
    return {
        "style": _style(*colors),
        "width": _WIDTH,
        "height": height,
        "js": [],
        "show_legend": False,
        "truncate_label": -1,  # names are cut by `label`, to their drawn width
        "margin": _MARGIN,
        **settings,
    }


def _svg(chart: pygal.graph.graph.Graph, name: str) -> str:
    chart.uuid = name  # pygal draws a random id (uuid4) into every chart otherwise
    # Its comments carry the day the chart was drawn.
    return base64.b64encode(re.sub(rb"<!--.*?-->", b"", chart.render())).decode()


def bars(name: str, labels: Sequence[str], values: Sequence[float], unit: str, color: str = GREEN) -> str:
    """Horizontal bars, the first at the top, each labelled with its name."""
    # pygal reckons a label 0.6 em a character; the rest of its drawn width is added here.
    widest = max((text_px(text) - 0.6 * LABEL_PX * len(text) for text in labels), default=0)
    chart = pygal.HorizontalBar(
        **_config(max(160, 28 * len(labels) + 70), color, x_title=unit, margin_left=_MARGIN + max(0, widest))
    )
    chart.x_labels = list(labels)[::-1]  # pygal draws the first at the bottom
    chart.add(unit, list(values)[::-1])
    return _svg(chart, name)


def monthly(name: str, months: Sequence[date], series: dict[str, Sequence[float]], unit: str) -> str:
    """One bar a month, the series stacked (green, then blue); a long stretch of months is
    labelled by year."""
    chart = pygal.StackedBar(
        **_config(
            340,
            GREEN,
            BLUE,
            y_title=unit,
            show_legend=len(series) > 1,
            legend_at_bottom=True,
            spacing=2,
            **_month_axis(months),
        )
    )
    for title, values in series.items():
        chart.add(title, list(values))
    return _svg(chart, name)


def line_by_month(name: str, months: Sequence[date], values: Sequence[float], unit: str) -> str:
    chart = pygal.Line(
        **_config(
            320, GREEN, y_title=unit, show_dots=len(months) <= 36, stroke_style={"width": 2}, **_month_axis(months)
        )
    )
    chart.add(unit, list(values))
    return _svg(chart, name)


def _month_axis(months: Sequence[date]) -> dict:
    """Each month labelled, or only each January's (as its year) when there are many."""
    if len(months) <= _MONTH_LABELS_AT_MOST:
        return {"x_labels": [f"{month:%b %Y}" for month in months], "x_label_rotation": 30 if len(months) > 8 else 0}
    labels = [f"{month:%Y}" if month.month == 1 else f"{month:%b %Y}" for month in months]
    return {
        "x_labels": labels,
        "x_labels_major": [text for text, month in zip(labels, months, strict=True) if month.month == 1],
        "show_minor_x_labels": False,
    }


def columns(name: str, labels: Sequence[str], values: Sequence[float], unit: str, x_title: str) -> str:
    """Vertical bars, labelled below."""
    chart = pygal.Bar(**_config(300, BLUE, y_title=unit, x_title=x_title, spacing=4))
    chart.x_labels = list(labels)
    chart.add(unit, list(values))
    return _svg(chart, name)


def dots(
    name: str, rows: Sequence[str], column_labels: Sequence[str], grid: Sequence[Sequence[float]], x_title: str
) -> str:
    """A dot a cell, its size the cell's value: rows top to bottom, columns left to right."""
    chart = pygal.Dot(**_config(320, *[GREEN] * len(rows), x_title=x_title))
    chart.x_labels = list(column_labels)
    for title, values in zip(rows, grid, strict=True):
        chart.add(title, list(values))
    return _svg(chart, name)
