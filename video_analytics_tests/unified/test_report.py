"""The report page, rendered from frames: self-contained, charts present, titles escaped."""

from __future__ import annotations

import re
from datetime import date, timedelta

import polars as pl

from video_analytics.storage.preview import markdown_preview
from video_analytics.unified.conform import CONFORMED_SCHEMA
from video_analytics.unified.report import render_report

DAY = date(2026, 3, 7)


def history() -> pl.DataFrame:
    rows = []
    for offset in range(7):
        day = DAY - timedelta(days=offset)
        for platform, views in (("brightcove", 10), ("dailymotion", 5), ("wistia", 3), ("agora", 20)):
            rows.append(
                {
                    "date": day,
                    "platform": platform,
                    "video_id": f"{platform}-1",
                    "content_id": "nova-1" if platform != "wistia" else "<script>alert(1)</script>",
                    "title": "Nova <Episode> 1",
                    "views": views + offset,
                    "watch_time_seconds": 60.0 * views,
                    "completion_rate": None if platform == "wistia" else 0.5,
                    "qoe_startup_time_median_ms": 900.0 + offset,
                    "qoe_rebuffer_percentage": 0.5,
                }
            )
    return pl.DataFrame(rows).select(
        pl.col(n).cast(t) if n in rows[0] else pl.lit(None, t).alias(n) for n, t in CONFORMED_SCHEMA.items()
    )


def test_report_is_self_contained_with_four_charts():
    page = render_report(history(), DAY)
    assert page.count('<figure class="chart"') == 4 and page.count("<svg") == 4
    assert "<script" not in page  # nothing to run, nothing to fetch
    assert not re.search(r"""(src|href)=["']?https?:""", page)
    assert page.count('<polyline class="series"') == 4 + 2  # one per platform, two QoE trends
    assert 'data-platform="agora"' in page


def test_report_tables_views_share_and_escapes_titles():
    page = render_report(history(), DAY)
    assert "<td>brightcove</td><td>1</td><td>10</td><td>26.3%</td>" in page  # 10 of 38 views that day
    assert "Nova &lt;Episode&gt; 1" in page and "<Episode>" not in page
    assert "n/a" in page  # Wistia: no completion measured


def test_report_of_a_day_without_rows_still_renders():
    page = render_report(history(), DAY + timedelta(days=1))
    assert "no data this day" in page and page.count("<svg") == 4


def test_markdown_preview_shows_rows_and_says_how_many():
    frame = pl.DataFrame({"a": [1, 2, 3], "b": ["x|y", None, "z"]})
    text = markdown_preview(frame, rows=2)
    assert text.splitlines()[:4] == ["| a | b |", "|---|---|", "| 1 | x\\|y |", "| 2 |  |"]
    assert "2 of 3 rows." in text
    assert markdown_preview(frame.clear()) == "(no rows)"
