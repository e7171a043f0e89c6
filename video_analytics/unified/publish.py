"""Write the HTML report for a day next to the lake (local or ``s3://``), atomically."""

from __future__ import annotations

import os
from datetime import date

import polars as pl

from video_analytics.storage.parquet import write_bytes_atomic
from video_analytics.unified.report import render_report

HISTORY_DAYS = 28  # days of trend the report draws, ending on its day


def report_path(report_dir: str, day: date) -> str:
    base = report_dir if "://" in report_dir else os.path.abspath(report_dir)
    return f"{base.rstrip('/')}/video_performance_{day.isoformat()}.html"


def write_report(history: pl.DataFrame, day: date, report_dir: str) -> str:
    """Render the report of `day` from `history` (conformed rows up to that day); returns its path."""
    path = report_path(report_dir, day)
    write_bytes_atomic(path, render_report(history, day).encode("utf-8"))
    return path
