"""Multi-year export of a lake table: what the original's yearly concatenation script produced."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Sequence
from datetime import date, timedelta

import polars as pl

from video_analytics.settings import Settings
from video_analytics.storage.parquet import list_partitions, read_table


def export_table(
    table: str,
    out: str,
    *,
    start: str,
    end: str,
    channels: Sequence[str] = (),
    settings: Settings | None = None,
    warn=lambda message: print(message, file=sys.stderr),
) -> int:
    """Write rows of `table` dated start..end (inclusive) to OUT.csv or OUT.parquet; returns the row count.

    Unlike the original concatenation, rows come from one partitioned table, so years never overlap
    and a re-exported range never holds a row twice. Days of the range that were never materialized
    are named in a warning rather than silently missing; an unknown channel is an error.
    """
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    if first > last:
        raise ValueError(f"--start {start} is after --end {end}")
    if not out.endswith((".csv", ".parquet")):
        raise ValueError(f"{out}: the output must end in .csv or .parquet")
    settings = settings or Settings.from_env()
    check_table_name(table)
    _check_outside_lake(out, settings.lake_root)
    frame = read_table(settings.lake_root, table, start=start, end=end)
    if channels:
        frame = _only_channels(frame, table, channels)
    _warn_missing_days(settings.lake_root, table, first, last, warn)
    frame = frame.sort([c for c in ("date", "channel", "account_id", "video_id") if c in frame.columns])
    _write_atomic(frame, out)
    return frame.height


def check_table_name(table: str) -> None:
    """A lake table is a folder path under the root (``a`` or ``a/b``): no ``..``, no absolute or
    hidden parts, so an export can only ever read the lake's own tables."""
    parts = table.split("/")
    if not table or table.startswith("/") or "\\" in table or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"table {table!r} is not a lake table name (e.g. daily_video_metrics or a/b)")
    if any(p.startswith((".", "_")) for p in parts):
        raise ValueError(f"table {table!r}: names starting with '.' or '_' are the lake's own folders")


def _check_outside_lake(out: str, lake_root: str) -> None:
    """An export written into the lake would be read back as data (or replace a partition)."""
    if "://" in lake_root:
        inside = out.rstrip("/").startswith(lake_root.rstrip("/") + "/")
    else:
        root = os.path.realpath(lake_root)
        inside = os.path.commonpath([root, os.path.realpath(out)]) == root
    if inside:
        raise ValueError(f"{out} is inside the lake ({lake_root}); write the export somewhere else")


def _write_atomic(frame: pl.DataFrame, out: str) -> None:
    """Write beside OUT then rename: a failed export never leaves a half file under OUT's name."""
    folder, name = os.path.split(os.path.abspath(out))
    tmp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp")
    try:
        if out.endswith(".csv"):
            frame.write_csv(tmp)
        else:
            frame.write_parquet(tmp)
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _only_channels(frame: pl.DataFrame, table: str, channels: Sequence[str]) -> pl.DataFrame:
    if "channel" not in frame.columns:
        raise ValueError(f"{table} has no channel column")
    known = set(frame["channel"].unique().to_list())
    unknown = sorted(set(channels) - known)
    if unknown and frame.height:
        raise ValueError(
            f"no channel {', '.join(unknown)} in {table}; its channels: {', '.join(sorted(known))}"
        )
    return frame.filter(pl.col("channel").is_in(list(channels)))


def _warn_missing_days(root: str, table: str, first: date, last: date, warn) -> None:
    present = set(list_partitions(root, table))
    if not present:
        return  # an unpartitioned table
    days = ((first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1))
    missing = [day for day in days if day not in present]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        warn(f"warning: {len(missing)} day(s) of {table} were never materialized: {shown}")
