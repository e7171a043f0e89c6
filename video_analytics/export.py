"""Multi-year export of a lake table: what the original's yearly concatenation script produced."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
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
    fmt: str | None = None,
) -> int:
    """Write rows of `table` dated start..end (inclusive) to OUT.csv or OUT.parquet; returns the row count.

    Unlike the original concatenation, rows come from one partitioned table, so years never overlap
    and a re-exported range never holds a row twice. Days of the range that were never materialized
    are named in a warning rather than silently missing; an unknown channel is an error.
    `fmt` (`FORMATS`) defaults to the output's extension. A table not partitioned by day is filtered by
    its date column (`DATE_COLUMNS`), or refused: the range is never silently ignored.
    """
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    if first > last:
        raise ValueError(f"--start {start} is after --end {end}")
    fmt = output_format(out, fmt, table)
    settings = settings or Settings.from_env()
    frame = read_table(settings.lake_root, table, start=start, end=end)
    if not list_partitions(settings.lake_root, table):
        frame = _within_dates(frame, table, first, last)
    if channels:
        frame = _only_channels(frame, table, channels)
    _warn_missing_days(settings.lake_root, table, first, last, warn)
    frame = frame.sort(
        [c for c in ("date", "channel", "account_id", "video_id", "key") if c in frame.columns]
    )
    WRITERS[fmt](frame, out)
    return frame.height


#: Tables not partitioned by day, and the column `--start/--end` select their rows by.
DATE_COLUMNS = {"cms_videos": "created_at"}


def _within_dates(frame: pl.DataFrame, table: str, first: date, last: date) -> pl.DataFrame:
    column = DATE_COLUMNS.get(table)
    if column is None:
        raise ValueError(
            f"{table} is not partitioned by day and has no date column to select --start/--end by; "
            "export a daily table, or query this one with `video-analytics sql`"
        )
    day = pl.col(column).dt.date() if frame.schema[column] != pl.Date else pl.col(column)
    return frame.filter(day.is_between(first, last))


#: `--format` values; the default follows the output's extension.
FORMATS = ("csv", "parquet", "agora-jsonl")
#: The original Agora job's output fields, in its order (`"<key>"\t{json}` lines, one per stream):
#: v0.3.0's `client_id` and master's `user_agent` are both written, so consumers of either find theirs.
AGORA_FIELDS = (
    "tracking_id",
    "media_id",
    "earliest_time",
    "latest_time",
    "incomplete_stream",
    "finished_playback",
    "first_event_type",
    "last_event_type",
    "buffer_start_events",
    "playing_duration",
    "source",
    "component",
    "auto_bitrate",
    "client_id",
    "user_agent",
    "title",
    "session_id",
    "video_length",
    "position_earliest_play",
    "buffering_events",
    "buffering_length",
    "initial_buffering_length",
    "auto_bitrate_events",
    "user_bitrate_events",
    "isp_name",
    "geo_city",
    "geo_longitude",
    "geo_latitude",
    "geo_postal_code",
    "geo_metro_code",
    "geo_country_code",
    "geo_country_name",
)
AGORA_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # the original's (to the second)


def output_format(out: str, fmt: str | None, table: str) -> str:
    if fmt is None:
        fmt = next((f for f in ("csv", "parquet") if out.endswith(f".{f}")), None)
        if fmt is None:
            raise ValueError(f"{out}: the output must end in .csv or .parquet, or give --format")
    if fmt not in FORMATS:
        raise ValueError(f"--format {fmt}: not one of {', '.join(FORMATS)}")
    if fmt == "agora-jsonl" and table != "agora_session_stats":
        raise ValueError(f"--format agora-jsonl writes agora_session_stats only, not {table}")
    return fmt


def agora_lines(frame: pl.DataFrame) -> list[str]:
    """Streams as the original job's output lines: the JSON-quoted key, a tab, a JSON object of
    `AGORA_FIELDS` (times as `YYYY-MM-DD HH:MM:SS`, missing values as null)."""
    times = ("earliest_time", "latest_time")
    values = frame.select(
        pl.struct(
            [pl.col(c).dt.strftime(AGORA_TIME_FORMAT) if c in times else pl.col(c) for c in AGORA_FIELDS]
        ).struct.json_encode()
    ).to_series()
    return [f"{json.dumps(key)}\t{value}" for key, value in zip(frame["key"], values, strict=True)]


def _write_agora_jsonl(frame: pl.DataFrame, out: str) -> None:
    _write_atomically(out, lambda handle: handle.writelines(f"{line}\n" for line in agora_lines(frame)))


def _write_atomically(out: str, write: Callable) -> None:
    """Into a temporary file beside OUT, then renamed: a failed export never leaves half a file."""
    temporary = f"{out}.tmp-{os.getpid()}"
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            write(handle)
        os.replace(temporary, out)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


WRITERS: dict[str, Callable[[pl.DataFrame, str], None]] = {
    "csv": lambda frame, out: frame.write_csv(out),
    "parquet": lambda frame, out: frame.write_parquet(out),
    "agora-jsonl": _write_agora_jsonl,
}


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
