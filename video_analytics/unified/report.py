"""Pure: the daily cross-platform report as one self-contained HTML page (inline SVG, no script, no CDN).

Charts are drawn as SVG here rather than with a JavaScript library so the file opens offline, in
mail clients and in locked-down browsers alike, and stays a few tens of kilobytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from html import escape

import polars as pl

from video_analytics.unified.conform import PLATFORMS

COLOURS = {"brightcove": "#1f77b4", "dailymotion": "#ff7f0e", "wistia": "#2ca02c", "agora": "#9467bd"}
WIDTH, HEIGHT, PAD = 640, 240, 44


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    points: list[tuple[date, float | None]]


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}"


def _scale(values: list[float]) -> tuple[float, float]:
    low, high = min([0.0, *values]), max([1.0, *values])
    return low, high if high > low else low + 1.0


def line_chart(chart_id: str, title: str, series: list[Series], unit: str = "") -> str:
    """A multi-series line chart over days, with axes, gridlines, a legend and one <title> per point."""
    days = sorted({d for s in series for d, v in s.points if v is not None})
    values = [v for s in series for _, v in s.points if v is not None]
    if not days:
        return _figure(chart_id, title, _empty_svg("no data for this period"))
    low, high = _scale(values)
    span = max(len(days) - 1, 1)

    def x(day: date) -> float:
        return PAD + (WIDTH - 2 * PAD) * (days.index(day) / span if len(days) > 1 else 0.5)

    def y(value: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * (value - low) / (high - low)

    parts = _axes(low, high, y, [(x(days[0]), days[0]), (x(days[-1]), days[-1])], unit)
    for s in series:
        points = [(x(d), y(v), d, v) for d, v in s.points if v is not None]
        if not points:
            continue
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _, _ in points)
        parts.append(
            f'<polyline class="series" data-series="{escape(s.name)}" fill="none" stroke="{s.colour}" '
            f'stroke-width="2" points="{path}"/>'
        )
        parts += [
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{s.colour}">'
            f"<title>{escape(s.name)} {d}: {_fmt(v, 2 if abs(v) < 100 else 0)}{escape(unit)}</title></circle>"
            for px, py, d, v in points
        ]
    parts.append(_legend([(s.name, s.colour) for s in series]))
    return _figure(chart_id, title, _svg(parts))


def bar_chart(chart_id: str, title: str, bars: list[tuple[str, list[tuple[str, float]]]]) -> str:
    """Horizontal stacked bars: one bar per label, one segment per platform."""
    if not bars:
        return _figure(chart_id, title, _empty_svg("no data for this day"))
    height = PAD + 26 * len(bars)
    left, right = 220, WIDTH - 70
    top = max(sum(v for _, v in segments) for _, segments in bars) or 1.0
    parts = []
    for row, (label, segments) in enumerate(bars):
        y, x = 10 + 26 * row, float(left)
        short = label if len(label) <= 34 else label[:33] + "…"
        parts.append(
            f'<text x="{left - 6}" y="{y + 14}" text-anchor="end" font-size="12">{escape(short)}</text>'
        )
        for platform, value in segments:
            width = (right - left) * value / top
            parts.append(
                f'<rect class="bar" data-platform="{platform}" x="{x:.1f}" y="{y}" width="{width:.1f}" '
                f'height="18" fill="{COLOURS.get(platform, "#777")}"><title>{escape(label)} on {platform}: '
                f"{_fmt(value)} views</title></rect>"
            )
            x += width
        total = sum(v for _, v in segments)
        parts.append(f'<text x="{x + 4:.1f}" y="{y + 14}" font-size="11">{_fmt(total)}</text>')
    parts.append(_legend([(p, COLOURS[p]) for p in PLATFORMS], y=height - 12))
    return _figure(chart_id, title, _svg(parts, height))


def _axes(low: float, high: float, y, x_labels: list[tuple[float, date]], unit: str) -> list[str]:
    parts = [
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#999"/>',
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="#999"/>',
    ]
    for step in range(5):
        value = low + (high - low) * step / 4
        parts.append(
            f'<line x1="{PAD}" y1="{y(value):.1f}" x2="{WIDTH - PAD}" y2="{y(value):.1f}" stroke="#eee"/>'
            f'<text x="{PAD - 4}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="10">'
            f"{_fmt(value, 1 if high - low < 10 else 0)}{escape(unit)}</text>"
        )
    parts += [
        f'<text x="{px:.1f}" y="{HEIGHT - PAD + 16}" text-anchor="middle" font-size="10">{d}</text>'
        for px, d in x_labels
    ]
    return parts


def _legend(entries: list[tuple[str, str]], y: int = HEIGHT - 10) -> str:
    items = [
        f'<rect x="{PAD + 120 * i}" y="{y - 9}" width="10" height="10" fill="{colour}"/>'
        f'<text x="{PAD + 120 * i + 14}" y="{y}" font-size="11">{escape(name)}</text>'
        for i, (name, colour) in enumerate(entries)
    ]
    return f'<g class="legend">{"".join(items)}</g>'


def _svg(parts: list[str], height: int = HEIGHT) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
        f'height="{height}" role="img">{"".join(parts)}</svg>'
    )


def _empty_svg(message: str) -> str:
    return _svg([f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">{escape(message)}</text>'])


def _figure(chart_id: str, title: str, svg: str) -> str:
    return f'<figure class="chart" id="{chart_id}"><figcaption>{escape(title)}</figcaption>{svg}</figure>'


# -- the data behind each chart ----------------------------------------------------------------------


def views_by_platform(history: pl.DataFrame) -> list[Series]:
    daily = history.group_by("date", "platform").agg(views=pl.col("views").sum())
    return [
        Series(
            p,
            COLOURS[p],
            [
                (r["date"], float(r["views"]))
                for r in daily.filter(platform=p).sort("date").iter_rows(named=True)
            ],
        )
        for p in PLATFORMS
    ]


def top_content(day_rows: pl.DataFrame, limit: int = 10) -> list[tuple[str, list[tuple[str, float]]]]:
    """The day's most viewed content across platforms, each bar split by platform."""
    per_platform = day_rows.group_by("content_id", "platform").agg(
        views=pl.col("views").sum(), title=pl.col("title").drop_nulls().first()
    )
    totals = (
        per_platform.group_by("content_id")
        .agg(total=pl.col("views").sum(), title=pl.col("title").drop_nulls().first())
        .sort(["total", "content_id"], descending=[True, False])
        .head(limit)
    )
    bars = []
    for row in totals.iter_rows(named=True):
        parts = per_platform.filter(content_id=row["content_id"])
        segments = [(p, float(parts.filter(platform=p)["views"].sum())) for p in PLATFORMS]
        label = row["title"] or row["content_id"] or "(untitled)"
        bars.append((label, [(p, v) for p, v in segments if v > 0]))
    return bars


def qoe_trend(history: pl.DataFrame, column: str, name: str) -> Series:
    """A QoE measure per day over the Agora programmes, weighted by their views."""
    agora = history.filter(pl.col("platform") == "agora", pl.col(column).is_not_null())
    daily = (
        agora.group_by("date")
        .agg(value=(pl.col(column) * pl.col("views")).sum() / pl.col("views").sum())
        .sort("date")
    )
    return Series(name, "#d62728", [(r["date"], r["value"]) for r in daily.iter_rows(named=True)])


def _kpi_table(day_rows: pl.DataFrame) -> str:
    stats = (
        day_rows.group_by("platform")
        .agg(
            videos=pl.len(),
            views=pl.col("views").sum(),
            watch_hours=pl.col("watch_time_seconds").sum() / 3600.0,
            completion_weight=pl.col("views").filter(pl.col("completion_rate").is_not_null()).sum(),
            completion_sum=(pl.col("completion_rate") * pl.col("views")).sum(),
        )
        .with_columns(
            completion=pl.when(pl.col("completion_weight") > 0).then(
                pl.col("completion_sum") / pl.col("completion_weight")
            )
        )
    )
    total = max(int(stats["views"].sum()), 1)
    rows = []
    for platform in PLATFORMS:
        found = stats.filter(platform=platform)
        if not found.height:
            rows.append(f"<tr><td>{platform}</td><td colspan='5'>no data this day</td></tr>")
            continue
        r = found.row(0, named=True)
        completion = None if r["completion"] is None else 100 * r["completion"]
        rows.append(
            f"<tr><td>{platform}</td><td>{r['videos']:,}</td><td>{r['views']:,}</td>"
            f"<td>{100 * r['views'] / total:.1f}%</td><td>{_fmt(r['watch_hours'], 1)}</td>"
            f"<td>{_fmt(completion, 1)}{'%' if completion is not None else ''}</td></tr>"
        )
    names = ("platform", "videos", "views", "share", "watch hours", "completion")
    head = "<tr>" + "".join(f"<th>{name}</th>" for name in names) + "</tr>"
    return f'<table id="platforms">{head}{"".join(rows)}</table>'


STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:760px}
h1{font-size:22px} figure{margin:18px 0} figcaption{font-weight:600;margin-bottom:6px}
table{border-collapse:collapse} td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:right}
td:first-child,th:first-child{text-align:left} .note{color:#666;font-size:12px}
"""


def render_report(history: pl.DataFrame, day: date) -> str:
    """The report for `day`: that day's platform table and top content, and trends over `history`
    (rows of `video_daily_performance` up to and including `day`)."""
    history = history.filter(pl.col("date") <= day)
    day_rows = history.filter(pl.col("date") == day)
    first = history["date"].min() if history.height else day
    charts = [
        line_chart("views-by-platform", "Views by platform per day", views_by_platform(history)),
        bar_chart("top-content", f"Top content across platforms on {day}", top_content(day_rows)),
        line_chart(
            "qoe-startup",
            "Agora startup time (median, ms, view-weighted)",
            [qoe_trend(history, "qoe_startup_time_median_ms", "startup ms")],
        ),
        line_chart(
            "qoe-rebuffering",
            "Agora rebuffering (% of watch time, view-weighted)",
            [qoe_trend(history, "qoe_rebuffer_percentage", "rebuffer %")],
            unit="%",
        ),
    ]
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Video performance {day}</title><style>{STYLE}</style></head><body>"
        f"<h1>Video performance across platforms, {day}</h1>"
        f"<p class='note'>From video_daily_performance, {first} to {day}. Content ids join videos across "
        "platforms; see video_identity for how each was matched.</p>"
        f"{_kpi_table(day_rows)}{''.join(charts)}</body></html>"
    )
