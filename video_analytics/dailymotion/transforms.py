"""Pure polars transforms for DailyMotion reports (no I/O).

Differs from the original on purpose:

* Days are UTC (the platform's partitions); the original turned `hour` into a Europe/Rome date.
* One row per key, always: a report's rows are aggregated on their dimension key, and a re-run replaces
  the partition. The original appended every run to BigQuery and never de-duplicated.
* The daily view-through rate is weighted by views; the original averaged hourly rates unweighted,
  so an hour with 1 view counted as much as an hour with 10 000.
* Unknown dimension values stay null; the original's NaN -> -1 -> None round trip also erased genuine -1s.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import polars as pl

INTEGER_METRICS = {"views", "time_watched_seconds", "uploads"}
DAILY_KEY = (
    "day",
    "video_id",
    "media_type",
    "visitor_page_url",
    "visitor_device_type",
    "player_id",
    "playlist_id",
)
#: The original's BigQuery columns (less `estimated_earnings_eur`: its report is `dm_daily_earnings`).
DAILY_COLUMNS = {
    "day": pl.Date,
    "video_id": pl.String,
    "media_type": pl.String,
    "visitor_page_url": pl.String,
    "visitor_device_type": pl.String,
    "player_id": pl.String,
    "playlist_id": pl.String,
    "views": pl.Int64,
    "time_watched_seconds": pl.Int64,
    "view_through_rate": pl.Float64,
    "video_title": pl.String,
    "video_description": pl.String,
    "video_duration": pl.Int64,
    "video_created_time": pl.Datetime("us", "UTC"),
    "video_tags": pl.List(pl.String),
    "video_url": pl.String,
    "player_label": pl.String,
    "playlist_name": pl.String,
}


class ReportFormatError(ValueError):
    """A report CSV is truncated, corrupt or lacks expected columns; the message says which and where."""


def column_names(names: Sequence[str]) -> list[str]:
    return [n.lower() for n in names]


def parse_report_csv(
    text: str, dimensions: Sequence[str], metrics: Sequence[str], source: str = ""
) -> pl.DataFrame:
    """One report file -> typed frame with lower-case columns; refuses truncated or corrupt files.

    A body cut off mid-transfer shows as a last line with too few fields or an unparsable value; we
    raise instead of loading a partial day, so the run fails and the report is downloaded again.
    """
    where = f" ({source})" if source else ""
    if not text.strip():
        raise ReportFormatError(f"report file{where} is empty (no header line)")
    dims, mets = column_names(dimensions), column_names(metrics)
    try:
        raw = pl.read_csv(io.StringIO(text), infer_schema=False, truncate_ragged_lines=False)
    except pl.exceptions.PolarsError as exc:
        raise ReportFormatError(f"report file{where} is not valid CSV (truncated?): {exc}") from None
    raw = raw.rename({c: c.strip().lower() for c in raw.columns})
    missing = [c for c in (*dims, *mets) if c not in raw.columns]
    if missing:
        raise ReportFormatError(f"report file{where} lacks columns {missing}; it has {raw.columns}")
    _check_complete(text, raw, where)
    try:
        return raw.select(*(_dimension(c) for c in dims), *(_metric(c) for c in mets))
    except pl.exceptions.PolarsError as exc:
        raise ReportFormatError(f"report file{where} has a corrupt value: {_first_line(str(exc))}") from None


def _check_complete(text: str, raw: pl.DataFrame, where: str) -> None:
    """CSV writers end every row with a newline, so a body that stops mid-row was cut off in transit."""
    if not text.endswith("\n"):
        raise ReportFormatError(f"report file{where} is truncated: it ends in the middle of a row")
    empty = [c for c in raw.columns if c in INTEGER_METRICS and raw[c].null_count()]
    if empty:
        raise ReportFormatError(f"report file{where} is corrupt: empty values in {empty}")


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def _dimension(name: str) -> pl.Expr:
    col = pl.col(name).str.strip_chars()
    if name == "hour":
        # "2024-03-01T05:00:00Z", "2024-03-01 05:00:00" or "...+00:00": the format is unconfirmed (UTC).
        text = col.str.replace(r"(Z|\+00:?00)$", "").str.replace("T", " ")
        return text.str.to_datetime("%Y-%m-%d %H:%M:%S", time_zone="UTC", strict=True).alias("hour")
    if name == "day":
        return col.str.to_date("%Y-%m-%d", strict=True).alias("day")
    return pl.when(col == "").then(None).otherwise(col).alias(name)


def _metric(name: str) -> pl.Expr:
    dtype = pl.Int64 if name in INTEGER_METRICS else pl.Float64
    return pl.col(name).str.strip_chars().cast(pl.Float64, strict=True).cast(dtype, strict=True).alias(name)


def hourly_reports(
    frames: Sequence[pl.DataFrame], dimensions: Sequence[str], metrics: Sequence[str], days: Sequence[date]
) -> pl.DataFrame:
    """The report's files stacked into one row per (hour, dimensions), with a UTC `day` column.

    Rows outside `days` mean the report is not the one this run was given: an error, never written.
    """
    dims, mets = column_names(dimensions), column_names(metrics)
    stacked = _stack(frames, dims, mets)
    outside = stacked.filter(~pl.col("day").is_in(list(days)))["day"].unique().sort()
    if outside.len():
        raise ValueError(
            f"report rows dated {', '.join(map(str, outside.head(5).to_list()))} fall outside the run's days "
            f"{min(days)}..{max(days)}"
        )
    key = ["day", *dims]
    aggregations = [_aggregate(m) for m in mets if m != "view_through_rate"]
    if "view_through_rate" in mets:
        aggregations.append(_weighted_rate("view_through_rate"))
    return stacked.group_by(key).agg(aggregations).select(*key, *mets).sort(key, nulls_last=True)


def _stack(frames: Sequence[pl.DataFrame], dims: Sequence[str], mets: Sequence[str]) -> pl.DataFrame:
    if "hour" not in dims:
        raise ValueError("dm_hourly_reports needs the HOUR dimension")
    stacked = pl.concat(list(frames), how="vertical_relaxed") if frames else _empty(dims, mets)
    return stacked.with_columns(pl.col("hour").dt.date().alias("day"))


def raw_report_stats(
    frames: Sequence[pl.DataFrame], dimensions: Sequence[str], metrics: Sequence[str], days: Sequence[date]
) -> dict[str, int]:
    """What the checks judge, counted on the report's rows as downloaded, before they are grouped
    (after grouping, the key is unique and the days right by construction, so nothing could fail)."""
    dims, mets = column_names(dimensions), column_names(metrics)
    stacked = _stack(frames, dims, mets)
    duplicates = stacked.height - stacked.select(dims).n_unique() if stacked.height else 0
    outside = stacked.filter(~pl.col("day").is_in(list(days))).height
    return {"raw_rows": stacked.height, "duplicate_rows": duplicates, "rows_outside_days": outside}


def _aggregate(metric: str) -> pl.Expr:
    return (
        pl.col(metric).sum()
        if metric in INTEGER_METRICS or metric.endswith("seconds")
        else pl.col(metric).mean()
    )


def _weighted_rate(rate: str, weight: str = "views") -> pl.Expr:
    """sum(rate * views) / sum(views) over the rows that have a rate; null when none has (or no views).

    An empty rate is unknown, not 0: counting its views in the denominator would drag the day down.
    """
    total = pl.col(weight).filter(pl.col(rate).is_not_null()).sum()
    return pl.when(total > 0).then((pl.col(rate) * pl.col(weight)).sum() / total).otherwise(None).alias(rate)


def _empty(dims: Sequence[str], mets: Sequence[str]) -> pl.DataFrame:
    schema: dict[str, Any] = {d: pl.String for d in dims}
    schema["hour"] = pl.Datetime("us", "UTC")
    schema.update({m: pl.Int64 if m in INTEGER_METRICS else pl.Float64 for m in mets})
    return pl.DataFrame(schema=schema)


def daily_aggregate(hourly: pl.DataFrame) -> pl.DataFrame:
    """Per day and the remaining dimensions: views and watch time summed, VTR weighted by views."""
    key = [c for c in DAILY_KEY if c in hourly.columns]
    sums = [pl.col(c).sum() for c in ("views", "time_watched_seconds") if c in hourly.columns]
    rate = [_weighted_rate("view_through_rate")] if "view_through_rate" in hourly.columns else []
    return hourly.group_by(key).agg(*sums, *rate)


def metadata_frame(kind: str, items: Mapping[str, Mapping[str, Any]]) -> pl.DataFrame:
    """REST metadata -> prefixed columns (`video_title`, `playlist_name`, `player_label`, ...)."""
    if kind == "video":
        rows = [
            {
                "video_id": item_id,
                "video_title": item.get("title"),
                "video_description": item.get("description"),
                "video_duration": _int_or_none(item.get("duration")),
                "video_created_time": _epoch(item.get("created_time")),
                "video_tags": [str(t) for t in item.get("tags") or []],
                "video_url": item.get("url"),
            }
            for item_id, item in items.items()
        ]
        schema = {
            k: DAILY_COLUMNS[k]
            for k in (
                "video_id",
                "video_title",
                "video_description",
                "video_duration",
                "video_created_time",
                "video_tags",
                "video_url",
            )
        }
        return pl.DataFrame(rows, schema=schema)
    field = {"playlist": "name", "player": "label"}[kind]
    rows = [{f"{kind}_id": item_id, f"{kind}_{field}": item.get(field)} for item_id, item in items.items()]
    return pl.DataFrame(rows, schema={f"{kind}_id": pl.String, f"{kind}_{field}": pl.String})


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _epoch(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), UTC) if value is not None else None
    except (TypeError, ValueError, OverflowError):
        return None


def daily_video_stats(
    hourly: pl.DataFrame, videos: pl.DataFrame, playlists: pl.DataFrame, players: pl.DataFrame
) -> pl.DataFrame:
    """The original's enriched daily table: left joins keep rows whose metadata is missing (nulls).

    Dimensions are configurable, so metadata is joined only where its key is a report dimension; the
    other columns stay in the table, null.
    """
    enriched = daily_aggregate(hourly)
    for meta, key in ((videos, "video_id"), (players, "player_id"), (playlists, "playlist_id")):
        if key in enriched.columns:
            enriched = enriched.join(meta, on=key, how="left")
    columns = [
        pl.col(c).cast(t) if c in enriched.columns else pl.lit(None, t).alias(c)
        for c in DAILY_COLUMNS
        for t in [DAILY_COLUMNS[c]]
    ]
    return enriched.select(columns).sort(["day", "video_id", *DAILY_KEY[2:]], nulls_last=True)


#: `dm_daily_earnings`: the seed's earnings report, one row per day and key, EUR as NUMERIC(18, 6).
EARNINGS_COLUMNS = {
    "day": pl.Date,
    "video_id": pl.String,
    "visitor_page_url": pl.String,
    "visitor_device_type": pl.String,
    "estimated_earnings_eur": pl.Decimal(18, 6),
}


def daily_earnings(
    frames: Sequence[pl.DataFrame], dimensions: Sequence[str], metrics: Sequence[str], days: Sequence[date]
) -> pl.DataFrame:
    """The earnings report's files -> one row per day and dimension key, earnings summed.

    The original joined these onto the daily table with `fillna(0)`; kept apart here (its own report,
    own sensor), so a missing earnings row stays missing instead of becoming a false 0.
    """
    dims, mets = column_names(dimensions), column_names(metrics)
    if "day" not in dims:
        raise ValueError("dm_daily_earnings needs the DAY dimension (earnings are not reported by HOUR)")
    if frames:
        stacked = pl.concat(list(frames), how="vertical_relaxed")
    else:
        stacked = pl.DataFrame(
            schema={**{d: pl.String for d in dims}, "day": pl.Date, **dict.fromkeys(mets, pl.Float64)}
        )
    outside = stacked.filter(~pl.col("day").is_in(list(days)))["day"].unique().sort()
    if outside.len():
        raise ValueError(
            f"earnings rows dated {', '.join(map(str, outside.head(5).to_list()))} fall outside the run's "
            f"days {min(days)}..{max(days)}"
        )
    grouped = stacked.group_by(dims).agg(pl.col(m).sum().round(6) for m in mets)
    columns = [
        pl.col(c).cast(t) if c in grouped.columns else pl.lit(None, t).alias(c)
        for c, t in EARNINGS_COLUMNS.items()
    ]
    extra = [c for c in grouped.columns if c not in EARNINGS_COLUMNS]
    return grouped.select(*columns, *extra).sort(list(EARNINGS_COLUMNS)[:4], nulls_last=True)
