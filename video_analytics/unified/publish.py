"""Write the HTML report for a day next to the lake (local or ``s3://``), atomically."""

from __future__ import annotations

import os
from datetime import date, timedelta
from typing import TYPE_CHECKING

from video_analytics.storage.parquet import list_partitions, read_table, write_bytes_atomic

if TYPE_CHECKING:  # the report asset imports this module with the definitions; its step renders
    import polars as pl

HISTORY_DAYS = 28  # days of trend the report draws, ending on its day
TABLE = "video_daily_performance"


def report_path(report_dir: str, day: date) -> str:
    base = report_dir if "://" in report_dir else os.path.abspath(report_dir)
    return f"{base.rstrip('/')}/video_performance_{day.isoformat()}.html"


def write_report(history: pl.DataFrame, day: date, report_dir: str) -> str:
    """Render the report of `day` from `history` (conformed rows up to that day); returns its path."""
    from video_analytics.unified.report import render_report

    path = report_path(report_dir, day)
    write_bytes_atomic(path, render_report(history, day).encode("utf-8"))
    return path


def report_from_lake(lake_root: str, day: str | None, report_dir: str | None = None) -> str:
    """`video-analytics report`: the report of `day` (default: the latest day in the lake) from the
    lake's `video_daily_performance`; returns the path written. Errors say what to run or change."""
    days = list_partitions(lake_root, TABLE)
    if not days:
        raise FileNotFoundError(
            f"no {TABLE} in the lake at {lake_root}: run `video-analytics demo` (or materialize "
            f"{TABLE} in the UI) first"
        )
    chosen = day or days[-1]
    try:
        wanted = date.fromisoformat(chosen)
    except ValueError as exc:
        raise ValueError(f"--day {chosen!r} is not a date in YYYY-MM-DD form") from exc
    if chosen not in days:
        raise ValueError(
            f"--day {chosen}: {TABLE} has no partition for that day (the lake holds {days[0]}..{days[-1]}); "
            "materialize it or pick a day in that range"
        )
    start = (wanted - timedelta(days=HISTORY_DAYS - 1)).isoformat()
    history = read_table(lake_root, TABLE, start=start, end=chosen)
    return write_report(history, wanted, report_dir or f"{lake_root.rstrip('/')}/reports")
