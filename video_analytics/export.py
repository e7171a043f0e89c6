"""Multi-year export of a lake table: what the original's yearly concatenation script produced."""

from __future__ import annotations

from datetime import date

import polars as pl

from video_analytics.settings import Settings
from video_analytics.storage.parquet import read_table


def export_table(
    table: str,
    out: str,
    *,
    start: str,
    end: str,
    channel: str | None = None,
    settings: Settings | None = None,
) -> int:
    """Write rows of `table` dated start..end (inclusive) to OUT.csv or OUT.parquet; returns the row count.

    Unlike the original concatenation, rows come from one partitioned table, so years never overlap
    and a re-exported range never holds a row twice.
    """
    if date.fromisoformat(start) > date.fromisoformat(end):
        raise ValueError(f"--start {start} is after --end {end}")
    if not out.endswith((".csv", ".parquet")):
        raise ValueError(f"{out}: the output must end in .csv or .parquet")
    settings = settings or Settings.from_env()
    frame = read_table(settings.lake_root, table, start=start, end=end)
    if channel:
        if "channel" not in frame.columns:
            raise ValueError(f"{table} has no channel column")
        frame = frame.filter(pl.col("channel") == channel)
    frame = frame.sort([c for c in ("date", "channel", "account_id", "video_id") if c in frame.columns])
    if out.endswith(".csv"):
        frame.write_csv(out)
    else:
        frame.write_parquet(out)
    return frame.height
